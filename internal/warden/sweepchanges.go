package warden

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/notify"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
)

// previousWindow is how many of an account's newest records are looked through for the
// previous sweep (see baseline).
const previousWindow = 25

// PreviousSweep loads the account's previous record from the history, before this sweep's is
// stored, and says what changed since: the findings (history.Compare with res) and the actions
// the previous findings make with today's settings. Without a previous record its Changes are First.
func (w *Warden) PreviousSweep(ctx context.Context, res *report.Result) (*remediate.Previous, error) {
	h, err := w.History()
	if err != nil {
		return nil, fmt.Errorf("previous sweep: %w", err)
	}
	metas, err := h.List(ctx, history.Filter{AccountID: res.AccountID, Limit: previousWindow})
	if err != nil {
		return nil, fmt.Errorf("previous sweep: %w", err)
	}
	if len(metas) == 0 {
		return &remediate.Previous{Changes: &notify.ChangeSummary{First: true}}, nil
	}
	id := baseline(metas)
	prev, err := h.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("previous sweep: %w", err)
	}
	d, err := history.Compare(prev, &history.Record{Result: *res})
	if err != nil {
		return nil, fmt.Errorf("previous sweep: %w", err)
	}
	// The previous plan, made again from the recorded findings with today's settings. A record
	// keeps no key details, so its key actions come out refused: only their findings count.
	planned := map[string]bool{}
	for _, a := range remediate.BuildPlan(prev.Result.AccountID, prev.Result.AccountAlias, prev.Result.Findings, w.Settings.Remediations).Actions {
		planned[a.FindingID] = true
	}
	return &remediate.Previous{ID: prev.ID, Changes: ChangeSummary(d, prev.RecordedAt, res.Partial), Planned: planned}, nil
}

// baseline picks the record a sweep is compared with, from the account's newest first: the
// newest complete sweep, else the newest sweep, else the newest complete record, else the
// newest. Against a partial record, every finding it missed would come back as new.
func baseline(metas []history.Meta) string {
	for _, ok := range []func(history.Meta) bool{
		func(m history.Meta) bool { return m.Source == history.SourceLambda && !m.Partial },
		func(m history.Meta) bool { return m.Source == history.SourceLambda },
		func(m history.Meta) bool { return !m.Partial },
	} {
		for _, m := range metas {
			if ok(m) {
				return m.ID
			}
		}
	}
	return metas[0].ID
}

// ChangeSummary turns a comparison into the lines of a summary. since is when the earlier
// record was taken; partial says the later one read the account incompletely.
func ChangeSummary(d *history.Diff, since time.Time, partial bool) *notify.ChangeSummary {
	c := &notify.ChangeSummary{Since: since, Partial: partial}
	for _, ch := range d.Changes {
		f := ch.Finding
		l := notify.ChangeLine{Principal: f.Principal, Rule: f.Rule, Severity: string(f.Severity), Resource: f.Resource}
		if f.Deadline != nil {
			l.Deadline = *f.Deadline
		}
		switch ch.Kind {
		case history.ChangeNew:
			l.After = string(f.State)
			c.New = append(c.New, l)
		case history.ChangeChanged:
			l.After = string(f.State)
			if ch.Before != nil {
				l.Before = string(ch.Before.State)
			}
			c.Changed = append(c.Changed, l)
		case history.ChangeResolved:
			l.Before = string(f.State)
			c.Resolved = append(c.Resolved, l)
		case history.ChangeUnseen:
			l.Before = string(f.State)
			c.Unseen = append(c.Unseen, l)
		}
	}
	return c
}

// ReportSweep tells the settings' topic what an enforce run would do and what changed since the
// previous sweep (PreviousSweep): what a report-only deployment's sweep says. Nothing is sent
// when nothing changed. It reports whether a message was sent.
func (w *Warden) ReportSweep(ctx context.Context, res *report.Result, plan remediate.Plan) (bool, error) {
	if w.Journal == nil {
		return false, ErrNoJournal
	}
	if w.notifier() == nil {
		return false, nil // nobody to tell
	}
	prev, err := w.PreviousSweep(ctx, res)
	if err != nil {
		return false, err
	}
	caller, err := w.Caller(ctx)
	if err != nil {
		return false, err
	}
	return w.executor(caller, plan.AccountAlias, nil, EnforceOptions{}).ReportSweep(ctx, plan, prev)
}

// EnforceSweep is Enforce applying the plan, for a sweep: its summary says what the run did and
// what changed since the previous sweep (PreviousSweep), and is not sent when nothing changed
// and nothing was done. When the previous sweep cannot be read, the run still acts, its summary
// lists everything, and the error is returned after it.
func (w *Warden) EnforceSweep(ctx context.Context, o EnforceOptions) (*EnforceResult, error) {
	o.Apply = true
	out, ex, err := w.plan(ctx, o)
	if err != nil {
		return out, err
	}
	var (
		prev *remediate.Previous
		perr error
	)
	if ex.Notifier != nil {
		prev, perr = w.PreviousSweep(ctx, out.Scan)
	}
	notifier := ex.Notifier
	ex.Notifier = remediate.WithoutSummaries(notifier)
	out, err = w.run(ctx, ex, out, o)
	ex.Notifier = notifier
	ex.SweepSummary(ctx, out.Plan, out.Outcome, prev) // prev nil after perr: everything is listed
	return out, errors.Join(err, perr)
}
