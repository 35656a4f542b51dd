package rules

import (
	"fmt"
	"strings"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

func accessKeysMultipleActive() Rule {
	return Rule{
		ID:       "access-keys-multiple-active",
		Title:    "More than one active access key",
		Severity: SeverityLow,
		Controls: []string{"CIS v5.0.0 1.12", "CIS v3.0.0 1.13"},
		Doc:      "docs/rules/access-keys-multiple-active.md",
		// The detail names both keys.
		NamesKeys: true,
		Check:     checkAccessKeysMultipleActive,
	}
}

// checkAccessKeysMultipleActive: an IAM user with two active access keys.
func checkAccessKeysMultipleActive(env Env, p *inventory.User) []Verdict {
	if p.IsRoot {
		return nil
	}
	var names []string
	var created []any
	for _, k := range p.AccessKeys {
		if !existedAt(env.AsOf, k) {
			continue
		}
		when := "created at an unknown time"
		if !k.Created.IsZero() {
			when = "created " + date(k.Created)
		}
		if note := KeyIDNote(k); note != "" {
			when += "; " + note
		}
		names = append(names, fmt.Sprintf("%s (%s)", keyName(k), when))
		created = append(created, stamp(k.Created))
	}
	if len(names) < 2 {
		return nil
	}
	return []Verdict{{
		State:  StateViolation,
		Detail: fmt.Sprintf("user has %d active access keys: %s", len(names), strings.Join(names, ", ")),
		Evidence: map[string]any{
			"active_access_keys": len(names),
			"created":            created,
		},
	}}
}
