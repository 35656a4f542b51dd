package rules

import "github.com/iamwarden/iamwarden/internal/inventory"

func rootMFAMissing() Rule {
	return Rule{
		ID:       "root-mfa-missing",
		Title:    "Root user without MFA",
		Severity: SeverityCritical,
		Controls: []string{"Security Hub IAM.9", "CIS v5.0.0 1.4", "CIS v3.0.0 1.5"},
		Doc:      "docs/rules/root-mfa-missing.md",
		Root:     true,
		Check:    checkRootMFAMissing,
	}
}

// checkRootMFAMissing: the root user has no MFA device.
func checkRootMFAMissing(_ Env, p *inventory.User) []Verdict {
	if !p.IsRoot {
		return nil
	}
	if p.RootSummary != nil {
		if p.RootSummary.MFAEnabled {
			return nil
		}
		return []Verdict{{
			State:  StateViolation,
			Detail: "the root user has no MFA device (account summary: AccountMFAEnabled is 0; the credential report has no root row)",
			Evidence: map[string]any{"mfa_active": false, "source": "iam:GetAccountSummary",
				"account_mfa_enabled": 0},
		}}
	}
	if p.MFA.Active {
		return nil
	}
	if p.Incomplete {
		// "No MFA" may be a value that could not be read.
		return nil
	}
	return []Verdict{{
		State:    StateViolation,
		Detail:   "the root user has no MFA device",
		Evidence: map[string]any{"mfa_active": false},
	}}
}
