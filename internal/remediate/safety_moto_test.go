package remediate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo/dynamotest"
	"github.com/iamwarden/iamwarden/internal/notify"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// noLease is a journal whose lease always succeeds: runs that bypass the lease, as two
// deployments with separate lease settings, or a clock far off, would.
type noLease struct{ journal.Journal }

func (noLease) Acquire(context.Context, journal.Lease, time.Time) error { return nil }
func (noLease) Renew(context.Context, journal.Lease, time.Time) error   { return nil }
func (noLease) Release(context.Context, string, string) error           { return nil }

// appliedChanges lists the journal's applied changes, each with the number of entries.
func appliedChanges(t *testing.T, j journal.Journal) map[string]int {
	t.Helper()
	entries, err := j.List(context.Background(), journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range entries {
		if e.Kind != journal.KindNotify && e.Status.Applied() {
			out[e.Principal+" "+string(e.Kind)+" "+e.Resource]++
		}
	}
	return out
}

// runAtOnce applies p from one executor per journal handle, all started together.
func runAtOnce(a *account, p remediate.Plan, handles []journal.Journal, lockTimeout time.Duration) ([]*remediate.Outcome, []error) {
	outs := make([]*remediate.Outcome, len(handles))
	errs := make([]error, len(handles))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, j := range handles {
		wg.Go(func() {
			e := a.executor(j, false)
			e.Notifier, e.LockTimeout = nil, lockTimeout
			<-start
			outs[i], errs[i] = e.Run(context.Background(), p)
		})
	}
	close(start)
	wg.Wait()
	return outs, errs
}

// racingRuns applies the same plan from n executors at once, each with its own journal
// handle, and checks every change was made and journaled exactly once, then undoes every run.
func racingRuns(t *testing.T, a *account, handles []journal.Journal) {
	t.Helper()
	ctx := context.Background()
	p := a.plan()
	before := a.state()
	outs, errs := runAtOnce(a, p, handles, 0)
	done := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		done += outs[i].Count(remediate.StatusDone)
		if n := outs[i].Count(remediate.StatusFailed); n > 0 {
			t.Errorf("run %d: %d failed: %+v", i, n, outs[i].Results)
		}
	}
	changes := appliedChanges(t, handles[0])
	if want := len(p.Actions) - 1; done != want || len(changes) != want { // all but the caller
		t.Errorf("%d done over all runs, journal %v; want the %d changes once each", done, changes, want)
	}
	for c, n := range changes {
		if n != 1 {
			t.Errorf("%s journaled %d times", c, n)
		}
	}
	for _, o := range outs {
		if o.Changed() {
			rep, err := a.executor(handles[0], false).UndoRun(ctx, o.RunID)
			if err != nil || rep.Failed() {
				t.Errorf("undo %s: %+v, %v", o.RunID, rep, err)
			}
		}
	}
	if d := diff(t, before, a.state()); len(d) != 0 {
		t.Errorf("after undoing every run: %v", d)
	}
}

// Runs that bypass the lease, on one SQLite file through separate handles, still journal each
// change once: the change key names what is changed, not the run.
func TestRacingRunsWithoutLeaseSQLite(t *testing.T) {
	a := newAccount(t)
	path := t.TempDir() + "/journal.db"
	var handles []journal.Journal
	for range 4 {
		handles = append(handles, noLease{openJournalAt(t, path)})
	}
	racingRuns(t, a, handles)
}

func dynamoHandles(t *testing.T, a *account, n int, wrap func(journal.Journal) journal.Journal) []journal.Journal {
	t.Helper()
	const table = "iamwarden-journal"
	if _, err := dynamo.CreateTable(context.Background(), dynamodb.NewFromConfig(a.cfg), table); err != nil {
		t.Fatal(err)
	}
	mu := &sync.Mutex{}
	var out []journal.Journal
	for range n {
		j, err := dynamo.New(dynamotest.Serial{Mu: mu, Client: dynamodb.NewFromConfig(a.cfg)}, table)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, wrap(j))
	}
	return out
}

// Several clients at once on one DynamoDB table, holding the lease: one run acts, the others
// find the account leased or, after it, nothing left to do.
func TestRacingRunsDynamoDB(t *testing.T) {
	a := newAccount(t)
	handles := dynamoHandles(t, a, 4, func(j journal.Journal) journal.Journal { return j })
	ctx := context.Background()
	p := a.plan()
	before := a.state()
	outs, errs := runAtOnce(a, p, handles, time.Minute)
	done := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		done += outs[i].Count(remediate.StatusDone)
	}
	if changes := appliedChanges(t, handles[0]); done != len(p.Actions)-1 || len(changes) != len(p.Actions)-1 {
		t.Errorf("%d done, journal %v; want %d changes once each", done, changes, len(p.Actions)-1)
	}
	for _, o := range outs {
		if o.Changed() {
			if rep, err := a.executor(handles[1], false).UndoRun(ctx, o.RunID); err != nil || rep.Failed() {
				t.Errorf("undo: %+v %v", rep, err)
			}
		}
	}
	if d := diff(t, before, a.state()); len(d) != 0 {
		t.Errorf("after undo: %v", d)
	}
}

