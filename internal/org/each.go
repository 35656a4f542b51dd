package org

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/iamwarden/iamwarden/internal/awsapi"
)

// Defaults of Fanout.
const (
	// DefaultConcurrency is how many accounts run at once when none is given.
	DefaultConcurrency = 8
	// DefaultCooldown is how long the fan-out waits after throttling before it halves the
	// concurrency again, or before it raises it by one.
	DefaultCooldown = 30 * time.Second
)

// ErrNotRun marks the accounts a cancelled context kept from starting.
var ErrNotRun = errors.New("not run")

// Progress is how far a fan-out has gone.
type Progress struct {
	// Done counts the accounts that finished, failed or not; Failed those that failed.
	Done, Total, Failed int
	Elapsed             time.Duration
	// Remaining is estimated from the pace so far; zero until an account finished.
	Remaining time.Duration
}

// Failure is one account's failure.
type Failure struct {
	Account Account
	// Err is what the unit of work returned, a *PanicError, or ErrNotRun (with the context's
	// cause) for an account never started.
	Err error
}

// PanicError is a panic of the unit of work, recovered.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// errGoexit is the failure of a unit of work that ended its goroutine (runtime.Goexit).
var errGoexit = errors.New("the unit of work ended its goroutine without returning")

// Fanout runs one unit of work per account. The zero value is usable.
//
// Throttling: each AWS call is retried by the SDK's retryer when throttled (the adaptive mode
// of awsapi.NewRetryer). On top of that the fan-out shares one limit on how many accounts run
// at once, for what the accounts share (the caller's STS, Organizations and queues): an account
// whose unit of work returned an error awsapi classifies as throttled, or called
// ReportThrottling, halves the limit (never below 1) when it finishes, at most once per
// Cooldown; once Cooldown has passed since the last throttling, each account finishing raises
// the limit by one, at most once per Cooldown, back up to Concurrency. Running accounts are
// never interrupted: a lower limit only delays the next starts.
type Fanout struct {
	// Concurrency bounds how many accounts run at once; <= 0: DefaultConcurrency.
	Concurrency int
	// Cooldown paces the limit's changes; <= 0: DefaultCooldown.
	Cooldown time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Progress, when set, is called after each account finishes, from one goroutine at a time.
	Progress func(Progress)
	// Limit, when set, is called with the new limit whenever throttling changes it, from the
	// same goroutine as Progress.
	Limit func(limit int)
}

// Each runs fn once for every account, at most concurrency at a time (DefaultConcurrency when
// <= 0), and returns the failures in the order of accounts; see Fanout.
func Each(ctx context.Context, accounts []Account, concurrency int, fn func(ctx context.Context, a Account) error, progress func(Progress)) []Failure {
	return Fanout{Concurrency: concurrency, Progress: progress}.Run(ctx, accounts, fn)
}

// Run runs fn once for every account and returns the failures in the order of accounts. fn
// streams its own results: Run keeps nothing of a success. An error or a panic of fn fails that
// account only. Once ctx is done no account starts: those left are failures wrapping
// ErrNotRun, and Run returns when the running ones have returned.
func (f Fanout) Run(ctx context.Context, accounts []Account, fn func(ctx context.Context, a Account) error) []Failure {
	now := f.Now
	if now == nil {
		now = time.Now
	}
	lim := newLimiter(f.Concurrency, f.Cooldown)
	start := now()

	type result struct {
		i         int
		err       error
		throttled bool
	}
	results := make(chan result)
	launch := func(i int) {
		go func() {
			sig := &throttleSignal{}
			err := errGoexit
			defer func() {
				results <- result{i: i, err: err, throttled: sig.reported.Load() || awsapi.ClassifyError(err) == awsapi.Throttled}
			}()
			err = call(context.WithValue(ctx, throttleKey{}, sig), fn, accounts[i])
		}()
	}

	type failure struct {
		i   int
		err error
	}
	var failures []failure
	next, running, done := 0, 0, 0
	for {
		for ctx.Err() == nil && next < len(accounts) && running < lim.limit {
			launch(next)
			next++
			running++
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		done++
		if r.err != nil {
			failures = append(failures, failure{r.i, r.err})
		}
		if lim.observe(now(), r.throttled) && f.Limit != nil {
			f.Limit(lim.limit)
		}
		if f.Progress != nil {
			elapsed := now().Sub(start)
			p := Progress{Done: done, Total: len(accounts), Failed: len(failures), Elapsed: elapsed}
			p.Remaining = time.Duration(float64(elapsed) / float64(done) * float64(len(accounts)-done))
			f.Progress(p)
		}
	}
	slices.SortFunc(failures, func(a, b failure) int { return a.i - b.i })
	out := make([]Failure, 0, len(failures)+len(accounts)-next)
	for _, fl := range failures {
		out = append(out, Failure{Account: accounts[fl.i], Err: fl.err})
	}
	for i := next; i < len(accounts); i++ {
		out = append(out, Failure{Account: accounts[i], Err: fmt.Errorf("%w: %w", ErrNotRun, context.Cause(ctx))})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// call runs fn, turning a panic into a *PanicError.
func call(ctx context.Context, fn func(context.Context, Account) error, a Account) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(ctx, a)
}

type throttleKey struct{}

type throttleSignal struct{ reported atomic.Bool }

// ReportThrottling tells the fan-out running the account of ctx that AWS throttled it, even if
// the SDK's retries got through in the end: the fan-out lowers its concurrency as for a
// throttled failure. Outside a fan-out it does nothing. fn may call it from any goroutine.
func ReportThrottling(ctx context.Context) {
	if sig, ok := ctx.Value(throttleKey{}).(*throttleSignal); ok {
		sig.reported.Store(true)
	}
}

// ThrottleReporter is an API option (aws.Config.APIOptions) that calls ReportThrottling
// whenever an attempt of a call gets a throttling answer, retried by the SDK or not. Add it to
// the configuration an account's unit of work uses so that throttling the SDK's retries
// absorbed still lowers the fan-out's concurrency:
//
//	cfg.APIOptions = append(cfg.APIOptions, org.ThrottleReporter)
func ThrottleReporter(stack *middleware.Stack) error {
	// After the retry loop's step: it runs once per attempt.
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("iamwarden.ReportThrottling",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleFinalize(ctx, in)
			if err != nil && awsapi.ClassifyError(err) == awsapi.Throttled {
				ReportThrottling(ctx)
			}
			return out, md, err
		}), middleware.After)
}

// limiter is the fan-out's shared limit on running accounts; see Fanout.
type limiter struct {
	max, limit                    int
	cooldown                      time.Duration
	throttled                     bool // ever
	lastCut, lastThrottle, raised time.Time
}

func newLimiter(concurrency int, cooldown time.Duration) *limiter {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	if cooldown <= 0 {
		cooldown = DefaultCooldown
	}
	return &limiter{max: concurrency, limit: concurrency, cooldown: cooldown}
}

// observe takes an account's end at t, throttled or not, and reports whether the limit changed.
func (l *limiter) observe(t time.Time, throttled bool) bool {
	if throttled {
		first := !l.throttled
		l.throttled, l.lastThrottle = true, t
		if l.limit > 1 && (first || t.Sub(l.lastCut) >= l.cooldown) {
			l.limit = max(1, l.limit/2)
			l.lastCut = t
			return true
		}
		return false
	}
	if l.limit < l.max && t.Sub(l.lastThrottle) >= l.cooldown && t.Sub(l.raised) >= l.cooldown {
		l.limit++
		l.raised = t
		return true
	}
	return false
}
