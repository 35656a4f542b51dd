package rules_test

import (
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestConsoleMFAMissing(t *testing.T) {
	console := func(changed, created time.Time) inventory.User {
		return inventory.User{Password: inventory.Password{Enabled: true, LastChanged: changed, ProfileCreated: created}}
	}
	withMFA := console(daysAgo(30), time.Time{})
	withMFA.MFA.Active = true
	incomplete := console(asOf.Add(-time.Hour), time.Time{})
	incomplete.Incomplete = true

	runCases(t, "console-mfa-missing", []ruleCase{
		{name: "no console password", user: inventory.User{}},
		{name: "MFA active", user: withMFA},
		{
			name: "exactly the grace period after the password was set",
			user: console(daysAgo(1), time.Time{}),
			want: []want{{
				State:  rules.StateViolation,
				Detail: "console password set 2026-11-19 (1 day ago) has no MFA device; the 24h grace period ended 2026-11-20T09:00:00Z",
				Evidence: map[string]any{
					"mfa_active":          false,
					"password_set_at":     "2026-11-19T09:00:00Z",
					"password_set_source": "password_last_changed",
					"grace":               "24h",
					"grace_seconds":       int64(86400),
					"deadline":            "2026-11-20T09:00:00Z",
					"age_days":            1,
				},
			}},
		},
		{
			name: "one second inside the grace period",
			user: console(daysAgo(1).Add(time.Second), time.Time{}),
			want: []want{{
				State:    rules.StatePending,
				Deadline: asOf.Add(time.Second),
				Detail:   "console password set 2026-11-19T09:00:01Z has no MFA device yet; the 24h grace period ends 2026-11-20T09:00:01Z",
			}},
		},
		{
			name: "login profile creation wins over a recent password change",
			user: console(asOf.Add(-time.Hour), daysAgo(30)),
			want: []want{{
				State:  rules.StateViolation,
				Detail: "~set 2026-10-21 (30 days ago)",
				Evidence: map[string]any{
					"mfa_active":          false,
					"password_set_at":     "2026-10-21T09:00:00Z",
					"password_set_source": "login_profile_created",
					"grace":               "24h",
					"grace_seconds":       int64(86400),
					"deadline":            "2026-10-22T09:00:00Z",
					"age_days":            30,
				},
			}},
		},
		{
			name: "recent login profile is pending",
			user: console(asOf.Add(-time.Hour), asOf.Add(-2*time.Hour)),
			want: []want{{State: rules.StatePending, Deadline: asOf.Add(22 * time.Hour), Detail: "~ends 2026-11-21T07:00:00Z"}},
		},
		{
			name: "set time unknown",
			user: console(time.Time{}, time.Time{}),
			want: []want{{
				State:  rules.StateViolation,
				Detail: "console password is enabled without MFA and the time it was set is unknown, so the 24h grace period cannot apply",
			}},
		},
		{name: "incomplete principal is not judged", user: incomplete},
		{
			name: "configured grace of three days",
			env:  func(e *rules.Env) { e.Thresholds.ConsoleMFAGrace = 72 * time.Hour },
			user: console(daysAgo(2), time.Time{}),
			want: []want{{State: rules.StatePending, Deadline: asOf.Add(day), Detail: "~the 3d grace period ends 2026-11-21T09:00:00Z"}},
		},
		{
			name: "no grace",
			env:  func(e *rules.Env) { e.Thresholds.ConsoleMFAGrace = 0 },
			user: console(asOf.Add(-time.Minute), time.Time{}),
			want: []want{{State: rules.StateViolation, Detail: "~(0 days ago) has no MFA device; the 0s grace period ended 2026-11-20T08:59:00Z"}},
		},
		{
			name: "judged a week later the pending user is a violation",
			env:  func(e *rules.Env) { e.AsOf = asOf.Add(7 * day) },
			user: console(asOf.Add(-time.Hour), time.Time{}),
			want: []want{{State: rules.StateViolation, Detail: "~(7 days ago)"}},
		},
		{name: "root is not an IAM user", user: inventory.User{IsRoot: true, Password: inventory.Password{Enabled: true, LastChanged: daysAgo(400)}}},
	})
}

func TestConsoleMFAMissingBeforeProfileCreated(t *testing.T) {
	asOf := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	u := &inventory.User{Name: "new", Password: inventory.Password{Enabled: true, LastChanged: asOf.Add(time.Hour), ProfileCreated: asOf.Add(time.Hour)}}
	r, _ := rules.Lookup("console-mfa-missing")
	if v := r.Check(rules.Env{AsOf: asOf, Thresholds: rules.DefaultThresholds()}, u); len(v) != 0 {
		t.Errorf("judged a login profile created after the instant judged: %+v", v)
	}
}

func TestConsoleMFAMissingAfterMFARemoval(t *testing.T) {
	old := inventory.User{ID: "AIDAALICE", Password: inventory.Password{Enabled: true, ProfileCreated: daysAgo(200)}}
	grant := func(removed time.Time, grace time.Duration) func(*rules.Env) {
		return func(e *rules.Env) {
			e.GraceGrants = map[string]rules.GraceGrant{"AIDAALICE": {RemovedAt: removed, Until: removed.Add(grace)}}
		}
	}
	runCases(t, "console-mfa-missing", []ruleCase{
		{
			name: "no grant: an old password without MFA is a violation at once",
			user: old,
			want: []want{{State: rules.StateViolation, Detail: "~set 2026-05-04 (200 days ago)"}},
		},
		{
			name: "inside the grant after the device was removed",
			user: old,
			env:  grant(asOf.Add(-time.Hour), 24*time.Hour),
			want: []want{{
				State:    rules.StatePending,
				Deadline: asOf.Add(23 * time.Hour),
				Detail:   "the last MFA device was removed 2026-11-20T08:00:00Z; console access ends 2026-11-21T08:00:00Z unless another is registered",
			}},
		},
		{
			name: "the grant ran out",
			user: old,
			env:  grant(daysAgo(2), 24*time.Hour),
			want: []want{{State: rules.StateViolation, Detail: "~none was registered in the grace period that ended 2026-11-19T09:00:00Z"}},
		},
		{
			name: "a grant for another user changes nothing",
			user: inventory.User{ID: "AIDABOB", Password: old.Password},
			env:  grant(asOf.Add(-time.Hour), 24*time.Hour),
			want: []want{{State: rules.StateViolation, Detail: "~set 2026-05-04 (200 days ago)"}},
		},
		{
			name: "a grant never shortens the password's own grace period",
			user: inventory.User{ID: "AIDAALICE", Password: inventory.Password{Enabled: true, ProfileCreated: asOf.Add(-time.Hour)}},
			env:  grant(asOf.Add(-2*time.Hour), time.Hour),
			want: []want{{State: rules.StatePending, Deadline: asOf.Add(23 * time.Hour), Detail: "~grace period ends"}},
		},
	})
}
