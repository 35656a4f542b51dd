package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
)

// Environment of a child process started by TestConcurrentEnforceProcesses.
const (
	childEndpointEnv = "IAMWARDEN_CLI_CHILD_ENDPOINT"
	childAccountEnv  = "IAMWARDEN_CLI_CHILD_ACCOUNT"
	childArgsEnv     = "IAMWARDEN_CLI_CHILD_ARGS"
	// childBlockEnv names an IAM action the child blocks on forever, after printing blockedLine.
	childBlockEnv = "IAMWARDEN_CLI_CHILD_BLOCK"
	blockedLine   = "BLOCKED"
)

// runChild is the body of a child process: the CLI against the parent's moto account.
func runChild() {
	srv := &mototest.Server{Endpoint: os.Getenv(childEndpointEnv), AccountID: os.Getenv(childAccountEnv)}
	block := os.Getenv(childBlockEnv)
	env := cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: func(string) string { return "" }, Now: time.Now,
		AWSConfig: func(ctx context.Context, _, _ string) (aws.Config, error) {
			cfg := srv.Config(ctx)
			if block != "" {
				next := cfg.HTTPClient.(*http.Client).Transport
				cfg.HTTPClient = &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
					body, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(body))
					if form, _ := url.ParseQuery(string(body)); form.Get("Action") == block {
						fmt.Println(blockedLine)
						select {} // until killed
					}
					return next.RoundTrip(r)
				})}
			}
			return cfg, nil
		}}
	os.Exit(cli.Run(context.Background(), strings.Split(os.Getenv(childArgsEnv), "\x1f"), env))
}

func childCmd(t *testing.T, test string, s *scenario, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), childEndpointEnv+"="+s.srv.Endpoint, childAccountEnv+"="+s.srv.AccountID,
		childArgsEnv+"="+strings.Join(args, "\x1f"))
	return cmd
}

