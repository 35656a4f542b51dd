package warden_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/journaltest"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
	"github.com/iamwarden/iamwarden/internal/notify"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/warden"
)

const acct = "123456789012"

func finding(user, rule string, state rules.State) rules.Finding {
	return rules.Finding{ID: acct + "/" + rule + "/" + user, AccountID: acct, Rule: rule, Severity: rules.SeverityHigh, State: state, Principal: user}
}

// runStore keeps run records in memory, beside a journal.
type runStore struct {
	journal.Journal
	*journaltest.Runs
}

func sweepWarden(t *testing.T, now *time.Time) (*warden.Warden, *runStore) {
	t.Helper()
	j, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	s, err := warden.Resolve(config.Default(), "", warden.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	runs := &runStore{Journal: j, Runs: &journaltest.Runs{}}
	return &warden.Warden{Settings: s, Journal: runs, Now: func() time.Time { return *now }}, runs
}

func result(partial bool, fs ...rules.Finding) *report.Result {
	return &report.Result{AccountID: acct, Findings: fs, Partial: partial}
}

func TestPreviousSweep(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	w, _ := sweepWarden(t, &now)
	alice := finding("alice", "console-mfa-missing", rules.StateViolation)
	carol := finding("carol", "console-mfa-missing", rules.StatePending)

	prev, err := w.PreviousSweep(ctx, result(false, alice))
	if err != nil || !prev.Changes.First || prev.ID != "" {
		t.Fatalf("no record yet: %+v, %v; want a first sweep", prev, err)
	}
	first := now
	if _, err := w.Record(ctx, history.SourceLambda, result(false, alice, carol), nil, nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)

	// alice registered MFA, carol's grace ended, bob is new.
	bob := finding("bob", "console-mfa-missing", rules.StateViolation)
	carolLate := carol
	carolLate.State = rules.StateViolation
	prev, err = w.PreviousSweep(ctx, result(false, bob, carolLate))
	if err != nil {
		t.Fatal(err)
	}
	c := prev.Changes
	if c.First || !c.Since.Equal(first) || names(c.New) != "bob" || names(c.Resolved) != "alice" || names(c.Changed) != "carol" || len(c.Unseen) != 0 {
		t.Fatalf("changes %+v; want bob new, alice resolved, carol changed, since %s", c, first)
	}
	if c.Changed[0].Before != "pending" || c.Changed[0].After != "violation" {
		t.Errorf("carol's change %+v; want pending → violation", c.Changed[0])
	}
	if !prev.Planned[alice.ID] || prev.Planned[carol.ID] {
		t.Errorf("previously planned %v; want alice's action only (carol was pending)", prev.Planned)
	}

	// A partial sweep that did not see alice does not call her resolved.
	prev, err = w.PreviousSweep(ctx, result(true, carol))
	if err != nil {
		t.Fatal(err)
	}
	if c := prev.Changes; !c.Partial || len(c.Resolved) != 0 || names(c.Unseen) != "alice" {
		t.Fatalf("partial sweep: %+v; want alice unseen, nothing resolved", c)
	}
}

func TestPreviousSweepPrefersTheSweepsRecords(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	w, _ := sweepWarden(t, &now)
	alice := finding("alice", "console-mfa-missing", rules.StateViolation)
	if _, err := w.Record(ctx, history.SourceLambda, result(false, alice), nil, nil); err != nil {
		t.Fatal(err)
	}
	sweptAt := now
	now = now.Add(time.Minute)
	if _, err := w.Record(ctx, history.SourceCLI, result(false), nil, nil); err != nil {
		t.Fatal(err)
	}
	prev, err := w.PreviousSweep(ctx, result(false, alice))
	if err != nil || !prev.Changes.Since.Equal(sweptAt) || !prev.Changes.Empty() {
		t.Fatalf("previous %+v, %v; want the sweep's record, not the CLI scan after it", prev.Changes, err)
	}
}

func TestHistoryRetentionSetsTheExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, days := range []int{0, 90} {
		t.Run(fmt.Sprint(days), func(t *testing.T) {
			w, runs := sweepWarden(t, &now)
			w.Settings.HistoryRetention = time.Duration(days) * 24 * time.Hour
			if _, err := w.Record(ctx, history.SourceLambda, result(false), nil, nil); err != nil {
				t.Fatal(err)
			}
			want := time.Time{}
			if days > 0 {
				want = now.Add(time.Duration(days) * 24 * time.Hour)
			}
			if all := runs.All(); len(all) != 1 || !all[0].ExpiresAt.Equal(want) {
				t.Fatalf("runs %+v; want one expiring at %v", runs.All(), want)
			}
		})
	}
}

func names(ls []notify.ChangeLine) string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Principal)
	}
	slices.Sort(out)
	return fmt.Sprint(out)[1 : len(fmt.Sprint(out))-1]
}

// After a partial sweep the baseline is the last complete one: against the partial record every
// finding it missed would come back as new.
func TestPreviousSweepSkipsPartialRecords(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	w, _ := sweepWarden(t, &now)
	alice := finding("alice", "console-mfa-missing", rules.StateViolation)
	bob := finding("bob", "password-unused", rules.StateViolation)
	if _, err := w.Record(ctx, history.SourceLambda, result(false, alice, bob), nil, nil); err != nil {
		t.Fatal(err)
	}
	completeAt := now
	now = now.Add(time.Hour)
	if _, err := w.Record(ctx, history.SourceLambda, result(true, alice), nil, nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	prev, err := w.PreviousSweep(ctx, result(false, alice, bob))
	if err != nil {
		t.Fatal(err)
	}
	if !prev.Changes.Since.Equal(completeAt) || len(prev.Changes.New) != 0 || !prev.Changes.Empty() {
		t.Fatalf("previous %+v; want the complete sweep of %v as baseline, bob not new", prev.Changes, completeAt)
	}
}
