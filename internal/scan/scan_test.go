package scan_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/scan"
)

var readAt = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// fakeLive answers per-user lookups from maps and records which users and keys were asked
// about. A key missing from lastUse was never used.
type fakeLive struct {
	profiles map[string]time.Time
	keys     map[string][]inventory.AccessKeyMeta
	lastUse  map[string]inventory.AccessKeyLastUse
	fail     map[string]bool // by user or key ID
	// hold, when set, runs before every answer (outside the lock).
	hold  func(what string)
	mu    sync.Mutex
	asked []string
}

func (f *fakeLive) ask(what string) {
	if f.hold != nil {
		f.hold(what)
	}
	f.mu.Lock()
	f.asked = append(f.asked, what)
	f.mu.Unlock()
}

// askedSorted is what was asked, in sorted order (lookups run concurrently).
func (f *fakeLive) askedSorted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(slices.Values(f.asked))
}

var _ scan.Live = (*fakeLive)(nil)

func (f *fakeLive) LoginProfileCreated(_ context.Context, user string) (time.Time, bool, error) {
	f.ask("profile:" + user)
	if f.fail[user] {
		return time.Time{}, false, errors.New("AccessDenied")
	}
	t, ok := f.profiles[user]
	return t, ok, nil
}

func (f *fakeLive) AccessKeys(_ context.Context, user string) ([]inventory.AccessKeyMeta, error) {
	f.ask("keys:" + user)
	if f.fail[user] {
		return nil, errors.New("AccessDenied")
	}
	return f.keys[user], nil
}

func (f *fakeLive) AccessKeyLastUsed(_ context.Context, id string) (inventory.AccessKeyLastUse, error) {
	f.ask("lastuse:" + id)
	if f.fail[id] {
		return inventory.AccessKeyLastUse{}, errors.New("AccessDenied")
	}
	return f.lastUse[id], nil
}

// graceRule stands in for console-mfa-missing: pending until SetAt+grace, then a violation.
var graceRule = rules.Rule{ID: "console-mfa-missing", Title: "t", Severity: rules.SeverityHigh, Check: func(env rules.Env, p *inventory.User) []rules.Verdict {
	if !p.Password.Enabled || p.MFA.Active {
		return nil
	}
	deadline := p.Password.SetAt().Add(env.Thresholds.ConsoleMFAGrace)
	if env.AsOf.Before(deadline) {
		return []rules.Verdict{{State: rules.StatePending, Deadline: deadline}}
	}
	return []rules.Verdict{{State: rules.StateViolation}}
}}

// keyRule flags every active key and names it by Ref.
var keyRule = rules.Rule{ID: "access-key-unused", Title: "t", Severity: rules.SeverityMedium, Check: func(_ rules.Env, p *inventory.User) []rules.Verdict {
	var out []rules.Verdict
	for i := range p.AccessKeys {
		k := p.AccessKeys[i]
		if k.Active {
			out = append(out, rules.Verdict{State: rules.StateViolation, Resource: k.Ref(), Key: &k, Detail: "key " + k.Ref()})
		}
	}
	return out
}}

func opts() scan.Options {
	return scan.Options{Rules: []rules.Rule{graceRule, keyRule}, Thresholds: rules.DefaultThresholds(), Now: func() time.Time { return readAt }}
}

