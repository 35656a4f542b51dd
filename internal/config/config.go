// Package config holds iamwarden's settings: which rules run, their thresholds and the
// exemptions. One struct serves every command: Default, then Parse a file, then
// environment overrides, then Validate.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iamwarden/iamwarden/internal/rules"
)

// Config is the whole configuration file.
type Config struct {
	// Rules configures rules by ID; a rule not listed runs with its defaults.
	Rules map[string]RuleConfig `yaml:"rules,omitempty" json:"rules,omitempty"`
	// Exemptions exempt users from rules, with a reason and an expiry.
	Exemptions []Exemption `yaml:"exemptions,omitempty" json:"exemptions,omitempty"`
	// ExemptionParameter is the name of an SSM Parameter Store StringList of user names exempt
	// from every rule (or from ExemptionParameterRules); empty means none is read.
	ExemptionParameter      string   `yaml:"exemption_parameter,omitempty" json:"exemption_parameter,omitempty"`
	ExemptionParameterRules []string `yaml:"exemption_parameter_rules,omitempty" json:"exemption_parameter_rules,omitempty"`

	Enforce Enforce `yaml:"enforce,omitempty" json:"enforce,omitempty"`
	Journal Journal `yaml:"journal,omitempty" json:"journal,omitempty"`
}

// Enforce configures remediation.
type Enforce struct {
	// Remediate maps rule IDs to "disable-console" or "deactivate-key"; nil keeps the default
	// (console-mfa-missing and password-unused: disable-console; access-key-unused:
	// deactivate-key). An empty map remediates nothing.
	Remediate map[string]string `yaml:"remediate,omitempty" json:"remediate,omitempty"`
	// MaxActions is the blast-radius limit: a larger plan is refused whole. Default 25.
	MaxActions int `yaml:"max_actions,omitempty" json:"max_actions,omitempty"`
	// DenyAccounts are never acted on.
	DenyAccounts []string `yaml:"deny_accounts,omitempty" json:"deny_accounts,omitempty"`
	// SNSTopicARN receives notifications.
	SNSTopicARN string `yaml:"sns_topic_arn,omitempty" json:"sns_topic_arn,omitempty"`
	// WarnBefore: users in a grace period are warned again this long before the deadline.
	// Default 6h.
	WarnBefore *Duration `yaml:"warn_before,omitempty" json:"warn_before,omitempty"`
}

// Journal says where actions are recorded: a SQLite file (default: in the XDG state
// directory) or a DynamoDB table.
type Journal struct {
	Path          string `yaml:"path,omitempty" json:"path,omitempty"`
	DynamoDBTable string `yaml:"dynamodb_table,omitempty" json:"dynamodb_table,omitempty"`
	// HistoryDays is how long a recorded scan or enforce run is kept (docs/history.md); 0 or
	// unset keeps them.
	HistoryDays *int `yaml:"history_days,omitempty" json:"history_days,omitempty"`
}

// MaxHistoryDays bounds journal.history_days: a hundred years.
const MaxHistoryDays = 36500

// HistoryRetention is how long journal.history_days keeps a record, and whether it is set.
func (j Journal) HistoryRetention() (time.Duration, bool) {
	if j.HistoryDays == nil {
		return 0, false
	}
	return time.Duration(*j.HistoryDays) * 24 * time.Hour, true
}

// DefaultMaxActions is the default blast-radius limit.
const DefaultMaxActions = 25

// DefaultWarnBefore is how long before a grace deadline the second warning goes out.
const DefaultWarnBefore = 6 * time.Hour

// WarnBeforeOrDefault returns the configured second-warning lead time.
func (e Enforce) WarnBeforeOrDefault() time.Duration {
	if e.WarnBefore == nil {
		return DefaultWarnBefore
	}
	return time.Duration(*e.WarnBefore)
}

// MaxActionsOrDefault returns the configured blast-radius limit.
func (e Enforce) MaxActionsOrDefault() int {
	if e.MaxActions == 0 {
		return DefaultMaxActions
	}
	return e.MaxActions
}

