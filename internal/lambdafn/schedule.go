package lambdafn

import (
	"context"
	"fmt"
	"time"

	"github.com/iamwarden/iamwarden/internal/deadline"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func (inv *invocation) schedules() *deadline.Schedules {
	s := inv.settings.Schedule
	return &deadline.Schedules{API: inv.scheduler, Group: s.Group, RoleARN: s.RoleARN, TargetARN: inv.targetARN,
		DeadLetterARN: s.DeadLetterARN, Now: inv.now, Log: inv.log}
}

// ensureDeadline schedules the deadline invocation of a user in a console grace period (one per
// user: a duplicate event finds it and reuses it). A deadline too near for Scheduler is put a
// moment later, so it is still judged at once after it passes rather than at the next sweep.
func (inv *invocation) ensureDeadline(ctx context.Context, accountID string, f rules.Finding) (string, error) {
	if !inv.settings.Schedule.On() || f.Deadline == nil {
		return "", nil
	}
	if f.UserID == "" {
		return "", fmt.Errorf("schedule the deadline of %s: the user's ID is unknown", f.Principal)
	}
	input, err := DeadlineInvocation{AccountID: accountID, UserName: f.Principal, UserID: f.UserID, Deadline: *f.Deadline}.Payload()
	if err != nil {
		return "", err
	}
	s, name := inv.schedules(), deadline.Name(accountID, f.UserID)
	res, err := s.Ensure(ctx, name, *f.Deadline, input)
	if res == deadline.ResultPast && err == nil {
		res, err = s.Ensure(ctx, name, inv.now().Add(deadline.MinLead+deadlineSlack), input)
	}
	if err != nil {
		return "", err
	}
	return "deadline " + string(res), nil
}

// deadlineSlack keeps a rescheduled near deadline clear of Scheduler's minimum lead.
const deadlineSlack = 5 * time.Second

// cancelDeadline deletes the user's deadline schedule, if any: the user registered MFA, lost
// the password, or is gone.
func (inv *invocation) cancelDeadline(ctx context.Context, accountID, userID string) (string, error) {
	if !inv.settings.Schedule.On() || userID == "" {
		return "", nil
	}
	deleted, err := inv.schedules().Cancel(ctx, deadline.Name(accountID, userID))
	if err != nil || !deleted {
		return "", err
	}
	return "deadline cancelled", nil
}
