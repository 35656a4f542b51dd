package warden

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// Settings are the judged configuration of a run: which rules, their thresholds, what fixes
// what and the guards, from the configuration document with a door's overrides applied.
type Settings struct {
	Config *config.Config
	// ConfigSource names where Config came from (a file, an SSM parameter); "" for defaults.
	ConfigSource string
	Rules        []rules.Rule
	Thresholds   rules.Thresholds
	Remediations remediate.Remediations
	MaxActions   int
	// Topic is the SNS topic notifications go to; "" sends none.
	Topic string
	// HistoryRetention is how long a store may keep each history record before deleting it
	// (DynamoDB's TTL); 0 keeps records.
	HistoryRetention time.Duration
}

// Overrides are what a door sets over the configuration document: flags or environment.
type Overrides struct {
	// Only and Skip narrow the configuration's enabled rules by ID.
	Only, Skip []string
	// ExemptionParameter replaces the configuration's SSM exemption list when set.
	ExemptionParameter string
	Grace              *time.Duration
	MFARemovedGrace    *time.Duration
	PasswordUnusedDays *int
	KeyUnusedDays      *int
	KeyMaxAgeDays      *int
	RootUsedDays       *int
	MaxActions         int
	Topic              string
	// HistoryRetention replaces the configuration's journal.history_days when set.
	HistoryRetention *time.Duration
}

// InputError is a setting or an input the operator must correct; Hint says how.
type InputError struct {
	Err  error
	Hint string
}

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputError(hint, format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...), Hint: hint}
}

// Resolve applies o over cfg and checks the result.
func Resolve(cfg *config.Config, source string, o Overrides) (*Settings, error) {
	if o.ExemptionParameter != "" {
		cfg.ExemptionParameter = o.ExemptionParameter
	}
	selected := cfg.EnabledRules()
	var err error
	if len(o.Only) > 0 {
		if selected, err = pickRules(selected, o.Only, true); err != nil {
			return nil, err
		}
	}
	if len(o.Skip) > 0 {
		if selected, err = pickRules(selected, o.Skip, false); err != nil {
			return nil, err
		}
	}
	th := cfg.Thresholds()
	if o.Grace != nil {
		if *o.Grace < 0 {
			return nil, inputError("grace 24h", "grace: must not be negative, got %s", *o.Grace)
		}
		th.ConsoleMFAGrace = *o.Grace
	}
	if o.MFARemovedGrace != nil {
		if *o.MFARemovedGrace < 0 {
			return nil, inputError("mfa_removed_grace 24h", "mfa_removed_grace: must not be negative, got %s", *o.MFARemovedGrace)
		}
		th.MFARemovedGrace = *o.MFARemovedGrace
	}
	// The same rule as rules.<id>.days in the file: at least 1.
	for _, d := range []struct {
		name string
		v    *int
		dst  *int
	}{
		{"password-days", o.PasswordUnusedDays, &th.PasswordUnusedDays},
		{"key-unused-days", o.KeyUnusedDays, &th.AccessKeyUnusedDays},
		{"key-max-age-days", o.KeyMaxAgeDays, &th.AccessKeyMaxAgeDays},
		{"root-used-days", o.RootUsedDays, &th.RootRecentlyUsedDays},
	} {
		if d.v == nil {
			continue
		}
		if *d.v < 1 {
			return nil, inputError(d.name+" 90", "%s: must be at least 1, got %d", d.name, *d.v)
		}
		*d.dst = *d.v
	}
	rem := remediate.DefaultRemediations()
	if cfg.Enforce.Remediate != nil {
		rem = remediate.Remediations{}
		for id, kind := range cfg.Enforce.Remediate {
			rem[id] = journal.Kind(kind)
		}
	}
	if err := rem.Validate(); err != nil {
		return nil, &InputError{Err: fmt.Errorf("config enforce.remediate: %w", err), Hint: "see docs/configuration.md"}
	}
	maxActions := cfg.Enforce.MaxActionsOrDefault()
	if o.MaxActions > 0 {
		maxActions = o.MaxActions
	}
	topic := o.Topic
	if topic == "" {
		topic = cfg.Enforce.SNSTopicARN
	}
	retention, _ := cfg.Journal.HistoryRetention()
	if o.HistoryRetention != nil {
		retention = *o.HistoryRetention
	}
	return &Settings{Config: cfg, ConfigSource: source, Rules: selected, Thresholds: th, Remediations: rem,
		MaxActions: maxActions, Topic: topic, HistoryRetention: retention}, nil
}

// pickRules keeps (keep=true) or drops the named rules, rejecting unknown IDs.
func pickRules(from []rules.Rule, ids []string, keep bool) ([]rules.Rule, error) {
	want := map[string]bool{}
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if _, ok := rules.Lookup(id); !ok {
			return nil, &InputError{Err: fmt.Errorf("unknown rule %q", id), Hint: "iamwarden rules"}
		}
		want[id] = true
	}
	var out []rules.Rule
	for _, r := range from {
		if want[r.ID] == keep {
			out = append(out, r)
		}
	}
	return out, nil
}

// ruleOn reports whether the settings run rule id.
func (s *Settings) ruleOn(id string) bool {
	for _, r := range s.Rules {
		if r.ID == id {
			return true
		}
	}
	return false
}

var errNoJournal = errors.New("no journal")
