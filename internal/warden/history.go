package warden

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
)

// History is the scan history kept in the warden's journal store.
func (w *Warden) History() (*history.Store, error) {
	if w.Journal == nil {
		return nil, ErrNoJournal
	}
	h, err := history.Of(w.Journal, w.clock())
	if err != nil {
		return nil, err
	}
	if w.Settings != nil {
		h.Retention = w.Settings.HistoryRetention
	}
	return h, nil
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

// Recorder records the accounts of an organization run in the history as each finishes (scan
// and enforce alike), through the account's Warden: in the organization's journal store. It
// keeps what it recorded and what it could not, for the door to report once the run is over.
type Recorder struct {
	// Source is the door that records (history.SourceCLI or SourceLambda).
	Source string

	mu       sync.Mutex
	recorded []history.Meta
	errs     []error
}

// record stores one account's run; a nil Recorder records nothing.
func (r *Recorder) record(ctx context.Context, w *Warden, res *report.Result, plan *remediate.Plan, outcome *remediate.Outcome) {
	if r == nil || res == nil {
		return
	}
	m, err := w.Record(ctx, r.Source, res, plan, outcome)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("account %s: %w", res.AccountID, err))
		return
	}
	r.recorded = append(r.recorded, m)
}

// Recorded are the records stored, in the order the accounts finished.
func (r *Recorder) Recorded() []history.Meta {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]history.Meta(nil), r.recorded...)
}

// Err joins the accounts' recording failures; nil when every account was recorded.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.errs...)
}
