package rules_test

import (
	"testing"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestUserMFAMissing(t *testing.T) {
	keys := []inventory.AccessKey{
		key(1, "AKIAIOSFODNN7EXAMPLE", true, daysAgo(10), daysAgo(1)),
		key(2, "AKIAI44QH8DHBEXAMPLE", false, daysAgo(200), daysAgo(150)),
	}
	runCases(t, "user-mfa-missing", []ruleCase{
		{
			name: "programmatic user without MFA",
			user: inventory.User{AccessKeys: keys},
			want: []want{{
				State:    rules.StateViolation,
				Detail:   "user has no MFA device (no console password, 1 active access key)",
				Evidence: map[string]any{"mfa_active": false, "password_enabled": false, "active_access_keys": 1},
			}},
		},
		{
			name: "console user without MFA",
			user: inventory.User{Password: inventory.Password{Enabled: true, LastChanged: daysAgo(3)}},
			want: []want{{State: rules.StateViolation, Detail: "user has no MFA device (a console password, 0 active access keys)"}},
		},
		{
			name: "key created after the instant judged is not counted",
			env:  func(e *rules.Env) { e.AsOf = daysAgo(20) },
			user: inventory.User{AccessKeys: keys},
			want: []want{{State: rules.StateViolation, Detail: "~0 active access keys"}},
		},
		{name: "MFA active", user: inventory.User{MFA: inventory.MFA{Active: true}}},
		{name: "incomplete principal is not judged", user: inventory.User{Incomplete: true}},
		{name: "root is not an IAM user", user: inventory.User{IsRoot: true}},
	})
}
