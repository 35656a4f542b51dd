package remediate_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/faultproxy"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
)

// enforced runs the enforce scenario on a fresh account, optionally with the executor's IAM
// calls going through a fault-injecting proxy, and describes the end state and the journal in
// terms that do not depend on the account (key labels instead of IDs).
func enforced(t *testing.T, faults *faultproxy.Options) (state, entries []string, stats string) {
	a := newAccount(t)
	ctx := context.Background()
	p := a.plan()
	a.changeAfterRead()
	j, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	e := a.executor(j, false)
	if faults != nil {
		proxy := faultproxy.New(a.srv.Endpoint, *faults)
		defer proxy.Close()
		cfg := a.cfg.Copy()
		cfg.BaseEndpoint = aws.String(proxy.URL)
		// The SDK's standard retryer, with short backoffs so the test stays fast.
		e.IAM = iam.NewFromConfig(cfg, func(o *iam.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = 8
				so.MaxBackoff = 5 * time.Millisecond
				so.RateLimiter = ratelimit.None
			})
		})
		defer func() { stats = fmt.Sprintf("%+v", proxy.Stats()) }()
	}
	// Twice: the second run must find nothing left to do.
	for i := 0; i < 2; i++ {
		if _, err := e.Run(ctx, p); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	label := map[string]string{}
	for l, id := range a.keys {
		label[id] = l
	}
	for k, v := range a.state() {
		parts := strings.SplitN(k, " ", 2)
		if l, ok := label[parts[1]]; ok {
			k = parts[0] + " key:" + l
		}
		state = append(state, k+"="+v)
	}
	all, err := j.List(ctx, journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range all {
		if en.Kind == journal.KindNotify {
			continue
		}
		entries = append(entries, fmt.Sprintf("%s %s %s %s", en.Kind, en.Principal, label[en.Resource], en.Status))
	}
	sort.Strings(state)
	sort.Strings(entries)
	return state, entries, stats
}

// Under throttling, 500s, latency and dropped connections (before and after moto acted), the
// account and the journal end exactly as without faults: no action twice, none skipped or
// taken wrongly.
func TestEnforceUnderFaults(t *testing.T) {
	wantState, wantJournal, _ := enforced(t, nil)
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			state, entries, stats := enforced(t, &faultproxy.Options{Seed: seed, Throttle: 0.15, ServerError: 0.1,
				DropBefore: 0.05, DropAfter: 0.05, Latency: 0.1, MaxFaultsPerRequestKey: 2})
			if strings.Join(state, "\n") != strings.Join(wantState, "\n") {
				t.Errorf("state under faults:\n%s\nwant:\n%s", strings.Join(state, "\n"), strings.Join(wantState, "\n"))
			}
			if strings.Join(entries, "\n") != strings.Join(wantJournal, "\n") {
				t.Errorf("journal under faults:\n%s\nwant:\n%s", strings.Join(entries, "\n"), strings.Join(wantJournal, "\n"))
			}
			t.Logf("faults injected: %s", stats)
		})
	}
	// The nastiest case, forced: every change is made by moto but its answer is lost, so the
	// client retries a change that already happened.
	t.Run("every answer to a change lost", func(t *testing.T) {
		state, entries, stats := enforced(t, &faultproxy.Options{Seed: 9, DropAfter: 1, Match: faultproxy.Mutating, MaxFaultsPerRequestKey: 1})
		if strings.Join(state, "\n") != strings.Join(wantState, "\n") || strings.Join(entries, "\n") != strings.Join(wantJournal, "\n") {
			t.Errorf("state %v journal %v, want %v %v", state, entries, wantState, wantJournal)
		}
		if !strings.Contains(stats, "DroppedAfter:4") {
			t.Errorf("not every change had its answer dropped: %s", stats)
		}
	})
	if len(wantJournal) != 4 {
		t.Errorf("fault-free journal: %v", wantJournal)
	}
}
