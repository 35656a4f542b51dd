package remediate

import (
	"context"

	"github.com/iamwarden/iamwarden/internal/notify"
)

// publish sends an event when a notifier is configured. Delivery failures are logged, never
// fatal: the journal, not the message, is the record of what was done.
func (e *Executor) publish(ctx context.Context, ev notify.Event) error {
	if e.Notifier == nil || e.Topic == "" || e.DryRun {
		return nil // a dry run changes nothing, and tells nobody
	}
	if _, err := e.Notifier.Publish(ctx, e.Topic, ev); err != nil {
		e.log().Error("notification not delivered", "event", string(ev.Kind), "user", ev.Principal, "error", err)
		return err
	}
	return nil
}

func (e *Executor) notifyAction(ctx context.Context, a Action, r Result) {
	kind := notify.KindActionDone
	switch r.Status {
	case StatusSkipped:
		kind = notify.KindActionSkipped
	case StatusFailed:
		kind = notify.KindActionFailed
	}
	_ = e.publish(ctx, notify.Event{Kind: kind, AccountID: a.AccountID, AccountAlias: e.AccountAlias, Principal: a.Principal,
		Resource: a.Resource, Action: string(a.Kind), Rule: a.Rule, Severity: string(a.Severity), Reason: reasonFor(a, r),
		At: e.Now(), ActionID: r.ActionID, DryRun: e.DryRun})
}

func reasonFor(a Action, r Result) string {
	if r.Status == StatusDone {
		return a.Reason
	}
	return r.Detail
}

// summary sends one message describing the run.
func (e *Executor) summary(ctx context.Context, p Plan, o *Outcome) {
	if len(o.Results) == 0 && len(o.Warnings) == 0 {
		return
	}
	s := &notify.RunSummary{Done: o.Count(StatusDone), Skipped: o.Count(StatusSkipped), Failed: o.Count(StatusFailed), Pending: len(p.Pending)}
	for _, r := range o.Results {
		s.Lines = append(s.Lines, notify.SummaryLine{Principal: r.Action.Principal, Action: string(r.Action.Kind),
			Resource: r.Action.Resource, Rule: r.Action.Rule, Status: string(r.Status)})
	}
	_ = e.publish(ctx, notify.Event{Kind: notify.KindRunSummary, AccountID: p.AccountID, AccountAlias: e.AccountAlias,
		At: e.Now(), RunID: o.RunID, DryRun: e.DryRun, Summary: s})
}
