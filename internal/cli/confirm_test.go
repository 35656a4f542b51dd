package cli_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// On a terminal, enforce --apply asks for the account ID or alias and changes nothing unless
// it is typed. The binary runs under script(1), which gives it a pseudo-terminal.
func TestEnforceTypedConfirmation(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("IAMWARDEN_REQUIRE_MOTO") != "" {
			t.Fatal("script(1) (Debian package bsdutils) is needed to give the CLI a terminal")
		}
		t.Skip("script(1) is not installed")
	}
	s := newScenario(t)
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "iamwarden")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/iamwarden").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// moto serves a request from the account that issued its access key.
	c := iam.NewFromConfig(s.cfg)
	noErr(t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("operator")}))
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("operator")})
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "journal.db")
	apply := func(typed string) (int, string) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "script", "-q", "-e", "-c", bin+" enforce --apply --output json --journal "+db, "/dev/null")
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+s.srv.Endpoint, "AWS_REGION=us-east-1",
			"AWS_ACCESS_KEY_ID="+aws.ToString(key.AccessKey.AccessKeyId), "AWS_SECRET_ACCESS_KEY="+aws.ToString(key.AccessKey.SecretAccessKey),
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PROFILE=")
		cmd.Stdin = strings.NewReader(typed + "\n")
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	before := consoleAndKeys(t, s)

	code, out := apply("999999999999")
	if code != 2 || !strings.Contains(out, "Type the account ID or alias") || !strings.Contains(out, "did not match") {
		t.Fatalf("wrong account typed: exit %d\n%s", code, out)
	}
	if !equal(before, consoleAndKeys(t, s)) {
		t.Fatal("the account changed without confirmation")
	}

	code, out = apply(s.srv.AccountID)
	if code != 0 {
		t.Fatalf("account typed: exit %d\n%s", code, out)
	}
	after := consoleAndKeys(t, s)
	if after["alice"] != "-" || after["erin/"+s.keys["erin-new"]] != "Inactive" {
		t.Errorf("confirmed apply did not act: %v", after)
	}
}
