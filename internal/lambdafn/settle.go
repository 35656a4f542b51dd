package lambdafn

import (
	"context"
	"errors"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// oneUserLockTimeout is how long a one-user invocation waits for another run's lease on the
// account (a sweep in progress) before it fails and is retried.
const oneUserLockTimeout = 30 * time.Second

// settle brings one judged user to where the settings want it: a user in a console grace
// period is told (once) and gets a deadline schedule; a user out of it has none; in enforce
// mode a violation is remediated now, through the executor's guards and journal.
func (inv *invocation) settle(ctx context.Context, w *warden.Warden, j *warden.Judgment, r *Response) error {
	r.User = j.UserName
	if j.Gone {
		r.Notes = append(r.Notes, "the user no longer exists")
		return nil
	}
	if j.Replaced {
		r.Notes = append(r.Notes, "the user was deleted and created again: another person; the new user is judged by its own events and the sweeps")
		return nil
	}
	r.Findings = countActive(j.Findings)
	plan := remediate.BuildPlan(j.AccountID, "", j.Findings, inv.settings.Warden.Remediations)
	r.Planned = plan.Changes()
	if f, ok := j.ConsoleDeadline(); ok {
		what, err := inv.ensureDeadline(ctx, j.AccountID, f)
		if err != nil {
			return err
		}
		r.Schedule = what
	} else {
		what, err := inv.cancelDeadline(ctx, j.AccountID, j.UserID)
		if err != nil {
			return err
		}
		r.Schedule = what
	}
	if inv.settings.Mode == ModeEnforce && plan.Changes() > 0 {
		res, err := w.EnforceUser(ctx, j.UserName, j.UserID, warden.EnforceOptions{Apply: true, LockTimeout: oneUserLockTimeout})
		if res != nil && res.Outcome != nil {
			r.count(res.Outcome)
		}
		return err
	}
	return inv.warn(ctx, w, plan, r)
}

// warn sends the plan's grace-period warnings; without a journal to deduplicate them none are
// sent (every event and sweep would repeat them) and the response says so.
func (inv *invocation) warn(ctx context.Context, w *warden.Warden, plan remediate.Plan, r *Response) error {
	if len(plan.Pending) == 0 {
		return nil
	}
	if inv.journal == nil {
		r.Notes = append(r.Notes, "grace-period warnings not sent: they are deduplicated in the journal and "+EnvJournalTable+" is not set")
		return nil
	}
	ws, err := w.Warn(ctx, plan)
	r.Warnings += sent(ws)
	return err
}

func (r *Response) count(o *remediate.Outcome) {
	r.RunID = o.RunID
	r.Done += o.Count(remediate.StatusDone)
	r.Skipped += o.Count(remediate.StatusSkipped)
	r.Refused += o.Count(remediate.StatusRefused)
	r.Failed += o.Count(remediate.StatusFailed)
	r.Warnings += sent(o.Warnings)
}

func sent(ws []remediate.Warning) int {
	n := 0
	for _, w := range ws {
		if w.Status == "sent" {
			n++
		}
	}
	return n
}

// countActive counts the findings that are not exempt.
func countActive(fs []rules.Finding) int {
	n := 0
	for _, f := range fs {
		if f.State != rules.StateExempt {
			n++
		}
	}
	return n
}

// leased reports whether err is another run holding the account's lease.
func leased(err error) bool { return errors.Is(err, journal.ErrLeased) }
