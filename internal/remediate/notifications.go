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
	_ = e.SweepSummary(ctx, p, o, nil)
}

// SweepSummary sends the summary of a run that knows the account's previous sweep: what the run
// did, and what changed since the previous sweep. It lists the actions done and those new in the
// plan, and counts the others (planned the previous time too: skipped or failed again). Nothing
// is sent when no finding changed, no action is new and none was done. Without a previous sweep
// (prev nil, or its Changes First) it sends what Run sends: every action, when the run tried any
// or warned anyone. A refused plan sends nothing. It reports whether a message was sent.
func (e *Executor) SweepSummary(ctx context.Context, p Plan, o *Outcome, prev *Previous) bool {
	if o == nil || o.Refused != "" || e.Notifier == nil || e.Topic == "" || e.DryRun {
		return false // a dry run changes nothing, and tells nobody
	}
	s := &notify.RunSummary{Done: o.Count(StatusDone), Skipped: o.Count(StatusSkipped), Failed: o.Count(StatusFailed), Pending: len(p.Pending)}
	if prev != nil {
		s.Changes = prev.Changes
	}
	unchanged := 0
	// A failure of an action planned before sends nothing by itself (its action-failed event
	// went out), but is listed when a summary goes out anyway.
	var failedAgain []notify.SummaryLine
	for _, r := range o.Results {
		line := notify.SummaryLine{Principal: r.Action.Principal, Action: string(r.Action.Kind),
			Resource: r.Action.Resource, Rule: r.Action.Rule, Status: string(r.Status)}
		switch {
		case !prev.compared() || r.Status == StatusDone || !prev.planned(r.Action):
			s.Lines = append(s.Lines, line)
		case r.Status == StatusFailed:
			failedAgain = append(failedAgain, line)
		default:
			unchanged++
		}
	}
	if prev.compared() {
		if s.Changes.Empty() && len(s.Lines) == 0 {
			return false // nothing changed since the previous sweep, and nothing was done
		}
		s.Lines = append(s.Lines, failedAgain...)
		c := *s.Changes
		c.UnchangedActions = unchanged
		s.Changes = &c
	} else if len(o.Results) == 0 && len(o.Warnings) == 0 {
		return false
	}
	return e.publish(ctx, notify.Event{Kind: notify.KindRunSummary, AccountID: p.AccountID, AccountAlias: e.AccountAlias,
		At: e.Now(), RunID: o.RunID, DryRun: e.DryRun, Summary: s}) == nil
}

// WithoutSummaries passes every event to n but the run summaries, for an executor whose caller
// sends its own summary of the run (SweepSummary); nil stays nil.
func WithoutSummaries(n notify.Notifier) notify.Notifier {
	if n == nil {
		return nil
	}
	return withoutSummaries{n}
}

type withoutSummaries struct{ notify.Notifier }

func (w withoutSummaries) Publish(ctx context.Context, topic string, ev notify.Event) (string, error) {
	if ev.Kind == notify.KindRunSummary {
		return "", nil
	}
	return w.Notifier.Publish(ctx, topic, ev)
}
