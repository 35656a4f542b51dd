package cli_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
)

// A live scan is recorded with the caller as its actor; after the user registers MFA, the next
// recorded scan resolves the finding.
func TestScanRecordLive(t *testing.T) {
	ctx := context.Background()
	srv := mototest.Shared(t)
	cfg := srv.Config(ctx)
	c := iam.NewFromConfig(cfg)
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	srv.BackdateUser("alice", now.Add(-400*day))
	srv.SetPassword("alice", now.Add(-30*day), now.Add(-day))
	env := func(at time.Time) cli.Env {
		return cli.Env{Now: func() time.Time { return at },
			AWSConfig: func(context.Context, string, string) (aws.Config, error) { return cfg, nil }}
	}
	jf := filepath.Join(t.TempDir(), "journal.db")
	scan := func(at time.Time) {
		t.Helper()
		code, out, stderr := run(t, env(at), "scan", "--record", "--journal", jf, "-o", "json", "--rule", "console-mfa-missing")
		if code > 1 || !strings.Contains(stderr, "recorded ") {
			t.Fatalf("scan --record: exit %d: %s", code, stderr)
		}
		if decode(t, out).AccountID != srv.AccountID {
			t.Fatalf("scan of another account: %s", out)
		}
	}
	scan(now)
	srv.EnableVirtualMFA(c, "alice", "alice-phone")
	scan(now.Add(time.Minute))

	code, out, stderr := run(t, env(now), "history", "--journal", jf, "-o", "json")
	if code != 0 {
		t.Fatalf("history: exit %d: %s", code, stderr)
	}
	var metas []history.Meta
	if err := json.Unmarshal([]byte(out), &metas); err != nil {
		t.Fatal(err)
	}
	if len(metas) != 2 || metas[0].AccountID != srv.AccountID || !strings.HasPrefix(metas[0].Actor, "arn:aws:") || metas[1].Summary.Violations != 1 {
		t.Fatalf("history = %+v", metas)
	}
	code, out, stderr = run(t, env(now), "diff", "--journal", jf, "-o", "json")
	if code != 0 {
		t.Fatalf("diff: exit %d: %s", code, stderr)
	}
	d := decodeDiff(t, out)
	if got := changeLines(d); len(got) != 1 || got[0] != "resolved "+srv.AccountID+"/console-mfa-missing/alice " {
		t.Fatalf("changes = %q", got)
	}
}

// A journal table that does not exist cannot keep the record: the scan's report is written,
// and the command fails naming the table, with what to try.
func TestScanRecordFailureStillWritesTheReport(t *testing.T) {
	cfg := mototest.Shared(t).Config(context.Background())
	env := cli.Env{AWSConfig: func(context.Context, string, string) (aws.Config, error) { return cfg, nil }}
	code, out, stderr := run(t, env, "scan", "--from", demo, "--record", "--journal-table", "no-such-table", "-o", "json")
	if code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, stderr)
	}
	if decode(t, out).Summary.Violations != 32 {
		t.Errorf("the report was not written: %s", out)
	}
	// docs/history.md shows the error and its hint.
	section := docSection(t, "## Recording: `--record`")
	_, example, _ := strings.Cut(section, "```\n")
	example, _, _ = strings.Cut(example, "```")
	lines := strings.Split(strings.TrimSpace(example), "\n")
	if len(lines) != 2 {
		t.Fatalf("docs/history.md example: %q", example)
	}
	for _, want := range []string{strings.TrimSuffix(lines[0], " …"), "\n" + lines[1] + "\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, stderr)
		}
	}
}

// historyOf lists the journal's records as JSON, with the extra flags.
func historyOf(t *testing.T, env cli.Env, jf string, args ...string) []history.Meta {
	t.Helper()
	code, out, stderr := run(t, env, append([]string{"history", "--journal", jf, "-o", "json", "--limit", "0"}, args...)...)
	if code != 0 {
		t.Fatalf("history: exit %d: %s", code, stderr)
	}
	var metas []history.Meta
	if err := json.Unmarshal([]byte(out), &metas); err != nil {
		t.Fatal(err)
	}
	return metas
}

