package lambdafn

import (
	"context"
	"fmt"
)

// deadline handles a user's deadline schedule firing: the user is judged again live, exactly as
// the schedule's user ID names them, and settled; the schedule is then gone.
func (inv *invocation) deadline(ctx context.Context, d *DeadlineInvocation) (*Response, error) {
	r := &Response{User: d.UserName}
	account, err := inv.account(ctx)
	if err != nil {
		return r, err
	}
	w, ok, err := inv.forAccount(ctx, account, d.AccountID)
	if err != nil {
		return r, err
	}
	if !ok {
		r.Ignored = fmt.Sprintf("the deadline is for account %s; this function acts on account %s", d.AccountID, account)
		inv.log.Warn("deadline ignored", "why", r.Ignored)
		return r, nil
	}
	j, err := w.JudgeUser(ctx, d.UserName, d.UserID)
	if err != nil {
		return r, err
	}
	if err := inv.settle(ctx, w, j, r); err != nil {
		return r, err
	}
	if j.Gone || j.Replaced {
		// The person the schedule was for is gone: settle had no user ID to cancel by.
		what, err := inv.cancelDeadline(ctx, d.AccountID, d.UserID)
		r.Schedule = what
		return r, err
	}
	return r, nil
}
