// Package exempt decides which users are exempt from which rules, and until when.
//
// Exemptions come from three places: the user's own IAM tags, the configuration file, and an SSM
// Parameter Store StringList of user names. Tag and file exemptions must carry a reason and an
// expiry; an expired exemption is not applied but is reported so that it gets renewed or removed.
package exempt

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// Tag keys read from IAM users. IAM tag values may not contain commas, so the rule list is
// separated by spaces (or slashes).
const (
	TagUntil  = "iamwarden:exempt-until"
	TagRules  = "iamwarden:exempt-rules"
	TagReason = "iamwarden:exempt-reason"
)

// Set answers exemption questions. The zero value exempts nobody.
type Set struct {
	byUser    map[string][]entry
	param     string
	paramUser map[string]bool
	paramRule []string
}

type entry struct {
	rules  []string // empty: every rule
	reason string
	until  time.Time
	source string
}

var _ rules.Exempter = (*Set)(nil)

// New builds a Set from the configuration's exemptions and, when the configuration names an SSM
// parameter, the user names read from it.
func New(cfg *config.Config, paramUsers []string) *Set {
	s := &Set{byUser: map[string][]entry{}, paramUser: map[string]bool{}}
	for _, e := range cfg.Exemptions {
		s.byUser[e.User] = append(s.byUser[e.User], entry{
			rules: e.Rules, reason: e.Reason, until: e.Until.Time, source: "config",
		})
	}
	s.param = cfg.ExemptionParameter
	s.paramRule = cfg.ExemptionParameterRules
	for _, u := range paramUsers {
		s.paramUser[u] = true
	}
	return s
}

// Exemption implements rules.Exempter. An unexpired exemption wins over an expired one; among
// unexpired ones the one that lasts longest is reported.
func (s *Set) Exemption(p *inventory.User, ruleID string, asOf time.Time) (rules.Exemption, bool) {
	var cands []entry
	if e, ok, _ := fromTags(p.Tags); ok {
		cands = append(cands, e...)
	}
	if s != nil {
		cands = append(cands, s.byUser[p.Name]...)
		if s.paramUser[p.Name] {
			cands = append(cands, entry{rules: s.paramRule, reason: "listed in SSM parameter " + s.param, source: "ssm:" + s.param})
		}
	}
	var best *rules.Exemption
	for _, c := range cands {
		if len(c.rules) > 0 && !slices.Contains(c.rules, ruleID) {
			continue
		}
		ex := rules.Exemption{Reason: c.reason, Source: c.source}
		if !c.until.IsZero() {
			u := c.until
			ex.Until = &u
			ex.Expired = !asOf.Before(u)
		}
		if best == nil || better(ex, *best) {
			b := ex
			best = &b
		}
	}
	if best == nil {
		return rules.Exemption{}, false
	}
	return *best, true
}

// better reports whether a should be reported instead of b.
func better(a, b rules.Exemption) bool {
	if a.Expired != b.Expired {
		return !a.Expired
	}
	if a.Until == nil || b.Until == nil {
		return a.Until == nil && b.Until != nil
	}
	return a.Until.After(*b.Until)
}

// fromTags reads the exemption a user's tags declare. ok is false when the user has no exemption
// tags; problem is non-empty when the tags are present but unusable (the exemption is then not
// applied, and the problem should be reported).
func fromTags(tags map[string]string) (e []entry, ok bool, problem string) {
	until, hasUntil := tags[TagUntil]
	reason, hasReason := tags[TagReason]
	ruleList, hasRules := tags[TagRules]
	if !hasUntil && !hasReason && !hasRules {
		return nil, false, ""
	}
	var missing []string
	if strings.TrimSpace(reason) == "" {
		missing = append(missing, TagReason)
	}
	if strings.TrimSpace(until) == "" {
		missing = append(missing, TagUntil)
	}
	if len(missing) > 0 {
		return nil, false, fmt.Sprintf("exemption tags ignored: %s missing or empty", strings.Join(missing, " and "))
	}
	t, err := config.ParseDate(until)
	if err != nil {
		return nil, false, fmt.Sprintf("exemption tags ignored: %s: %v", TagUntil, err)
	}
	if strings.Contains(ruleList, ",") {
		spaced := strings.Join(strings.FieldsFunc(ruleList, func(r rune) bool { return r == ',' || r == ' ' }), " ")
		return nil, false, fmt.Sprintf("exemption tags ignored: %s %q: separate rule IDs with spaces, not commas (IAM tag values cannot hold commas): %q", TagRules, ruleList, spaced)
	}
	ids := strings.FieldsFunc(ruleList, func(r rune) bool { return r == ' ' || r == '/' || r == '+' })
	for _, id := range ids {
		if _, known := rules.Lookup(id); !known {
			return nil, false, fmt.Sprintf("exemption tags ignored: %s names unknown rule %q", TagRules, id)
		}
	}
	return []entry{{rules: ids, reason: strings.TrimSpace(reason), until: t, source: "tag"}}, true, ""
}

// Problems lists, per user, exemption tags that could not be applied.
func Problems(users []inventory.User) []inventory.Problem {
	var out []inventory.Problem
	for _, u := range users {
		if _, _, p := fromTags(u.Tags); p != "" {
			out = append(out, inventory.Problem{Where: "tags of " + u.Name, Message: p, Principal: u.Name})
		}
	}
	return out
}
