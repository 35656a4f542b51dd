package remediate_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/notify"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// fakeNotifier records the events published to it.
type fakeNotifier struct {
	mu     sync.Mutex
	events []notify.Event
}

var _ notify.Notifier = (*fakeNotifier)(nil)

func (f *fakeNotifier) Publish(_ context.Context, _ string, e notify.Event) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, e)
	return "m", nil
}

func (f *fakeNotifier) take() []notify.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.events
	f.events = nil
	return out
}

const sweepAccount = "123456789012"

var sweepAt = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func violation(user, rule string) rules.Finding {
	return rules.Finding{ID: sweepAccount + "/" + rule + "/" + user, Rule: rule, Severity: rules.SeverityHigh, State: rules.StateViolation,
		Principal: user, Detail: "no MFA"}
}

func sweepExecutor(j journal.Journal, n notify.Notifier) *remediate.Executor {
	now := func() time.Time { return sweepAt }
	return &remediate.Executor{Journal: j, Notifier: n, Topic: "arn:aws:sns:us-east-1:123456789012:t", MaxActions: 25,
		Now: now, IDs: journal.NewIDGenerator(now, nil)}
}

func plan(fs ...rules.Finding) remediate.Plan {
	return remediate.BuildPlan(sweepAccount, "", fs, remediate.DefaultRemediations())
}

func previous(id string, c *notify.ChangeSummary, planned ...rules.Finding) *remediate.Previous {
	p := &remediate.Previous{ID: id, Changes: c, Planned: map[string]bool{}}
	for _, f := range planned {
		p.Planned[f.ID] = true
	}
	return p
}

func TestReportSweepSaysWhatChanged(t *testing.T) {
	ctx := context.Background()
	alice, bob := violation("alice", "console-mfa-missing"), violation("bob", "console-mfa-missing")
	n := &fakeNotifier{}
	e := sweepExecutor(openJournal(t), n)

	// The first sweep lists the whole plan and says there was nothing to compare with.
	if sent, err := e.ReportSweep(ctx, plan(alice), previous("", &notify.ChangeSummary{First: true})); err != nil || !sent {
		t.Fatalf("first sweep: sent %v, %v; want its summary sent", sent, err)
	}
	evs := n.take()
	if len(evs) != 1 || !evs[0].Summary.Changes.First || len(evs[0].Summary.Lines) != 1 || !evs[0].DryRun {
		t.Fatalf("first sweep sent %+v; want one dry-run summary listing alice's action", evs)
	}

	// The same plan and no finding changed: nothing to say.
	if sent, err := e.ReportSweep(ctx, plan(alice), previous("rec-1", &notify.ChangeSummary{Since: sweepAt.Add(-time.Hour)}, alice)); err != nil || sent {
		t.Fatalf("unchanged sweep: sent %v, %v; want nothing sent", sent, err)
	}
	if evs := n.take(); len(evs) != 0 {
		t.Fatalf("unchanged sweep sent %d messages", len(evs))
	}

	// bob is new: his action is listed, alice's counted.
	changes := &notify.ChangeSummary{Since: sweepAt.Add(-time.Hour), New: []notify.ChangeLine{{Principal: "bob", Rule: bob.Rule, After: "violation"}}}
	for i := range 2 { // two sweeps comparing with the same record send one message
		sent, err := e.ReportSweep(ctx, plan(alice, bob), previous("rec-2", changes, alice))
		if err != nil || sent != (i == 0) {
			t.Fatalf("sweep %d with bob new: sent %v, %v", i, sent, err)
		}
	}
	evs = n.take()
	if len(evs) != 1 {
		t.Fatalf("sweeps with bob new sent %d messages, want 1", len(evs))
	}
	s := evs[0].Summary
	if len(s.Lines) != 1 || s.Lines[0].Principal != "bob" || s.Changes.UnchangedActions != 1 || len(s.Changes.New) != 1 {
		t.Fatalf("summary %+v, changes %+v; want bob's action listed and alice's counted", s, s.Changes)
	}
	_, body, _ := notify.Render(evs[0])
	for _, want := range []string{"Since the previous sweep", "new → violation", "1 action still planned, as in the previous summary."} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}

	// alice registered MFA: resolved, and said although no action is new.
	resolved := &notify.ChangeSummary{Since: sweepAt.Add(-time.Hour), Resolved: []notify.ChangeLine{{Principal: "alice", Rule: alice.Rule, Before: "violation"}}}
	if sent, err := e.ReportSweep(ctx, plan(bob), previous("rec-3", resolved, alice, bob)); err != nil || !sent {
		t.Fatalf("alice resolved: sent %v, %v; want the summary sent", sent, err)
	}
	if evs := n.take(); len(evs) != 1 || len(evs[0].Summary.Lines) != 0 || len(evs[0].Summary.Changes.Resolved) != 1 {
		t.Fatalf("alice resolved sent %+v", evs)
	}
}

