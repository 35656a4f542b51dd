package rules

import (
	"fmt"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

func userMFAMissing() Rule {
	return Rule{
		ID:       "user-mfa-missing",
		Title:    "IAM user without MFA",
		Severity: SeverityLow,
		Controls: []string{"Security Hub IAM.19"},
		Doc:      "docs/rules/user-mfa-missing.md",
		Check:    checkUserMFAMissing,
	}
}

// checkUserMFAMissing: any IAM user, with or without a console password, that has no MFA device.
func checkUserMFAMissing(env Env, p *inventory.User) []Verdict {
	if p.IsRoot || p.MFA.Active {
		return nil
	}
	if p.Incomplete {
		// "No MFA" may be a value that could not be read.
		return nil
	}
	active := 0
	for _, k := range p.AccessKeys {
		if existedAt(env.AsOf, k) {
			active++
		}
	}
	console := "no console password"
	if p.Password.Enabled {
		console = "a console password"
	}
	return []Verdict{{
		State:  StateViolation,
		Detail: fmt.Sprintf("user has no MFA device (%s, %s)", console, plural(active, "active access key")),
		Evidence: map[string]any{
			"mfa_active":         false,
			"password_enabled":   p.Password.Enabled,
			"active_access_keys": active,
		},
	}}
}
