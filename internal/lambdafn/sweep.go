package lambdafn

import (
	"context"
	"errors"
	"fmt"

	"github.com/iamwarden/iamwarden/internal/history"
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

// sweepAccount is one account's sweep (warden.Sweep): the unit of work of an organization sweep
// too. The door translates what it did into the response.
func (inv *invocation) sweepAccount(ctx context.Context, w *warden.Warden) (*Response, error) {
	o := warden.SweepOptions{Enforce: inv.settings.Mode == ModeEnforce, Source: history.SourceLambda, SecurityHub: inv.securityHub,
		Schedule: func(ctx context.Context, accountID string, f rules.Finding) error {
			_, err := inv.ensureDeadline(ctx, accountID, f)
			return err
		}}
	if !inv.settings.SecurityHub {
		o.SecurityHub = nil
	}
	out, err := w.Sweep(ctx, o)
	r := &Response{Planned: out.Plan.Changes()}
	if out.Outcome != nil {
		r.count(out.Outcome)
	}
	r.Warnings += sent(out.Warned)
	if out.Leased != nil {
		// Another sweep or a one-user run is acting on the account now; it covers this one.
		r.Ignored = "another run holds the account's lease: " + out.Leased.Error()
		inv.log.Info("sweep skipped", "why", r.Ignored)
		return r, nil
	}
	if out.NoJournal {
		if len(out.Plan.Pending) > 0 {
			r.Notes = append(r.Notes, "grace-period warnings not sent: they are deduplicated in the journal and "+EnvJournalTable+" is not set")
		}
		inv.log.Warn(noHistory)
		r.Notes = append(r.Notes, noHistory)
	}
	if out.SummarySent {
		r.Notes = append(r.Notes, "something changed since the previous sweep: its summary was sent")
	}
	if out.Scan == nil {
		return r, err
	}
	r.Findings = countActive(out.Scan.Findings)
	r.Partial = out.Scan.Partial
	if rep := out.SecurityHub; rep != nil {
		r.SecurityHub = warden.ImportSummary(*rep)
		if len(rep.Failed) > 0 {
			r.Partial = true
			r.Notes = append(r.Notes, fmt.Sprintf("security hub: %d findings not imported", len(rep.Failed)))
		}
	}
	if out.RecordErr != nil {
		err = errors.Join(err, fmt.Errorf("the sweep of %s did its work but was not recorded in the history (journal table %s): %w",
			out.Scan.AccountID, inv.settings.Journal, out.RecordErr))
	} else if out.Recorded.ID != "" {
		r.HistoryID = out.Recorded.ID
		inv.log.Info("sweep recorded", "history_id", out.Recorded.ID, "account", out.Scan.AccountID, "kind", string(out.Recorded.Kind))
	}
	return r, err
}
