package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/report"
)

// recipe returns the shell block of docs/export.md that takes an export with the AWS CLI.
func recipe(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/export.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "### Taking an export with the AWS CLI")
	if !ok {
		t.Fatal("docs/export.md has no AWS CLI recipe")
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/export.md: the AWS CLI recipe is not a sh code block")
	}
	return block
}

// The AWS CLI recipe of docs/export.md, run as written against moto, takes an export whose
// offline scan finds what a live scan of the same account finds.
func TestExportRecipe(t *testing.T) {
	for _, tool := range []string{"aws", "jq", "awk", "base64", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on the PATH; this test runs docs/export.md's recipe with it (AWS CLI: pip install awscli)", tool)
		}
	}
	s := newScenario(t)
	ctx := context.Background()
	c := iam.NewFromConfig(s.cfg)
	// The AWS CLI cannot send moto's account header: moto finds the account from the access key.
	ok := noErr(t)
	ok(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("auditor")}))
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("auditor")})
	if err != nil {
		t.Fatal(err)
	}

	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// The recipe waits for the credential report with sleep; the test does not wait.
	if err := os.WriteFile(filepath.Join(bin, "sleep"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(work, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", recipe(t))
	cmd.Dir = work
	cmd.Env = []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + work,
		"AWS_CONFIG_FILE=" + empty,
		"AWS_SHARED_CREDENTIALS_FILE=" + empty,
		"AWS_ENDPOINT_URL=" + s.srv.Endpoint,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + aws.ToString(key.AccessKey.AccessKeyId),
		"AWS_SECRET_ACCESS_KEY=" + aws.ToString(key.AccessKey.SecretAccessKey),
		"AWS_PAGER=",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("recipe: %v\n%s", err, out)
	}
	dir := filepath.Join(work, "prod-2026-11-20")

	var profiles struct{ LoginProfiles []struct{ UserName string } }
	data, err := os.ReadFile(filepath.Join(dir, "login-profiles.json"))
	if err != nil || json.Unmarshal(data, &profiles) != nil {
		t.Fatalf("login-profiles.json: %v\n%s", err, data)
	}
	var users []string
	for _, p := range profiles.LoginProfiles {
		users = append(users, p.UserName)
	}
	sort.Strings(users)
	// The console users without MFA of the scenario (dave has MFA).
	if want := []string{"alice", "bob", "breakglass", "carol"}; strings.Join(users, " ") != strings.Join(want, " ") {
		t.Errorf("login-profiles.json holds %q, want %q", users, want)
	}

	asOf := s.now.Add(time.Hour).Format(time.RFC3339)
	code, liveOut, stderr := run(t, s.env(nil), "scan", "-o", "json", "--as-of", asOf)
	if code != report.ExitViolations {
		t.Fatalf("live scan: exit %d: %s", code, stderr)
	}
	code, offOut, stderr := run(t, cli.Env{}, "scan", "-o", "json", "--from", dir, "--as-of", asOf)
	if code != report.ExitViolations {
		t.Fatalf("offline scan: exit %d: %s\n%s", code, stderr, offOut)
	}
	live, off := decode(t, liveOut), decode(t, offOut)
	if off.Partial || off.AccountID != live.AccountID {
		t.Errorf("offline scan: partial %v %+v, account %s want %s", off.Partial, off.Errors, off.AccountID, live.AccountID)
	}
	render := func(r report.Result) string {
		var lines []string
		for _, f := range r.Findings {
			lines = append(lines, fmt.Sprintf("%s %s %s %s", f.ID, f.State, f.Resource, f.Detail))
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	if a, b := render(live), render(off); a != b {
		t.Errorf("findings of the recipe's export differ from live:\nlive:\n%s\noffline:\n%s", a, b)
	}
}
