package org_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/org"
)

func someAccounts(n int) []org.Account {
	out := make([]org.Account, n)
	for i := range out {
		out[i] = org.Account{ID: fmt.Sprintf("%012d", 100000000000+i), Status: org.StatusActive}
	}
	return out
}

// gate holds every unit of work until the test releases it, and measures how many run at once.
type gate struct {
	started chan string // account IDs, as they start
	release chan error  // what the next unit to finish returns
	running atomic.Int32
	peak    atomic.Int32

	mu   sync.Mutex
	runs map[string]int
}

func newGate(n int) *gate {
	return &gate{started: make(chan string, n), release: make(chan error), runs: map[string]int{}}
}

func (g *gate) fn(ctx context.Context, a org.Account) error {
	now := g.running.Add(1)
	defer g.running.Add(-1)
	for {
		peak := g.peak.Load()
		if now <= peak || g.peak.CompareAndSwap(peak, now) {
			break
		}
	}
	g.mu.Lock()
	g.runs[a.ID]++
	g.mu.Unlock()
	g.started <- a.ID
	return <-g.release
}

func TestEachBoundsConcurrency(t *testing.T) {
	for _, tc := range []struct{ concurrency, want, accounts int }{
		{3, 3, 10},
		{0, org.DefaultConcurrency, 20},
		{-1, org.DefaultConcurrency, 9},
		{5, 2, 2},
	} {
		t.Run(fmt.Sprint(tc.concurrency), func(t *testing.T) {
			accounts := someAccounts(tc.accounts)
			g := newGate(len(accounts))
			out := make(chan []org.Failure)
			go func() { out <- org.Each(context.Background(), accounts, tc.concurrency, g.fn, nil) }()
			// The first wave starts before anything finishes: the bound is reached.
			for range tc.want {
				<-g.started
			}
			for i := range accounts {
				g.release <- nil
				if i+tc.want < len(accounts) {
					<-g.started
				}
			}
			if failures := <-out; failures != nil {
				t.Errorf("failures %v", failures)
			}
			if p := g.peak.Load(); int(p) != tc.want {
				t.Errorf("peak concurrency %d, want %d", p, tc.want)
			}
			for _, a := range accounts {
				if g.runs[a.ID] != 1 {
					t.Errorf("account %s ran %d times", a.ID, g.runs[a.ID])
				}
			}
		})
	}
}

func TestEachIsolatesFailures(t *testing.T) {
	accounts := someAccounts(7)
	var runs sync.Map
	boom := errors.New("boom")
	fn := func(ctx context.Context, a org.Account) error {
		runs.Store(a.ID, true)
		switch a.ID {
		case accounts[1].ID:
			return boom
		case accounts[3].ID:
			panic("nil map")
		case accounts[5].ID:
			runtime.Goexit()
		}
		return nil
	}
	var calls []org.Progress
	failures := org.Each(context.Background(), accounts, 2, fn, func(p org.Progress) { calls = append(calls, p) })
	for _, a := range accounts {
		if _, ok := runs.Load(a.ID); !ok {
			t.Errorf("account %s did not run", a.ID)
		}
	}
	if len(failures) != 3 {
		t.Fatalf("failures %v, want 3", failures)
	}
	if failures[0].Account != accounts[1] || !errors.Is(failures[0].Err, boom) {
		t.Errorf("failure 0: %+v", failures[0])
	}
	var pe *org.PanicError
	if failures[1].Account != accounts[3] || !errors.As(failures[1].Err, &pe) || pe.Value != "nil map" || !strings.Contains(string(pe.Stack), "each_test.go") {
		t.Errorf("failure 1: %+v", failures[1])
	}
	if failures[2].Account != accounts[5] || failures[2].Err == nil {
		t.Errorf("failure 2: %+v", failures[2])
	}
	last := calls[len(calls)-1]
	if len(calls) != len(accounts) || last.Done != 7 || last.Total != 7 || last.Failed != 3 || last.Remaining != 0 {
		t.Errorf("progress %+v", calls)
	}
}

