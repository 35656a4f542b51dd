package rules_test

import (
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestAccessKeyNotRotated(t *testing.T) {
	keys := func(ks ...inventory.AccessKey) inventory.User { return inventory.User{AccessKeys: ks} }
	incomplete := keys(key(1, "", true, time.Time{}, time.Time{}), key(2, "", true, daysAgo(200), time.Time{}))
	incomplete.Incomplete = true

	runCases(t, "access-key-not-rotated", []ruleCase{
		{name: "no keys", user: keys()},
		{
			name: "created exactly the threshold ago",
			user: keys(key(1, "AKIAIOSFODNN7EXAMPLE", true, daysAgo(90), daysAgo(1))),
			want: []want{{
				Resource: "AKIAIOSFODNN7EXAMPLE",
				State:    rules.StateViolation,
				Detail:   "access key AKIA…MPLE was created 90 days ago (2026-08-22) and not rotated since, threshold 90 days",
				Evidence: map[string]any{
					"access_key_slot": 1,
					"created":         "2026-08-22T09:00:00Z",
					"last_used":       "2026-11-19T09:00:00Z",
					"threshold_days":  90,
					"age_days":        90,
				},
			}},
		},
		{name: "created one second short of the threshold", user: keys(key(1, "", true, daysAgo(90).Add(time.Second), time.Time{}))},
		{name: "inactive old key", user: keys(key(1, "", false, daysAgo(900), time.Time{}))},
		{
			name: "two keys judged separately",
			user: keys(key(1, "", true, daysAgo(10), time.Time{}), key(2, "", true, daysAgo(365), daysAgo(3))),
			want: []want{{Resource: "access_key_2", State: rules.StateViolation, Detail: "access_key_2 was created 365 days ago (2025-11-20) and not rotated since, threshold 90 days"}},
		},
		{
			name: "creation unknown",
			user: keys(key(2, "", true, time.Time{}, time.Time{})),
			want: []want{{Resource: "access_key_2", State: rules.StateViolation, Detail: "access_key_2 has an unknown creation time, so its age cannot be shown to be under 90 days"}},
		},
		{
			name: "configured threshold",
			env:  func(e *rules.Env) { e.Thresholds.AccessKeyMaxAgeDays = 365 },
			user: keys(key(1, "", true, daysAgo(364), time.Time{}), key(2, "", true, daysAgo(365), time.Time{})),
			want: []want{{Resource: "access_key_2", State: rules.StateViolation, Detail: "~threshold 365 days"}},
		},
		{
			name: "as of the past: judged by its age then; later use not shown",
			env:  func(e *rules.Env) { e.AsOf = daysAgo(100) },
			user: keys(key(1, "", true, daysAgo(200), daysAgo(1)), key(2, "", true, daysAgo(50), time.Time{})),
			want: []want{{
				Resource: "access_key_1",
				State:    rules.StateViolation,
				Detail:   "access_key_1 was created 100 days ago (2026-05-04) and not rotated since, threshold 90 days",
				Evidence: map[string]any{
					"access_key_slot": 1,
					"created":         "2026-05-04T09:00:00Z",
					"last_used":       nil,
					"threshold_days":  90,
					"age_days":        100,
				},
			}},
		},
		{
			name: "incomplete principal: unknown creation skipped, read creation judged",
			user: incomplete,
			want: []want{{Resource: "access_key_2", State: rules.StateViolation, Detail: "~created 200 days ago"}},
		},
		{name: "root is not an IAM user", user: inventory.User{IsRoot: true, AccessKeys: []inventory.AccessKey{key(1, "", true, daysAgo(900), time.Time{})}}},
	})
}
