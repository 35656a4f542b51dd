package remediate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/journal"
)

// DefaultLeaseTTL is how long a run's lease on an account lasts without renewal. A run renews it
// before every change, and bounds each change's AWS call by the lease's expiry, so a change can
// never still be in flight when another run takes the lease over.
const DefaultLeaseTTL = 2 * time.Minute

// leaseMargin is kept between the end of a change's calls and the lease's expiry.
const leaseMargin = 10 * time.Second

// ErrWrongAccount: the credentials are for another account than the one the plan or journal
// entry is about. Nothing was changed.
var ErrWrongAccount = errors.New("credentials are for another account")

func (e *Executor) leaseTTL() time.Duration {
	if e.LeaseTTL > 0 {
		return e.LeaseTTL
	}
	return DefaultLeaseTTL
}

// acquire takes the account's lease for runID, waiting up to LockTimeout for another run to
// finish.
func (e *Executor) acquire(ctx context.Context, accountID, runID string) (*journal.Lease, error) {
	host, _ := os.Hostname()
	l := journal.Lease{AccountID: accountID, RunID: runID, Actor: e.CallerARN, Host: host, PID: os.Getpid()}
	// A holder that was a process of this host and died (kill -9, a crash) is taken over now
	// rather than when its lease expires.
	gone := func(h journal.Lease) bool {
		if !holderGone(h) {
			return false
		}
		e.log().Warn("taking over the lease of a run that is gone", "run", h.RunID, "pid", h.PID)
		return true
	}
	got, err := journal.AcquireWait(ctx, e.Journal, l, e.leaseTTL(), e.LockTimeout, e.Now, gone)
	if err != nil {
		if errors.Is(err, journal.ErrLeased) {
			return nil, fmt.Errorf("%w; nothing was changed (wait for it, pass --lock-timeout, or, if that run is gone, 'iamwarden journal unlock %s')", err, accountID)
		}
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &got, nil
}

// renew extends the lease before a change and returns a context for the change's calls that
// ends before the lease does.
func (e *Executor) renew(ctx context.Context, h *journal.Lease) (context.Context, context.CancelFunc, error) {
	now := e.Now()
	l := *h
	l.Expires = journal.UTC(now.Add(e.leaseTTL()))
	if err := e.Journal.Renew(ctx, l, now); err != nil {
		return nil, nil, fmt.Errorf("journal: %w; stopping before the next change", err)
	}
	*h = l
	// The deadline is on the wall clock the lease is judged by; Now may be a test clock, so the
	// remaining time is what is added to the real clock.
	c, cancel := context.WithTimeout(ctx, max(e.leaseTTL()-leaseMargin, e.leaseTTL()/2))
	return c, cancel, nil
}

// release gives the lease up; a failure is logged: the lease then lapses by itself.
func (e *Executor) release(h *journal.Lease) {
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Journal.Release(ctx, h.AccountID, h.RunID); err != nil {
		e.log().Error("lease not released; it lapses by itself", "account", h.AccountID, "until", h.Expires, "error", err)
	}
}

// callerAccount is the account of the identity running iamwarden, from its ARN.
func (e *Executor) callerAccount() string { return awsapi.ARNAccount(e.CallerARN) }

// checkAccount refuses to act on an account other than the caller's.
func (e *Executor) checkAccount(accountID, what string) error {
	caller := e.callerAccount()
	if caller == "" || caller == accountID {
		return nil
	}
	return fmt.Errorf("%w: %s is in account %s, but the credentials (%s) are for account %s; nothing was changed (try: --profile with credentials for account %s)",
		ErrWrongAccount, what, accountID, e.CallerARN, caller, accountID)
}

// samePerson checks that the entry's user is the live user of that name: a user deleted and
// created again under the same name is another person. gone is true when no user has the name;
// refusal is non-empty when the live user is someone else.
func (e *Executor) samePerson(ctx context.Context, en journal.Entry) (refusal string, gone bool, err error) {
	if en.Principal == "" {
		return "", false, nil
	}
	out, err := e.IAM.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(en.Principal)})
	if isNoSuchEntity(err) {
		return "", true, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("iam:GetUser %s: %w", en.Principal, err)
	}
	live := aws.ToString(out.User.UserId)
	switch {
	case en.UserID != "" && live != en.UserID:
		return fmt.Sprintf("user %s was replaced since (%s → %s); nothing was changed", en.Principal, en.UserID, live), false, nil
	case en.UserID == "" && aws.ToTime(out.User.CreateDate).After(en.CreatedAt):
		// Entries written before user IDs were journaled: a user created after the action is
		// not the one acted on.
		return fmt.Sprintf("user %s was created %s, after the action; it is another person; nothing was changed",
			en.Principal, aws.ToTime(out.User.CreateDate).UTC().Format(time.RFC3339)), false, nil
	}
	return "", false, nil
}
