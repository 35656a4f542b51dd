package rules

import (
	"fmt"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

func passwordUnused() Rule {
	return Rule{
		ID:       "password-unused",
		Title:    "Console password unused",
		Severity: SeverityMedium,
		Controls: []string{"FSBP IAM.8", "Security Hub IAM.22", "CIS v5.0.0 1.11", "CIS v3.0.0 1.12"},
		Doc:      "docs/rules/password-unused.md",
		Check:    checkPasswordUnused,
	}
}

// checkPasswordUnused: an enabled console password last used Thresholds.PasswordUnusedDays days or
// more before AsOf or, when never used, set that long ago.
func checkPasswordUnused(env Env, p *inventory.User) []Verdict {
	if p.IsRoot || !p.Password.Enabled {
		return nil
	}
	n := env.Thresholds.PasswordUnusedDays
	pw := p.Password
	setAt := pw.SetAt()
	ev := map[string]any{
		"password_last_used": nil,
		"password_set_at":    stamp(setAt),
		"threshold_days":     n,
		"age_days":           nil,
	}
	if !pw.LastUsed.IsZero() {
		if !atLeastDaysBefore(env.AsOf, pw.LastUsed, n) {
			return nil // used recently, or used after AsOf (so not provably unused at AsOf)
		}
		age := ageDays(env.AsOf, pw.LastUsed)
		ev["password_last_used"] = stamp(pw.LastUsed)
		ev["age_days"] = age
		return []Verdict{{
			State: StateViolation,
			Detail: fmt.Sprintf("console password was last used %s ago (%s), threshold %s",
				plural(age, "day"), date(pw.LastUsed), plural(n, "day")),
			Evidence: ev,
		}}
	}
	if p.Incomplete {
		// "Never used" may be a value that could not be read.
		return nil
	}
	if setAt.IsZero() {
		return []Verdict{{
			State:    StateViolation,
			Detail:   fmt.Sprintf("console password was never used and the time it was set is unknown, threshold %s", plural(n, "day")),
			Evidence: ev,
		}}
	}
	if !atLeastDaysBefore(env.AsOf, setAt, n) {
		return nil
	}
	age := ageDays(env.AsOf, setAt)
	ev["age_days"] = age
	return []Verdict{{
		State: StateViolation,
		Detail: fmt.Sprintf("console password was never used and was set %s ago (%s), threshold %s",
			plural(age, "day"), date(setAt), plural(n, "day")),
		Evidence: ev,
	}}
}
