package rules_test

import (
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestAccessKeysMultipleActive(t *testing.T) {
	keys := func(ks ...inventory.AccessKey) inventory.User { return inventory.User{AccessKeys: ks} }
	incomplete := keys(key(1, "", true, daysAgo(5), time.Time{}), key(2, "", true, time.Time{}, time.Time{}))
	incomplete.Incomplete = true

	runCases(t, "access-keys-multiple-active", []ruleCase{
		{name: "no keys", user: keys()},
		{name: "one active key", user: keys(key(1, "", true, daysAgo(5), time.Time{}))},
		{name: "one active, one inactive", user: keys(key(1, "", true, daysAgo(5), time.Time{}), key(2, "", false, daysAgo(50), time.Time{}))},
		{
			name: "two active keys",
			user: keys(key(1, "AKIAIOSFODNN7EXAMPLE", true, daysAgo(5), time.Time{}), key(2, "AKIAI44QH8DHBEXAMPL2", true, daysAgo(50), daysAgo(1))),
			want: []want{{
				State:  rules.StateViolation,
				Detail: "user has 2 active access keys: access key AKIA…MPLE (created 2026-11-15), access key AKIA…MPL2 (created 2026-10-01)",
				Evidence: map[string]any{
					"active_access_keys": 2,
					"created":            []any{"2026-11-15T09:00:00Z", "2026-10-01T09:00:00Z"},
				},
			}},
		},
		{
			name: "as of the past: second key did not exist yet",
			env:  func(e *rules.Env) { e.AsOf = daysAgo(10) },
			user: keys(key(1, "", true, daysAgo(5), time.Time{}), key(2, "", true, daysAgo(50), time.Time{})),
		},
		{
			name: "incomplete principal with two active keys is still judged",
			user: incomplete,
			want: []want{{State: rules.StateViolation, Detail: "user has 2 active access keys: access_key_1 (created 2026-11-15), access_key_2 (created at an unknown time)"}},
		},
		{name: "root is not an IAM user", user: inventory.User{IsRoot: true, AccessKeys: []inventory.AccessKey{key(1, "", true, daysAgo(5), time.Time{}), key(2, "", true, daysAgo(5), time.Time{})}}},
	})
}
