package rules_test

import (
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestAccessKeyUnused(t *testing.T) {
	keys := func(ks ...inventory.AccessKey) inventory.User { return inventory.User{AccessKeys: ks} }
	incomplete := keys(
		key(1, "", true, daysAgo(300), time.Time{}),
		key(2, "", true, daysAgo(300), daysAgo(120)),
	)
	incomplete.Incomplete = true

	runCases(t, "access-key-unused", []ruleCase{
		{name: "no keys", user: keys()},
		{
			name: "last used exactly the threshold ago",
			user: keys(key(1, "AKIAIOSFODNN7EXAMPLE", true, daysAgo(400), daysAgo(90))),
			want: []want{{
				Resource: "AKIAIOSFODNN7EXAMPLE",
				State:    rules.StateViolation,
				Detail:   "access key AKIA…MPLE was last used 90 days ago (2026-08-22), threshold 90 days",
				Evidence: map[string]any{
					"access_key_slot": 1,
					"last_used":       "2026-08-22T09:00:00Z",
					"created":         "2025-10-16T09:00:00Z",
					"threshold_days":  90,
					"age_days":        90,
				},
			}},
		},
		{name: "last used one second short of the threshold", user: keys(key(1, "", true, daysAgo(400), daysAgo(90).Add(time.Second)))},
		{
			name: "never used, created long ago",
			user: keys(key(2, "", true, daysAgo(91), time.Time{})),
			want: []want{{
				Resource: "access_key_2",
				State:    rules.StateViolation,
				Detail:   "access_key_2 was never used and was created 91 days ago (2026-08-21), threshold 90 days",
				Evidence: map[string]any{
					"access_key_slot": 2,
					"last_used":       nil,
					"created":         "2026-08-21T09:00:00Z",
					"threshold_days":  90,
					"age_days":        91,
				},
			}},
		},
		{name: "never used, created one second short of the threshold", user: keys(key(1, "", true, daysAgo(90).Add(time.Second), time.Time{}))},
		{
			name: "never used, created exactly the threshold ago",
			user: keys(key(1, "", true, daysAgo(90), time.Time{})),
			want: []want{{Resource: "access_key_1", State: rules.StateViolation, Detail: "~never used and was created 90 days ago"}},
		},
		{
			name: "never used, creation unknown",
			user: keys(key(1, "", true, time.Time{}, time.Time{})),
			want: []want{{Resource: "access_key_1", State: rules.StateViolation, Detail: "access_key_1 was never used and its creation time is unknown, threshold 90 days"}},
		},
		{name: "inactive key is never judged", user: keys(key(1, "", false, daysAgo(900), daysAgo(800)))},
		{
			name: "two keys judged separately",
			user: keys(
				key(1, "AKIAIOSFODNN7EXAMPLE", true, daysAgo(400), daysAgo(2)),
				key(2, "AKIAI44QH8DHBEXAMPL2", true, daysAgo(300), daysAgo(134)),
			),
			want: []want{{Resource: "AKIAI44QH8DHBEXAMPL2", State: rules.StateViolation, Detail: "access key AKIA…MPL2 was last used 134 days ago (2026-07-09), threshold 90 days"}},
		},
		{
			name: "both keys stale, inactive one aside",
			user: keys(
				key(1, "AKIAIOSFODNN7EXAMPLE", true, daysAgo(400), daysAgo(100)),
				key(2, "AKIAI44QH8DHBEXAMPL2", true, daysAgo(300), time.Time{}),
			),
			want: []want{
				{Resource: "AKIAIOSFODNN7EXAMPLE", State: rules.StateViolation, Detail: "~AKIA…MPLE was last used 100 days ago"},
				{Resource: "AKIAI44QH8DHBEXAMPL2", State: rules.StateViolation, Detail: "~AKIA…MPL2 was never used and was created 300 days ago"},
			},
		},
		{
			name: "configured threshold",
			env:  func(e *rules.Env) { e.Thresholds.AccessKeyUnusedDays = 30 },
			user: keys(key(1, "", true, daysAgo(400), daysAgo(30))),
			want: []want{{Resource: "access_key_1", State: rules.StateViolation, Detail: "~last used 30 days ago (2026-10-21), threshold 30 days"}},
		},
		{
			name: "as of the past: a use after the instant is not counted as unused",
			env:  func(e *rules.Env) { e.AsOf = daysAgo(200) },
			user: keys(key(1, "", true, daysAgo(500), daysAgo(3))),
		},
		{
			name: "as of the past: key created after the instant did not exist",
			env:  func(e *rules.Env) { e.AsOf = daysAgo(200) },
			user: keys(key(1, "", true, daysAgo(100), time.Time{})),
		},
		{
			name: "incomplete principal: never-used key skipped, read last use judged",
			user: incomplete,
			want: []want{{Resource: "access_key_2", State: rules.StateViolation, Detail: "~last used 120 days ago"}},
		},
		{name: "root is not an IAM user", user: inventory.User{IsRoot: true, AccessKeys: []inventory.AccessKey{key(1, "", true, daysAgo(900), time.Time{})}}},
	})
}

func TestAccessKeyUnusedVerdictsOwnTheirKeys(t *testing.T) {
	u := inventory.User{Name: "ci", AccessKeys: []inventory.AccessKey{
		key(1, "AKIAIOSFODNN7EXAMPLE", true, daysAgo(400), daysAgo(100)),
		key(2, "AKIAI44QH8DHBEXAMPL2", true, daysAgo(300), time.Time{}),
	}}
	got := lookup(t, "access-key-unused").Check(defaultEnv(), &u)
	keyVerdicts(t, got)
	if got[0].Key.ID != "AKIAIOSFODNN7EXAMPLE" || got[1].Key.ID != "AKIAI44QH8DHBEXAMPL2" {
		t.Fatalf("keys %q, %q: each verdict must carry the key it names", got[0].Key.ID, got[1].Key.ID)
	}
	got[1].Key.Active = false
	if !u.AccessKeys[1].Active {
		t.Fatal("changing a verdict's key changed the principal's key")
	}
}
