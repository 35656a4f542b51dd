package lambdafn

import (
	"context"

	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// sweep audits the whole account (enforce mode: and enforces), so that what an event missed —
// a user created before the deployment, an event dropped — is found; it also schedules the
// exact deadline of every user in a console grace period.
func (inv *invocation) sweep(ctx context.Context) (*Response, error) {
	r := &Response{}
	var (
		res *report.Result
		err error
	)
	if inv.settings.Mode == ModeEnforce {
		var out *warden.EnforceResult
		out, err = inv.warden.Enforce(ctx, warden.EnforceOptions{Apply: true})
		if out != nil {
			res = out.Scan
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
		if res, err = inv.warden.Audit(ctx, warden.AuditOptions{}); err == nil {
			plan := remediate.BuildPlan(res.AccountID, res.AccountAlias, res.Findings, inv.settings.Warden.Remediations)
			r.Planned = plan.Changes()
			if err = inv.warn(ctx, plan, r); err == nil && inv.journal != nil {
				var sent bool
				if sent, err = inv.warden.ReportPlan(ctx, plan); sent {
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
	return r, nil
}
