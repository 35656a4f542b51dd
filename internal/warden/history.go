package warden

import (
	"context"
	"errors"
	"fmt"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
)

// History is the scan history kept in the warden's journal store.
func (w *Warden) History() (*history.Store, error) {
	if w.Journal == nil {
		return nil, ErrNoJournal
	}
	return history.Of(w.Journal, w.clock())
}

// Record stores a scan (outcome nil) or an enforce run's scan and outcome in the history, as
// recorded by source (history.SourceCLI or SourceLambda), and returns what was stored.
func (w *Warden) Record(ctx context.Context, source string, res *report.Result, plan *remediate.Plan, outcome *remediate.Outcome) (history.Meta, error) {
	if res == nil {
		return history.Meta{}, errors.New("record history: no scan result")
	}
	h, err := w.History()
	if err != nil {
		return history.Meta{}, fmt.Errorf("record history: %w", err)
	}
	rec := history.Record{Kind: history.KindScan, Source: source, RecordedAt: w.now(), Result: *res}
	if w.Clients != nil {
		if rec.Actor, err = w.Caller(ctx); err != nil {
			return history.Meta{}, fmt.Errorf("record history: %w", err)
		}
	}
	if plan != nil {
		rec.Kind = history.KindEnforce
		rec.Actions = &history.Actions{DryRun: true, Planned: plan.Changes()}
		if outcome != nil {
			rec.Actions.DryRun = outcome.DryRun
			rec.Actions.Done = outcome.Count(remediate.StatusDone)
			rec.Actions.Skipped = outcome.Count(remediate.StatusSkipped)
			rec.Actions.Failed = outcome.Count(remediate.StatusFailed)
		}
	}
	if rec.ID, err = h.Put(ctx, rec); err != nil {
		return history.Meta{}, err
	}
	return rec.Meta(), nil
}