// RuleConfig tunes one rule. Nil fields keep the default.
type RuleConfig struct {
	Enabled *bool     `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	Days    *int      `yaml:"days,omitempty" json:"days,omitempty"`
	Grace   *Duration `yaml:"grace,omitempty" json:"grace,omitempty"`
	// MFARemovedGrace (console-mfa-missing) is the time a console user who removes their last
	// MFA device has to register another; 0 (the default) gives none.
	MFARemovedGrace *Duration `yaml:"mfa_removed_grace,omitempty" json:"mfa_removed_grace,omitempty"`
}

// Exemption exempts one user from some rules (all when Rules is empty) until a date.
type Exemption struct {
	User   string   `yaml:"user" json:"user"`
	Rules  []string `yaml:"rules,omitempty" json:"rules,omitempty"`
	Reason string   `yaml:"reason" json:"reason"`
	Until  Date     `yaml:"until" json:"until"`
}

// Duration is a time.Duration written as "24h", "90m" or "3d".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses Go durations plus a "d" (24h) unit: "24h", "3d", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	var total time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil || days < 0 {
			return 0, fmt.Errorf("invalid duration %q: want e.g. 24h, 7d, 1d12h", s)
		}
		total = time.Duration(days) * 24 * time.Hour
		s = s[i+1:]
	}
	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: want e.g. 24h, 7d, 1d12h", s)
		}
		total += d
	}
	if neg {
		total = -total
	}
	return total, nil
}

// Date is a point in time written as a date (2027-06-30, meaning the end of that day UTC:
// an exemption "until 2027-06-30" still holds on that day) or as RFC 3339.
type Date struct{ time.Time }

// ParseDate parses "2006-01-02" (end of that day, UTC) or an RFC 3339 timestamp.
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Add(24*time.Hour - time.Second), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD or RFC 3339", s)
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	t, err := ParseDate(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	d.Time = t
	return nil
}

// Default is the configuration used when no file is given: every rule on, documented defaults.
func Default() *Config {
	return &Config{Rules: map[string]RuleConfig{}}
}

// FileName is the configuration file looked for in the current directory.
const FileName = "iamwarden.yaml"

// Discover returns the configuration file to read: path when given (--config), else
// $IAMWARDEN_CONFIG, else ./iamwarden.yaml, else $XDG_CONFIG_HOME/iamwarden/config.yaml
// ($HOME/.config when XDG_CONFIG_HOME is not set). The first two are returned even when the file
// does not exist (Load then says so: a file asked for must not be skipped); the last two only
// when it does. "" means none: defaults.
func Discover(path string, getenv func(string) string) string {
	if path != "" {
		return path
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if p := getenv("IAMWARDEN_CONFIG"); p != "" {
		return p
	}
	candidates := []string{FileName}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		candidates = append(candidates, filepath.Join(x, "iamwarden", "config.yaml"))
	} else if h := getenv("HOME"); h != "" {
		candidates = append(candidates, filepath.Join(h, ".config", "iamwarden", "config.yaml"))
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c
		}
	}
	return ""
}

// Load reads the file at path (YAML or JSON) over the defaults, applies environment overrides
// and validates. An empty path means defaults plus environment.
func Load(path string, getenv func(string) string) (*Config, error) {
	if path == "" {
		return LoadDocument(nil, "", getenv)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	return LoadDocument(f, path, getenv)
}

// LoadDocument is Load for a document already at hand (the Lambda's inline setting or SSM
// parameter): source names it in errors; a nil r means defaults plus environment.
func LoadDocument(r io.Reader, source string, getenv func(string) string) (*Config, error) {
	c := Default()
	if r != nil {
		var err error
		if c, err = Parse(r); err != nil {
			return nil, fmt.Errorf("config %s: %w", source, err)
		}
	}
	c.applyEnv(getenv)
	if err := c.Validate(); err != nil {
		if source != "" {
			return nil, fmt.Errorf("config %s: %w", source, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// Parse reads a configuration document. Unknown keys are errors, each naming its line, where it
// is ("rules.password-unused") and the keys known there: a misspelt threshold must not silently
// fall back to its default.
func Parse(r io.Reader) (*Config, error) {
	c := Default()
	var doc yaml.Node
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if errs := unknownKeys(&doc, reflect.TypeFor[Config](), ""); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if doc.Kind != 0 {
		if err := doc.Decode(c); err != nil {
			return nil, err
		}
	}
	if c.Rules == nil {
		c.Rules = map[string]RuleConfig{}
	}
	return c, nil
}

// applyEnv applies IAMWARDEN_EXEMPTION_PARAMETER, a setting an unattended run takes from its
// environment without a file.
func (c *Config) applyEnv(getenv func(string) string) {
	if getenv == nil {
		return
	}
	if v := getenv("IAMWARDEN_EXEMPTION_PARAMETER"); v != "" {
		c.ExemptionParameter = v
	}
	if v := getenv("IAMWARDEN_SNS_TOPIC_ARN"); v != "" {
		c.Enforce.SNSTopicARN = v
	}
	if v := getenv("IAMWARDEN_JOURNAL_TABLE"); v != "" {
		c.Journal.DynamoDBTable = v
	}
}

// Validate checks rule IDs, thresholds and exemptions, and reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	known := map[string]bool{}
	for _, r := range rules.Registry() {
		known[r.ID] = true
	}
	checkRule := func(where, id string) {
		if !known[id] {
			errs = append(errs, fmt.Errorf("%s: unknown rule %q (known: %s)", where, id, strings.Join(ruleIDs(), ", ")))
		}
	}
	ids := make([]string, 0, len(c.Rules))
	for id := range c.Rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		rc := c.Rules[id]
		checkRule("rules", id)
		if rc.Days != nil {
			if !slices.Contains(daysRules, id) {
				errs = append(errs, fmt.Errorf("rules.%s.days: the rule has no day threshold", id))
			} else if *rc.Days < 1 {
				errs = append(errs, fmt.Errorf("rules.%s.days: must be at least 1, got %d", id, *rc.Days))
			}
		}
		if rc.Grace != nil {
			if id != "console-mfa-missing" {
				errs = append(errs, fmt.Errorf("rules.%s.grace: only console-mfa-missing has a grace period", id))
			} else if *rc.Grace < 0 {
				errs = append(errs, fmt.Errorf("rules.%s.grace: must not be negative", id))
			}
		}
		if rc.MFARemovedGrace != nil {
			if id != "console-mfa-missing" {
				errs = append(errs, fmt.Errorf("rules.%s.mfa_removed_grace: only console-mfa-missing has one", id))
			} else if *rc.MFARemovedGrace < 0 {
				errs = append(errs, fmt.Errorf("rules.%s.mfa_removed_grace: must not be negative", id))
			}
		}
	}
	for i, e := range c.Exemptions {
		where := fmt.Sprintf("exemptions[%d]", i)
		if e.User == "" {
			errs = append(errs, fmt.Errorf("%s.user: required", where))
		}
		if strings.TrimSpace(e.Reason) == "" {
			errs = append(errs, fmt.Errorf("%s.reason: required: say why %q is exempt", where, e.User))
		}
		if e.Until.IsZero() {
			errs = append(errs, fmt.Errorf("%s.until: required: every exemption expires (YYYY-MM-DD)", where))
		}
		for _, id := range e.Rules {
			checkRule(where+".rules", id)
		}
	}
	for _, id := range c.ExemptionParameterRules {
		checkRule("exemption_parameter_rules", id)
	}
	for id, action := range c.Enforce.Remediate {
		checkRule("enforce.remediate", id)
		if action != "disable-console" && action != "deactivate-key" {
			errs = append(errs, fmt.Errorf("enforce.remediate.%s: unknown action %q (want disable-console or deactivate-key)", id, action))
		}
	}
	if c.Enforce.MaxActions < 0 {
		errs = append(errs, fmt.Errorf("enforce.max_actions: must not be negative"))
	}
	for _, a := range c.Enforce.DenyAccounts {
		if len(a) != 12 || strings.Trim(a, "0123456789") != "" {
			errs = append(errs, fmt.Errorf("enforce.deny_accounts: %q is not a 12-digit account ID", a))
		}
	}
	if c.Journal.Path != "" && c.Journal.DynamoDBTable != "" {
		errs = append(errs, fmt.Errorf("journal: set path or dynamodb_table, not both"))
	}
	if d := c.Journal.HistoryDays; d != nil && (*d < 0 || *d > MaxHistoryDays) {
		errs = append(errs, fmt.Errorf("journal.history_days: want 0 (keep the history) to %d days, got %d", MaxHistoryDays, *d))
	}
	return errors.Join(errs...)
}

// daysRules are the rules with a day threshold.
var daysRules = []string{"root-recently-used", "password-unused", "access-key-unused", "access-key-not-rotated"}

func ruleIDs() []string {
	var ids []string
	for _, r := range rules.Registry() {
		ids = append(ids, r.ID)
	}
	return ids
}

// Thresholds returns the rule thresholds with the configured overrides applied.
func (c *Config) Thresholds() rules.Thresholds {
	t := rules.DefaultThresholds()
	days := func(id string, dst *int) {
		if rc, ok := c.Rules[id]; ok && rc.Days != nil {
			*dst = *rc.Days
		}
	}
	days("root-recently-used", &t.RootRecentlyUsedDays)
	days("password-unused", &t.PasswordUnusedDays)
	days("access-key-unused", &t.AccessKeyUnusedDays)
	days("access-key-not-rotated", &t.AccessKeyMaxAgeDays)
	if rc, ok := c.Rules["console-mfa-missing"]; ok && rc.Grace != nil {
		t.ConsoleMFAGrace = time.Duration(*rc.Grace)
	}
	if rc, ok := c.Rules["console-mfa-missing"]; ok && rc.MFARemovedGrace != nil {
		t.MFARemovedGrace = time.Duration(*rc.MFARemovedGrace)
	}
	return t
}

// EnabledRules returns the registered rules the configuration leaves on, in registry order.
func (c *Config) EnabledRules() []rules.Rule {
	var out []rules.Rule
	for _, r := range rules.Registry() {
		if rc, ok := c.Rules[r.ID]; ok && rc.Enabled != nil && !*rc.Enabled {
			continue
		}
		out = append(out, r)
	}
	return out
}
