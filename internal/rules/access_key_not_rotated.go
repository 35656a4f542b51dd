package rules

import (
	"fmt"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

func accessKeyNotRotated() Rule {
	return Rule{
		ID:       "access-key-not-rotated",
		Title:    "Access key not rotated",
		Severity: SeverityMedium,
		Controls: []string{"FSBP IAM.3", "CIS v5.0.0 1.13", "CIS v3.0.0 1.14"},
		Doc:      "docs/rules/access-key-not-rotated.md",
		Check:    checkAccessKeyNotRotated,
	}
}

// checkAccessKeyNotRotated: one verdict per active access key created
// Thresholds.AccessKeyMaxAgeDays days or more before AsOf.
func checkAccessKeyNotRotated(env Env, p *inventory.User) []Verdict {
	if p.IsRoot {
		return nil
	}
	n := env.Thresholds.AccessKeyMaxAgeDays
	return keyVerdicts(env, p, func(key inventory.AccessKey) (string, map[string]any, bool) {
		ev := map[string]any{
			"access_key_slot": key.Slot,
			"created":         stamp(key.Created),
			"last_used":       stamp(usedBy(env.AsOf, key.LastUsed)),
			"threshold_days":  n,
			"age_days":        nil,
		}
		switch {
		case key.Created.IsZero():
			if p.Incomplete {
				return "", nil, false // the creation time may be what could not be read
			}
			return fmt.Sprintf("%s has an unknown creation time, so its age cannot be shown to be under %s",
				keyName(key), plural(n, "day")), ev, true
		case atLeastDaysBefore(env.AsOf, key.Created, n):
			age := ageDays(env.AsOf, key.Created)
			ev["age_days"] = age
			return fmt.Sprintf("%s was created %s ago (%s) and not rotated since, threshold %s",
				keyName(key), plural(age, "day"), date(key.Created), plural(n, "day")), ev, true
		}
		return "", nil, false
	})
}
