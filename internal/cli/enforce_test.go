package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
)

// consoleAndKeys is the part of the account enforce may change.
func consoleAndKeys(t *testing.T, s *scenario) map[string]string {
	t.Helper()
	ctx := context.Background()
	c := iam.NewFromConfig(s.cfg)
	out := map[string]string{}
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "breakglass", "legacy"} {
		_, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(u)})
		var nse *iamtypes.NoSuchEntityException
		switch {
		case err == nil:
			out[u] = "console"
		case errors.As(err, &nse):
			out[u] = "-"
		default:
			t.Fatal(err)
		}
		keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(u)})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys.AccessKeyMetadata {
			out[u+"/"+aws.ToString(k.AccessKeyId)] = string(k.Status)
		}
	}
	return out
}

type enforceOut struct {
	DryRun  bool `json:"dry_run"`
	Plan    remediate.Plan
	Outcome remediate.Outcome
	Error   string
}

func TestEnforceCommand(t *testing.T) {
	s := newScenario(t)
	db := filepath.Join(t.TempDir(), "journal.db")
	before := consoleAndKeys(t, s)

	code, out, stderr := run(t, s.env(nil), "enforce", "-o", "json", "--journal", db)
	if code != 0 {
		t.Fatalf("dry run exit %d: %s", code, stderr)
	}
	var dry enforceOut
	if err := json.Unmarshal([]byte(out), &dry); err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || len(dry.Plan.Actions) != 5 || dry.Outcome.Count(remediate.StatusWouldDo) != 5 {
		t.Fatalf("dry run: %+v", dry)
	}
	if after := consoleAndKeys(t, s); !equal(before, after) {
		t.Fatalf("dry run changed the account: %v -> %v", before, after)
	}

	// Without a terminal, --apply needs --yes.
	code, _, stderr = run(t, s.env(nil), "enforce", "--apply", "--journal", db)
	if code != report.ExitError || !strings.Contains(stderr, "--yes") {
		t.Fatalf("apply without confirmation: exit %d %s", code, stderr)
	}
	// The blast-radius limit refuses the whole plan.
	code, _, stderr = run(t, s.env(nil), "enforce", "--apply", "--yes", "--max-actions", "4", "--journal", db)
	if code != report.ExitError || !strings.Contains(stderr, "blast-radius") {
		t.Fatalf("over the limit: exit %d %s", code, stderr)
	}
	if after := consoleAndKeys(t, s); !equal(before, after) {
		t.Fatalf("a refused run changed the account")
	}

	code, out, stderr = run(t, s.env(nil), "enforce", "--apply", "--yes", "-o", "table", "--journal", db)
	if code != 0 {
		t.Fatalf("apply exit %d: %s\n%s", code, stderr, out)
	}
	after := consoleAndKeys(t, s)
	want := map[string]string{"alice": "-", "carol": "-", "dave": "-",
		"erin/" + s.keys["erin-new"]: "Inactive", "legacy/" + s.keys["legacy"]: "Inactive"}
	for k, v := range before {
		w, changed := want[k]
		if !changed {
			w = v
		}
		if after[k] != w {
			t.Errorf("%s: %s -> %s, want %s", k, v, after[k], w)
		}
	}
	runID := regexp.MustCompile(`undo --run (\S+)`).FindStringSubmatch(out)
	if runID == nil {
		t.Fatalf("no run ID in output:\n%s", out)
	}
	for _, id := range s.keys {
		if strings.Contains(out, id) {
			t.Errorf("unmasked key %s in output", id)
		}
	}

	code, out, _ = run(t, s.env(nil), "journal", "list", "--journal", db, "--run", runID[1], "-o", "json")
	var entries []struct{ Kind, Status, Principal string }
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 5 {
		t.Fatalf("journal list: exit %d %s", code, out)
	}

	code, out, stderr = run(t, s.env(nil), "undo", "--run", runID[1], "--journal", db, "-o", "json")
	if code != 0 {
		t.Fatalf("undo exit %d: %s", code, stderr)
	}
	var undone struct {
		Results []struct {
			Status          string `json:"status"`
			OneTimePassword string `json:"one_time_password"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &undone); err != nil {
		t.Fatalf("undo -o json: %v\n%s", err, out)
	}
	passwords := 0
	for _, r := range undone.Results {
		if r.Status != "done" {
			t.Errorf("undo result %+v", r)
		}
		if len(r.OneTimePassword) >= 20 {
			passwords++
		}
	}
	if passwords != 3 || len(undone.Results) != 5 {
		t.Errorf("%d passwords in %d results, want 3 in 5:\n%s", passwords, len(undone.Results), out)
	}
	restored := consoleAndKeys(t, s)
	if !equal(before, restored) {
		t.Errorf("undo did not restore the account:\n%v\n%v", before, restored)
	}
	if strings.Contains(stderr, "password:") {
		t.Error("a password reached stderr")
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
