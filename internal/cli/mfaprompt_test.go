package cli_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/mototest"
)

// On a terminal, mfa session lists the devices, asks for the code without echoing it, and writes
// the profile. The binary runs in a detached tmux session on a private socket; the test reads the
// pane with capture-pane and types with send-keys.
func TestMFASessionPromptOnTerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("IAMWARDEN_REQUIRE_MOTO") != "" {
			t.Fatal("tmux is needed to drive the CLI on a terminal (Debian package tmux)")
		}
		t.Skip("tmux is not installed")
	}
	ctx := context.Background()
	srv := mototest.Shared(t)
	cfg := srv.UserConfig(ctx, "alice")
	admin := iam.NewFromConfig(srv.Config(ctx))
	srv.EnableVirtualMFA(admin, "alice", "phone")
	tablet := srv.EnableVirtualMFA(admin, "alice", "tablet")
	key, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "iamwarden")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/iamwarden").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	creds := filepath.Join(dir, "credentials")
	wrapper := filepath.Join(dir, "run.sh")
	script := fmt.Sprintf("#!/bin/sh\nexport AWS_ENDPOINT_URL='%s' AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID='%s' AWS_SECRET_ACCESS_KEY='%s'\n"+
		"export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE='%s' XDG_CACHE_HOME='%s' AWS_PROFILE=\n"+
		"'%s' mfa session --profile-name mfa\necho \"EXIT $?\"\nread _\n",
		srv.Endpoint, key.AccessKeyID, key.SecretAccessKey, creds, filepath.Join(dir, "cache"), bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	socket := fmt.Sprintf("iamwarden-test-%d", os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("tmux", append([]string{"-L", socket, "-f", "/dev/null"}, args...)...)
		cmd.Env = append(os.Environ(), "TMUX=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-x", "200", "-y", "50", "-s", "mfa", wrapper)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", socket, "kill-server").Run() })

	// waitFor reads the pane until it shows want, for at most a minute.
	waitFor := func(want string) string {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			pane := tmux("capture-pane", "-p", "-t", "mfa")
			if strings.Contains(pane, want) {
				return pane
			}
			if time.Now().After(deadline) {
				t.Fatalf("the pane never showed %q:\n%s", want, pane)
			}
			<-tick.C
		}
	}
	pane := waitFor("Device [1-2]:") // capture-pane drops trailing spaces
	if !strings.Contains(pane, "1) phone") || !strings.Contains(pane, "2) tablet") {
		t.Fatalf("devices not listed:\n%s", pane)
	}
	tmux("send-keys", "-t", "mfa", "2", "Enter")
	waitFor("MFA code for tablet")
	tmux("send-keys", "-t", "mfa", "987654", "Enter")
	pane = waitFor("EXIT ")
	if !strings.Contains(pane, "EXIT 0") {
		t.Fatalf("mfa session failed:\n%s", pane)
	}
	if strings.Contains(pane, "987654") {
		t.Errorf("the code was echoed:\n%s", pane)
	}
	if !strings.Contains(pane, "wrote profile mfa") || !strings.Contains(pane, tablet) {
		t.Errorf("no confirmation of the profile:\n%s", pane)
	}
	data, err := os.ReadFile(creds)
	if err != nil || !strings.Contains(string(data), "[mfa]\naws_access_key_id = ") {
		t.Errorf("profile not written: %v\n%s", err, data)
	}
	if st, err := os.Stat(creds); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode: %v %v", st, err)
	}
}
