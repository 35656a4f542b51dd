package rules_test

import (
	"testing"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestRootMFAMissing(t *testing.T) {
	runCases(t, "root-mfa-missing", []ruleCase{
		{
			name: "root without MFA",
			user: inventory.User{IsRoot: true},
			want: []want{{
				State:    rules.StateViolation,
				Detail:   "the root user has no MFA device",
				Evidence: map[string]any{"mfa_active": false},
			}},
		},
		{name: "root with MFA", user: inventory.User{IsRoot: true, MFA: inventory.MFA{Active: true}}},
		{name: "incomplete root is not judged", user: inventory.User{IsRoot: true, Incomplete: true}},
		{
			name: "root known from the account summary only, without MFA",
			user: inventory.User{IsRoot: true, RootSummary: &inventory.RootSummary{}},
			want: []want{{
				State:    rules.StateViolation,
				Detail:   "the root user has no MFA device (account summary: AccountMFAEnabled is 0; the credential report has no root row)",
				Evidence: map[string]any{"mfa_active": false, "source": "iam:GetAccountSummary", "account_mfa_enabled": 0},
			}},
		},
		{name: "root known from the account summary only, with MFA", user: inventory.User{IsRoot: true, RootSummary: &inventory.RootSummary{MFAEnabled: true}}},
		{name: "IAM user is not root", user: inventory.User{}},
	})
}
