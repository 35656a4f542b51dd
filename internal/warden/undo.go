package warden

import (
	"context"
	"time"

	"github.com/iamwarden/iamwarden/internal/remediate"
)

// UndoOptions name what to undo: a whole run, or one action.
type UndoOptions struct {
	RunID, ActionID string
	LockTimeout     time.Duration
}

// Undo reverses journaled changes, on the same account and the same person only (the
// executor checks both), resumably and idempotently.
func (w *Warden) Undo(ctx context.Context, o UndoOptions) (*remediate.UndoReport, error) {
	if w.Journal == nil {
		return nil, ErrNoJournal
	}
	caller, err := w.Caller(ctx)
	if err != nil {
		return nil, err
	}
	ex := w.executor(caller, "", nil, EnforceOptions{Apply: true, LockTimeout: o.LockTimeout})
	if o.RunID != "" {
		return ex.UndoRun(ctx, o.RunID)
	}
	return ex.Undo(ctx, o.ActionID)
}
