package remediate

import (
	"context"
	"fmt"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// Reconcile settles the intents interrupted runs left open in the account: it looks at live
// state and records whether each change was in fact made. An intent whose run still holds the
// account's lease is in flight, not interrupted, and is left alone. Notification intents are
// closed as not done (delivery cannot be checked), which lets a later run send them again.
func (e *Executor) Reconcile(ctx context.Context, accountID string) ([]journal.Entry, error) {
	open, err := e.Journal.Open(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("journal: open intents: %w", err)
	}
	settled := []journal.Entry{}
	if len(open) == 0 {
		return settled, nil
	}
	holder, leased, err := e.Journal.Holder(ctx, accountID)
	if err != nil {
		return settled, fmt.Errorf("journal: %w", err)
	}
	for _, en := range open {
		if leased && holder.RunID == en.RunID && holder.Held(e.Now()) && en.RunID != "" {
			continue // its run is alive and acting
		}
		status, detail, err := e.settle(ctx, en)
		if err != nil {
			return settled, fmt.Errorf("reconcile %s: %w", en.ActionID, err)
		}
		if err := e.Journal.Finish(ctx, en.ActionID, status, detail, e.Now()); err != nil {
			return settled, fmt.Errorf("reconcile %s: %w", en.ActionID, err)
		}
		en.Status, en.Detail = status, detail
		e.log().Warn("reconciled an interrupted action", "action_id", en.ActionID, "user", en.Principal, "status", string(status))
		settled = append(settled, en)
	}
	return settled, nil
}

// settle decides from live state how an interrupted intent ended.
func (e *Executor) settle(ctx context.Context, en journal.Entry) (journal.Status, string, error) {
	eff, ok := effects()[en.Kind]
	if !ok {
		if en.Kind == journal.KindGraceGranted {
			return journal.StatusReconciledNotDone, "grace period not recorded: the run was interrupted", nil
		}
		return journal.StatusReconciledNotDone, "notification delivery unknown after an interrupted run", nil
	}
	refusal, gone, err := e.samePerson(ctx, en)
	switch {
	case err != nil:
		return "", "", err
	case gone:
		return journal.StatusReconciledNotDone, "user " + en.Principal + " no longer exists; outcome of the interrupted run unknown", nil
	case refusal != "":
		// Live state belongs to someone else and says nothing about this change.
		return journal.StatusReconciledNotDone, refusal + "; outcome of the interrupted run unknown", nil
	}
	holds, _, seen, err := eff.holds(ctx, e, en)
	if err != nil {
		return "", "", err
	}
	if holds {
		return journal.StatusReconciledDone, seen + " after an interrupted run", nil
	}
	return journal.StatusReconciledNotDone, seen + " after an interrupted run", nil
}
