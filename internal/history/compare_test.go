package history_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/journal/journaltest"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func cmpFinding(id string, state rules.State, sev rules.Severity) rules.Finding {
	rule, principal, _ := strings.Cut(id, "/")
	return rules.Finding{ID: "111111111111/" + id, AccountID: "111111111111", Rule: rule, Principal: principal,
		State: state, Severity: sev, UserID: "AIDA" + strings.ToUpper(principal)}
}

func cmpRecord(id string, partial bool, fs ...rules.Finding) *history.Record {
	r := &history.Record{ID: id, Kind: history.KindScan, RecordedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		Result: report.Result{AccountID: "111111111111", Partial: partial, Findings: fs}}
	r.Result.Count(len(fs))
	return r
}

func TestCompareSortsNewChangedResolved(t *testing.T) {
	deadline := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	pending := cmpFinding("console-mfa-missing/bob", rules.StatePending, rules.SeverityHigh)
	pending.Deadline = &deadline
	from := cmpRecord("A", false,
		cmpFinding("console-mfa-missing/alice", rules.StateViolation, rules.SeverityHigh),
		pending,
		cmpFinding("password-unused/carol", rules.StateViolation, rules.SeverityMedium),
	)
	bob := pending
	bob.State, bob.Deadline = rules.StateViolation, nil
	carol := cmpFinding("password-unused/carol", rules.StateViolation, rules.SeverityMedium)
	carol.Detail = "unused for 96 days" // detail text alone is no change
	to := cmpRecord("B", false, bob, carol, cmpFinding("access-key-unused/dave", rules.StateViolation, rules.SeverityMedium))

	d, err := history.Compare(from, to)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range d.Changes {
		got = append(got, string(c.Kind)+" "+c.Finding.Principal+" "+strings.Join(c.Fields, ","))
	}
	want := []string{"new dave ", "changed bob state,deadline", "resolved alice "}
	if !slices.Equal(got, want) {
		t.Fatalf("changes = %q, want %q", got, want)
	}
	if d.Unchanged != 1 || d.Count(history.ChangeNew) != 1 || d.Empty() {
		t.Fatalf("unchanged %d, new %d, empty %v", d.Unchanged, d.Count(history.ChangeNew), d.Empty())
	}
	if d.Changes[1].Before == nil || d.Changes[1].Before.State != rules.StatePending {
		t.Fatalf("changed finding's before = %+v", d.Changes[1].Before)
	}
}

func TestComparePartialLaterNeverResolves(t *testing.T) {
	from := cmpRecord("A", false, cmpFinding("console-mfa-missing/alice", rules.StateViolation, rules.SeverityHigh))
	to := cmpRecord("B", true)
	d, err := history.Compare(from, to)
	if err != nil {
		t.Fatal(err)
	}
	if d.Count(history.ChangeResolved) != 0 || d.Count(history.ChangeUnseen) != 1 {
		t.Fatalf("changes = %+v, want alice unseen", d.Changes)
	}
}

func TestCompareNewPersonUnderSameName(t *testing.T) {
	old := cmpFinding("console-mfa-missing/alice", rules.StateViolation, rules.SeverityHigh)
	again := old
	again.UserID = "AIDAOTHER"
	d, err := history.Compare(cmpRecord("A", false, old), cmpRecord("B", false, again))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Changes) != 1 || !slices.Equal(d.Changes[0].Fields, []string{"user"}) {
		t.Fatalf("changes = %+v, want one change of user", d.Changes)
	}
}

func TestCompareRefusesOtherAccounts(t *testing.T) {
	a, b := cmpRecord("A", false), cmpRecord("B", false)
	b.Result.AccountID = "222222222222"
	if _, err := history.Compare(a, b); err == nil || !strings.Contains(err.Error(), "different accounts") {
		t.Fatalf("err = %v, want different accounts", err)
	}
}

func TestStoreRoundTripsRecordsNewestFirst(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	runs := &journaltest.Runs{}
	s := history.NewStore(runs, func() time.Time { return now })
	s.Retention = 100 * 365 * 24 * time.Hour
	first := cmpRecord("", false, cmpFinding("console-mfa-missing/alice", rules.StateViolation, rules.SeverityHigh))
	first.RecordedAt = now
	id1, err := s.Put(ctx, *first)
	if err != nil {
		t.Fatal(err)
	}
	second := cmpRecord("", false)
	second.RecordedAt = now.Add(time.Hour)
	id2, err := s.Put(ctx, *second)
	if err != nil {
		t.Fatal(err)
	}
	if exp := runs.All()[0].ExpiresAt; !exp.Equal(now.Add(s.Retention)) {
		t.Fatalf("expiry = %v, want the retention after the record", exp)
	}
	metas, err := s.List(ctx, history.Filter{AccountID: "111111111111"})
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) != 2 || metas[0].ID != id2 || metas[1].ID != id1 {
		t.Fatalf("list = %+v, want %s then %s", metas, id2, id1)
	}
	if metas[1].OpenByRule["console-mfa-missing"] != 1 || metas[1].OpenBySeverity[string(rules.SeverityHigh)] != 1 {
		t.Fatalf("meta counts = %+v", metas[1])
	}
	got, err := s.Get(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Result.Findings) != 1 || got.Result.Findings[0].Principal != "alice" {
		t.Fatalf("record = %+v", got.Result.Findings)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, history.ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
	latest, err := s.Latest(ctx, "111111111111", 1)
	if err != nil || len(latest) != 1 || latest[0].ID != id2 {
		t.Fatalf("latest = %v, %v", latest, err)
	}
}
