package rules

import (
	"fmt"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

func rootRecentlyUsed() Rule {
	return Rule{
		ID:       "root-recently-used",
		Title:    "Root user used recently",
		Severity: SeverityMedium,
		Controls: []string{"CIS v5.0.0 1.6", "CIS v3.0.0 1.7"},
		Doc:      "docs/rules/root-recently-used.md",
		Root:     true,
		// The MFA device list and the last uses come with root's report row.
		NeedsRootRow: true,
		Check:        checkRootRecentlyUsed,
	}
}

// checkRootRecentlyUsed: the root user's password or any of its access keys was used less than
// Thresholds.RootRecentlyUsedDays days before AsOf. Uses after AsOf are not counted.
func checkRootRecentlyUsed(env Env, p *inventory.User) []Verdict {
	if !p.IsRoot || p.RootSummary != nil {
		return nil
	}
	n := env.Thresholds.RootRecentlyUsedDays
	var (
		last time.Time
		by   string
	)
	consider := func(t time.Time, what string) {
		if t.IsZero() || t.After(env.AsOf) {
			return
		}
		if t.After(last) {
			last, by = t, what
		}
	}
	consider(p.Password.LastUsed, "password")
	for _, k := range p.AccessKeys {
		consider(k.LastUsed, keyName(k))
	}
	if last.IsZero() || atLeastDaysBefore(env.AsOf, last, n) {
		return nil
	}
	age := ageDays(env.AsOf, last)
	return []Verdict{{
		State: StateViolation,
		Detail: fmt.Sprintf("the root user's %s was used %s (%s ago), within the %d-day threshold",
			by, instant(last), plural(age, "day"), n),
		Evidence: map[string]any{
			"last_used":          stamp(last),
			"used_by":            by,
			"password_last_used": stamp(usedBy(env.AsOf, p.Password.LastUsed)),
			"age_days":           age,
			"threshold_days":     n,
		},
	}}
}

// usedBy returns t when it is not after asOf, else the zero time.
func usedBy(asOf, t time.Time) time.Time {
	if after(asOf, t) {
		return time.Time{}
	}
	return t
}