// The same on DynamoDB without the lease: the change keys alone keep each change single.
func TestRacingRunsWithoutLeaseDynamoDB(t *testing.T) {
	a := newAccount(t)
	racingRuns(t, a, dynamoHandles(t, a, 4, func(j journal.Journal) journal.Journal { return noLease{j} }))
}

// A user deleted and created again under the same name is another person: undo refuses and
// gives them nothing.
func TestUndoRefusesReplacedUser(t *testing.T) {
	a := newAccount(t)
	ctx := context.Background()
	j := openJournal(t)
	out, err := a.executor(j, false).Run(ctx, a.plan())
	if err != nil {
		t.Fatal(err)
	}
	var entry journal.Entry
	for _, e := range appliedEntries(t, j, out.RunID) {
		if e.Principal == "pastgrace" {
			entry = e
		}
	}
	if entry.UserID == "" {
		t.Fatalf("entry without the user's ID: %+v", entry)
	}
	a.ok(a.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("pastgrace")}))
	created, err := a.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("pastgrace")})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.executor(j, false).Undo(ctx, entry.ActionID)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("user pastgrace was replaced since (%s → %s); nothing was changed", entry.UserID, aws.ToString(created.User.UserId))
	if len(rep.Results) != 1 || rep.Results[0].Status != remediate.StatusRefused || rep.Results[0].Detail != want || !rep.Failed() {
		t.Fatalf("undo: %+v, want refused: %s", rep.Results[0], want)
	}
	if _, err := a.iam.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("pastgrace")}); err == nil {
		t.Fatal("the new pastgrace got a console password")
	}
	if undos, _ := j.List(ctx, journal.Filter{Kinds: []journal.Kind{journal.KindRestoreConsole}}); len(undos) != 0 {
		t.Errorf("refused undo journaled %+v", undos)
	}
}

func appliedEntries(t *testing.T, j journal.Journal, run string) []journal.Entry {
	t.Helper()
	es, err := j.List(context.Background(), journal.Filter{RunID: run, Statuses: []journal.Status{journal.StatusDone}})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// undo --run attempts every entry: a key deleted since and a login profile an administrator
// recreated are skipped and said so, the rest restored; a rerun changes nothing; an undo
// interrupted mid-way is settled by the next undo.
func TestUndoRunResumable(t *testing.T) {
	a := newAccount(t)
	ctx := context.Background()
	j := openJournal(t)
	out, err := a.executor(j, false).Run(ctx, a.plan())
	if err != nil || out.Count(remediate.StatusDone) != 7 {
		t.Fatalf("enforce: %+v %v", out, err)
	}
	// lapsed's key is deleted; dormant's console access is recreated by an administrator.
	a.ok(a.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("lapsed"), AccessKeyId: aws.String(a.keys["lapsed"])}))
	a.ok(a.iam.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("dormant"), Password: aws.String("Admin-Set-Password-123!")}))
	// An earlier undo of pastgrace was interrupted after its intent (the profile was recreated).
	var pastgrace journal.Entry
	for _, e := range appliedEntries(t, j, out.RunID) {
		if e.Principal == "pastgrace" {
			pastgrace = e
		}
	}
	ids := journal.NewIDGenerator(time.Now, nil)
	crashID, _ := ids.New()
	if err := j.Begin(ctx, journal.Entry{ActionID: crashID, RunID: "crashed-undo", AccountID: a.srv.AccountID, Kind: journal.KindRestoreConsole,
		Principal: "pastgrace", UserID: pastgrace.UserID, UndoOf: pastgrace.ActionID, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	a.ok(a.iam.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("pastgrace"), Password: aws.String("Interrupted-Undo-123!"), PasswordResetRequired: true}))

	rep, err := a.executor(j, false).UndoRun(ctx, out.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Reconciled) != 1 || rep.Reconciled[0].ActionID != crashID || rep.Reconciled[0].Status != journal.StatusReconciledDone {
		t.Errorf("reconciled %+v", rep.Reconciled)
	}
	got := map[string]string{}
	for _, u := range rep.Results {
		got[u.Of.Principal] = string(u.Status) + ": " + u.Detail
	}
	want := map[string]string{
		"pastgrace": "skipped: already undone by " + crashID,
		"dormant":   "skipped: already restored (login profile present)",
		"lapsed":    "skipped: access key " + rules.MaskKeyID(a.keys["lapsed"]) + " no longer exists; nothing to restore",
		"twokeys":   "done: access key " + rules.MaskKeyID(a.keys["stale"]) + " reactivated",
	}
	for u, w := range want {
		if !strings.HasPrefix(got[u], w) {
			t.Errorf("%s: %q, want %q", u, got[u], w)
		}
	}
	if len(got) != 7 || rep.Failed() {
		t.Errorf("results %v", got)
	}
	again, err := a.executor(j, false).UndoRun(ctx, out.RunID)
	if err != nil || again.Failed() || again.Count(remediate.StatusDone) != 0 || len(again.Results) != 7 {
		t.Errorf("second undo --run: %+v %v", again, err)
	}
}