func TestSweepSummaryOfAnEnforceRun(t *testing.T) {
	ctx := context.Background()
	alice, bob := violation("alice", "console-mfa-missing"), violation("bob", "console-mfa-missing")
	n := &fakeNotifier{}
	e := sweepExecutor(openJournal(t), n)
	since := sweepAt.Add(-time.Hour)
	result := func(f rules.Finding, s remediate.Status) remediate.Result {
		return remediate.Result{Action: plan(f).Actions[0], Status: s}
	}
	tests := []struct {
		name  string
		out   remediate.Outcome
		prev  *remediate.Previous
		lines []string
		sent  bool
	}{
		{"first sweep lists every action", remediate.Outcome{Results: []remediate.Result{result(alice, remediate.StatusFailed)}},
			previous("", &notify.ChangeSummary{First: true}), []string{"alice"}, true},
		{"the same failure again, nothing changed", remediate.Outcome{Results: []remediate.Result{result(alice, remediate.StatusFailed)}},
			previous("r1", &notify.ChangeSummary{Since: since}, alice), nil, false},
		// A failure seen before sends nothing by itself, but a summary sent anyway lists it: its
		// count alone would leave the reader asking which action failed.
		{"an action done is listed, with the failure", remediate.Outcome{Results: []remediate.Result{result(alice, remediate.StatusFailed), result(bob, remediate.StatusDone)}},
			previous("r2", &notify.ChangeSummary{Since: since}, alice, bob), []string{"bob", "alice"}, true},
		{"a refused plan tells nothing", remediate.Outcome{Refused: "blast radius"},
			previous("r3", &notify.ChangeSummary{Since: since, New: []notify.ChangeLine{{Principal: "bob"}}}), nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if sent := e.SweepSummary(ctx, plan(alice, bob), &tc.out, tc.prev); sent != tc.sent {
				t.Fatalf("sent %v, want %v", sent, tc.sent)
			}
			evs := n.take()
			if !tc.sent {
				if len(evs) != 0 {
					t.Fatalf("sent %d messages", len(evs))
				}
				return
			}
			var got []string
			for _, l := range evs[0].Summary.Lines {
				got = append(got, l.Principal)
			}
			if strings.Join(got, ",") != strings.Join(tc.lines, ",") {
				t.Errorf("lines %v, want %v", got, tc.lines)
			}
			if err := evs[0].Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestWithoutSummariesDropsOnlySummaries(t *testing.T) {
	n := &fakeNotifier{}
	w := remediate.WithoutSummaries(n)
	for _, k := range []notify.EventKind{notify.KindRunSummary, notify.KindActionDone} {
		if _, err := w.Publish(context.Background(), "t", notify.Event{Kind: k}); err != nil {
			t.Fatal(err)
		}
	}
	if evs := n.take(); len(evs) != 1 || evs[0].Kind != notify.KindActionDone {
		t.Fatalf("passed %+v; want only the action", evs)
	}
	if remediate.WithoutSummaries(nil) != nil {
		t.Error("no notifier became one")
	}
}
