package remediate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/notify"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// Warning is one grace-period warning of a run.
type Warning struct {
	Kind      notify.EventKind `json:"kind"`
	Principal string           `json:"principal"`
	Rule      string           `json:"rule"`
	Deadline  time.Time        `json:"deadline"`
	// Status is "sent", "failed" (tried again by the next run), "given-up" (failed
	// MaxNotifyAttempts times), or "would-send" in a dry run.
	Status string `json:"status"`
}

// MaxNotifyAttempts bounds how many runs try to deliver one warning that keeps failing.
const MaxNotifyAttempts = 5

// Warn checks the journal and sends the plan's grace-period warnings, and nothing else: what a
// deployment that only reports tells users.
func (e *Executor) Warn(ctx context.Context, p Plan) ([]Warning, error) {
	if err := e.preflight(ctx, e.checkAccount(p.AccountID, "the plan")); err != nil {
		return nil, err
	}
	return e.warn(ctx, p)
}

// warn tells each user inside a grace period once when the period starts and once more when
// the deadline is within WarnBefore. The journal deduplicates what was delivered, so a schedule
// running every hour sends each warning once; a warning whose delivery failed releases its key
// and is tried again by the next run, up to MaxNotifyAttempts times.
func (e *Executor) warn(ctx context.Context, p Plan) ([]Warning, error) {
	out := []Warning{}
	if e.Notifier == nil || e.Topic == "" {
		return out, nil // nobody to tell; nothing recorded, so warnings go out once a topic is set
	}
	for _, f := range p.Pending {
		if f.Deadline == nil {
			continue
		}
		kinds := []notify.EventKind{notify.KindGraceStarted}
		if e.WarnBefore > 0 && f.Deadline.Sub(e.Now()) <= e.WarnBefore {
			kinds = append(kinds, notify.KindGraceEnding)
		}
		for _, k := range kinds {
			w, err := e.warnOnce(ctx, p, f, k)
			if err != nil {
				return out, err
			}
			if w != nil {
				out = append(out, *w)
			}
		}
	}
	return out, nil
}

// dedupeKey identifies one warning about one grace period: a new password starts a new period
// (a new deadline) and so new warnings.
func dedupeKey(f rules.Finding, k notify.EventKind) string {
	return fmt.Sprintf("%s/%s/%s", k, f.ID, f.Deadline.UTC().Format(time.RFC3339))
}

func (e *Executor) warnOnce(ctx context.Context, p Plan, f rules.Finding, k notify.EventKind) (*Warning, error) {
	key := dedupeKey(f, k)
	seen, err := e.Journal.HasDedupe(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if seen {
		return nil, nil
	}
	w := &Warning{Kind: k, Principal: f.Principal, Rule: f.Rule, Deadline: f.Deadline.UTC(), Status: "would-send"}
	if e.DryRun {
		return w, nil
	}
	failed, err := e.Journal.List(ctx, journal.Filter{AccountID: p.AccountID, DedupeKey: key, Kinds: []journal.Kind{journal.KindNotify},
		Statuses: []journal.Status{journal.StatusFailed}})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if len(failed) >= MaxNotifyAttempts {
		w.Status = "given-up"
		return w, nil
	}
	id, err := e.IDs.New()
	if err != nil {
		return nil, err
	}
	err = e.Journal.Begin(ctx, journal.Entry{ActionID: id, AccountID: p.AccountID, Kind: journal.KindNotify, Principal: f.Principal,
		Rule: f.Rule, FindingID: f.ID, Reason: string(k), DedupeKey: key, Actor: e.CallerARN, CreatedAt: e.Now()})
	if errors.Is(err, journal.ErrExists) {
		return nil, nil // another run sent it meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	status, detail := journal.StatusDone, "sent"
	w.Status = "sent"
	if perr := e.publish(ctx, notify.Event{Kind: k, AccountID: p.AccountID, AccountAlias: e.AccountAlias, Principal: f.Principal,
		Action: string(journal.KindDisableConsole),
		Rule:   f.Rule, Severity: string(f.Severity), Reason: f.Detail, Deadline: f.Deadline.UTC(), At: e.Now(), ActionID: id}); perr != nil {
		status, detail, w.Status = journal.StatusFailed, perr.Error(), "failed"
	}
	if err := e.Journal.Finish(ctx, id, status, detail, e.Now()); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return w, nil
}
