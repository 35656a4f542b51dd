package rules_test

import (
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestRootAccessKey(t *testing.T) {
	root := func(keys ...inventory.AccessKey) inventory.User {
		return inventory.User{IsRoot: true, AccessKeys: keys}
	}
	runCases(t, "root-access-key", []ruleCase{
		{name: "no keys", user: root()},
		{name: "inactive key", user: root(key(1, "", false, daysAgo(400), daysAgo(300)))},
		{
			name: "active key by slot",
			user: root(key(1, "", true, daysAgo(400), daysAgo(19))),
			want: []want{{
				Resource: "access_key_1",
				State:    rules.StateViolation,
				Detail:   "the root user has active access_key_1, created 2025-10-16 (400 days ago), last used 2026-11-01 (19 days ago)",
				Evidence: map[string]any{
					"access_key_slot": 1,
					"created":         "2025-10-16T09:00:00Z",
					"last_used":       "2026-11-01T09:00:00Z",
					"age_days":        400,
				},
			}},
		},
		{
			name: "one verdict per active key, inactive key skipped",
			user: root(
				key(1, "AKIAIOSFODNN7EXAMPLE", true, daysAgo(10), time.Time{}),
				key(2, "AKIAI44QH8DHBEXAMPLE", true, time.Time{}, time.Time{}),
			),
			want: []want{
				{Resource: "AKIAIOSFODNN7EXAMPLE", State: rules.StateViolation, Detail: "the root user has active access key AKIA…MPLE, created 2026-11-10 (10 days ago), never used"},
				{Resource: "AKIAI44QH8DHBEXAMPLE", State: rules.StateViolation, Detail: "the root user has active access key AKIA…MPLE, created at an unknown time, never used"},
			},
		},
		{
			name: "as of the past: use after the instant is not reported as a use",
			env:  func(e *rules.Env) { e.AsOf = daysAgo(30) },
			user: root(key(2, "", true, daysAgo(400), daysAgo(1))),
			want: []want{{Resource: "access_key_2", State: rules.StateViolation, Detail: "~370 days ago), with no use known before 2026-10-21T09:00:00Z"}},
		},
		{
			name: "as of the past: key created afterwards did not exist",
			env:  func(e *rules.Env) { e.AsOf = daysAgo(30) },
			user: root(key(1, "", true, daysAgo(5), time.Time{})),
		},
		{
			name: "incomplete root with an active key is still judged",
			user: inventory.User{IsRoot: true, Incomplete: true, AccessKeys: []inventory.AccessKey{key(1, "", true, time.Time{}, time.Time{})}},
			want: []want{{Resource: "access_key_1", State: rules.StateViolation, Detail: "~created at an unknown time"}},
		},
		{
			name: "root known from the account summary only, with a key",
			user: inventory.User{IsRoot: true, RootSummary: &inventory.RootSummary{AccessKeysPresent: true}},
			want: []want{{
				State: rules.StateViolation,
				Detail: "the root user has an access key (account summary: AccountAccessKeysPresent is 1; the credential report has no root row, " +
					"so the key's ID, status, age and use are unknown)",
				Evidence: map[string]any{"source": "iam:GetAccountSummary", "account_access_keys_present": 1},
			}},
		},
		{name: "root known from the account summary only, without keys", user: inventory.User{IsRoot: true, RootSummary: &inventory.RootSummary{}}},
		{name: "IAM user is not root", user: inventory.User{AccessKeys: []inventory.AccessKey{key(1, "", true, daysAgo(1), time.Time{})}}},
	})
}

func TestRootAccessKeyVerdictsOwnTheirKeys(t *testing.T) {
	u := inventory.User{Name: inventory.RootName, IsRoot: true, AccessKeys: []inventory.AccessKey{
		key(1, "AKIAIOSFODNN7EXAMPLE", true, daysAgo(10), time.Time{}),
		key(2, "AKIAI44QH8DHBEXAMPLE", true, daysAgo(20), time.Time{}),
	}}
	got := lookup(t, "root-access-key").Check(defaultEnv(), &u)
	keyVerdicts(t, got)
	got[0].Key.Active = false
	if !u.AccessKeys[0].Active {
		t.Fatal("changing a verdict's key changed the principal's key")
	}
}
