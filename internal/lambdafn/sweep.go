package lambdafn

import (
	"context"
	"fmt"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// sweep audits the whole account (enforce mode: and enforces), so that what an event missed —
// a user created before the deployment, an event dropped — is found; it also schedules the
// exact deadline of every user in a console grace period.
func (inv *invocation) sweep(ctx context.Context) (*Response, error) {
	if inv.org != nil {
		return inv.fanOut(ctx)
	}
	return inv.sweepAccount(ctx, inv.warden)
}

// sweepAccount is one account's sweep: the unit of work of an organization sweep too.
func (inv *invocation) sweepAccount(ctx context.Context, w *warden.Warden) (*Response, error) {
	r := &Response{}
	var snap *inventory.Snapshot
	var (
		res *report.Result
		err error
	)
	if inv.settings.Mode == ModeEnforce {
		var out *warden.EnforceResult
		out, err = w.Enforce(ctx, warden.EnforceOptions{Apply: true})
		if out != nil {
			res, snap = out.Scan, out.Snapshot
			r.Planned = out.Plan.Changes()
			if out.Outcome != nil {
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
			if err = inv.warn(ctx, w, plan, r); err == nil && inv.journal != nil {
				var sent bool
				if sent, err = w.ReportPlan(ctx, plan); sent {
					r.Notes = append(r.Notes, "the plan changed since the last report: its summary was sent")
				}
			}
		}
	}
	if res == nil {
		return r, err
	}
	r.Findings = countActive(res.Findings)
	r.Partial = res.Partial
	if err != nil {
		return r, err
	}
	for _, f := range res.Findings {
		if f.Rule != "console-mfa-missing" || f.State != rules.StatePending || f.Deadline == nil || f.UserID == "" {
			continue
		}
		if _, err := inv.ensureDeadline(ctx, res.AccountID, f); err != nil {
			return r, err
		}
	}
	if inv.settings.SecurityHub {
		rep, err := w.ImportToSecurityHub(ctx, res, snap, inv.securityHub)
		r.SecurityHub = warden.ImportSummary(rep)
		if err != nil {
			return r, fmt.Errorf("security hub: %w", err)
		}
		if len(rep.Failed) > 0 {
			r.Partial = true
			r.Notes = append(r.Notes, fmt.Sprintf("security hub: %d findings not imported", len(rep.Failed)))
		}
	}
	return r, nil
}