func TestEachCancellation(t *testing.T) {
	accounts := someAccounts(6)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{}, len(accounts))
	var runs atomic.Int32
	fn := func(ctx context.Context, a org.Account) error {
		runs.Add(1)
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	out := make(chan []org.Failure)
	go func() { out <- org.Each(ctx, accounts, 2, fn, nil) }()
	<-started
	<-started
	cancel()
	failures := <-out
	if runs.Load() != 2 {
		t.Errorf("%d accounts ran after the cancellation, want 2", runs.Load())
	}
	if len(failures) != len(accounts) {
		t.Fatalf("failures %v, want one per account", failures)
	}
	for i, f := range failures {
		if f.Account != accounts[i] {
			t.Errorf("failure %d is %s, want %s", i, f.Account.ID, accounts[i].ID)
		}
		ran := i < 2
		if ran == errors.Is(f.Err, org.ErrNotRun) || !errors.Is(f.Err, context.Canceled) {
			t.Errorf("failure %d (ran %v): %v", i, ran, f.Err)
		}
	}

	// Already cancelled: nothing runs.
	if failures := org.Each(ctx, accounts, 2, fn, nil); len(failures) != len(accounts) || runs.Load() != 2 {
		t.Errorf("failures %d, runs %d", len(failures), runs.Load())
	}
}

// fakeClock is a clock the test moves, read from the fan-out's goroutine.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestEachProgress(t *testing.T) {
	accounts := someAccounts(4)
	clock := &fakeClock{}
	var busy atomic.Bool
	var calls []org.Progress
	fn := func(ctx context.Context, a org.Account) error {
		clock.advance(10 * time.Second) // one at a time: Concurrency 1
		if a.ID == accounts[2].ID {
			return errors.New("no")
		}
		return nil
	}
	org.Fanout{Concurrency: 1, Now: clock.now, Progress: func(p org.Progress) {
		if !busy.CompareAndSwap(false, true) {
			t.Error("Progress called concurrently")
		}
		calls = append(calls, p)
		busy.Store(false)
	}}.Run(context.Background(), accounts, fn)
	want := []org.Progress{
		{Done: 1, Total: 4, Elapsed: 10 * time.Second, Remaining: 30 * time.Second},
		{Done: 2, Total: 4, Elapsed: 20 * time.Second, Remaining: 20 * time.Second},
		{Done: 3, Total: 4, Failed: 1, Elapsed: 30 * time.Second, Remaining: 10 * time.Second},
		{Done: 4, Total: 4, Failed: 1, Elapsed: 40 * time.Second},
	}
	if !slices.Equal(calls, want) {
		t.Errorf("progress\n%+v\nwant\n%+v", calls, want)
	}

	// Concurrent units, one Progress at a time.
	calls = nil
	org.Fanout{Concurrency: 8, Progress: func(p org.Progress) {
		if !busy.CompareAndSwap(false, true) {
			t.Error("Progress called concurrently")
		}
		calls = append(calls, p)
		busy.Store(false)
	}}.Run(context.Background(), someAccounts(100), func(context.Context, org.Account) error { return nil })
	if len(calls) != 100 || calls[99].Done != 100 {
		t.Errorf("%d progress calls", len(calls))
	}
}

var throttled = &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}

