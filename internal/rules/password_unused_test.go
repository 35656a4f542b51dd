package rules_test

import (
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestPasswordUnused(t *testing.T) {
	pw := func(lastUsed, changed, created time.Time) inventory.User {
		return inventory.User{Password: inventory.Password{Enabled: true, LastUsed: lastUsed, LastChanged: changed, ProfileCreated: created}}
	}
	incompleteNever := pw(time.Time{}, daysAgo(400), time.Time{})
	incompleteNever.Incomplete = true
	incompleteOld := pw(daysAgo(200), daysAgo(400), time.Time{})
	incompleteOld.Incomplete = true

	runCases(t, "password-unused", []ruleCase{
		{name: "no console password", user: inventory.User{Password: inventory.Password{LastUsed: daysAgo(500)}}},
		{
			name: "last used exactly the threshold ago",
			user: pw(daysAgo(90), daysAgo(400), time.Time{}),
			want: []want{{
				State:  rules.StateViolation,
				Detail: "console password was last used 90 days ago (2026-08-22), threshold 90 days",
				Evidence: map[string]any{
					"password_last_used": "2026-08-22T09:00:00Z",
					"password_set_at":    "2025-10-16T09:00:00Z",
					"threshold_days":     90,
					"age_days":           90,
				},
			}},
		},
		{name: "last used one second short of the threshold", user: pw(daysAgo(90).Add(time.Second), daysAgo(400), time.Time{})},
		{
			name: "age in whole days is floored",
			user: pw(daysAgo(134).Add(-23*time.Hour), daysAgo(400), time.Time{}),
			want: []want{{State: rules.StateViolation, Detail: "console password was last used 134 days ago (2026-07-08), threshold 90 days"}},
		},
		{
			name: "never used, set long ago",
			user: pw(time.Time{}, daysAgo(120), time.Time{}),
			want: []want{{
				State:  rules.StateViolation,
				Detail: "console password was never used and was set 120 days ago (2026-07-23), threshold 90 days",
				Evidence: map[string]any{
					"password_last_used": nil,
					"password_set_at":    "2026-07-23T09:00:00Z",
					"threshold_days":     90,
					"age_days":           120,
				},
			}},
		},
		{name: "never used, set recently", user: pw(time.Time{}, daysAgo(89), time.Time{})},
		{
			name: "never used: the login profile's creation wins over the last change",
			user: pw(time.Time{}, daysAgo(10), daysAgo(95)),
			want: []want{{State: rules.StateViolation, Detail: "~set 95 days ago (2026-08-17)"}},
		},
		{
			name: "never used and set time unknown",
			user: pw(time.Time{}, time.Time{}, time.Time{}),
			want: []want{{
				State:    rules.StateViolation,
				Detail:   "console password was never used and the time it was set is unknown, threshold 90 days",
				Evidence: map[string]any{"password_last_used": nil, "password_set_at": nil, "threshold_days": 90, "age_days": nil},
			}},
		},
		{
			name: "CIS threshold of 45 days",
			env:  func(e *rules.Env) { e.Thresholds.PasswordUnusedDays = 45 },
			user: pw(daysAgo(45), daysAgo(400), time.Time{}),
			want: []want{{State: rules.StateViolation, Detail: "console password was last used 45 days ago (2026-10-06), threshold 45 days"}},
		},
		{
			name: "as of the past: a use after the instant proves nothing either way",
			env:  func(e *rules.Env) { e.AsOf = daysAgo(100) },
			user: pw(daysAgo(5), daysAgo(400), time.Time{}),
		},
		{
			name: "as of the past: never used, set before the instant",
			env:  func(e *rules.Env) { e.AsOf = daysAgo(100) },
			user: pw(time.Time{}, daysAgo(190), time.Time{}),
			want: []want{{State: rules.StateViolation, Detail: "~never used and was set 90 days ago (2026-05-14)"}},
		},
		{name: "incomplete principal: never used is not trusted", user: incompleteNever},
		{
			name: "incomplete principal: a read last use is still judged",
			user: incompleteOld,
			want: []want{{State: rules.StateViolation, Detail: "~last used 200 days ago"}},
		},
		{name: "root is not an IAM user", user: inventory.User{IsRoot: true, Password: inventory.Password{Enabled: true, LastUsed: daysAgo(500)}}},
	})
}