// kill -9 in the middle of enforce --apply leaves exactly one open intent; the next run takes
// over the dead run's lease at once, reconciles the intent from live state and finishes the job.
func TestEnforceKilledMidApply(t *testing.T) {
	if os.Getenv(childEndpointEnv) != "" {
		runChild()
	}
	s := newScenario(t)
	db := filepath.Join(t.TempDir(), "journal.db")
	cmd := childCmd(t, "TestEnforceKilledMidApply", s, "enforce", "--apply", "--yes", "--journal", db, "-o", "json")
	cmd.Env = append(cmd.Env, childBlockEnv+"=DeleteLoginProfile")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != blockedLine {
		cmd.Process.Kill()
		t.Fatalf("child did not reach DeleteLoginProfile: %q %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	j, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	open, err := j.Open(context.Background(), s.srv.AccountID)
	j.Close()
	if err != nil || len(open) != 1 || open[0].Kind != journal.KindDisableConsole {
		t.Fatalf("open intents after kill -9: %+v %v", open, err)
	}
	code, out, stderr := run(t, s.env(nil), "enforce", "--apply", "--yes", "--journal", db, "-o", "json")
	var rep enforceOut
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("next run: exit %d %v\n%s\n%s", code, err, out, stderr)
	}
	if len(rep.Outcome.Reconciled) != 1 || rep.Outcome.Reconciled[0].ActionID != open[0].ActionID ||
		rep.Outcome.Reconciled[0].Status != journal.StatusReconciledNotDone {
		t.Errorf("reconciled %+v", rep.Outcome.Reconciled)
	}
	if rep.Outcome.Count(remediate.StatusDone) != 5 {
		t.Errorf("next run: %+v", rep.Outcome.Results)
	}
}

// Several enforce --apply processes started together on one account and one SQLite journal:
// the lease serialises them, every change is made and journaled exactly once, and undoing
// every run restores the exact starting state.
func TestConcurrentEnforceProcesses(t *testing.T) {
	if os.Getenv(childEndpointEnv) != "" {
		runChild()
	}
	s := newScenario(t)
	db := filepath.Join(t.TempDir(), "journal.db")
	before := consoleAndKeys(t, s)
	const children = 4
	outs := make([]bytes.Buffer, children)
	codes := make([]int, children)
	var wg sync.WaitGroup
	for i := range children {
		wg.Go(func() {
			cmd := childCmd(t, "TestConcurrentEnforceProcesses", s, "enforce", "--apply", "--yes", "--lock-timeout", "2m", "--journal", db, "-o", "json")
			cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
			_ = cmd.Run()
			codes[i] = cmd.ProcessState.ExitCode()
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != 0 {
			t.Errorf("child %d exited %d:\n%s", i, code, outs[i].String())
		}
	}
	j, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := j.List(context.Background(), journal.Filter{})
	j.Close()
	if err != nil {
		t.Fatal(err)
	}
	done := map[string]int{}
	runs := map[string]bool{}
	for _, e := range entries {
		if e.Kind == journal.KindNotify {
			continue
		}
		if e.Status != journal.StatusDone {
			t.Errorf("entry %s %s %s: %s (%s)", e.Kind, e.Principal, e.Resource, e.Status, e.Detail)
		}
		if e.UserID == "" {
			t.Errorf("entry %s without the user's ID", e.ActionID)
		}
		done[e.Principal+" "+string(e.Kind)+" "+e.Resource]++
		runs[e.RunID] = true
	}
	if len(done) != 5 {
		t.Errorf("changes %v, want the 5 planned ones", done)
	}
	for change, n := range done {
		if n != 1 {
			t.Errorf("%s journaled %d times", change, n)
		}
	}
	for id := range runs {
		if code, out, stderr := run(t, s.env(nil), "undo", "--run", id, "--journal", db, "-o", "json"); code != 0 {
			t.Errorf("undo --run %s: exit %d %s %s", id, code, out, stderr)
		}
	}
	if after := consoleAndKeys(t, s); !equal(before, after) {
		t.Errorf("after undoing every run:\n%v\nwant\n%v", after, before)
	}
}

// A second run while one holds the account's lease stops at once (--lock-timeout 0), names the
// holder and changes nothing; journal unlock breaks the lease of a holder that is gone.
func TestEnforceLeaseHeld(t *testing.T) {
	s := newScenario(t)
	db := filepath.Join(t.TempDir(), "journal.db")
	before := consoleAndKeys(t, s)
	j, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	held := journal.Lease{AccountID: s.srv.AccountID, RunID: "01DEADRUN0000000000000000", Actor: "arn:aws:iam::" + s.srv.AccountID + ":user/ops",
		Host: "bastion-1", PID: 99999, Acquired: now, Expires: now.Add(time.Hour)}
	if err := j.Acquire(context.Background(), held, now); err != nil {
		t.Fatal(err)
	}
	j.Close()

	code, out, stderr := run(t, s.env(nil), "enforce", "--apply", "--yes", "--journal", db, "-o", "table")
	if code != report.ExitError || !strings.Contains(stderr, "run 01DEADRUN0000000000000000") || !strings.Contains(stderr, "bastion-1") ||
		!strings.Contains(stderr, "journal unlock "+s.srv.AccountID) {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, stderr)
	}
	if strings.Contains(out, "APPLIED") || strings.Contains(out, "undo with") {
		t.Errorf("a run that changed nothing claims it did:\n%s", out)
	}
	if after := consoleAndKeys(t, s); !equal(before, after) {
		t.Fatal("a refused run changed the account")
	}
	// Without a terminal, unlock needs --yes.
	if code, _, stderr := run(t, s.env(nil), "journal", "unlock", s.srv.AccountID, "--journal", db); code != report.ExitError || !strings.Contains(stderr, "--yes") {
		t.Fatalf("unlock without confirmation: exit %d %s", code, stderr)
	}
	code, out, stderr = run(t, s.env(nil), "journal", "unlock", s.srv.AccountID, "--journal", db, "--yes")
	if code != 0 || !strings.Contains(stderr, "bastion-1, pid 99999") || !strings.Contains(out, "broken") {
		t.Fatalf("unlock: exit %d %s %s", code, out, stderr)
	}
	if code, out, stderr := run(t, s.env(nil), "enforce", "--apply", "--yes", "--journal", db, "-o", "table"); code != 0 || !strings.Contains(out, "APPLIED") {
		t.Fatalf("run after unlock: exit %d\n%s\n%s", code, out, stderr)
	}
}

// A plan over the blast-radius limit is shown, and says nothing changed, in a dry run and with
// --apply; neither claims to have applied anything.
func TestEnforceRefusedPlanShown(t *testing.T) {
	s := newScenario(t)
	db := filepath.Join(t.TempDir(), "journal.db")
	for _, apply := range []bool{false, true} {
		args := []string{"enforce", "--max-actions", "2", "--journal", db, "-o", "table"}
		if apply {
			args = append(args, "--apply", "--yes")
		}
		code, out, stderr := run(t, s.env(nil), args...)
		if code != report.ExitError {
			t.Errorf("apply=%v: exit %d, want %d", apply, code, report.ExitError)
		}
		if !strings.Contains(out, "REFUSED (nothing changed)") || strings.Contains(out, "No actions.") ||
			strings.Contains(out, "APPLIED") || strings.Contains(out, "undo with") || strings.Count(out, "planned ") != 5 {
			t.Errorf("apply=%v output:\n%s\n%s", apply, out, stderr)
		}
	}
}

// One action AWS refuses is journaled as failed; the run goes on with the others and exits 4.
func TestEnforceOneActionFails(t *testing.T) {
	s := newScenario(t)
	db := filepath.Join(t.TempDir(), "journal.db")
	deny := func(next http.RoundTripper) http.RoundTripper {
		return failing("DeleteLoginProfile", "AccessDenied", 403)(next)
	}
	code, out, stderr := run(t, s.env(deny), "enforce", "--apply", "--yes", "--journal", db, "-o", "json")
	if code != 4 {
		t.Fatalf("exit %d, want 4\n%s\n%s", code, out, stderr)
	}
	var rep enforceOut
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Outcome.Count(remediate.StatusFailed) != 3 || rep.Outcome.Count(remediate.StatusDone) != 2 || rep.Outcome.Stopped != "" {
		t.Errorf("outcome %+v", rep.Outcome)
	}
	j, _ := sqlite.Open(context.Background(), db)
	defer j.Close()
	failed, _ := j.List(context.Background(), journal.Filter{Statuses: []journal.Status{journal.StatusFailed}})
	if len(failed) != 3 || !strings.Contains(failed[0].Detail, "AccessDenied") {
		t.Errorf("failed entries %+v", failed)
	}
	// The failed changes released their keys: the next run, with the permission, makes them.
	code, out, _ = run(t, s.env(nil), "enforce", "--apply", "--yes", "--journal", db, "-o", "json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.Outcome.Count(remediate.StatusDone) != 3 {
		t.Errorf("retry: exit %d %+v", code, rep.Outcome)
	}
}

// A DynamoDB journal table that does not exist is found in the dry run, with the command that
// creates it; journal init creates it once and is idempotent.
func TestEnforceMissingJournalTable(t *testing.T) {
	s := newScenario(t)
	code, out, stderr := run(t, s.env(nil), "enforce", "--journal-table", "iamwarden-journal", "-o", "table")
	if code != report.ExitError || !strings.Contains(stderr, "does not exist") || !strings.Contains(stderr, "journal init") {
		t.Fatalf("dry run with a missing table: exit %d\n%s\n%s", code, out, stderr)
	}
	for i, want := range []string{"created", "exists"} {
		code, out, stderr := run(t, s.env(nil), "journal", "init", "--journal-table", "iamwarden-journal")
		if code != 0 || !strings.Contains(out, "iamwarden-journal "+want) {
			t.Fatalf("init %d: exit %d %s %s", i, code, out, stderr)
		}
	}
	code, out, stderr = run(t, s.env(nil), "enforce", "--journal-table", "iamwarden-journal", "--apply", "--yes", "-o", "table")
	if code != 0 || !strings.Contains(out, "APPLIED") {
		t.Fatalf("apply with the table: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, _ = run(t, s.env(nil), "journal", "list", "--journal-table", "iamwarden-journal", "-o", "json")
	var entries []journal.Entry
	if err := json.Unmarshal([]byte(out), &entries); err != nil || code != 0 || len(entries) == 0 {
		t.Errorf("journal list: exit %d %v %s", code, err, out)
	}
}

// undo with credentials of another account refuses, naming both accounts, and changes neither
// account nor the journal; the right credentials then undo it.
func TestUndoOtherAccountRefused(t *testing.T) {
	s := newScenario(t)
	db := filepath.Join(t.TempDir(), "journal.db")
	if code, out, stderr := run(t, s.env(nil), "enforce", "--apply", "--yes", "--journal", db, "-o", "json"); code != 0 {
		t.Fatalf("apply: %d %s %s", code, out, stderr)
	}
	j, _ := sqlite.Open(context.Background(), db)
	done, _ := j.List(context.Background(), journal.Filter{Principal: "alice", Kinds: []journal.Kind{journal.KindDisableConsole}})
	j.Close()
	if len(done) != 1 {
		t.Fatalf("alice entries %+v", done)
	}
	// Another account with a user of the same name and no console access.
	other := &mototest.Server{Endpoint: s.srv.Endpoint, AccountID: fmt.Sprintf("9%011d", time.Now().UnixNano()%1e11)}
	oc := iam.NewFromConfig(other.Config(context.Background()))
	if _, err := oc.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	otherEnv := cli.Env{Now: time.Now, AWSConfig: func(ctx context.Context, _, _ string) (aws.Config, error) { return other.Config(ctx), nil }}
	code, out, stderr := run(t, otherEnv, "undo", done[0].ActionID, "--journal", db, "-o", "json")
	if code != report.ExitError || !strings.Contains(stderr, s.srv.AccountID) || !strings.Contains(stderr, other.AccountID) || !strings.Contains(stderr, "--profile") {
		t.Fatalf("undo from another account: exit %d %s %s", code, out, stderr)
	}
	if _, err := oc.GetLoginProfile(context.Background(), &iam.GetLoginProfileInput{UserName: aws.String("alice")}); err == nil {
		t.Fatal("undo gave the other account's alice a console password")
	}
	code, out, stderr = run(t, s.env(nil), "undo", done[0].ActionID, "--journal", db, "-o", "json")
	if code != 0 || !strings.Contains(out, `"status": "done"`) {
		t.Fatalf("undo with the right account: exit %d %s %s", code, out, stderr)
	}
}

// undo of a user replaced since is refused with exit 4 and gives the new person nothing; a
// table written to a pipe never shows a one-time password.
func TestUndoCommandRefusesAndHidesPasswords(t *testing.T) {
	s := newScenario(t)
	db := filepath.Join(t.TempDir(), "journal.db")
	code, out, stderr := run(t, s.env(nil), "enforce", "--apply", "--yes", "--journal", db, "-o", "json")
	if code != 0 {
		t.Fatalf("apply: %d %s %s", code, out, stderr)
	}
	var rep enforceOut
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	c := iam.NewFromConfig(s.cfg)
	ctx := context.Background()
	if _, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = run(t, s.env(nil), "undo", "--run", rep.Outcome.RunID, "--journal", db, "-o", "table")
	if code != 4 {
		t.Fatalf("undo exit %d, want 4\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "refused") || !strings.Contains(out, "user alice was replaced since") ||
		!strings.Contains(out, "not shown: stdout is not a terminal") || strings.Contains(out, "password for carol:") {
		t.Errorf("undo table:\n%s", out)
	}
	if _, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("alice")}); err == nil {
		t.Error("the new alice got console access")
	}
	// Everything else was restored; running it again changes nothing and still reports alice.
	code, out, _ = run(t, s.env(nil), "undo", "--run", rep.Outcome.RunID, "--journal", db, "-o", "json")
	if code != 4 || strings.Count(out, `"status": "skipped"`) != 4 || strings.Count(out, `"status": "refused"`) != 1 {
		t.Errorf("second undo: exit %d\n%s", code, out)
	}
}