// The shared limit halves when an account is throttled, at most once per cooldown, and rises
// by one per cooldown without throttling.
func TestEachThrottlingLowersConcurrency(t *testing.T) {
	accounts := someAccounts(12)
	clock := &fakeClock{}
	var limits []int
	var mu sync.Mutex
	peakSince := map[int]int32{} // the most running at a start, by the number of limit changes before it
	changes := 0
	started := make(chan string, len(accounts))
	release := map[string]chan error{}
	for _, a := range accounts {
		release[a.ID] = make(chan error)
	}
	var running atomic.Int32
	fn := func(ctx context.Context, a org.Account) error {
		n := running.Add(1)
		defer running.Add(-1)
		mu.Lock()
		peakSince[changes] = max(peakSince[changes], n)
		mu.Unlock()
		started <- a.ID
		err := <-release[a.ID]
		if errors.Is(err, errReport) {
			org.ReportThrottling(ctx) // throttled, but the SDK's retries got through
			return nil
		}
		return err
	}
	// Progress follows each account's end, once the fan-out has taken it into account: the
	// test waits for it before moving the clock or releasing the next account.
	processed := make(chan struct{}, len(accounts))
	f := org.Fanout{Concurrency: 4, Cooldown: 30 * time.Second, Now: clock.now, Progress: func(org.Progress) { processed <- struct{}{} }, Limit: func(l int) {
		mu.Lock()
		limits = append(limits, l)
		changes++
		mu.Unlock()
	}}
	out := make(chan []org.Failure)
	go func() { out <- f.Run(context.Background(), accounts, fn) }()
	id := func(i int) string { return accounts[i].ID }
	expectStarts := func(want ...int) {
		t.Helper()
		var got, wantIDs []string
		for _, i := range want {
			got = append(got, <-started)
			wantIDs = append(wantIDs, id(i))
		}
		slices.Sort(got)
		if !slices.Equal(got, wantIDs) {
			t.Fatalf("started %v, want %v", got, wantIDs)
		}
	}

	finish := func(i int, err error) {
		release[id(i)] <- err
		<-processed
	}
	expectStarts(0, 1, 2, 3)
	finish(0, throttled) // limit 4 -> 2; 3 running
	finish(1, throttled) // within the cooldown: still 2; 2 running
	finish(2, nil)       // 1 running: one more starts
	expectStarts(4)
	clock.advance(30 * time.Second)
	finish(3, nil) // a cooldown without throttling: 2 -> 3; 1 running: two more start
	expectStarts(5, 6)
	finish(4, errReport) // a cooldown after the last cut: 3 -> 1
	finish(5, nil)
	finish(6, nil)
	for i := 7; i < len(accounts); i++ { // one at a time, the clock standing still
		expectStarts(i)
		finish(i, nil)
	}
	failures := <-out
	if !slices.Equal(limits, []int{2, 3, 1}) {
		t.Errorf("limits %v, want [2 3 1]", limits)
	}
	if want := map[int]int32{0: 4, 1: 2, 2: 3, 3: 1}; !maps.Equal(peakSince, want) {
		t.Errorf("peak concurrency by limit change %v, want %v", peakSince, want)
	}
	if len(failures) != 2 || failures[0].Account != accounts[0] || failures[1].Account != accounts[1] {
		t.Errorf("failures %v, want the two throttled accounts", failures)
	}
}

var errReport = errors.New("report throttling")

// ThrottleReporter sees the throttling the SDK's retries absorbed.
func TestThrottleReporter(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Account>222222222222</Account><Arn>arn:aws:iam::222222222222:user/u</Arn><UserId>AIDA</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>`)
	}))
	defer srv.Close()
	cfg := baseConfig("us-east-1")
	cfg.BaseEndpoint = aws.String(srv.URL)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}
	cfg.APIOptions = append(cfg.APIOptions, org.ThrottleReporter)
	var limits []int
	failures := org.Fanout{Concurrency: 2, Limit: func(l int) { limits = append(limits, l) }}.Run(context.Background(), someAccounts(1),
		func(ctx context.Context, a org.Account) error {
			_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		})
	if failures != nil || calls.Load() != 2 {
		t.Fatalf("failures %v after %d attempts", failures, calls.Load())
	}
	if !slices.Equal(limits, []int{1}) {
		t.Errorf("limits %v, want [1]", limits)
	}
	org.ReportThrottling(context.Background()) // outside a fan-out: nothing
}
