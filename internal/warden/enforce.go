package warden

import (
	"context"
	"errors"

	"time"

	"github.com/iamwarden/iamwarden/internal/exempt"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/notify"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/scan"
)

// EnforceOptions say whether and how to act.
type EnforceOptions struct {
	// Apply carries the plan out; without it the run is a dry run re-checked live.
	Apply bool
	// Confirm, when set, is asked once the plan is known and before anything is applied; an
	// error refuses the plan and is returned.
	Confirm func(remediate.Plan) error
	// LockTimeout is how long to wait for another run's lease on the account.
	LockTimeout time.Duration
	// Concurrency bounds the audit's per-user lookups.
	Concurrency int
	Progress    func(step scan.Step, done, total int)
}

// EnforceResult is what an enforce run read, planned and did.
type EnforceResult struct {
	// Scan is the audit the plan was built from; nil for a one-user run.
	Scan *report.Result
	// Snapshot is what Scan judged; nil for a one-user run.
	Snapshot *inventory.Snapshot `json:"-"`
	// Judgment is the one user judged by EnforceUser; nil for an account run.
	Judgment *Judgment
	Plan     remediate.Plan
	// Outcome is nil when the run stopped before the executor ran (a refused confirmation).
	Outcome *remediate.Outcome
}

// Partial reports whether the data the plan was built on was incomplete.
func (r *EnforceResult) Partial() bool { return r.Scan != nil && r.Scan.Partial }

// ErrNoJournal: a run that changes the account needs a journal.
var ErrNoJournal = errors.New("no journal configured: changes must be journaled")

// Enforce audits the account live, plans the remediations and runs them through the executor
// (dry unless o.Apply).
func (w *Warden) Enforce(ctx context.Context, o EnforceOptions) (*EnforceResult, error) {
	out, ex, err := w.plan(ctx, o)
	if err != nil {
		return out, err
	}
	return w.run(ctx, ex, out, o)
}

// plan audits the account live and plans the remediations, returning the executor to run them.
func (w *Warden) plan(ctx context.Context, o EnforceOptions) (*EnforceResult, *remediate.Executor, error) {
	if w.Journal == nil {
		return nil, nil, ErrNoJournal
	}
	exempter, err := w.Exempter(ctx)
	if err != nil {
		return nil, nil, err
	}
	res, snap, err := w.audit(ctx, AuditOptions{Concurrency: o.Concurrency, Progress: o.Progress, exempter: exempter})
	if err != nil {
		return nil, nil, err
	}
	plan := remediate.BuildPlan(res.AccountID, res.AccountAlias, res.Findings, w.Settings.Remediations)
	out := &EnforceResult{Scan: res, Snapshot: snap, Plan: plan}
	caller, err := w.Caller(ctx)
	if err != nil {
		return out, nil, err
	}
	return out, w.executor(caller, res.AccountAlias, exempter, o), nil
}

// run asks for confirmation when applying, then hands the plan to the executor.
func (w *Warden) run(ctx context.Context, ex *remediate.Executor, out *EnforceResult, o EnforceOptions) (*EnforceResult, error) {
	if o.Apply && o.Confirm != nil {
		if err := o.Confirm(out.Plan); err != nil {
			return out, err
		}
	}
	var err error
	out.Outcome, err = ex.Run(ctx, out.Plan)
	return out, err
}

// executor builds the executor of one run with the settings' guards.
func (w *Warden) executor(caller, alias string, exempter rules.Exempter, o EnforceOptions) *remediate.Executor {
	cfg := w.Settings.Config
	return &remediate.Executor{
		IAM: w.Clients.IAM, Journal: w.Journal, Notifier: w.notifier(), Topic: w.Settings.Topic,
		Rules: w.Settings.Rules, Thresholds: w.Settings.Thresholds, Exempter: exempter,
		CallerARN: caller, AccountAlias: alias,
		MaxActions: w.Settings.MaxActions, DenyAccounts: cfg.Enforce.DenyAccounts, WarnBefore: cfg.Enforce.WarnBeforeOrDefault(),
		DryRun: !o.Apply, LockTimeout: o.LockTimeout, Now: w.clock(), IDs: journal.NewIDGenerator(w.clock(), nil), Log: w.Log,
	}
}

// notifier publishes to the settings' topic; nil when there is no topic or no SNS client.
func (w *Warden) notifier() notify.Notifier {
	if w.Settings.Topic == "" || w.Clients.SNS == nil {
		return nil
	}
	return notify.NewPublisher(w.Clients.SNS, notify.Options{Log: w.Log})
}

// Exempter loads the exemptions the settings name (config file and SSM list).
func (w *Warden) Exempter(ctx context.Context) (rules.Exempter, error) {
	return exempt.Load(ctx, w.Clients.SSM, w.Settings.Config)
}

// RunPlan runs a plan made from an earlier audit of this account through the executor (dry
// unless o.Apply): every action is still re-checked live just before it is taken.
func (w *Warden) RunPlan(ctx context.Context, plan remediate.Plan, o EnforceOptions) (*remediate.Outcome, error) {
	if w.Journal == nil {
		return nil, ErrNoJournal
	}
	exempter, err := w.Exempter(ctx)
	if err != nil {
		return nil, err
	}
	caller, err := w.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return w.executor(caller, plan.AccountAlias, exempter, o).Run(ctx, plan)
}
