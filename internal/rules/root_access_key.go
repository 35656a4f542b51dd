package rules

import (
	"fmt"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

func rootAccessKey() Rule {
	return Rule{
		ID:       "root-access-key",
		Title:    "Root user has an active access key",
		Severity: SeverityCritical,
		Controls: []string{"FSBP IAM.4", "CIS v5.0.0 1.3", "CIS v3.0.0 1.4"},
		Doc:      "docs/rules/root-access-key.md",
		Root:     true,
		Check:    checkRootAccessKey,
	}
}

// checkRootAccessKey: one verdict per active access key of the root user.
func checkRootAccessKey(env Env, p *inventory.User) []Verdict {
	if !p.IsRoot {
		return nil
	}
	if p.RootSummary != nil {
		if !p.RootSummary.AccessKeysPresent {
			return nil
		}
		return []Verdict{{
			State: StateViolation,
			Detail: "the root user has an access key (account summary: AccountAccessKeysPresent is 1; the credential report has no root row, " +
				"so the key's ID, status, age and use are unknown)",
			Evidence: map[string]any{"source": "iam:GetAccountSummary", "account_access_keys_present": 1},
		}}
	}
	return keyVerdicts(env, p, func(key inventory.AccessKey) (string, map[string]any, bool) {
		ev := map[string]any{
			"access_key_slot": key.Slot,
			"created":         stamp(key.Created),
			"last_used":       nil,
			"age_days":        nil,
		}
		created := "created at an unknown time"
		if !key.Created.IsZero() {
			ev["age_days"] = ageDays(env.AsOf, key.Created)
			created = fmt.Sprintf("created %s (%s ago)", date(key.Created), plural(ageDays(env.AsOf, key.Created), "day"))
		}
		used := "never used"
		switch {
		case after(env.AsOf, key.LastUsed):
			used = "with no use known before " + instant(env.AsOf)
		case !key.LastUsed.IsZero():
			ev["last_used"] = stamp(key.LastUsed)
			used = fmt.Sprintf("last used %s (%s ago)", date(key.LastUsed), plural(ageDays(env.AsOf, key.LastUsed), "day"))
		}
		return fmt.Sprintf("the root user has active %s, %s, %s", keyName(key), created, used), ev, true
	})
}
