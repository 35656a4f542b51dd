package rules

import (
	"fmt"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

func accessKeyUnused() Rule {
	return Rule{
		ID:       "access-key-unused",
		Title:    "Access key unused",
		Severity: SeverityMedium,
		Controls: []string{"FSBP IAM.8", "Security Hub IAM.22", "CIS v5.0.0 1.11", "CIS v3.0.0 1.12"},
		Doc:      "docs/rules/access-key-unused.md",
		Check:    checkAccessKeyUnused,
	}
}

// checkAccessKeyUnused: one verdict per active access key last used Thresholds.AccessKeyUnusedDays
// days or more before AsOf or, when never used, created that long ago.
func checkAccessKeyUnused(env Env, p *inventory.User) []Verdict {
	if p.IsRoot {
		return nil
	}
	n := env.Thresholds.AccessKeyUnusedDays
	return keyVerdicts(env, p, func(key inventory.AccessKey) (string, map[string]any, bool) {
		ev := map[string]any{
			"access_key_slot": key.Slot,
			"last_used":       nil,
			"created":         stamp(key.Created),
			"threshold_days":  n,
			"age_days":        nil,
		}
		switch {
		case !key.LastUsed.IsZero():
			if !atLeastDaysBefore(env.AsOf, key.LastUsed, n) {
				return "", nil, false // used recently, or used after AsOf (so not provably unused at AsOf)
			}
			age := ageDays(env.AsOf, key.LastUsed)
			ev["last_used"] = stamp(key.LastUsed)
			ev["age_days"] = age
			return fmt.Sprintf("%s was last used %s ago (%s), threshold %s",
				keyName(key), plural(age, "day"), date(key.LastUsed), plural(n, "day")), ev, true
		case p.Incomplete:
			return "", nil, false // "never used" may be a value that could not be read
		case key.Created.IsZero():
			return fmt.Sprintf("%s was never used and its creation time is unknown, threshold %s",
				keyName(key), plural(n, "day")), ev, true
		case atLeastDaysBefore(env.AsOf, key.Created, n):
			age := ageDays(env.AsOf, key.Created)
			ev["age_days"] = age
			return fmt.Sprintf("%s was never used and was created %s ago (%s), threshold %s",
				keyName(key), plural(age, "day"), date(key.Created), plural(n, "day")), ev, true
		}
		return "", nil, false
	})
}