func TestGraceReadsLoginProfileOnlyWhenReportCannotDecide(t *testing.T) {
	snap := &inventory.Snapshot{AccountID: "123456789012", ReadAt: readAt, Users: []inventory.User{
		// Password changed 2h ago, but the login profile is a year old: a violation.
		{Name: "changed", Password: inventory.Password{Enabled: true, LastChanged: readAt.Add(-2 * time.Hour)}},
		// Password set 2h ago with a new profile: pending.
		{Name: "new", Password: inventory.Password{Enabled: true, LastChanged: readAt.Add(-2 * time.Hour)}},
		// Set 3 days ago: the report decides on its own, no call.
		{Name: "old", Password: inventory.Password{Enabled: true, LastChanged: readAt.Add(-72 * time.Hour)}},
		// Has MFA: no call.
		{Name: "mfa", Password: inventory.Password{Enabled: true, LastChanged: readAt.Add(-time.Hour)}, MFA: inventory.MFA{Active: true}},
		// Password removed since the report: no finding.
		{Name: "gone", Password: inventory.Password{Enabled: true, LastChanged: readAt.Add(-time.Hour)}},
	}}
	live := &fakeLive{profiles: map[string]time.Time{
		"changed": readAt.AddDate(-1, 0, 0),
		"new":     readAt.Add(-2 * time.Hour),
	}}
	res, err := scan.Run(context.Background(), snap, opts(), live)
	if err != nil {
		t.Fatal(err)
	}
	wantAsked := []string{"profile:changed", "profile:gone", "profile:new"}
	if got := live.askedSorted(); !slices.Equal(got, wantAsked) {
		t.Fatalf("asked %v, want %v", got, wantAsked)
	}
	states := map[string]rules.State{}
	for _, f := range res.Findings {
		states[f.Principal] = f.State
	}
	want := map[string]rules.State{"changed": rules.StateViolation, "new": rules.StatePending, "old": rules.StateViolation}
	if len(states) != len(want) {
		t.Fatalf("findings %v, want %v", states, want)
	}
	for u, s := range want {
		if states[u] != s {
			t.Errorf("%s: state %q, want %q", u, states[u], s)
		}
	}
	if res.Partial || res.Summary.Violations != 2 || res.Summary.Pending != 1 {
		t.Errorf("partial %v summary %+v", res.Partial, res.Summary)
	}
}

func TestKeysNamedByCreationTime(t *testing.T) {
	k1 := readAt.AddDate(0, -6, 0)
	k2 := readAt.AddDate(0, -1, 0)
	snap := &inventory.Snapshot{AccountID: "123456789012", ReadAt: readAt, Users: []inventory.User{
		{Name: "bot", AccessKeys: []inventory.AccessKey{
			{Slot: 1, Active: true, Created: k1},
			{Slot: 2, Active: false, Created: k2},
		}},
		{Name: "quiet", AccessKeys: []inventory.AccessKey{{Slot: 1, Active: false, Created: k1}}},
	}}
	live := &fakeLive{keys: map[string][]inventory.AccessKeyMeta{
		// Listed in another order, with sub-second precision.
		"bot": {{ID: "AKIAB", Created: k2}, {ID: "AKIAA", Active: true, Created: k1.Add(300 * time.Millisecond)}},
	}}
	res, err := scan.Run(context.Background(), snap, opts(), live)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 {
		t.Fatalf("findings %+v", res.Findings)
	}
	f := res.Findings[0]
	if f.Resource != "AKIAA" || f.ID != "123456789012/access-key-unused/bot/AKIAA" || f.Detail != "key AKIAA" || f.Key.ID != "AKIAA" {
		t.Errorf("finding not named by key ID: %+v", f)
	}
	if got := live.askedSorted(); len(got) != 1 || got[0] != "keys:bot" {
		t.Errorf("asked %v, want only the user with a key finding", got)
	}
}

