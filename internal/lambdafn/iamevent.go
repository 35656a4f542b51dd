package lambdafn

import (
	"context"
	"fmt"

	"github.com/iamwarden/iamwarden/internal/awsapi"
)

// cloudTrail re-reads the user an IAM call was about and settles it: welcome and schedule a
// user entering a grace period, cancel the schedule of one who left it, act (enforce mode) on a
// violation such as a removed last MFA device.
func (inv *invocation) cloudTrail(ctx context.Context, e *CloudTrailEvent) (*Response, error) {
	r := &Response{User: e.UserName}
	log := inv.log.With("event_name", e.EventName, "event_id", e.EventID, "user", e.UserName)
	switch {
	case !e.Subscribed():
		r.Ignored = fmt.Sprintf("%s is not an IAM call this function watches", e.EventName)
	case e.Failed():
		r.Ignored = fmt.Sprintf("the %s call failed (%s), so nothing changed in IAM", e.EventName, e.ErrorCode)
	}
	if r.Ignored != "" {
		log.Info("event ignored", "why", r.Ignored)
		return r, nil
	}
	account, err := inv.account(ctx)
	if err != nil {
		return r, err
	}
	w, ok, err := inv.forAccount(ctx, account, e.accountID())
	if err != nil {
		return r, err
	}
	if !ok {
		r.Ignored = fmt.Sprintf("the event is from account %s; this function acts on account %s", e.accountID(), account)
		log.Warn("event ignored", "why", r.Ignored)
		return r, nil
	}
	if e.UserName == "" {
		r.Ignored = fmt.Sprintf("the %s event names no user; the next sweep judges every user", e.EventName)
		log.Info("event ignored", "why", r.Ignored)
		return r, nil
	}
	j, err := w.JudgeUser(ctx, e.UserName, "")
	if err != nil {
		return r, err
	}
	if e.EventName == EventDeactivateMFADevice && j.ConsoleViolation() {
		// The user just removed their last MFA device: with mfa_removed_grace they get that long
		// from the removal to register another, recorded for every later judgment.
		granted, err := w.GrantMFARemovedGrace(ctx, j.UserName, j.UserID, e.EventTime)
		if err != nil {
			return r, err
		}
		if granted {
			if j, err = w.JudgeUser(ctx, e.UserName, j.UserID); err != nil {
				return r, err
			}
		}
	}
	return r, inv.settle(ctx, w, j, r)
}

// accountID is the account the IAM call was made in.
func (e *CloudTrailEvent) accountID() string {
	if e.RecipientAccountID != "" {
		return e.RecipientAccountID
	}
	return e.Account
}

func (inv *invocation) account(ctx context.Context) (string, error) {
	caller, err := inv.warden.Caller(ctx)
	if err != nil {
		return "", fmt.Errorf("who am I (sts:GetCallerIdentity): %w", err)
	}
	return awsapi.ARNAccount(caller), nil
}