// flaky fails its first n deliveries.
type flaky struct {
	mu        sync.Mutex
	failFirst int
	sent      []notify.Event
}

func (f *flaky) Publish(_ context.Context, _ string, ev notify.Event) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failFirst > 0 {
		f.failFirst--
		return "", errors.New("sns: Throttling: rate exceeded")
	}
	if ev.Kind != notify.KindRunSummary {
		f.sent = append(f.sent, ev)
	}
	return "m", nil
}

// A grace warning whose delivery failed is sent by the next run, once; a warning that keeps
// failing is given up after MaxNotifyAttempts runs.
func TestGraceWarningRetried(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	deadline := now.Add(20 * time.Hour)
	p := remediate.Plan{AccountID: "123456789012", Pending: []rules.Finding{{ID: "123456789012/console-mfa-missing/newbie",
		Rule: "console-mfa-missing", State: rules.StatePending, Deadline: &deadline, Principal: "newbie"}}}
	run := func(j journal.Journal, n notify.Notifier) string {
		t.Helper()
		e := &remediate.Executor{Journal: j, Notifier: n, Topic: "arn:aws:sns:us-east-1:123456789012:t", MaxActions: 25,
			Now: func() time.Time { return now }, IDs: journal.NewIDGenerator(time.Now, nil)}
		out, err := e.Run(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, w := range out.Warnings {
			s = append(s, w.Status)
		}
		return strings.Join(s, ",")
	}
	j := openJournal(t)
	n := &flaky{failFirst: 1}
	for i, want := range []string{"failed", "sent", ""} {
		if got := run(j, n); got != want {
			t.Errorf("run %d: warnings %q, want %q", i, got, want)
		}
	}
	if len(n.sent) != 1 || n.sent[0].Principal != "newbie" {
		t.Errorf("delivered %+v, want one warning", n.sent)
	}
	j2 := openJournal(t)
	always := &flaky{failFirst: 1 << 30}
	var got []string
	for range remediate.MaxNotifyAttempts + 2 {
		got = append(got, run(j2, always))
	}
	want := strings.Repeat("failed,", remediate.MaxNotifyAttempts) + "given-up,given-up"
	if strings.Join(got, ",") != want {
		t.Errorf("warnings %v, want %s", got, want)
	}
}

// An intent whose run still holds the account's lease is in flight, not interrupted: another
// run's reconciliation leaves it alone, and settles it once the lease has lapsed.
func TestReconcileLeavesLiveRunsAlone(t *testing.T) {
	a := newAccount(t)
	ctx := context.Background()
	j := openJournal(t)
	now := time.Now()
	live := journal.Lease{AccountID: a.srv.AccountID, RunID: "run-slow", Actor: "arn:aws:iam::" + a.srv.AccountID + ":user/ops",
		Host: "h", PID: 1, Acquired: now, Expires: now.Add(time.Minute)}
	if err := j.Acquire(ctx, live, now); err != nil {
		t.Fatal(err)
	}
	id, _ := journal.NewIDGenerator(time.Now, nil).New()
	if err := j.Begin(ctx, journal.Entry{ActionID: id, RunID: "run-slow", AccountID: a.srv.AccountID, Kind: journal.KindDisableConsole,
		Principal: "pastgrace", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	e := a.executor(j, false)
	if got, err := e.Reconcile(ctx, a.srv.AccountID); err != nil || len(got) != 0 {
		t.Fatalf("reconciled a live run's intent: %+v %v", got, err)
	}
	// A second run cannot even start while the lease is held.
	if _, err := e.Run(ctx, a.plan()); !errors.Is(err, journal.ErrLeased) {
		t.Fatalf("run beside a live lease: %v, want ErrLeased", err)
	}
	e.Now = func() time.Time { return now.Add(2 * time.Minute) }
	got, err := e.Reconcile(ctx, a.srv.AccountID)
	if err != nil || len(got) != 1 || got[0].Status != journal.StatusReconciledNotDone {
		t.Fatalf("after the lease lapsed: %+v %v", got, err)
	}
}