// Dry runs and applied runs are recorded, with what they planned and did.
func TestEnforceRecord(t *testing.T) {
	s := newScenario(t)
	jf := filepath.Join(t.TempDir(), "journal.db")
	if code, _, stderr := run(t, s.env(nil), "enforce", "--record", "--journal", jf, "-o", "json"); code != 0 || !strings.Contains(stderr, "recorded ") {
		t.Fatalf("dry run: exit %d: %s", code, stderr)
	}
	code, out, stderr := run(t, s.env(nil), "enforce", "--record", "--apply", "--yes", "--journal", jf, "-o", "json")
	if code != 0 {
		t.Fatalf("apply: exit %d: %s", code, stderr)
	}
	var applied enforceOut
	if err := json.Unmarshal([]byte(out), &applied); err != nil {
		t.Fatal(err)
	}
	metas := historyOf(t, s.env(nil), jf, "--kind", "enforce")
	if len(metas) != 2 {
		t.Fatalf("records = %+v", metas)
	}
	dry, done := metas[1].Actions, metas[0].Actions
	if dry == nil || !dry.DryRun || dry.Planned != applied.Plan.Changes() || dry.Done != 0 {
		t.Errorf("dry run record: %+v, want %d planned", dry, applied.Plan.Changes())
	}
	if done == nil || done.DryRun || done.Planned != applied.Plan.Changes() || done.Done != applied.Outcome.Count(remediate.StatusDone) || done.Done == 0 {
		t.Errorf("applied record: %+v, outcome %d done", done, applied.Outcome.Count(remediate.StatusDone))
	}
	if len(historyOf(t, s.env(nil), jf, "--kind", "scan")) != 0 {
		t.Error("enforce runs recorded as scans")
	}
	_, table, _ := run(t, s.env(nil), "history", "--journal", jf, "-o", "table")
	if !strings.Contains(table, "dry run ("+strconv.Itoa(dry.Planned)+" planned)") || !strings.Contains(table, "enforce") {
		t.Errorf("history table:\n%s", table)
	}
}

// An organization scan records every account it read, each in its own history.
func TestScanOrganizationRecord(t *testing.T) {
	s := newFleetScenario(t)
	jf := filepath.Join(t.TempDir(), "journal.db")
	code, _, stderr := run(t, s.env(), "scan", "--org", "--record", "--journal", jf, "--external-id", externalID, "-o", "json")
	if code != report.ExitPartial {
		t.Fatalf("exit %d, want %d (dev has no role): %s", code, report.ExitPartial, stderr)
	}
	recorded := map[string]bool{}
	for _, m := range historyOf(t, s.env(), jf) {
		recorded[m.AccountID] = true
		if m.Kind != history.KindScan || m.Source != history.SourceCLI {
			t.Errorf("record %+v", m)
		}
	}
	if !recorded[s.prod] || !recorded[s.sandbox] || recorded[s.dev] {
		t.Errorf("recorded accounts %v; want prod %s and sandbox %s, not dev %s", recorded, s.prod, s.sandbox, s.dev)
	}
	code, _, stderr = run(t, s.env(), "diff", "--journal", jf)
	if code != 2 || !strings.Contains(stderr, s.prod) || !strings.Contains(stderr, "try: --account") {
		t.Errorf("diff over several accounts: exit %d: %s", code, stderr)
	}
}

// An organization enforce run records each account's plan and outcome.
func TestEnforceOrganizationRecord(t *testing.T) {
	s := newFleetScenario(t)
	jf := filepath.Join(t.TempDir(), "journal.db")
	code, _, stderr := run(t, s.env(), "enforce", "--org", "--record", "--journal", jf, "--exclude-accounts", s.mgmt.AccountID+","+s.dev,
		"--external-id", externalID, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	metas := historyOf(t, s.env(), jf, "--kind", "enforce")
	got := map[string]int{}
	for _, m := range metas {
		if m.Actions == nil || !m.Actions.DryRun {
			t.Errorf("record %s: actions %+v, want a dry run", m.ID, m.Actions)
			continue
		}
		got[m.AccountID] = m.Actions.Planned
	}
	if len(got) != 2 || got[s.prod] != 1 || got[s.sandbox] != 1 {
		t.Errorf("planned by account %v; want one console action in prod and sandbox", got)
	}
}
