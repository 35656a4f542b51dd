package cli_test

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// plainMoto runs moto_server itself, without the test wrapper's patches, as a new user of
// iamwarden (or LocalStack, which serves moto's IAM) would, and returns a configuration for it.
func plainMoto(t *testing.T) aws.Config {
	t.Helper()
	path, err := exec.LookPath("moto_server")
	if err != nil {
		// As mototest does: missing, the test fails unless skipping is asked for.
		required := os.Getenv("CI") != "" || os.Getenv("IAMWARDEN_REQUIRE_MOTO") == "1"
		if os.Getenv(mototest.SkipEnv) == "1" && !required {
			t.Skipf("moto_server not on PATH: %v (skipped: %s=1)", err, mototest.SkipEnv)
		}
		t.Fatalf("moto_server not on PATH: %v: %s, or set %s=1 to skip the tests that need it", err, mototest.Install, mototest.SkipEnv)
	}
	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", "0")
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	listening := regexp.MustCompile(`Running on (http://127\.0\.0\.1:\d+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		for sc.Scan() {
		}
	}()
	var endpoint string
	select {
	case endpoint = <-found:
	case <-time.After(60 * time.Second):
		t.Fatal("moto_server did not start within 60s")
	}
	cfg := aws.NewConfig()
	cfg.Region = mototest.Region
	cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(mototest.AccessKeyID, mototest.SecretAccessKey, ""))
	cfg.BaseEndpoint = aws.String(endpoint)
	cfg.HTTPClient = &http.Client{}
	return *cfg
}

// Plain moto_server writes not_supported in the credential report where AWS writes
// no_information or N/A, and no root row: every user is still judged, the result is not
// partial, and root is judged from the account summary.
func TestScanPlainMotoServer(t *testing.T) {
	cfg := plainMoto(t)
	ctx := context.Background()
	c := iam.NewFromConfig(cfg)
	ok := noErr(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		ok(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)}))
	}
	ok(c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("Correct-Horse-1")}))
	ok(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")}))
	ok(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")}))
	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("Admins"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	ok(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: pol.Policy.Arn}))

	env := cli.Env{Now: time.Now, AWSConfig: func(context.Context, string, string) (aws.Config, error) { return cfg.Copy(), nil }}
	code, out, stderr := run(t, env, "scan", "-o", "json", "--as-of", "+25h")
	r := decode(t, out)
	if code != report.ExitViolations || r.Partial || len(r.Errors) != 0 {
		t.Fatalf("exit %d, partial %v, errors %+v; stderr %s", code, r.Partial, r.Errors, stderr)
	}
	got := findings(r)
	for _, k := range []string{
		"console-mfa-missing alice", "user-mfa-missing alice", "user-mfa-missing bob",
		"access-keys-multiple-active bob", "mfa-not-enforced bob", "root-mfa-missing <root_account>",
	} {
		if got[k].state != rules.StateViolation {
			t.Errorf("no violation %q in %v", k, got)
		}
	}
	for _, f := range r.Findings {
		switch f.Rule {
		case "root-mfa-missing":
			if f.Evidence["source"] != "iam:GetAccountSummary" || !strings.Contains(f.Detail, "account summary") {
				t.Errorf("root judged without saying from what: %s %v", f.Detail, f.Evidence)
			}
		case "mfa-not-enforced":
			if !strings.Contains(f.Detail, "allowed iam:CreateUser by Admins (statement 0)") {
				t.Errorf("mfa-not-enforced does not name the policy: %s", f.Detail)
			}
		}
	}
	// The export of the account judges the same, root included.
	dir := filepath.Join(t.TempDir(), "export")
	if code, _, stderr := run(t, env, "export", dir); code != 0 {
		t.Fatalf("export exit %d: %s", code, stderr)
	}
	asOf := r.AsOf.Format(time.RFC3339)
	_, liveOut, _ := run(t, env, "scan", "-o", "json", "--as-of", asOf)
	_, offOut, _ := run(t, cli.Env{}, "scan", "-o", "json", "--from", dir, "--as-of", asOf)
	if a, b := withoutReadTimes(t, liveOut), withoutReadTimes(t, offOut); a != b {
		t.Errorf("offline result differs from live:\n%s", lineDiff(a, b))
	}

	var notJudged []string
	for _, w := range r.Warnings {
		if w.Principal == "<root_account>" {
			notJudged = append(notJudged, w.Message)
		}
	}
	if len(notJudged) != 1 || !strings.Contains(notJudged[0], "root-hardware-mfa-missing, root-recently-used not judged") {
		t.Errorf("root rules that need the report row not listed as not judged: %q", notJudged)
	}
}
