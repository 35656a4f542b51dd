package warden

import (
	"context"
	"errors"
	"fmt"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/securityhub"
)

// SweepOptions say what a sweep of the whole account does besides judging it.
type SweepOptions struct {
	// Enforce applies the plan (EnforceSweep); without it the sweep warns the users in a grace
	// period and reports what enforce would do (ReportSweep).
	Enforce bool
	// Source is the door the sweep is recorded in the history as from (history.SourceLambda).
	Source string
	// Schedule, when set, is given every console user in a grace period, to schedule the exact
	// deadline.
	Schedule func(ctx context.Context, accountID string, f rules.Finding) error
	// SecurityHub, when set, is where the findings' import is remembered: they are imported.
	SecurityHub securityhub.StateStore
}

// SweepResult is what a sweep read, planned, did and told.
type SweepResult struct {
	Scan     *report.Result
	Snapshot *inventory.Snapshot
	Plan     remediate.Plan
	// Outcome is the enforce run's; nil for a report sweep.
	Outcome *remediate.Outcome
	// Warned are the grace-period warnings of a report sweep.
	Warned []remediate.Warning
	// Leased is set, and nothing done, when another run holds the account's lease: it covers
	// this sweep.
	Leased error
	// NoJournal: a report sweep without a journal sent no warnings or summary and recorded nothing.
	NoJournal bool
	// SummarySent says a report sweep's summary of what changed went out.
	SummarySent bool
	SecurityHub *securityhub.SyncReport
	// Recorded is the history record stored; its ID is empty when none was.
	Recorded history.Meta
	// RecordErr says why the sweep, its work done, could not be recorded.
	RecordErr error
}

// Sweep audits the whole account, enforces or reports, schedules the deadlines of the users in
// a grace period, imports into Security Hub, and records the sweep in the history once its work
// is done (RecordErr, beside the work's error). A report sweep works without a journal, warning
// and recording nothing.
func (w *Warden) Sweep(ctx context.Context, o SweepOptions) (*SweepResult, error) {
	out := &SweepResult{}
	var err error
	if o.Enforce {
		var run *EnforceResult
		run, err = w.EnforceSweep(ctx, EnforceOptions{})
		if run != nil {
			out.Scan, out.Snapshot, out.Plan, out.Outcome = run.Scan, run.Snapshot, run.Plan, run.Outcome
		}
		if errors.Is(err, journal.ErrLeased) {
			out.Leased = err
			return out, nil
		}
	} else if out.Scan, out.Snapshot, err = w.AuditSnapshot(ctx, AuditOptions{}); err == nil {
		out.Plan = remediate.BuildPlan(out.Scan.AccountID, out.Scan.AccountAlias, out.Scan.Findings, w.Settings.Remediations)
		if w.Journal == nil {
			out.NoJournal = true
		} else if out.Warned, err = w.warnPending(ctx, out.Plan); err == nil {
			out.SummarySent, err = w.ReportSweep(ctx, out.Scan, out.Plan)
		}
	}
	if out.Scan == nil {
		return out, err
	}
	if err == nil {
		err = w.afterSweep(ctx, out, o)
	}
	if w.Journal != nil {
		var plan *remediate.Plan
		if out.Outcome != nil {
			plan = &out.Plan
		}
		out.Recorded, out.RecordErr = w.Record(ctx, o.Source, out.Scan, plan, out.Outcome)
	}
	return out, err
}

// warnPending sends the grace-period warnings of a plan that has pending findings.
func (w *Warden) warnPending(ctx context.Context, plan remediate.Plan) ([]remediate.Warning, error) {
	if len(plan.Pending) == 0 {
		return nil, nil
	}
	return w.Warn(ctx, plan)
}

// afterSweep schedules the deadlines of the users in a grace period and imports the findings
// into Security Hub when asked to.
func (w *Warden) afterSweep(ctx context.Context, out *SweepResult, o SweepOptions) error {
	if o.Schedule != nil {
		for _, f := range out.Scan.Findings {
			if f.Rule != "console-mfa-missing" || f.State != rules.StatePending || f.Deadline == nil || f.UserID == "" {
				continue
			}
			if err := o.Schedule(ctx, out.Scan.AccountID, f); err != nil {
				return err
			}
		}
	}
	if o.SecurityHub != nil {
		rep, err := w.ImportToSecurityHub(ctx, out.Scan, out.Snapshot, o.SecurityHub)
		out.SecurityHub = &rep
		if err != nil {
			return fmt.Errorf("security hub: %w", err)
		}
	}
	return nil
}
