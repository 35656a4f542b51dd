// Package journaltest is the conformance suite every journal.Journal implementation passes.
package journaltest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// Opener returns a new, empty journal for one subtest. The suite closes it.
type Opener func(t *testing.T) journal.Journal

// Run runs the conformance suite against the journals open returns.
func Run(t *testing.T, open Opener) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, journal.Journal)
	}{
		{"RoundTrip", testRoundTrip},
		{"EmptyPrior", testEmptyPrior},
		{"BeginInvalid", testBeginInvalid},
		{"DuplicateActionID", testDuplicateActionID},
		{"DuplicateDedupeKey", testDuplicateDedupeKey},
		{"Finish", testFinish},
		{"FinishErrors", testFinishErrors},
		{"Open", testOpen},
		{"ListOrder", testListOrder},
		{"ListFilters", testListFilters},
		{"ConcurrentBeginSameActionID", testConcurrentBeginID},
		{"ConcurrentBeginSameDedupeKey", testConcurrentBeginDedupe},
		{"ConcurrentFinish", testConcurrentFinish},
		{"DedupeReleasedByFailure", testDedupeReleased},
		{"FilterDedupeKey", testFilterDedupeKey},
		{"Lease", testLease},
		{"LeaseExpiry", testLeaseExpiry},
		{"ConcurrentAcquire", testConcurrentAcquire},
		{"ConcurrentChangeKey", testConcurrentChangeKey},
		{"Check", testCheck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := open(t)
			t.Cleanup(func() {
				if err := j.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.run(t, j)
		})
	}
}

// base is a fixed instant with nanoseconds, in a zone other than UTC, so that round trips must
// convert to UTC and keep sub-second precision.
var base = time.Date(2025, 3, 14, 10, 26, 53, 123456789, time.FixedZone("JST", 9*3600))

func entry(id string) journal.Entry {
	return journal.Entry{
		ActionID:  id,
		RunID:     "run-1",
		AccountID: "111122223333",
		Kind:      journal.KindDisableConsole,
		Principal: "alice",
		UserID:    "AIDAEXAMPLEALICE00001",
		Rule:      "console-without-mfa",
		FindingID: "console-without-mfa/111122223333/alice",
		Reason:    "console password without MFA for 40 days",
		Prior:     map[string]string{"login_profile": "present", "password_reset_required": "false"},
		Actor:     "arn:aws:iam::111122223333:user/admin",
		CreatedAt: base,
	}
}

func begin(t *testing.T, j journal.Journal, e journal.Entry) {
	t.Helper()
	if err := j.Begin(context.Background(), e); err != nil {
		t.Fatalf("Begin(%s): %v", e.ActionID, err)
	}
}

func get(t *testing.T, j journal.Journal, id string) journal.Entry {
	t.Helper()
	got, err := j.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return got
}

// stored is e as Begin must store it.
func stored(e journal.Entry) journal.Entry {
	e.Status = journal.StatusIntent
	e.CreatedAt = e.CreatedAt.UTC()
	if e.UpdatedAt.IsZero() {
		e.UpdatedAt = e.CreatedAt
	}
	e.UpdatedAt = e.UpdatedAt.UTC()
	if e.Prior == nil {
		e.Prior = map[string]string{}
	}
	return e
}

func assertEntry(t *testing.T, got, want journal.Entry) {
	t.Helper()
	if got.CreatedAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
		t.Errorf("times of %s not in UTC: created %v, updated %v", got.ActionID, got.CreatedAt, got.UpdatedAt)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entry %s:\n got  %+v\n want %+v", want.ActionID, got, want)
	}
}

func ids(entries []journal.Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.ActionID
	}
	return out
}

func testRoundTrip(t *testing.T, j journal.Journal) {
	cases := []journal.Entry{
		entry("01JPAAAAAAAAAAAAAAAAAAAAA1"),
		func() journal.Entry {
			e := entry("01JPAAAAAAAAAAAAAAAAAAAAA2")
			e.Kind = journal.KindDeactivateKey
			e.Principal = "jürgen.müller@例え.jp"
			e.Resource = "AKIAIOSFODNN7EXAMPLE"
			e.Reason = "clé d’accès inutilisée depuis 120 jours — 未使用"
			e.Prior = map[string]string{"key_status": "Active", "note": "ключ 🔑"}
			e.Status = journal.StatusDone // ignored: Begin stores an intent
			e.Detail = "planned"
			e.CreatedAt = base.Add(time.Nanosecond)
			e.UpdatedAt = base.Add(2 * time.Second)
			return e
		}(),
		func() journal.Entry {
			e := entry("01JPAAAAAAAAAAAAAAAAAAAAA3")
			e.Kind = journal.KindRestoreConsole
			e.UndoOf = "01JPAAAAAAAAAAAAAAAAAAAAA1"
			e.RunID = ""
			e.CreatedAt = time.Date(2025, 3, 14, 1, 0, 0, 0, time.UTC)
			return e
		}(),
		func() journal.Entry {
			e := entry("01JPAAAAAAAAAAAAAAAAAAAAA4")
			e.Kind = journal.KindNotify
			e.DedupeKey = "grace-start/111122223333/jürgen/finding-1"
			e.Prior = nil
			return e
		}(),
	}
	for _, e := range cases {
		begin(t, j, e)
	}
	for _, e := range cases {
		assertEntry(t, get(t, j, e.ActionID), stored(e))
	}
	if _, err := j.Get(context.Background(), "01JPAAAAAAAAAAAAAAAAAAAAA9"); !errors.Is(err, journal.ErrNotFound) {
		t.Errorf("Get(unknown) error = %v, want ErrNotFound", err)
	}
	// The store's own dedupe records are not entries.
	if _, err := j.Get(context.Background(), journal.ReservedPrefix+cases[3].DedupeKey); !errors.Is(err, journal.ErrNotFound) {
		t.Errorf("Get(dedupe record) error = %v, want ErrNotFound", err)
	}
	if err := j.Finish(context.Background(), journal.ReservedPrefix+cases[3].DedupeKey, journal.StatusDone, "", base); !errors.Is(err, journal.ErrNotFound) {
		t.Errorf("Finish(dedupe record) error = %v, want ErrNotFound", err)
	}
	list, err := j.List(context.Background(), journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(cases) {
		t.Errorf("List returned %d entries, want %d: %v", len(list), len(cases), ids(list))
	}
	for _, got := range list {
		i := slices.IndexFunc(cases, func(e journal.Entry) bool { return e.ActionID == got.ActionID })
		if i < 0 {
			t.Errorf("List returned unknown entry %+v", got)
			continue
		}
		assertEntry(t, got, stored(cases[i]))
	}
}

func testEmptyPrior(t *testing.T, j journal.Journal) {
	e := entry("01JPAAAAAAAAAAAAAAAAAAAAB1")
	e.Prior = nil
	begin(t, j, e)
	got := get(t, j, e.ActionID)
	if got.Prior == nil || len(got.Prior) != 0 {
		t.Errorf("Prior = %#v, want an empty non-nil map", got.Prior)
	}
}

func testBeginInvalid(t *testing.T, j journal.Journal) {
	cases := map[string]func(*journal.Entry){
		"no action ID":    func(e *journal.Entry) { e.ActionID = "" },
		"reserved prefix": func(e *journal.Entry) { e.ActionID = journal.ReservedPrefix + "x" },
		"no account":      func(e *journal.Entry) { e.AccountID = "" },
		"unknown kind":    func(e *journal.Entry) { e.Kind = "delete-user" },
		"no kind":         func(e *journal.Entry) { e.Kind = "" },
		"no time":         func(e *journal.Entry) { e.CreatedAt = time.Time{} },
		"empty prior key": func(e *journal.Entry) { e.Prior = map[string]string{"": "x"} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := entry("01JPAAAAAAAAAAAAAAAAAAAAC1")
			e.DedupeKey = "k/" + name
			mutate(&e)
			if err := j.Begin(context.Background(), e); !errors.Is(err, journal.ErrInvalid) {
				t.Errorf("Begin error = %v, want ErrInvalid", err)
			}
			if ok, err := j.HasDedupe(context.Background(), e.DedupeKey); err != nil || ok {
				t.Errorf("HasDedupe after invalid Begin = %v, %v; want false, nil", ok, err)
			}
		})
	}
	list, err := j.List(context.Background(), journal.Filter{})
	if err != nil || len(list) != 0 {
		t.Errorf("List after invalid Begins = %v, %v; want nothing", ids(list), err)
	}
	if _, err := j.HasDedupe(context.Background(), ""); !errors.Is(err, journal.ErrInvalid) {
		t.Errorf("HasDedupe(\"\") error = %v, want ErrInvalid", err)
	}
	if _, err := j.List(context.Background(), journal.Filter{Limit: -1}); !errors.Is(err, journal.ErrInvalid) {
		t.Errorf("List(Limit -1) error = %v, want ErrInvalid", err)
	}
}

