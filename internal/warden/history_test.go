package warden_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/journaltest"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// runJournal is a journal whose runs are kept in memory; its other methods are not used.
type runJournal struct {
	journal.Journal
	*journaltest.Runs
}

func TestRecordScanAndEnforceRun(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	j := &runJournal{Runs: &journaltest.Runs{}}
	w := &warden.Warden{Journal: j, Now: func() time.Time { return now }}
	res := &report.Result{AccountID: "123456789012", AccountAlias: "acme", Partial: true, Findings: []rules.Finding{
		{ID: "123456789012/console-mfa-missing/alice", Rule: "console-mfa-missing", State: rules.StateViolation, Severity: rules.SeverityHigh},
	}}
	res.Count(1)

	scan, err := w.Record(ctx, history.SourceCLI, res, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if scan.Kind != history.KindScan || scan.Actions != nil || !scan.Partial || scan.Source != history.SourceCLI || !scan.RecordedAt.Equal(now) {
		t.Fatalf("scan record = %+v", scan)
	}

	plan := remediate.Plan{Actions: []remediate.Action{{Kind: journal.KindDisableConsole}, {Kind: journal.KindDeactivateKey}, {Kind: journal.KindDeactivateKey, Refusal: "denied"}}}
	out := &remediate.Outcome{Results: []remediate.Result{{Status: remediate.StatusDone}, {Status: remediate.StatusSkipped}}}
	now = now.Add(time.Hour)
	enf, err := w.Record(ctx, history.SourceCLI, res, &plan, out)
	if err != nil {
		t.Fatal(err)
	}
	want := history.Actions{Planned: 2, Done: 1, Skipped: 1}
	if enf.Kind != history.KindEnforce || enf.Actions == nil || *enf.Actions != want {
		t.Fatalf("enforce record = %+v, actions %+v, want %+v", enf, enf.Actions, want)
	}
	now = now.Add(time.Hour)
	dry, err := w.Record(ctx, history.SourceCLI, res, &plan, &remediate.Outcome{DryRun: true})
	if err != nil || !dry.Actions.DryRun || dry.Actions.Planned != 2 {
		t.Fatalf("dry run record = %+v, %v", dry.Actions, err)
	}

	h, err := w.History()
	if err != nil {
		t.Fatal(err)
	}
	metas, err := h.List(ctx, history.Filter{})
	if err != nil || len(metas) != 3 || metas[0].ID != dry.ID || metas[2].ID != scan.ID {
		t.Fatalf("list = %+v, %v", metas, err)
	}
	got, err := h.Get(ctx, scan.ID)
	if err != nil || len(got.Result.Findings) != 1 || got.Result.Findings[0].ID != res.Findings[0].ID {
		t.Fatalf("record = %+v, %v", got, err)
	}
}

func TestRecordNeedsAHistory(t *testing.T) {
	res := &report.Result{AccountID: "123456789012"}
	if _, err := (&warden.Warden{}).Record(context.Background(), history.SourceCLI, res, nil, nil); err == nil {
		t.Error("recorded without a journal")
	}
	w := &warden.Warden{Journal: struct{ journal.Journal }{}}
	if _, err := w.Record(context.Background(), history.SourceCLI, res, nil, nil); err == nil || !strings.Contains(err.Error(), "keeps no scan history") {
		t.Errorf("journal without runs: %v", err)
	}
}
