package warden_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/warden"
)

const day = 24 * time.Hour

// newWarden builds the use cases over a fresh moto account, a SQLite journal and a clock the
// test moves.
func newWarden(t *testing.T, now *time.Time) (*warden.Warden, *mototest.Server, *iam.Client) {
	t.Helper()
	srv := mototest.Shared(t)
	cfg := srv.Config(context.Background())
	s, err := warden.Resolve(config.Default(), "", warden.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	j, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	w := &warden.Warden{Clients: warden.Connect(cfg), Settings: s, Journal: j, Now: func() time.Time { return *now }}
	return w, srv, iam.NewFromConfig(cfg)
}

func consoleUser(t *testing.T, srv *mototest.Server, c *iam.Client, name string, setAt time.Time) {
	t.Helper()
	srv.ConsoleUser(c, name, setAt)
}

func hasProfile(t *testing.T, c *iam.Client, name string) bool {
	t.Helper()
	_, err := c.GetLoginProfile(context.Background(), &iam.GetLoginProfileInput{UserName: aws.String(name)})
	return err == nil
}

func TestJudgeUserReadsLiveAndGivesTheDeadline(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	w, srv, c := newWarden(t, &now)
	consoleUser(t, srv, c, "alice", now.Add(-time.Hour))

	j, err := w.JudgeUser(context.Background(), "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	f, ok := j.ConsoleDeadline()
	if !ok {
		t.Fatalf("no pending console-mfa-missing finding: %+v", j.Findings)
	}
	if want := now.Add(-time.Hour).Add(w.Settings.Thresholds.ConsoleMFAGrace); !f.Deadline.Equal(want) {
		t.Errorf("deadline %s, want %s", f.Deadline, want)
	}
	if j.UserID == "" || j.AccountID != srv.AccountID {
		t.Errorf("judgment names user ID %q in account %q, want an ID in %s", j.UserID, j.AccountID, srv.AccountID)
	}
	if len(j.NotJudged) != 1 || j.NotJudged[0] != "mfa-not-enforced" {
		t.Errorf("not judged %v, want [mfa-not-enforced]", j.NotJudged)
	}

	srv.EnableVirtualMFA(c, "alice", "alice-phone")
	j, err = w.JudgeUser(context.Background(), "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := j.ConsoleDeadline(); ok || len(j.Findings) != 0 {
		t.Errorf("after MFA registration: findings %+v, want none", j.Findings)
	}
}

func TestJudgeUserTellsGoneAndReplacedUsers(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	w, srv, c := newWarden(t, &now)
	consoleUser(t, srv, c, "bob", now.Add(-30*day))
	first, err := w.JudgeUser(context.Background(), "bob", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteLoginProfile(context.Background(), &iam.DeleteLoginProfileInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteUser(context.Background(), &iam.DeleteUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	j, err := w.JudgeUser(context.Background(), "bob", first.UserID)
	if err != nil || !j.Gone {
		t.Fatalf("deleted user: %+v, %v; want Gone", j, err)
	}
	consoleUser(t, srv, c, "bob", now.Add(-30*day))
	j, err = w.JudgeUser(context.Background(), "bob", first.UserID)
	if err != nil || !j.Replaced || len(j.Findings) != 0 {
		t.Fatalf("recreated user asked by the old ID: %+v, %v; want Replaced without findings", j, err)
	}
}

func TestEnforceUserActsOnceAfterTheDeadline(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	w, srv, c := newWarden(t, &now)
	consoleUser(t, srv, c, "carol", now.Add(-time.Hour))
	j, err := w.JudgeUser(context.Background(), "carol", "")
	if err != nil {
		t.Fatal(err)
	}

	// Inside the grace period nothing is planned.
	res, err := w.EnforceUser(context.Background(), "carol", j.UserID, warden.EnforceOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan.Changes() != 0 || !hasProfile(t, c, "carol") {
		t.Fatalf("inside the grace period: %d changes planned, profile kept %v", res.Plan.Changes(), hasProfile(t, c, "carol"))
	}

	now = now.Add(w.Settings.Thresholds.ConsoleMFAGrace + time.Minute)
	dry, err := w.EnforceUser(context.Background(), "carol", j.UserID, warden.EnforceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Outcome.Count(remediate.StatusWouldDo) != 1 || !hasProfile(t, c, "carol") {
		t.Fatalf("dry run: %+v; want one would-do and the profile kept", dry.Outcome.Results)
	}
	res, err = w.EnforceUser(context.Background(), "carol", j.UserID, warden.EnforceOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome.Count(remediate.StatusDone) != 1 || hasProfile(t, c, "carol") {
		t.Fatalf("past the deadline: %+v; want console access disabled", res.Outcome.Results)
	}
	again, err := w.EnforceUser(context.Background(), "carol", j.UserID, warden.EnforceOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.Outcome.Changed() {
		t.Fatalf("second delivery changed something: %+v", again.Outcome.Results)
	}
	entries, err := w.Journal.List(context.Background(), journalFilter(srv.AccountID))
	if err != nil {
		t.Fatal(err)
	}
	if n := countKind(entries, "disable-console"); n != 1 {
		t.Errorf("journal holds %d disable-console entries, want 1", n)
	}
}

func TestEnforceUserNeedsAJournal(t *testing.T) {
	now := time.Now().UTC()
	w, _, _ := newWarden(t, &now)
	w.Journal = nil
	if _, err := w.EnforceUser(context.Background(), "anyone", "", warden.EnforceOptions{Apply: true}); err == nil {
		t.Fatal("EnforceUser without a journal succeeded")
	}
}

func TestAuditAndJudgeUserAgree(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	w, srv, c := newWarden(t, &now)
	consoleUser(t, srv, c, "dave", now.Add(-40*day))
	res, err := w.Audit(context.Background(), warden.AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	j, err := w.JudgeUser(context.Background(), "dave", "")
	if err != nil {
		t.Fatal(err)
	}
	audit := map[string]rules.State{}
	for _, f := range res.Findings {
		if f.Principal == "dave" && f.Rule != "mfa-not-enforced" {
			audit[f.Rule] = f.State
		}
	}
	judged := map[string]rules.State{}
	for _, f := range j.Findings {
		judged[f.Rule] = f.State
	}
	if len(audit) == 0 || len(audit) != len(judged) {
		t.Fatalf("audit found %v, one-user judgment %v", audit, judged)
	}
	for r, s := range audit {
		if judged[r] != s {
			t.Errorf("%s: audit says %s, one-user judgment %s", r, s, judged[r])
		}
	}
}
