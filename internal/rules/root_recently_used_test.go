package rules_test

import (
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestRootRecentlyUsed(t *testing.T) {
	root := func(pwUsed time.Time, keys ...inventory.AccessKey) inventory.User {
		return inventory.User{IsRoot: true, Password: inventory.Password{Enabled: true, LastUsed: pwUsed}, AccessKeys: keys}
	}
	runCases(t, "root-recently-used", []ruleCase{
		{name: "never used", user: root(time.Time{})},
		{
			name: "password used one second short of a day ago",
			user: root(daysAgo(1).Add(time.Second)),
			want: []want{{
				State:  rules.StateViolation,
				Detail: "the root user's password was used 2026-11-19T09:00:01Z (0 days ago), within the 1-day threshold",
				Evidence: map[string]any{
					"last_used":          "2026-11-19T09:00:01Z",
					"used_by":            "password",
					"password_last_used": "2026-11-19T09:00:01Z",
					"age_days":           0,
					"threshold_days":     1,
				},
			}},
		},
		{name: "password used exactly a day ago is outside the window", user: root(daysAgo(1))},
		{
			name: "most recent use wins: a key after the password",
			user: root(asOf.Add(-5*time.Hour), key(2, "AKIAIOSFODNN7EXAMPLE", false, daysAgo(500), asOf.Add(-time.Hour))),
			want: []want{{State: rules.StateViolation, Detail: "the root user's access key AKIA…MPLE was used 2026-11-20T08:00:00Z (0 days ago), within the 1-day threshold"}},
		},
		{
			name: "configured window of seven days",
			env:  func(e *rules.Env) { e.Thresholds.RootRecentlyUsedDays = 7 },
			user: root(daysAgo(6)),
			want: []want{{State: rules.StateViolation, Detail: "~(6 days ago), within the 7-day threshold"}},
		},
		{
			name: "as of the past: a use after the instant does not count",
			env:  func(e *rules.Env) { e.AsOf = daysAgo(10) },
			user: root(asOf.Add(-time.Hour)),
		},
		{
			name: "as of the past: an earlier key use still counts",
			env:  func(e *rules.Env) { e.AsOf = daysAgo(10) },
			user: root(asOf.Add(-time.Hour), key(1, "", true, daysAgo(300), daysAgo(10).Add(-2*time.Hour))),
			want: []want{{
				State:  rules.StateViolation,
				Detail: "the root user's access_key_1 was used 2026-11-10T07:00:00Z (0 days ago), within the 1-day threshold",
				Evidence: map[string]any{
					"last_used":          "2026-11-10T07:00:00Z",
					"used_by":            "access_key_1",
					"password_last_used": nil,
					"age_days":           0,
					"threshold_days":     1,
				},
			}},
		},
		{
			name: "incomplete root with a recent use is still judged",
			user: inventory.User{IsRoot: true, Incomplete: true, Password: inventory.Password{LastUsed: asOf.Add(-time.Minute)}},
			want: []want{{State: rules.StateViolation, Detail: "~password was used 2026-11-20T08:59:00Z"}},
		},
		{name: "root known from the account summary only is not judged", user: inventory.User{IsRoot: true, RootSummary: &inventory.RootSummary{MFAEnabled: true}, Password: inventory.Password{LastUsed: asOf.Add(-time.Minute)}}},
		{name: "IAM user is not root", user: inventory.User{Password: inventory.Password{Enabled: true, LastUsed: asOf}}},
	})
}