func testDuplicateActionID(t *testing.T, j journal.Journal) {
	first := entry("01JPAAAAAAAAAAAAAAAAAAAAD1")
	begin(t, j, first)

	again := first
	again.Principal = "mallory"
	again.DedupeKey = "notify/new-key" // must not be registered by the failed Begin
	if err := j.Begin(context.Background(), again); !errors.Is(err, journal.ErrExists) {
		t.Fatalf("second Begin error = %v, want ErrExists", err)
	}
	assertEntry(t, get(t, j, first.ActionID), stored(first))
	if ok, err := j.HasDedupe(context.Background(), again.DedupeKey); err != nil || ok {
		t.Errorf("HasDedupe(%q) = %v, %v; want false: a failed Begin writes nothing", again.DedupeKey, ok, err)
	}

	// A finished entry still blocks its ID: re-running a plan never acts twice.
	if err := j.Finish(context.Background(), first.ActionID, journal.StatusDone, "deleted", base.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := j.Begin(context.Background(), first); !errors.Is(err, journal.ErrExists) {
		t.Errorf("Begin after Finish error = %v, want ErrExists", err)
	}
	if got := get(t, j, first.ActionID); got.Status != journal.StatusDone {
		t.Errorf("status after repeated Begin = %q, want done", got.Status)
	}
}

func testDuplicateDedupeKey(t *testing.T, j journal.Journal) {
	ctx := context.Background()
	const key = "grace-start/111122223333/alice/f1"
	if ok, err := j.HasDedupe(ctx, key); err != nil || ok {
		t.Fatalf("HasDedupe before Begin = %v, %v; want false, nil", ok, err)
	}
	first := entry("01JPAAAAAAAAAAAAAAAAAAAAE1")
	first.Kind = journal.KindNotify
	first.DedupeKey = key
	begin(t, j, first)
	if ok, err := j.HasDedupe(ctx, key); err != nil || !ok {
		t.Fatalf("HasDedupe after Begin = %v, %v; want true, nil", ok, err)
	}
	if ok, err := j.HasDedupe(ctx, key+"/other"); err != nil || ok {
		t.Errorf("HasDedupe(other key) = %v, %v; want false, nil", ok, err)
	}

	second := first
	second.ActionID = "01JPAAAAAAAAAAAAAAAAAAAAE2"
	if err := j.Begin(ctx, second); !errors.Is(err, journal.ErrExists) {
		t.Fatalf("Begin with a used dedupe key error = %v, want ErrExists", err)
	}
	if _, err := j.Get(ctx, second.ActionID); !errors.Is(err, journal.ErrNotFound) {
		t.Errorf("Get(rejected entry) error = %v, want ErrNotFound: a failed Begin writes nothing", err)
	}
	// The rejected action ID is still free.
	second.DedupeKey = key + "/2"
	begin(t, j, second)

	// Finishing keeps the key: a notification is never sent twice.
	if err := j.Finish(ctx, first.ActionID, journal.StatusDone, "sent", base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ok, err := j.HasDedupe(ctx, key); err != nil || !ok {
		t.Errorf("HasDedupe after Finish = %v, %v; want true, nil", ok, err)
	}
	third := first
	third.ActionID = "01JPAAAAAAAAAAAAAAAAAAAAE3"
	if err := j.Begin(ctx, third); !errors.Is(err, journal.ErrExists) {
		t.Errorf("Begin with a finished entry's dedupe key error = %v, want ErrExists", err)
	}
}

func testFinish(t *testing.T, j journal.Journal) {
	ctx := context.Background()
	for i, status := range []journal.Status{
		journal.StatusDone, journal.StatusFailed, journal.StatusSkipped,
		journal.StatusReconciledDone, journal.StatusReconciledNotDone,
	} {
		t.Run(string(status), func(t *testing.T) {
			e := entry(fmt.Sprintf("01JPAAAAAAAAAAAAAAAAAAAAF%d", i))
			begin(t, j, e)
			at := base.Add(time.Duration(i+1)*time.Hour + 987654321)
			detail := fmt.Sprintf("result %d: ✓", i)
			if err := j.Finish(ctx, e.ActionID, status, detail, at); err != nil {
				t.Fatalf("Finish: %v", err)
			}
			want := stored(e)
			want.Status = status
			want.Detail = detail
			want.UpdatedAt = at.UTC()
			assertEntry(t, get(t, j, e.ActionID), want)

			// The result is never overwritten.
			err := j.Finish(ctx, e.ActionID, journal.StatusFailed, "again", at.Add(time.Hour))
			if !errors.Is(err, journal.ErrNotOpen) {
				t.Errorf("second Finish error = %v, want ErrNotOpen", err)
			}
			assertEntry(t, get(t, j, e.ActionID), want)
		})
	}
}

func testFinishErrors(t *testing.T, j journal.Journal) {
	ctx := context.Background()
	e := entry("01JPAAAAAAAAAAAAAAAAAAAAG1")
	begin(t, j, e)
	cases := []struct {
		name   string
		id     string
		status journal.Status
		at     time.Time
		want   error
	}{
		{"unknown action", "01JPAAAAAAAAAAAAAAAAAAAAG9", journal.StatusDone, base, journal.ErrNotFound},
		{"empty action ID", "", journal.StatusDone, base, journal.ErrInvalid},
		{"intent is not a result", e.ActionID, journal.StatusIntent, base, journal.ErrInvalid},
		{"unknown status", e.ActionID, "maybe", base, journal.ErrInvalid},
		{"zero time", e.ActionID, journal.StatusDone, time.Time{}, journal.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := j.Finish(ctx, tc.id, tc.status, "x", tc.at); !errors.Is(err, tc.want) {
				t.Errorf("Finish error = %v, want %v", err, tc.want)
			}
		})
	}
	assertEntry(t, get(t, j, e.ActionID), stored(e))
}

func testOpen(t *testing.T, j journal.Journal) {
	ctx := context.Background()
	const other = "444455556666"
	mk := func(id, account string, offset time.Duration) journal.Entry {
		e := entry(id)
		e.AccountID = account
		e.CreatedAt = base.Add(offset)
		return e
	}
	entries := []journal.Entry{
		mk("01JPAAAAAAAAAAAAAAAAAAAAH1", "111122223333", 3*time.Second),
		mk("01JPAAAAAAAAAAAAAAAAAAAAH2", "111122223333", 1*time.Second),
		mk("01JPAAAAAAAAAAAAAAAAAAAAH3", other, 2*time.Second),
		mk("01JPAAAAAAAAAAAAAAAAAAAAH4", "111122223333", 2*time.Second),
		mk("01JPAAAAAAAAAAAAAAAAAAAAH5", "111122223333", 4*time.Second),
	}
	for _, e := range entries {
		begin(t, j, e)
	}
	if err := j.Finish(ctx, "01JPAAAAAAAAAAAAAAAAAAAAH4", journal.StatusDone, "", base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := j.Finish(ctx, "01JPAAAAAAAAAAAAAAAAAAAAH5", journal.StatusReconciledNotDone, "", base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		account string
		want    []string
	}{
		{"111122223333", []string{"01JPAAAAAAAAAAAAAAAAAAAAH2", "01JPAAAAAAAAAAAAAAAAAAAAH1"}},
		{other, []string{"01JPAAAAAAAAAAAAAAAAAAAAH3"}},
		{"", []string{"01JPAAAAAAAAAAAAAAAAAAAAH2", "01JPAAAAAAAAAAAAAAAAAAAAH3", "01JPAAAAAAAAAAAAAAAAAAAAH1"}},
		{"999999999999", []string{}},
	}
	for _, tc := range cases {
		t.Run("account="+tc.account, func(t *testing.T) {
			got, err := j.Open(ctx, tc.account)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("Open = %v, want %v", ids(got), tc.want)
			}
			for _, e := range got {
				if e.Status != journal.StatusIntent {
					t.Errorf("Open returned %s with status %q", e.ActionID, e.Status)
				}
			}
		})
	}
	open, err := j.Open(ctx, "111122223333")
	if err != nil || len(open) == 0 {
		t.Fatalf("Open = %v, %v", ids(open), err)
	}
	i := slices.IndexFunc(entries, func(e journal.Entry) bool { return e.ActionID == open[0].ActionID })
	assertEntry(t, open[0], stored(entries[i]))
}

func testListOrder(t *testing.T, j journal.Journal) {
	// Inserted out of order; two share a creation time and are ordered by ActionID.
	offsets := map[string]time.Duration{
		"01JPAAAAAAAAAAAAAAAAAAAAJ3": 2 * time.Millisecond,
		"01JPAAAAAAAAAAAAAAAAAAAAJ1": 0,
		"01JPAAAAAAAAAAAAAAAAAAAAJ5": 2 * time.Millisecond,
		"01JPAAAAAAAAAAAAAAAAAAAAJ2": 1,
		"01JPAAAAAAAAAAAAAAAAAAAAJ4": time.Hour,
	}
	for _, id := range []string{
		"01JPAAAAAAAAAAAAAAAAAAAAJ3", "01JPAAAAAAAAAAAAAAAAAAAAJ1", "01JPAAAAAAAAAAAAAAAAAAAAJ5",
		"01JPAAAAAAAAAAAAAAAAAAAAJ2", "01JPAAAAAAAAAAAAAAAAAAAAJ4",
	} {
		e := entry(id)
		e.CreatedAt = base.Add(offsets[id])
		begin(t, j, e)
	}
	got, err := j.List(context.Background(), journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"01JPAAAAAAAAAAAAAAAAAAAAJ4", "01JPAAAAAAAAAAAAAAAAAAAAJ5", "01JPAAAAAAAAAAAAAAAAAAAAJ3",
		"01JPAAAAAAAAAAAAAAAAAAAAJ2", "01JPAAAAAAAAAAAAAAAAAAAAJ1",
	}
	if !slices.Equal(ids(got), want) {
		t.Errorf("List = %v, want %v", ids(got), want)
	}
	limited, err := j.List(context.Background(), journal.Filter{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(limited), want[:3]) {
		t.Errorf("List(Limit 3) = %v, want %v", ids(limited), want[:3])
	}
}

func testListFilters(t *testing.T, j journal.Journal) {
	ctx := context.Background()
	const acctA, acctB = "111122223333", "444455556666"
	type spec struct {
		id        string
		account   string
		run       string
		principal string
		kind      journal.Kind
		minute    int
		status    journal.Status
	}
	specs := []spec{
		{"01JPAAAAAAAAAAAAAAAAAAAAK1", acctA, "run-1", "alice", journal.KindDisableConsole, 0, journal.StatusDone},
		{"01JPAAAAAAAAAAAAAAAAAAAAK2", acctA, "run-1", "bob", journal.KindDeactivateKey, 1, journal.StatusFailed},
		{"01JPAAAAAAAAAAAAAAAAAAAAK3", acctA, "run-2", "alice", journal.KindRestoreConsole, 2, journal.StatusIntent},
		{"01JPAAAAAAAAAAAAAAAAAAAAK4", acctB, "run-2", "alice", journal.KindNotify, 3, journal.StatusSkipped},
		{"01JPAAAAAAAAAAAAAAAAAAAAK5", acctB, "run-3", "carol", journal.KindDeactivateKey, 4, journal.StatusDone},
		{"01JPAAAAAAAAAAAAAAAAAAAAK6", acctA, "run-3", "bob", journal.KindReactivateKey, 5, journal.StatusIntent},
	}
	for _, s := range specs {
		e := entry(s.id)
		e.AccountID, e.RunID, e.Principal, e.Kind = s.account, s.run, s.principal, s.kind
		e.CreatedAt = base.Add(time.Duration(s.minute) * time.Minute)
		begin(t, j, e)
		if s.status != journal.StatusIntent {
			if err := j.Finish(ctx, s.id, s.status, "", e.CreatedAt.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}
	}
	at := func(minute int) time.Time { return base.Add(time.Duration(minute) * time.Minute) }
	k := func(n ...int) []string {
		out := make([]string, len(n))
		for i, v := range n {
			out[i] = fmt.Sprintf("01JPAAAAAAAAAAAAAAAAAAAAK%d", v)
		}
		return out
	}
	cases := []struct {
		name   string
		filter journal.Filter
		want   []string
	}{
		{"all", journal.Filter{}, k(6, 5, 4, 3, 2, 1)},
		{"account", journal.Filter{AccountID: acctA}, k(6, 3, 2, 1)},
		{"run", journal.Filter{RunID: "run-2"}, k(4, 3)},
		{"principal", journal.Filter{Principal: "alice"}, k(4, 3, 1)},
		{"kinds", journal.Filter{Kinds: []journal.Kind{journal.KindDeactivateKey, journal.KindNotify}}, k(5, 4, 2)},
		{"statuses", journal.Filter{Statuses: []journal.Status{journal.StatusIntent, journal.StatusFailed}}, k(6, 3, 2)},
		{"since is inclusive", journal.Filter{Since: at(4)}, k(6, 5)},
		{"until is exclusive", journal.Filter{Until: at(2)}, k(2, 1)},
		{"window", journal.Filter{Since: at(1), Until: at(4)}, k(4, 3, 2)},
		{"window in another zone", journal.Filter{Since: at(1).UTC(), Until: at(4).In(time.FixedZone("PST", -8*3600))}, k(4, 3, 2)},
		{"since a nanosecond later", journal.Filter{Since: at(4).Add(time.Nanosecond)}, k(6)},
		{"account and run", journal.Filter{AccountID: acctA, RunID: "run-3"}, k(6)},
		{"account and window", journal.Filter{AccountID: acctB, Until: at(4)}, k(4)},
		{"account, principal and status", journal.Filter{AccountID: acctA, Principal: "bob", Statuses: []journal.Status{journal.StatusFailed}}, k(2)},
		{"run and kinds", journal.Filter{RunID: "run-1", Kinds: []journal.Kind{journal.KindDisableConsole}}, k(1)},
		{"limit", journal.Filter{Limit: 2}, k(6, 5)},
		{"account and limit", journal.Filter{AccountID: acctA, Limit: 3}, k(6, 3, 2)},
		{"filter and limit", journal.Filter{Principal: "alice", Limit: 2}, k(4, 3)},
		{"run and limit", journal.Filter{RunID: "run-1", Limit: 1}, k(2)},
		{"no match", journal.Filter{AccountID: acctB, Principal: "bob"}, k()},
		{"unknown account", journal.Filter{AccountID: "999999999999"}, k()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := j.List(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("List = %v, want %v", ids(got), tc.want)
			}
			for _, e := range got {
				if !tc.filter.Match(e) {
					t.Errorf("List returned %+v, which the filter does not match", e)
				}
			}
		})
	}
}

// racers is how many goroutines compete in the concurrency tests.
const racers = 12

// race runs f(i) for i in [0, racers) at once and returns their errors.
func race(f func(i int) error) []error {
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// winner checks that exactly one error is nil and the others match loser, and returns the
// index of the nil one.
func winner(t *testing.T, errs []error, loser error) int {
	t.Helper()
	win := -1
	for i, err := range errs {
		switch {
		case err == nil && win >= 0:
			t.Fatalf("racers %d and %d both succeeded", win, i)
		case err == nil:
			win = i
		case !errors.Is(err, loser):
			t.Errorf("racer %d: error = %v, want %v", i, err, loser)
		}
	}
	if win < 0 {
		t.Fatalf("no racer succeeded: %v", errs)
	}
	return win
}

func testConcurrentBeginID(t *testing.T, j journal.Journal) {
	const id = "01JPAAAAAAAAAAAAAAAAAAAAM1"
	errs := race(func(i int) error {
		e := entry(id)
		e.Actor = fmt.Sprintf("arn:aws:iam::111122223333:user/racer-%d", i)
		return j.Begin(context.Background(), e)
	})
	win := winner(t, errs, journal.ErrExists)
	if got := get(t, j, id); got.Actor != fmt.Sprintf("arn:aws:iam::111122223333:user/racer-%d", win) {
		t.Errorf("stored actor %q, want the winner's (racer %d)", got.Actor, win)
	}
}

func testConcurrentBeginDedupe(t *testing.T, j journal.Journal) {
	const key = "grace-start/111122223333/alice/race"
	id := func(i int) string { return fmt.Sprintf("01JPAAAAAAAAAAAAAAAAAAAN%02d", i) }
	errs := race(func(i int) error {
		e := entry(id(i))
		e.Kind = journal.KindNotify
		e.DedupeKey = key
		return j.Begin(context.Background(), e)
	})
	win := winner(t, errs, journal.ErrExists)
	for i := range racers {
		_, err := j.Get(context.Background(), id(i))
		switch {
		case i == win && err != nil:
			t.Errorf("Get(winner %s): %v", id(i), err)
		case i != win && !errors.Is(err, journal.ErrNotFound):
			t.Errorf("Get(loser %s) error = %v, want ErrNotFound", id(i), err)
		}
	}
	list, err := j.List(context.Background(), journal.Filter{})
	if err != nil || len(list) != 1 {
		t.Errorf("List = %v, %v; want only the winner", ids(list), err)
	}
}

func testConcurrentFinish(t *testing.T, j journal.Journal) {
	e := entry("01JPAAAAAAAAAAAAAAAAAAAAP1")
	begin(t, j, e)
	errs := race(func(i int) error {
		return j.Finish(context.Background(), e.ActionID, journal.StatusDone, fmt.Sprintf("finisher %d", i), base.Add(time.Duration(i+1)*time.Second))
	})
	win := winner(t, errs, journal.ErrNotOpen)
	got := get(t, j, e.ActionID)
	if got.Detail != fmt.Sprintf("finisher %d", win) || !got.UpdatedAt.Equal(base.Add(time.Duration(win+1)*time.Second)) {
		t.Errorf("stored detail %q at %v, want the winner's (finisher %d)", got.Detail, got.UpdatedAt, win)
	}
}

// A key is held by an intent and by results that changed something or decided not to; a result
// that changed nothing (failed, reconciled-not-done) gives it up, so a later run may try again.
func testDedupeReleased(t *testing.T, j journal.Journal) {
	ctx := context.Background()
	const key = "grace-start/finding-1/2025-03-15T00:00:00Z"
	e := func(id string) journal.Entry {
		e := entry(id)
		e.Kind = journal.KindNotify
		e.DedupeKey = key
		return e
	}
	held := func(want bool) {
		t.Helper()
		got, err := j.HasDedupe(ctx, key)
		if err != nil || got != want {
			t.Fatalf("HasDedupe = %v, %v; want %v", got, err, want)
		}
	}
	begin(t, j, e("01JPAAAAAAAAAAAAAAAAAAAAR1"))
	held(true)
	if err := j.Begin(ctx, e("01JPAAAAAAAAAAAAAAAAAAAAR2")); !errors.Is(err, journal.ErrExists) {
		t.Fatalf("Begin while held: %v, want ErrExists", err)
	}
	if err := j.Finish(ctx, "01JPAAAAAAAAAAAAAAAAAAAAR1", journal.StatusFailed, "sns: throttled", base.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	held(false)
	begin(t, j, e("01JPAAAAAAAAAAAAAAAAAAAAR3"))
	held(true)
	if err := j.Finish(ctx, "01JPAAAAAAAAAAAAAAAAAAAAR3", journal.StatusReconciledNotDone, "unknown", base.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	held(false)
	begin(t, j, e("01JPAAAAAAAAAAAAAAAAAAAAR4"))
	if err := j.Finish(ctx, "01JPAAAAAAAAAAAAAAAAAAAAR4", journal.StatusDone, "sent", base.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	held(true)
	if err := j.Begin(ctx, e("01JPAAAAAAAAAAAAAAAAAAAAR5")); !errors.Is(err, journal.ErrExists) {
		t.Fatalf("Begin after a delivered one: %v, want ErrExists", err)
	}
	// The released entries keep their key for the record.
	if got := get(t, j, "01JPAAAAAAAAAAAAAAAAAAAAR1"); got.DedupeKey != key || got.Status != journal.StatusFailed {
		t.Errorf("released entry = %+v", got)
	}
}

func testFilterDedupeKey(t *testing.T, j journal.Journal) {
	ctx := context.Background()
	for i, key := range []string{"k/a", "k/b", "k/a"} {
		e := entry(fmt.Sprintf("01JPAAAAAAAAAAAAAAAAAAAAS%d", i))
		e.Kind = journal.KindNotify
		e.DedupeKey = key
		e.CreatedAt = base.Add(time.Duration(i) * time.Second)
		begin(t, j, e)
		if i == 0 {
			if err := j.Finish(ctx, e.ActionID, journal.StatusFailed, "x", base.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range []journal.Filter{{DedupeKey: "k/a"}, {DedupeKey: "k/a", AccountID: "111122223333"}} {
		got, err := j.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"01JPAAAAAAAAAAAAAAAAAAAAS2", "01JPAAAAAAAAAAAAAAAAAAAAS0"}; !slices.Equal(ids(got), want) {
			t.Errorf("List(%+v) = %v, want %v", f, ids(got), want)
		}
	}
}

func lease(run string, at time.Time) journal.Lease {
	return journal.Lease{AccountID: "111122223333", RunID: run, Actor: "arn:aws:iam::111122223333:user/" + run,
		Host: "host-" + run, PID: 4242, Acquired: at.UTC(), Expires: at.Add(time.Minute).UTC()}
}

func testLease(t *testing.T, j journal.Journal) {
	ctx := context.Background()
	if _, found, err := j.Holder(ctx, "111122223333"); err != nil || found {
		t.Fatalf("Holder of a new journal = %v, %v", found, err)
	}
	a := lease("run-a", base)
	if err := j.Acquire(ctx, a, base); err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	got, found, err := j.Holder(ctx, a.AccountID)
	if err != nil || !found || !reflect.DeepEqual(got, a) {
		t.Fatalf("Holder = %+v, %v, %v; want %+v", got, found, err, a)
	}
	// Another run is refused and told who holds it.
	err = j.Acquire(ctx, lease("run-b", base.Add(time.Second)), base.Add(time.Second))
	var leased *journal.LeasedError
	if !errors.As(err, &leased) || !errors.Is(err, journal.ErrLeased) || leased.Holder.RunID != "run-a" || leased.Holder.Host != "host-run-a" {
		t.Fatalf("Acquire by another run: %v", err)
	}
	if err := j.Renew(ctx, lease("run-b", base), base); !errors.Is(err, journal.ErrLeaseLost) {
		t.Errorf("Renew by a non-holder: %v, want ErrLeaseLost", err)
	}
	// The holder renews, and may acquire again (idempotent).
	renewed := a
	renewed.Expires = base.Add(5 * time.Minute).UTC()
	if err := j.Renew(ctx, renewed, base.Add(30*time.Second)); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if got, _, _ := j.Holder(ctx, a.AccountID); !got.Expires.Equal(renewed.Expires) {
		t.Errorf("expiry after Renew = %v, want %v", got.Expires, renewed.Expires)
	}
	if err := j.Acquire(ctx, renewed, base.Add(31*time.Second)); err != nil {
		t.Errorf("Acquire by the holder: %v", err)
	}
	// Release by another run does nothing; by the holder frees the account.
	if err := j.Release(ctx, a.AccountID, "run-b"); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := j.Holder(ctx, a.AccountID); !found {
		t.Fatal("Release by a non-holder removed the lease")
	}
	if err := j.Release(ctx, a.AccountID, "run-a"); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := j.Holder(ctx, a.AccountID); found {
		t.Fatal("lease still held after Release")
	}
	if err := j.Acquire(ctx, lease("run-b", base), base); err != nil {
		t.Errorf("Acquire after Release: %v", err)
	}
	// Leases are per account.
	other := lease("run-c", base)
	other.AccountID = "444455556666"
	if err := j.Acquire(ctx, other, base); err != nil {
		t.Errorf("Acquire of another account: %v", err)
	}
	if err := j.Acquire(ctx, journal.Lease{RunID: "x", Expires: base}, base); !errors.Is(err, journal.ErrInvalid) {
		t.Errorf("Acquire without account: %v, want ErrInvalid", err)
	}
}

// A holder that stopped renewing loses the lease to the next run, and learns it on Renew.
func testLeaseExpiry(t *testing.T, j journal.Journal) {
	ctx := context.Background()
	a := lease("run-a", base)
	if err := j.Acquire(ctx, a, base); err != nil {
		t.Fatal(err)
	}
	late := base.Add(2 * time.Minute)
	if err := j.Acquire(ctx, lease("run-b", late), late); err != nil {
		t.Fatalf("Acquire of an expired lease: %v", err)
	}
	a.Expires = late.Add(time.Minute)
	if err := j.Renew(ctx, a, late); !errors.Is(err, journal.ErrLeaseLost) {
		t.Errorf("Renew after losing the lease: %v, want ErrLeaseLost", err)
	}
	if got, _, _ := j.Holder(ctx, a.AccountID); got.RunID != "run-b" {
		t.Errorf("holder %q, want run-b", got.RunID)
	}
}

func testConcurrentAcquire(t *testing.T, j journal.Journal) {
	errs := race(func(i int) error {
		return j.Acquire(context.Background(), lease(fmt.Sprintf("run-%d", i), base), base)
	})
	win := winner(t, errs, journal.ErrLeased)
	if got, _, _ := j.Holder(context.Background(), "111122223333"); got.RunID != fmt.Sprintf("run-%d", win) {
		t.Errorf("holder %q, want the winner run-%d", got.RunID, win)
	}
}

// Runs that bypass the lease and race on the same change claim the same change key: one
// journals it.
func testConcurrentChangeKey(t *testing.T, j journal.Journal) {
	ctx := context.Background()
	errs := race(func(i int) error {
		e := entry(fmt.Sprintf("01JPAAAAAAAAAAAAAAAAAAAT%02d", i))
		e.RunID = fmt.Sprintf("run-%d", i)
		prev, _, err := journal.LastApplied(ctx, j, e)
		if err != nil {
			return err
		}
		e.DedupeKey = journal.ChangeKey(e, prev.ActionID)
		return j.Begin(ctx, e)
	})
	win := winner(t, errs, journal.ErrExists)
	id := fmt.Sprintf("01JPAAAAAAAAAAAAAAAAAAAT%02d", win)
	if err := j.Finish(ctx, id, journal.StatusDone, "deleted", base.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// The next change of the same login profile follows the applied one: a new key.
	next := entry("01JPAAAAAAAAAAAAAAAAAAAAU1")
	next.Kind = journal.KindRestoreConsole
	next.CreatedAt = base.Add(2 * time.Second)
	prev, ok, err := journal.LastApplied(ctx, j, next)
	if err != nil || !ok || prev.ActionID != id {
		t.Fatalf("LastApplied = %s, %v, %v; want %s", prev.ActionID, ok, err, id)
	}
	next.DedupeKey = journal.ChangeKey(next, prev.ActionID)
	begin(t, j, next)
	// Another person of the same name is another target.
	other := entry("01JPAAAAAAAAAAAAAAAAAAAAU2")
	other.UserID = "AIDAEXAMPLEALICE00002"
	if _, ok, err := journal.LastApplied(ctx, j, other); err != nil || ok {
		t.Errorf("LastApplied for another UserID = %v, %v; want none", ok, err)
	}
}

func testCheck(t *testing.T, j journal.Journal) {
	if err := j.Check(context.Background()); err != nil {
		t.Errorf("Check: %v", err)
	}
	if list, err := j.List(context.Background(), journal.Filter{}); err != nil || len(list) != 0 {
		t.Errorf("Check wrote entries: %v, %v", ids(list), err)
	}
}

// RunOpener returns a new, empty run store for one subtest. The suite closes it if it has a
// Close method.
type RunOpener func(t *testing.T) journal.RunStore

// RunStoreSuite runs the conformance suite of journal.RunStore against the stores open returns.
// Expiry is judged by the wall clock, as the stores judge it: the expired runs expired an hour
// ago and the live ones expire in a year.
func RunStoreSuite(t *testing.T, open RunOpener) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, journal.RunStore)
	}{
		{"RoundTrip", testRunRoundTrip},
		{"LargeBody", testRunLargeBody},
		{"Duplicate", testRunDuplicate},
		{"Invalid", testRunInvalid},
		{"NotFound", testRunNotFound},
		{"ListOrder", testRunListOrder},
		{"ListFilters", testRunListFilters},
		{"Expired", testRunExpired},
		{"ConcurrentPutSameID", testRunConcurrentPut},
		{"InvisibleToJournal", testRunInvisibleToJournal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			if c, ok := s.(interface{ Close() error }); ok {
				t.Cleanup(func() {
					if err := c.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				})
			}
			tt.run(t, s)
		})
	}
}

func run(id string) journal.Run {
	return journal.Run{
		ID:         id,
		AccountID:  "111122223333",
		Kind:       "scan",
		RecordedAt: base,
		Meta:       []byte(`{"id":"` + id + `","findings":3}`),
		Body:       []byte(`{"id":"` + id + `","findings":["a","b","c"]}`),
	}
}

// randomBytes returns n incompressible bytes, the same for the same seed.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)}).Read(b)
	return b
}

func putRun(t *testing.T, s journal.RunStore, r journal.Run) {
	t.Helper()
	if err := s.PutRun(context.Background(), r); err != nil {
		t.Fatalf("PutRun(%s): %v", r.ID, err)
	}
}

func getRun(t *testing.T, s journal.RunStore, id string) journal.Run {
	t.Helper()
	got, err := s.GetRun(context.Background(), id)
	if err != nil {
		t.Fatalf("GetRun(%s): %v", id, err)
	}
	return got
}

func listRuns(t *testing.T, s journal.RunStore, f journal.RunFilter) []journal.Run {
	t.Helper()
	got, err := s.ListRuns(context.Background(), f)
	if err != nil {
		t.Fatalf("ListRuns(%+v): %v", f, err)
	}
	return got
}

func runIDs(runs []journal.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

// assertRun compares got with want as PutRun must store it; withBody says whether got should
// carry the body (GetRun) or none (ListRuns).
func assertRun(t *testing.T, got, want journal.Run, withBody bool) {
	t.Helper()
	if got.RecordedAt.Location() != time.UTC || (!got.ExpiresAt.IsZero() && got.ExpiresAt.Location() != time.UTC) {
		t.Errorf("times of run %s not in UTC: recorded %v, expires %v", got.ID, got.RecordedAt, got.ExpiresAt)
	}
	if got.ID != want.ID || got.AccountID != want.AccountID || got.Kind != want.Kind ||
		!got.RecordedAt.Equal(want.RecordedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("run %s:\n got  %s %s %s recorded %v expires %v\n want %s %s %s recorded %v expires %v", want.ID,
			got.ID, got.AccountID, got.Kind, got.RecordedAt, got.ExpiresAt,
			want.ID, want.AccountID, want.Kind, want.RecordedAt, want.ExpiresAt)
	}
	if !bytes.Equal(got.Meta, want.Meta) {
		t.Errorf("run %s meta = %q, want %q", want.ID, got.Meta, want.Meta)
	}
	switch {
	case withBody && !bytes.Equal(got.Body, want.Body):
		t.Errorf("run %s body: %d bytes, want the %d stored (equal: %v)", want.ID, len(got.Body), len(want.Body), bytes.Equal(got.Body, want.Body))
	case !withBody && len(got.Body) > 0:
		t.Errorf("run %s listed with a %d-byte body, want none", want.ID, len(got.Body))
	}
}

func testRunRoundTrip(t *testing.T, s journal.RunStore) {
	full := run("run-full")
	full.ExpiresAt = time.Now().Add(365 * 24 * time.Hour)
	bare := journal.Run{ID: "run-bare", AccountID: "111122223333", Kind: "enforce", RecordedAt: base.Add(time.Second)}
	for _, r := range []journal.Run{full, bare} {
		putRun(t, s, r)
	}
	for _, r := range []journal.Run{full, bare} {
		assertRun(t, getRun(t, s, r.ID), r, true)
	}
	list := listRuns(t, s, journal.RunFilter{})
	if !slices.Equal(runIDs(list), []string{"run-bare", "run-full"}) {
		t.Fatalf("ListRuns = %v, want [run-bare run-full]", runIDs(list))
	}
	assertRun(t, list[0], bare, false)
	assertRun(t, list[1], full, false)
}

// A body of several megabytes that does not compress: a store that splits it must reassemble it.
func testRunLargeBody(t *testing.T, s journal.RunStore) {
	r := run("run-large")
	r.Body = randomBytes(1, 3<<20)
	putRun(t, s, r)
	assertRun(t, getRun(t, s, r.ID), r, true)
	list := listRuns(t, s, journal.RunFilter{AccountID: r.AccountID})
	if len(list) != 1 {
		t.Fatalf("ListRuns = %v, want [%s]", runIDs(list), r.ID)
	}
	assertRun(t, list[0], r, false)
}

func testRunDuplicate(t *testing.T, s journal.RunStore) {
	first := run("run-dup")
	first.Body = randomBytes(2, 500<<10)
	putRun(t, s, first)
	second := run("run-dup")
	second.AccountID, second.Kind, second.RecordedAt = "444455556666", "enforce", base.Add(time.Hour)
	second.Meta, second.Body = []byte(`{"second":true}`), randomBytes(3, 500<<10)
	if err := s.PutRun(context.Background(), second); !errors.Is(err, journal.ErrExists) {
		t.Fatalf("second PutRun = %v, want ErrExists", err)
	}
	assertRun(t, getRun(t, s, first.ID), first, true)
	if list := listRuns(t, s, journal.RunFilter{}); !slices.Equal(runIDs(list), []string{first.ID}) || list[0].AccountID != first.AccountID {
		t.Errorf("ListRuns = %+v, want the first run only", list)
	}
}

func testRunInvalid(t *testing.T, s journal.RunStore) {
	mod := func(f func(*journal.Run)) journal.Run {
		r := run("run-invalid")
		f(&r)
		return r
	}
	for name, r := range map[string]journal.Run{
		"empty ID":       mod(func(r *journal.Run) { r.ID = "" }),
		"ID with #":      mod(func(r *journal.Run) { r.ID = "run#1" }),
		"ID with /":      mod(func(r *journal.Run) { r.ID = "run/1" }),
		"long ID":        mod(func(r *journal.Run) { r.ID = strings.Repeat("r", 129) }),
		"no account":     mod(func(r *journal.Run) { r.AccountID = "" }),
		"no kind":        mod(func(r *journal.Run) { r.Kind = "" }),
		"no time":        mod(func(r *journal.Run) { r.RecordedAt = time.Time{} }),
		"meta too large": mod(func(r *journal.Run) { r.Meta = bytes.Repeat([]byte("x"), journal.MaxRunMeta+1) }),
	} {
		t.Run(name, func(t *testing.T) {
			if err := s.PutRun(context.Background(), r); !errors.Is(err, journal.ErrInvalid) {
				t.Errorf("PutRun = %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := s.ListRuns(context.Background(), journal.RunFilter{Limit: -1}); !errors.Is(err, journal.ErrInvalid) {
		t.Errorf("ListRuns(Limit -1) = %v, want ErrInvalid", err)
	}
	if list := listRuns(t, s, journal.RunFilter{}); len(list) != 0 {
		t.Errorf("invalid runs stored: %v", runIDs(list))
	}
}

func testRunNotFound(t *testing.T, s journal.RunStore) {
	putRun(t, s, run("run-present"))
	for _, id := range []string{"run-absent", "", "run-present#0", journal.RunPrefix + "run-present"} {
		if got, err := s.GetRun(context.Background(), id); !errors.Is(err, journal.ErrNotFound) {
			t.Errorf("GetRun(%q) = %+v, %v; want ErrNotFound", id, got.ID, err)
		}
	}
}

func testRunListOrder(t *testing.T, s journal.RunStore) {
	// Put out of order; three share a recording time and are ordered by ID.
	for _, p := range []struct {
		id  string
		off time.Duration
	}{{"run-c", time.Minute}, {"run-a", 0}, {"run-e", time.Minute}, {"run-b", 1}, {"run-d", time.Minute}, {"run-f", time.Hour}} {
		r := run(p.id)
		r.RecordedAt = base.Add(p.off)
		putRun(t, s, r)
	}
	want := []string{"run-f", "run-e", "run-d", "run-c", "run-b", "run-a"}
	if got := runIDs(listRuns(t, s, journal.RunFilter{})); !slices.Equal(got, want) {
		t.Errorf("ListRuns = %v, want %v", got, want)
	}
	if got := runIDs(listRuns(t, s, journal.RunFilter{AccountID: "111122223333"})); !slices.Equal(got, want) {
		t.Errorf("ListRuns(account) = %v, want %v", got, want)
	}
	if got := runIDs(listRuns(t, s, journal.RunFilter{Limit: 3})); !slices.Equal(got, want[:3]) {
		t.Errorf("ListRuns(Limit 3) = %v, want %v", got, want[:3])
	}
}

func testRunListFilters(t *testing.T, s journal.RunStore) {
	const acctA, acctB = "111122223333", "444455556666"
	for _, p := range []struct {
		id, account, kind string
		min               int
	}{
		{"r1", acctA, "scan", 1}, {"r2", acctB, "scan", 2}, {"r3", acctA, "enforce", 3},
		{"r4", acctA, "scan", 4}, {"r5", acctB, "enforce", 5}, {"r6", acctA, "scan", 6},
	} {
		r := run(p.id)
		r.AccountID, r.Kind, r.RecordedAt = p.account, p.kind, base.Add(time.Duration(p.min)*time.Minute)
		putRun(t, s, r)
	}
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	cases := []struct {
		name string
		f    journal.RunFilter
		want []string
	}{
		{"all", journal.RunFilter{}, []string{"r6", "r5", "r4", "r3", "r2", "r1"}},
		{"account", journal.RunFilter{AccountID: acctA}, []string{"r6", "r4", "r3", "r1"}},
		{"other account", journal.RunFilter{AccountID: acctB}, []string{"r5", "r2"}},
		{"unknown account", journal.RunFilter{AccountID: "999999999999"}, []string{}},
		{"kind", journal.RunFilter{Kinds: []string{"enforce"}}, []string{"r5", "r3"}},
		{"kinds", journal.RunFilter{Kinds: []string{"enforce", "scan"}}, []string{"r6", "r5", "r4", "r3", "r2", "r1"}},
		{"account and kind", journal.RunFilter{AccountID: acctA, Kinds: []string{"scan"}}, []string{"r6", "r4", "r1"}},
		{"since is inclusive", journal.RunFilter{Since: at(4)}, []string{"r6", "r5", "r4"}},
		{"until is exclusive", journal.RunFilter{Until: at(3)}, []string{"r2", "r1"}},
		{"since and until", journal.RunFilter{Since: at(2), Until: at(5)}, []string{"r4", "r3", "r2"}},
		{"account, since and until", journal.RunFilter{AccountID: acctA, Since: at(2), Until: at(6)}, []string{"r4", "r3"}},
		{"limit keeps the newest", journal.RunFilter{Limit: 2}, []string{"r6", "r5"}},
		{"account and limit", journal.RunFilter{AccountID: acctA, Limit: 3}, []string{"r6", "r4", "r3"}},
		{"account, kind and limit", journal.RunFilter{AccountID: acctA, Kinds: []string{"scan"}, Limit: 2}, []string{"r6", "r4"}},
		{"kind, until and limit", journal.RunFilter{Kinds: []string{"scan"}, Until: at(6), Limit: 2}, []string{"r4", "r2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := listRuns(t, s, tc.f)
			if got == nil || !slices.Equal(runIDs(got), tc.want) {
				t.Errorf("ListRuns = %v (nil: %v), want %v", runIDs(got), got == nil, tc.want)
			}
		})
	}
}

// An expired run is gone: neither listed nor read, and its ID may be used again.
func testRunExpired(t *testing.T, s journal.RunStore) {
	now := time.Now()
	expired := run("run-expired")
	expired.RecordedAt, expired.ExpiresAt = now.Add(-2*time.Hour), now.Add(-time.Hour)
	expired.Body = randomBytes(4, 400<<10)
	live := run("run-live")
	live.RecordedAt, live.ExpiresAt = now.Add(-3*time.Hour), now.Add(365*24*time.Hour)
	// The expired run is put last: a store that deletes expired runs when it puts one must
	// still hide it from readers.
	putRun(t, s, live)
	putRun(t, s, expired)
	for _, f := range []journal.RunFilter{{}, {AccountID: live.AccountID}, {Limit: 1}, {AccountID: live.AccountID, Limit: 1}} {
		if got := runIDs(listRuns(t, s, f)); !slices.Equal(got, []string{live.ID}) {
			t.Errorf("ListRuns(%+v) = %v, want only %s", f, got, live.ID)
		}
	}
	if _, err := s.GetRun(context.Background(), expired.ID); !errors.Is(err, journal.ErrNotFound) {
		t.Errorf("GetRun of an expired run = %v, want ErrNotFound", err)
	}
	again := run(expired.ID)
	again.Body = randomBytes(5, 400<<10)
	putRun(t, s, again)
	assertRun(t, getRun(t, s, again.ID), again, true)
	assertRun(t, getRun(t, s, live.ID), live, true)
}

// Racers put the same ID at once, each with a body of its own: one wins, and its body is read
// back whole, not mixed with a loser's.
func testRunConcurrentPut(t *testing.T, s journal.RunStore) {
	const id = "run-race"
	runs := make([]journal.Run, racers)
	for i := range runs {
		runs[i] = run(id)
		runs[i].Meta = []byte(fmt.Sprintf(`{"racer":%d}`, i))
		runs[i].Body = randomBytes(uint64(100+i), 400<<10)
	}
	errs := race(func(i int) error { return s.PutRun(context.Background(), runs[i]) })
	win := winner(t, errs, journal.ErrExists)
	assertRun(t, getRun(t, s, id), runs[win], true)
	if list := listRuns(t, s, journal.RunFilter{AccountID: runs[win].AccountID}); len(list) != 1 || !bytes.Equal(list[0].Meta, runs[win].Meta) {
		t.Errorf("ListRuns = %v, want the winner's (racer %d) only", runIDs(list), win)
	}
}

// Run records share the journal's store but are no journal entries: List, Open and Get of the
// journal never return them.
func testRunInvisibleToJournal(t *testing.T, s journal.RunStore) {
	j, ok := s.(journal.Journal)
	if !ok {
		t.Skipf("%T is not a journal", s)
	}
	ctx := context.Background()
	r := run("01JPAAAAAAAAAAAAAAAAAAAAR1")
	r.RecordedAt = base.Add(time.Hour) // newer than the entry
	putRun(t, s, r)
	e := entry("01JPAAAAAAAAAAAAAAAAAAAAR2")
	begin(t, j, e)
	for _, f := range []journal.Filter{{}, {AccountID: e.AccountID}, {AccountID: e.AccountID, Limit: 1}, {Limit: 1},
		{AccountID: e.AccountID, Since: base}, {RunID: e.RunID}} {
		got, err := j.List(ctx, f)
		if err != nil || !slices.Equal(ids(got), []string{e.ActionID}) {
			t.Errorf("List(%+v) = %v, %v; want only the entry %s", f, ids(got), err, e.ActionID)
		}
	}
	for _, account := range []string{"", e.AccountID} {
		got, err := j.Open(ctx, account)
		if err != nil || !slices.Equal(ids(got), []string{e.ActionID}) {
			t.Errorf("Open(%q) = %v, %v; want only the entry %s", account, ids(got), err, e.ActionID)
		}
	}
	for _, id := range []string{r.ID, journal.RunPrefix + r.ID} {
		if _, err := j.Get(ctx, id); !errors.Is(err, journal.ErrNotFound) {
			t.Errorf("Get(%s) = %v, want ErrNotFound", id, err)
		}
	}
	if err := j.Check(ctx); err != nil {
		t.Errorf("Check with a run stored: %v", err)
	}
}
