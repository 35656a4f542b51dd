package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// A scan reads the grace periods granted after MFA removals from the journal the configuration
// names, and says so when it names none.
func TestScanHonoursMFARemovedGrace(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "journal.db")
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withJournal := write("with.yaml", "rules:\n  console-mfa-missing:\n    mfa_removed_grace: 24h\njournal:\n  path: "+db+"\n")
	without := write("without.yaml", "rules:\n  console-mfa-missing:\n    mfa_removed_grace: 24h\n")

	alice, err := iam.NewFromConfig(s.cfg).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	j, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := remediate.GrantGrace(ctx, j, journal.NewIDGenerator(time.Now, nil), s.srv.AccountID, "alice",
		aws.ToString(alice.User.UserId), "test", now.Add(-time.Hour), 24*time.Hour, now); err != nil {
		t.Fatal(err)
	}
	j.Close()

	_, out, stderr := run(t, s.env(nil), "--config", withJournal, "scan", "-o", "json", "--rule", "console-mfa-missing")
	if got := findings(decode(t, out))["console-mfa-missing alice"]; got.state != rules.StatePending {
		t.Errorf("with the journal: alice is %s, want pending inside her grant; stderr %s", got.state, stderr)
	}
	_, out, _ = run(t, s.env(nil), "--config", without, "scan", "-o", "json", "--rule", "console-mfa-missing")
	r := decode(t, out)
	if got := findings(r)["console-mfa-missing alice"]; got.state != rules.StateViolation {
		t.Errorf("without a journal: alice is %s, want a violation", got.state)
	}
	warned := false
	for _, w := range r.Warnings {
		warned = warned || strings.Contains(w.Message, "mfa_removed_grace is set but no journal was read")
	}
	if !warned {
		t.Errorf("warnings %+v; want one saying the grants were not read", r.Warnings)
	}
}
