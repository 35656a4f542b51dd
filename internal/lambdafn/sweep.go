package lambdafn

import (
	"context"
	"errors"
	"fmt"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// noHistory is said of a report-mode sweep without a journal table.
const noHistory = "history and change summaries need " + EnvJournalTable + ": this sweep was not recorded and sent no summary"

// sweep audits the whole account (enforce mode: and enforces), so that what an event missed —
// a user created before the deployment, an event dropped — is found; it also schedules the
// exact deadline of every user in a console grace period.
func (inv *invocation) sweep(ctx context.Context) (*Response, error) {
	if inv.org != nil {
		return inv.fanOut(ctx)
	}
	return inv.sweepAccount(ctx, inv.warden)
}

// sweepAccount is one account's sweep: the unit of work of an organization sweep too. Its
// summary says what changed since the account's previous sweep, and the sweep is recorded in
// the history once its work is done; a sweep skipped for another run's lease records nothing.
func (inv *invocation) sweepAccount(ctx context.Context, w *warden.Warden) (*Response, error) {
	r := &Response{}
	var (
		snap    *inventory.Snapshot
		res     *report.Result
		plan    *remediate.Plan
		outcome *remediate.Outcome
		err     error
	)
	if inv.settings.Mode == ModeEnforce {
		var out *warden.EnforceResult
		out, err = w.EnforceSweep(ctx, warden.EnforceOptions{})
		if out != nil {
			res, snap = out.Scan, out.Snapshot
			r.Planned = out.Plan.Changes()
			if out.Outcome != nil {
				plan, outcome = &out.Plan, out.Outcome
				r.count(out.Outcome)
			}
		}
		if leased(err) {
			// Another sweep or a one-user run is acting on the account now; it covers this one.
			r.Ignored = "another run holds the account's lease: " + err.Error()
			inv.log.Info("sweep skipped", "why", r.Ignored)
			return r, nil
		}
	} else {
		if res, snap, err = w.AuditSnapshot(ctx, warden.AuditOptions{}); err == nil {
			plan := remediate.BuildPlan(res.AccountID, res.AccountAlias, res.Findings, inv.settings.Warden.Remediations)
			r.Planned = plan.Changes()
			if err = inv.warn(ctx, w, plan, r); err == nil {
				if inv.journal == nil {
					inv.log.Warn(noHistory)
					r.Notes = append(r.Notes, noHistory)
				} else {
					var sent bool
					if sent, err = w.ReportSweep(ctx, res, plan); sent {
						r.Notes = append(r.Notes, "something changed since the previous sweep: its summary was sent")
					}
				}
			}
		}
	}
	if res == nil {
		return r, err
	}
	r.Findings = countActive(res.Findings)
	r.Partial = res.Partial
	if err == nil {
		err = inv.afterSweep(ctx, w, res, snap, r)
	}
	if inv.journal != nil {
		if rerr := inv.record(ctx, w, res, plan, outcome, r); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return r, err
}

// afterSweep schedules the deadlines of the users in a grace period and imports the findings into
// Security Hub when configured.
func (inv *invocation) afterSweep(ctx context.Context, w *warden.Warden, res *report.Result, snap *inventory.Snapshot, r *Response) error {
	for _, f := range res.Findings {
		if f.Rule != "console-mfa-missing" || f.State != rules.StatePending || f.Deadline == nil || f.UserID == "" {
			continue
		}
		if _, err := inv.ensureDeadline(ctx, res.AccountID, f); err != nil {
			return err
		}
	}
	if inv.settings.SecurityHub {
		rep, err := w.ImportToSecurityHub(ctx, res, snap, inv.securityHub)
		r.SecurityHub = warden.ImportSummary(rep)
		if err != nil {
			return fmt.Errorf("security hub: %w", err)
		}
		if len(rep.Failed) > 0 {
			r.Partial = true
			r.Notes = append(r.Notes, fmt.Sprintf("security hub: %d findings not imported", len(rep.Failed)))
		}
	}
	return nil
}

// record stores the sweep in the history: a scan in report mode, an enforce run with its plan
// and outcome in enforce mode.
func (inv *invocation) record(ctx context.Context, w *warden.Warden, res *report.Result, plan *remediate.Plan, outcome *remediate.Outcome, r *Response) error {
	m, err := w.Record(ctx, history.SourceLambda, res, plan, outcome)
	if err != nil {
		return fmt.Errorf("the sweep of %s did its work but was not recorded in the history (journal table %s): %w",
			res.AccountID, inv.settings.Journal, err)
	}
	r.HistoryID = m.ID
	inv.log.Info("sweep recorded", "history_id", m.ID, "account", res.AccountID, "kind", string(m.Kind))
	return nil
}
