package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestLoadValid(t *testing.T) {
	c, err := config.Load("testdata/valid.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	th := c.Thresholds()
	want := rules.DefaultThresholds()
	want.ConsoleMFAGrace = 72 * time.Hour
	want.MFARemovedGrace = 12 * time.Hour
	want.PasswordUnusedDays = 45
	want.AccessKeyUnusedDays = 45
	if th != want {
		t.Errorf("thresholds = %+v, want %+v", th, want)
	}
	for _, r := range c.EnabledRules() {
		if r.ID == "user-mfa-missing" {
			t.Error("user-mfa-missing is disabled but enabled")
		}
	}
	if got, all := len(c.EnabledRules()), len(rules.Registry()); got != all-1 {
		t.Errorf("enabled %d rules, want %d", got, all-1)
	}
	if len(c.Exemptions) != 1 {
		t.Fatalf("exemptions = %d", len(c.Exemptions))
	}
	e := c.Exemptions[0]
	if wantUntil := time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC); !e.Until.Equal(wantUntil) {
		t.Errorf("until = %v, want end of day %v", e.Until.Time, wantUntil)
	}
	if c.ExemptionParameter != "/iam-unused-user-cleanup/excluded-users" {
		t.Errorf("parameter = %q", c.ExemptionParameter)
	}
}

func TestLoadDefaultAndEnv(t *testing.T) {
	c, err := config.Load("", func(k string) string {
		if k == "IAMWARDEN_EXEMPTION_PARAMETER" {
			return "/x/y"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Thresholds() != rules.DefaultThresholds() {
		t.Error("defaults changed without a file")
	}
	if len(c.EnabledRules()) != len(rules.Registry()) {
		t.Error("not every rule enabled by default")
	}
	if c.ExemptionParameter != "/x/y" {
		t.Errorf("env override not applied: %q", c.ExemptionParameter)
	}
}

// Every invalid file is rejected with an error that names the problem.
func TestLoadInvalid(t *testing.T) {
	cases := map[string]string{
		"unknown-rule.yaml":                    `unknown rule "console-mfa-mising"`,
		"unknown-key.yaml":                     `config testdata/unknown-key.yaml: line 3: unknown key "day" in rules.password-unused (known: enabled, days, grace, mfa_removed_grace)`,
		"unknown-top-key.yaml":                 `config testdata/unknown-top-key.yaml: line 1: unknown key "rule" (known: rules, exemptions, exemption_parameter, exemption_parameter_rules, enforce, journal)`,
		"unknown-exemption-key.yaml":           `config testdata/unknown-exemption-key.yaml: line 5: unknown key "reasons" in exemptions[0] (known: user, rules, reason, until)`,
		"bad-duration.yaml":                    `invalid duration "one day"`,
		"days-zero.yaml":                       "rules.access-key-unused.days: must be at least 1",
		"days-on-wrong-rule.yaml":              "rules.root-mfa-missing.days: the rule has no day threshold",
		"grace-on-wrong-rule.yaml":             "only console-mfa-missing has a grace period",
		"mfa-removed-grace-on-wrong-rule.yaml": "rules.access-key-unused.mfa_removed_grace: only console-mfa-missing has one",
		"exemption-no-reason.yaml":             "exemptions[0].reason: required",
		"exemption-no-until.yaml":              "exemptions[0].until: required",
		"exemption-bad-date.yaml":              `invalid date "next year"`,
		"exemption-unknown-rule.yaml":          `unknown rule "mfa"`,
		"not-yaml.yaml":                        "config testdata/not-yaml.yaml",
		"missing.yaml":                         "no such file",
		"history-days-negative.yaml":           "journal.history_days: want 0 (keep the history) to 36500 days, got -1",
	}
	entries, _ := os.ReadDir("testdata")
	for _, e := range entries {
		if _, ok := cases[e.Name()]; !ok && e.Name() != "valid.yaml" {
			t.Errorf("testdata/%s has no test case", e.Name())
		}
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := config.Load(filepath.Join("testdata", name), nil)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	cases := map[string]time.Duration{
		"24h": 24 * time.Hour, "3d": 72 * time.Hour, "1d12h": 36 * time.Hour,
		"+7d": 7 * 24 * time.Hour, "-30d": -30 * 24 * time.Hour, "90m": 90 * time.Minute,
	}
	for in, want := range cases {
		got, err := config.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "xd", "3days", "1.5d"} {
		if _, err := config.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

// The file is found in this order: --config, IAMWARDEN_CONFIG, ./iamwarden.yaml, then
// $XDG_CONFIG_HOME/iamwarden/config.yaml ($HOME/.config when XDG_CONFIG_HOME is not set).
func TestDiscover(t *testing.T) {
	dir, home, xdg := t.TempDir(), t.TempDir(), t.TempDir()
	t.Chdir(dir)
	write := func(path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("rules: {}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"HOME": home}
	getenv := func(k string) string { return env[k] }
	check := func(flag, want string) {
		t.Helper()
		if got := config.Discover(flag, getenv); got != want {
			t.Errorf("Discover(%q) with %v = %q, want %q", flag, env, got, want)
		}
	}
	check("", "")
	write(filepath.Join(home, ".config", "iamwarden", "config.yaml"))
	check("", filepath.Join(home, ".config", "iamwarden", "config.yaml"))
	env["XDG_CONFIG_HOME"] = xdg
	check("", "")
	write(filepath.Join(xdg, "iamwarden", "config.yaml"))
	check("", filepath.Join(xdg, "iamwarden", "config.yaml"))
	write(filepath.Join(dir, "iamwarden.yaml"))
	check("", "iamwarden.yaml")
	env["IAMWARDEN_CONFIG"] = "/from/env.yaml" // named: used even when missing, so Load says so
	check("", "/from/env.yaml")
	check("/from/flag.yaml", "/from/flag.yaml")
	if _, err := config.Load(config.Discover("", getenv), getenv); err == nil || !strings.Contains(err.Error(), "/from/env.yaml") {
		t.Errorf("a missing IAMWARDEN_CONFIG file: %v", err)
	}
}
