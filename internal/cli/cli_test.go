package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/golden"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

const demo = "../../examples/demo-account"

// fixedNow is when the tests pretend to run; results carry it as generated_at.
var fixedNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// run executes the CLI in-process and returns its exit code, stdout and stderr.
func run(t *testing.T, env cli.Env, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env.Stdout, env.Stderr = &stdout, &stderr
	if env.Now == nil {
		env.Now = func() time.Time { return fixedNow }
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	code := cli.Run(context.Background(), args, env)
	return code, stdout.String(), stderr.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

func decode(t *testing.T, out string) report.Result {
	t.Helper()
	var r report.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out)
	}
	return r
}

func TestScanDemoGolden(t *testing.T) {
	for _, f := range []string{"table", "json", "csv"} {
		t.Run(f, func(t *testing.T) {
			code, out, stderr := run(t, cli.Env{}, "scan", "--from", demo, "--output", f)
			if code != report.ExitViolations {
				t.Fatalf("exit %d, want 1; stderr: %s", code, stderr)
			}
			checkGolden(t, "demo."+f, out)
		})
	}
}

// The demo account is meant to show every rule that can fire in one account.
func TestDemoShowsEveryRule(t *testing.T) {
	_, out, _ := run(t, cli.Env{}, "scan", "--from", demo, "-o", "json")
	r := decode(t, out)
	fired := map[string]bool{}
	states := map[rules.State]int{}
	for _, f := range r.Findings {
		fired[f.Rule] = true
		states[f.State]++
	}
	for _, rule := range rules.Registry() {
		// Root has MFA in the demo (so its hardware rule can fire); both cannot fire at once.
		if rule.ID != "root-mfa-missing" && !fired[rule.ID] {
			t.Errorf("rule %s does not fire on the demo account", rule.ID)
		}
	}
	if states[rules.StatePending] == 0 || states[rules.StateExempt] == 0 {
		t.Errorf("demo lacks pending or exempt findings: %v", states)
	}
	if r.Source != "export" || !r.AsOf.Equal(r.DataReadAt) || r.Partial {
		t.Errorf("source %s as_of %v read %v partial %v", r.Source, r.AsOf, r.DataReadAt, r.Partial)
	}
}

func TestScanAsOf(t *testing.T) {
	state := func(args ...string) rules.State {
		_, out, stderr := run(t, cli.Env{}, append([]string{"scan", "--from", demo, "-o", "json", "--rule", "console-mfa-missing"}, args...)...)
		for _, f := range decode(t, out+stderr).Findings {
			if f.Principal == "fatima.rahman" {
				return f.State
			}
		}
		return ""
	}
	if s := state(); s != rules.StatePending {
		t.Errorf("at read time: %q, want pending", s)
	}
	if s := state("--as-of", "+1d"); s != rules.StateViolation {
		t.Errorf("a day later: %q, want violation", s)
	}
	if s := state("--as-of", "2025-01-01T00:00:00Z"); s != "" {
		t.Errorf("before the user was created: %q, want no finding", s)
	}
	if s := state("--grace", "3d", "--as-of", "+1d"); s != rules.StatePending {
		t.Errorf("with a 3-day grace, a day later: %q, want pending", s)
	}
}

func TestScanRuleSelection(t *testing.T) {
	_, out, _ := run(t, cli.Env{}, "scan", "--from", demo, "-o", "json", "--rule", "root-access-key,access-keys-multiple-active", "--skip-rule", "access-keys-multiple-active")
	for _, f := range decode(t, out).Findings {
		if f.Rule != "root-access-key" {
			t.Errorf("unexpected rule %s", f.Rule)
		}
	}
	code, _, stderr := run(t, cli.Env{}, "scan", "--from", demo, "--rule", "no-such-rule")
	if code != report.ExitError || !strings.Contains(stderr, `unknown rule "no-such-rule"`) || !strings.Contains(stderr, "try: iamwarden rules") {
		t.Errorf("unknown rule: exit %d stderr %q", code, stderr)
	}
}

func TestScanConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "iamwarden.yaml")
	body := `rules:
  password-unused: {days: 400}
exemptions:
  - user: chen.wei
    reason: on parental leave
    until: 2027-02-01
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, stderr := run(t, cli.Env{}, "scan", "--from", demo, "-o", "json", "--config", cfg, "--rule", "password-unused")
	r := decode(t, out+stderr)
	for _, f := range r.Findings {
		if f.Principal == "chen.wei" && (f.State != rules.StateExempt || f.Exemption.Reason != "on parental leave") {
			t.Errorf("chen.wei: %+v", f)
		}
		if f.Principal == "gustavo.silva" {
			t.Errorf("password never used for 200 days fired with a 400-day threshold: %+v", f)
		}
	}
	// Flags override the file.
	_, out, _ = run(t, cli.Env{}, "scan", "--from", demo, "-o", "json", "--config", cfg, "--rule", "password-unused", "--password-days", "100")
	found := false
	for _, f := range decode(t, out).Findings {
		found = found || f.Principal == "gustavo.silva"
	}
	if !found {
		t.Error("--password-days 100 did not override the file's 400")
	}
}

func TestScanBadInput(t *testing.T) {
	broken := t.TempDir()
	for _, name := range []string{"credential-report.csv", "authorization-details.json"} {
		b, err := os.ReadFile(filepath.Join(demo, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "authorization-details.json" {
			b = b[:len(b)/2]
		}
		if err := os.WriteFile(filepath.Join(broken, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"missing directory", []string{"scan", "--from", filepath.Join(broken, "nope")}, []string{"no such file or directory", "try: see docs/export.md"}},
		{"truncated JSON", []string{"scan", "--from", broken}, []string{"authorization-details.json:"}},
		{"bad output format", []string{"scan", "--from", demo, "-o", "yaml"}, []string{`scan prints table, json, csv, ocsf or asff, not "yaml"`, "try: --output table|json|csv|ocsf|asff"}},
		{"bad as-of", []string{"scan", "--from", demo, "--as-of", "tomorrow"}, []string{`invalid time "tomorrow"`}},
		{"bad grace", []string{"scan", "--from", demo, "--grace", "soon"}, []string{"--grace"}},
		{"unknown flag", []string{"scan", "--frm", demo}, []string{"unknown flag: --frm"}},
		{"missing config", []string{"scan", "--from", demo, "--config", filepath.Join(broken, "none.yaml")}, []string{"none.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, stderr := run(t, cli.Env{}, c.args...)
			if code != report.ExitError {
				t.Errorf("exit %d, want 2; stdout %q", code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
		})
	}
}

// A malformed row is reported with its line and the rest of the account is still judged.
func TestScanPartialExport(t *testing.T) {
	dir := t.TempDir()
	entries, err := os.ReadDir(demo)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(demo, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "credential-report.csv" {
			lines := strings.Split(string(b), "\n")
			fields := strings.Split(lines[3], ",")
			fields[4] = "yesterday" // password_last_used
			lines[3] = strings.Join(fields, ",")
			b = []byte(strings.Join(lines, "\n"))
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ := run(t, cli.Env{}, "scan", "--from", dir, "-o", "json")
	if code != report.ExitPartial {
		t.Fatalf("exit %d, want 3", code)
	}
	r := decode(t, out)
	if !r.Partial || len(r.Errors) != 1 || r.Errors[0].Where != "credential-report.csv:4" || !strings.Contains(r.Errors[0].Message, "yesterday") {
		t.Errorf("errors %+v", r.Errors)
	}
	if r.Summary.Violations == 0 {
		t.Error("the rest of the account was not judged")
	}
}

func TestRulesCommand(t *testing.T) {
	code, out, _ := run(t, cli.Env{}, "rules", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var infos []struct{ ID, Doc string }
	if err := json.Unmarshal([]byte(out), &infos); err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(rules.Registry()) {
		t.Errorf("%d rules listed, %d registered", len(infos), len(rules.Registry()))
	}
	for _, i := range infos {
		if _, err := os.Stat(filepath.Join("../..", i.Doc)); err != nil {
			t.Errorf("rule %s: doc %s: %v", i.ID, i.Doc, err)
		}
	}
}

// The JSON example in docs/scan.md is real output of the demo account.
func TestDocsScanExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/scan.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	start := strings.Index(s, "```json\n")
	end := strings.Index(s[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no JSON example in docs/scan.md")
	}
	example := decode(t, s[start+8:start+8+end])
	_, out, _ := run(t, cli.Env{}, "scan", "--from", demo, "-o", "json")
	real := decode(t, out)
	if len(example.Findings) != 1 {
		t.Fatalf("example has %d findings", len(example.Findings))
	}
	var match []byte
	for _, f := range real.Findings {
		if f.ID == example.Findings[0].ID {
			match, _ = json.Marshal(f)
		}
	}
	want, _ := json.Marshal(example.Findings[0])
	if !bytes.Equal(match, want) {
		t.Errorf("docs/scan.md finding differs from the demo scan:\n doc %s\nreal %s", want, match)
	}
	example.Findings, real.Findings = nil, nil
	a, _ := json.Marshal(example)
	b, _ := json.Marshal(real)
	if !bytes.Equal(a, b) {
		t.Errorf("docs/scan.md header differs from the demo scan:\n doc %s\nreal %s", a, b)
	}
}
