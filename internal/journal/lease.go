package journal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Lease is one run's exclusive right to change one account. A run acquires it before its first
// change, renews it before each further change, and releases it at the end. A lease that was not
// renewed by Expires is abandoned (its holder died or hung) and the next run may take it.
type Lease struct {
	AccountID string `json:"account_id"`
	// RunID identifies the holder; its intents carry the same RunID.
	RunID string `json:"run_id"`
	// Actor is the ARN the holder runs as; Host and PID where it runs.
	Actor string `json:"actor"`
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	// Acquired is when the holder took the lease; Expires when it lapses unless renewed.
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// Held reports whether the lease is still in force at now.
func (l Lease) Held(now time.Time) bool { return now.Before(l.Expires) }

// Leaser is the lease half of a journal store. Every operation is one atomic conditional write
// or read, so that runs on several machines sharing a store exclude each other.
type Leaser interface {
	// Acquire takes the lease of l.AccountID for l, at now. It succeeds when nobody holds the
	// lease, when its holder's lease has expired, or when l.RunID already holds it (then it is
	// renewed). Otherwise it fails with a *LeasedError naming the holder, writing nothing.
	Acquire(ctx context.Context, l Lease, now time.Time) error
	// Renew moves the expiry of the lease l.RunID holds on l.AccountID to l.Expires. It fails
	// with ErrLeaseLost when the run no longer holds it (it expired and another run took it, or
	// it was broken).
	Renew(ctx context.Context, l Lease, now time.Time) error
	// Release gives up the lease of accountID if runID holds it, and does nothing otherwise.
	// `journal unlock` uses it to break the lease of a holder that is gone.
	Release(ctx context.Context, accountID, runID string) error
	// Holder returns the lease of accountID, expired or not, and false when there is none.
	Holder(ctx context.Context, accountID string) (Lease, bool, error)
}

// ErrLeased is matched (errors.Is) by a *LeasedError.
var ErrLeased = errors.New("another run holds the account's lease")

// ErrLeaseLost: Renew found the run's lease gone.
var ErrLeaseLost = errors.New("the run's lease on the account was lost")

// LeasedError says who holds the lease Acquire wanted.
type LeasedError struct{ Holder Lease }

func (e *LeasedError) Error() string {
	h := e.Holder
	return fmt.Sprintf("account %s is being changed by run %s (%s on %s, pid %d) since %s, lease until %s",
		h.AccountID, h.RunID, h.Actor, h.Host, h.PID, h.Acquired.UTC().Format(time.RFC3339), h.Expires.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLeased) hold.
func (e *LeasedError) Is(target error) bool { return target == ErrLeased }

// CheckLease validates a lease for Acquire and Renew.
func CheckLease(l Lease) error {
	switch {
	case l.AccountID == "":
		return fmt.Errorf("%w: lease account ID is empty", ErrInvalid)
	case l.RunID == "":
		return fmt.Errorf("%w: lease run ID is empty", ErrInvalid)
	case l.Expires.IsZero():
		return fmt.Errorf("%w: lease expiry is zero", ErrInvalid)
	}
	return nil
}

// AcquireWait acquires the lease, trying again until timeout has passed while another run holds
// it. now is the clock leases are judged by; a zero timeout tries once. When gone (which may be
// nil) says a holder is gone, its lease is released (only that run's) and taken at once rather
// than waited for.
func AcquireWait(ctx context.Context, j Leaser, l Lease, ttl, timeout time.Duration, now func() time.Time, gone func(Lease) bool) (Lease, error) {
	start := now()
	released := "" // the run whose lease was released: released once, then waited for like any
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		at := now()
		l.Acquired, l.Expires = UTC(at), UTC(at.Add(ttl))
		err := j.Acquire(ctx, l, at)
		if err == nil || !errors.Is(err, ErrLeased) {
			return l, err
		}
		var leased *LeasedError
		if gone != nil && errors.As(err, &leased) && leased.Holder.RunID != released && gone(leased.Holder) {
			if err := j.Release(ctx, l.AccountID, leased.Holder.RunID); err != nil {
				return Lease{}, err
			}
			released = leased.Holder.RunID
			continue
		}
		left := timeout - now().Sub(start)
		if left <= 0 {
			return Lease{}, err
		}
		t := time.NewTimer(min(delay+rand.N(delay/2), left))
		select {
		case <-ctx.Done():
			t.Stop()
			return Lease{}, fmt.Errorf("waiting for the account's lease: %w", ctx.Err())
		case <-t.C:
		}
	}
}