// Two keys created in the same second are told apart by their status, then by their last use,
// read only for the keys still alike; a key the evidence does not pin down names no key (a failed
// read of one last use leaves both keys of the user undecided), and a listed key names at most
// one slot.
func TestKeysCreatedInTheSameSecond(t *testing.T) {
	second := readAt.AddDate(0, -6, 0)
	early, late := readAt.AddDate(0, -4, 0), readAt.AddDate(0, -3, 0)
	pair := func(used1, used2 time.Time) []inventory.AccessKey {
		return []inventory.AccessKey{
			{Slot: 1, Active: true, Created: second, LastUsed: used1, LastUsedService: "s3", LastUsedRegion: "us-east-1"},
			{Slot: 2, Active: true, Created: second, LastUsed: used2, LastUsedService: "s3", LastUsedRegion: "us-east-1"},
		}
	}
	listed := func(a, b string) []inventory.AccessKeyMeta {
		return []inventory.AccessKeyMeta{{ID: a, Active: true, Created: second}, {ID: b, Active: true, Created: second}}
	}
	snap := &inventory.Snapshot{AccountID: "123456789012", ReadAt: readAt, Users: []inventory.User{
		{Name: "bot", AccessKeys: []inventory.AccessKey{
			{Slot: 1, Active: true, Created: second},
			{Slot: 2, Active: false, Created: second},
		}},
		{Name: "apart", AccessKeys: pair(early, late)},
		{Name: "alike", AccessKeys: pair(late, late)},
		{Name: "denied", AccessKeys: pair(early, late)},
		{Name: "single", AccessKeys: []inventory.AccessKey{
			{Slot: 1, Active: true, Created: second},
			{Slot: 2, Active: true, Created: second},
		}},
	}}
	s3 := func(t time.Time) inventory.AccessKeyLastUse {
		return inventory.AccessKeyLastUse{Used: t, Service: "s3", Region: "us-east-1"}
	}
	live := &fakeLive{
		keys: map[string][]inventory.AccessKeyMeta{
			"bot":    {{ID: "AKIAINACTIVE", Created: second.Add(200 * time.Millisecond)}, {ID: "AKIAACTIVE", Active: true, Created: second}},
			"apart":  listed("AKIALATE", "AKIAEARLY"),
			"alike":  listed("AKIAONE", "AKIATWO"),
			"denied": listed("AKIADENIED", "AKIAREAD"),
			"single": {{ID: "AKIAONLY", Active: true, Created: second}},
		},
		lastUse: map[string]inventory.AccessKeyLastUse{
			"AKIALATE": s3(late), "AKIAEARLY": s3(early),
			"AKIAONE": s3(late), "AKIATWO": s3(late),
			"AKIAREAD": s3(late),
		},
		fail: map[string]bool{"AKIADENIED": true},
	}
	res, err := scan.Run(context.Background(), snap, opts(), live)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	unknown := map[string][]any{}
	for _, f := range res.Findings {
		got[f.Principal] = append(got[f.Principal], f.Resource)
		if u := f.KeyIDUnknown; u != nil {
			unknown[f.Principal] = append(unknown[f.Principal], string(u.Reason), u.Candidates)
		}
	}
	want := map[string][]string{
		"bot":    {"AKIAACTIVE"},
		"apart":  {"AKIAEARLY", "AKIALATE"},
		"alike":  {"access_key_1", "access_key_2"},
		"denied": {"access_key_1", "access_key_2"},
		"single": {"access_key_1", "access_key_2"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("findings name %v\nwant %v", got, want)
	}
	wantUnknown := map[string][]any{
		"alike":  {"indistinguishable", []string{"AKIAONE", "AKIATWO"}, "indistinguishable", []string{"AKIAONE", "AKIATWO"}},
		"denied": {"last-use-unknown", []string{"AKIADENIED"}, "last-use-unknown", []string{"AKIADENIED", "AKIAREAD"}},
		"single": {"indistinguishable", []string{"AKIAONLY"}, "indistinguishable", []string{"AKIAONLY"}},
	}
	if fmt.Sprint(unknown) != fmt.Sprint(wantUnknown) {
		t.Errorf("key_id_unknown %v\nwant %v", unknown, wantUnknown)
	}
	wantAsked := []string{"keys:bot",
		"keys:apart", "lastuse:AKIALATE", "lastuse:AKIAEARLY",
		"keys:alike", "lastuse:AKIAONE", "lastuse:AKIATWO",
		"keys:denied", "lastuse:AKIADENIED", "lastuse:AKIAREAD",
		"keys:single", "lastuse:AKIAONLY"}
	if got := live.askedSorted(); !slices.Equal(got, slices.Sorted(slices.Values(wantAsked))) {
		t.Errorf("asked %v\nwant  %v", got, wantAsked)
	}
	if !res.Partial || len(res.Errors) != 1 || res.Errors[0].Where != "iam:GetAccessKeyLastUsed" || res.Errors[0].Principal != "denied" {
		t.Errorf("partial %v, errors %+v: want the failed last-use read of denied", res.Partial, res.Errors)
	}
}

// An export holds the listed keys but no last use: two keys created in the same second with the
// same status stay undecided offline, and their findings say so.
func TestOfflineKeysCreatedInTheSameSecond(t *testing.T) {
	const header = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active," +
		"access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service," +
		"access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service," +
		"cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
	report := header +
		"bot,arn:aws:iam::123456789012:user/bot,2025-01-01T00:00:00+00:00,false,N/A,N/A,N/A,true," +
		"true,2026-05-01T10:00:00+00:00,2026-11-19T08:00:00+00:00,us-east-1,s3," +
		"true,2026-05-01T10:00:00+00:00,2026-06-01T08:00:00+00:00,us-east-1,s3,false,N/A,false,N/A\n" +
		"split,arn:aws:iam::123456789012:user/split,2025-01-01T00:00:00+00:00,false,N/A,N/A,N/A,true," +
		"true,2026-05-01T10:00:00+00:00,2026-06-01T08:00:00+00:00,us-east-1,s3," +
		"false,2026-05-01T10:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n"
	created := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	err := inventory.WriteExport(dir, inventory.Raw{
		CredentialReport: []byte(report), ReadAt: readAt,
		Authorization: &inventory.AuthorizationDetails{UserDetailList: []inventory.UserDetail{
			{UserName: "bot", Arn: "arn:aws:iam::123456789012:user/bot", CreateDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
			{UserName: "split", Arn: "arn:aws:iam::123456789012:user/split", CreateDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		}},
		AccessKeys: []inventory.AccessKeyRecord{
			{UserName: "bot", AccessKeyId: "AKIAIOSFODNN7EXAMPLE", Status: "Active", CreateDate: created},
			{UserName: "bot", AccessKeyId: "AKIAI44QH8DHBEXAMPL2", Status: "Active", CreateDate: created},
			{UserName: "split", AccessKeyId: "AKIAINACTIVEEXAMPLE1", Status: "Inactive", CreateDate: created},
			{UserName: "split", AccessKeyId: "AKIAACTIVEEXAMPLE001", Status: "Active", CreateDate: created},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	res := scanExport(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.Principal+" "+f.Resource+": "+f.Detail)
		if f.Principal == "bot" && (f.KeyIDUnknown == nil || f.KeyIDUnknown.Reason != inventory.UnmatchedLastUseUnknown ||
			!slices.Equal(f.KeyIDUnknown.Candidates, []string{"AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPL2"})) {
			t.Errorf("bot's finding key_id_unknown %+v", f.KeyIDUnknown)
		}
	}
	want := []string{
		"bot access_key_2: access_key_2 was last used 172 days ago (2026-06-01), threshold 90 days; key ID undecided: AKIA…MPLE and AKIA…MPL2 both match its creation time and status in the credential report; the last use that could tell them apart is not in the data",
		"split AKIAACTIVEEXAMPLE001: access key AKIA…E001 was last used 172 days ago (2026-06-01), threshold 90 days",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func scanExport(t *testing.T, dir string) *report.Result {
	t.Helper()
	raw, err := inventory.ReadExport(dir)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := inventory.Assemble(raw)
	if err != nil {
		t.Fatal(err)
	}
	o := opts()
	o.Rules = []rules.Rule{lookupRule(t, "access-key-unused")}
	res, err := scan.Run(context.Background(), snap, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// An export that recorded the last use of two keys created in the same second names them as the
// live scan does.
func TestOfflineKeysToldApartByRecordedLastUse(t *testing.T) {
	const report = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active," +
		"access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service," +
		"access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service," +
		"cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n" +
		"bot,arn:aws:iam::123456789012:user/bot,2025-01-01T00:00:00+00:00,false,N/A,N/A,N/A,true," +
		"true,2026-05-01T10:00:00+00:00,2026-11-19T08:00:00+00:00,us-east-1,s3," +
		"true,2026-05-01T10:00:00+00:00,2026-06-01T08:00:00+00:00,us-east-1,s3,false,N/A,false,N/A\n"
	created := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	recent, old := time.Date(2026, 11, 19, 8, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	err := inventory.WriteExport(dir, inventory.Raw{
		CredentialReport: []byte(report), ReadAt: readAt,
		Authorization: &inventory.AuthorizationDetails{UserDetailList: []inventory.UserDetail{
			{UserName: "bot", Arn: "arn:aws:iam::123456789012:user/bot", CreateDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		AccessKeys: []inventory.AccessKeyRecord{
			{UserName: "bot", AccessKeyId: "AKIAIOSFODNN7EXAMPLE", Status: "Active", CreateDate: created},
			{UserName: "bot", AccessKeyId: "AKIAI44QH8DHBEXAMPL2", Status: "Active", CreateDate: created},
		},
		KeyLastUses: map[string]inventory.KeyLastUseRecord{
			"AKIAIOSFODNN7EXAMPLE": {LastUsedDate: &old, ServiceName: "s3", Region: "us-east-1"},
			"AKIAI44QH8DHBEXAMPL2": {LastUsedDate: &recent, ServiceName: "s3", Region: "us-east-1"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	res := scanExport(t, dir)
	if len(res.Findings) != 1 || res.Findings[0].Resource != "AKIAIOSFODNN7EXAMPLE" || res.Findings[0].KeyIDUnknown != nil || res.Partial {
		t.Errorf("findings %+v, errors %+v", res.Findings, res.Errors)
	}
}

func TestLoginProfileNotReadWhenTheReportDecides(t *testing.T) {
	grace := rules.DefaultThresholds().ConsoleMFAGrace
	set := readAt.Add(-2 * time.Hour)
	snap := &inventory.Snapshot{AccountID: "123456789012", ReadAt: readAt, Users: []inventory.User{
		// Created with its password (same second): the profile dates from then, no call.
		{Name: "new", Created: set, Password: inventory.Password{Enabled: true, LastChanged: set}},
		// Created a year ago, password changed 2h ago: the profile may be a year old.
		{Name: "reset", Created: readAt.AddDate(-1, 0, 0), Password: inventory.Password{Enabled: true, LastChanged: set}},
		// Created a second before the password: the deadline is not known to the second.
		{Name: "second", Created: set.Add(-time.Second), Password: inventory.Password{Enabled: true, LastChanged: set}},
		// Its row could not be read: the rule does not judge it, no call.
		{Name: "partial", Incomplete: true, Password: inventory.Password{Enabled: true, LastChanged: set}},
	}}
	live := &fakeLive{profiles: map[string]time.Time{"reset": readAt.AddDate(-1, 0, 0), "second": set.Add(-time.Second)}}
	res, err := scan.Run(context.Background(), snap, opts(), live)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := live.askedSorted(), []string{"profile:reset", "profile:second"}; !slices.Equal(got, want) {
		t.Errorf("asked %v, want %v", got, want)
	}
	got := map[string]string{}
	for _, f := range res.Findings {
		got[f.Principal] = string(f.State)
		if f.Deadline != nil {
			got[f.Principal] += " until " + f.Deadline.Format(time.RFC3339)
		}
	}
	want := map[string]string{
		"new":     "pending until " + set.Add(grace).Format(time.RFC3339),
		"reset":   "violation",
		"second":  "pending until " + set.Add(grace-time.Second).Format(time.RFC3339),
		"partial": "pending until " + set.Add(grace).Format(time.RFC3339), // the stand-in rule ignores Incomplete
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("findings %v\nwant     %v", got, want)
	}
}

// TestLookupsRunConcurrentlyWithAnOrderFreeResult holds the first user's lookups until every
// other user's have been made, so they complete in reverse, and compares the result with one
// made a lookup at a time.
func TestLookupsRunConcurrentlyWithAnOrderFreeResult(t *testing.T) {
	const users = 40
	created := readAt.AddDate(-1, 0, 0)
	newSnap := func() *inventory.Snapshot {
		snap := &inventory.Snapshot{AccountID: "123456789012", ReadAt: readAt}
		for i := range users {
			snap.Users = append(snap.Users, inventory.User{Name: fmt.Sprintf("u%02d", i), Created: created,
				Password:   inventory.Password{Enabled: true, LastChanged: readAt.Add(-time.Hour)},
				AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, Created: created}}})
		}
		return snap
	}
	newLive := func() *fakeLive {
		l := &fakeLive{profiles: map[string]time.Time{}, keys: map[string][]inventory.AccessKeyMeta{}, fail: map[string]bool{}}
		for i := range users {
			name := fmt.Sprintf("u%02d", i)
			if i%3 == 0 {
				l.profiles[name] = created
			} else if i%3 == 1 {
				l.profiles[name] = readAt.Add(-time.Hour)
			}
			if i%7 == 0 {
				l.fail[name] = true
			}
			l.keys[name] = []inventory.AccessKeyMeta{{ID: fmt.Sprintf("AKIA%016d", i), Active: true, Created: created}}
		}
		return l
	}
	run := func(live *fakeLive, width int) (string, []string) {
		o := opts()
		o.Concurrency = width
		var steps []string
		o.Progress = func(s scan.Step, done, total int) {
			if done == total {
				steps = append(steps, fmt.Sprintf("%s %d/%d", s, done, total))
			}
		}
		res, err := scan.Run(context.Background(), newSnap(), o, live)
		if err != nil {
			t.Fatal(err)
		}
		out, err := json.MarshalIndent(res, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		return string(out), steps
	}
	sequential, steps := run(newLive(), 1)
	if want := []string{"login profiles 40/40", "access keys 40/40"}; !slices.Equal(steps, want) {
		t.Errorf("progress %v, want %v", steps, want)
	}

	live := newLive()
	others := make(chan struct{}, 2*users)
	var outOfOrder []string
	live.hold = func(what string) {
		if what != "profile:u00" && what != "keys:u00" {
			others <- struct{}{}
			return
		}
		want := users - 1 // the other users' lookups of this step
		timeout := time.NewTimer(10 * time.Second)
		defer timeout.Stop()
		for range want {
			select {
			case <-others:
			case <-timeout.C:
				t.Errorf("%s: the other users' lookups did not run while it was held", what)
				return
			}
		}
		outOfOrder = append(outOfOrder, what)
	}
	concurrent, _ := run(live, 4)
	if len(outOfOrder) != 2 {
		t.Fatalf("held lookups completed last: %v, want profile:u00 and keys:u00", outOfOrder)
	}
	if concurrent != sequential {
		t.Errorf("result depends on completion order:\nconcurrent %s\nsequential %s", concurrent, sequential)
	}
}

func lookupRule(t *testing.T, id string) rules.Rule {
	t.Helper()
	r, ok := rules.Lookup(id)
	if !ok {
		t.Fatalf("no rule %s", id)
	}
	return r
}

func TestFailedLookupsMakeThePartialResult(t *testing.T) {
	snap := &inventory.Snapshot{AccountID: "123456789012", ReadAt: readAt, Users: []inventory.User{
		{Name: "denied", Password: inventory.Password{Enabled: true, LastChanged: readAt.Add(-time.Hour)},
			AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, Created: readAt.AddDate(-1, 0, 0)}}},
	}}
	live := &fakeLive{fail: map[string]bool{"denied": true}}
	res, err := scan.Run(context.Background(), snap, opts(), live)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Partial || len(res.Errors) != 2 {
		t.Fatalf("partial %v errors %+v", res.Partial, res.Errors)
	}
	if res.Errors[0].Where != "iam:GetLoginProfile" || res.Errors[1].Where != "iam:ListAccessKeys" || res.Errors[0].Principal != "denied" {
		t.Errorf("errors %+v", res.Errors)
	}
	for _, f := range res.Findings {
		if f.Rule == "access-key-unused" && f.Resource != "access_key_1" {
			t.Errorf("unresolved key named %q, want its slot", f.Resource)
		}
	}
	if res.ExitCode() != 3 {
		t.Errorf("exit code %d, want 3", res.ExitCode())
	}
}

func TestAsOfDefaultsToReadTime(t *testing.T) {
	snap := &inventory.Snapshot{AccountID: "1", ReadAt: readAt, Users: []inventory.User{
		{Name: "u", Password: inventory.Password{Enabled: true, LastChanged: readAt.Add(-time.Hour), ProfileCreated: readAt.Add(-time.Hour)}},
	}}
	res, err := scan.Run(context.Background(), snap, opts(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.AsOf.Equal(readAt) || res.Findings[0].State != rules.StatePending {
		t.Fatalf("as of %v state %v", res.AsOf, res.Findings[0].State)
	}
	o := opts()
	o.AsOf = readAt.Add(48 * time.Hour)
	res, err = scan.Run(context.Background(), snap, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Findings[0].State != rules.StateViolation || res.ExitCode() != 1 {
		t.Fatalf("as of +48h: state %v exit %d", res.Findings[0].State, res.ExitCode())
	}
	if _, err := scan.Run(context.Background(), &inventory.Snapshot{}, opts(), nil); err == nil {
		t.Error("no read time and no as-of accepted")
	}
}

// A credential report without a root row: root is judged from the account summary, and the root
// rules that need the row are listed as not judged; without a summary, every root rule is.
func TestRootWithoutReportRow(t *testing.T) {
	const report = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n" +
		"alice,arn:aws:iam::111122223333:user/alice,2026-01-01T00:00:00+00:00,false,not_supported,2026-01-01T00:00:00+00:00,not_supported,false,false,N/A,N/A,not_supported,not_supported,false,N/A,N/A,not_supported,not_supported,false,N/A,false,N/A\n"
	cases := []struct {
		name      string
		summary   map[string]int32
		findings  []string
		notJudged string
	}{
		{
			name:      "summary: no MFA, a key",
			summary:   map[string]int32{"AccountMFAEnabled": 0, "AccountAccessKeysPresent": 1, "Users": 1},
			findings:  []string{"111122223333/root-mfa-missing/<root_account>", "111122223333/root-access-key/<root_account>"},
			notJudged: "root-hardware-mfa-missing, root-recently-used not judged: the credential report has no root row; root's MFA and access key are judged from the account summary (iam:GetAccountSummary)",
		},
		{
			name:      "summary: MFA, no key",
			summary:   map[string]int32{"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0},
			notJudged: "root-hardware-mfa-missing, root-recently-used not judged: the credential report has no root row; root's MFA and access key are judged from the account summary (iam:GetAccountSummary)",
		},
		{
			name:      "no summary",
			notJudged: "root-mfa-missing, root-hardware-mfa-missing, root-access-key, root-recently-used not judged: the credential report has no root row and no account summary says whether root has MFA or an access key",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap, err := inventory.Assemble(inventory.Raw{AccountID: "111122223333", ReadAt: readAt, Source: inventory.SourceLive,
				CredentialReport: []byte(report), Summary: c.summary, Authorization: &inventory.AuthorizationDetails{
					UserDetailList: []inventory.UserDetail{{UserName: "alice", Arn: "arn:aws:iam::111122223333:user/alice", CreateDate: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}}})
			if err != nil {
				t.Fatal(err)
			}
			var roots []rules.Rule
			for _, r := range rules.Registry() {
				if r.Root {
					roots = append(roots, r)
				}
			}
			res, err := scan.Run(context.Background(), snap, scan.Options{Rules: roots, Thresholds: rules.DefaultThresholds()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, f := range res.Findings {
				ids = append(ids, f.ID)
			}
			if !slices.Equal(ids, c.findings) {
				t.Errorf("findings %q, want %q", ids, c.findings)
			}
			if res.Partial || len(res.Warnings) != 1 || res.Warnings[0].Message != c.notJudged || res.Warnings[0].Principal != inventory.RootName {
				t.Errorf("partial %v, warnings %+v", res.Partial, res.Warnings)
			}
		})
	}
}
