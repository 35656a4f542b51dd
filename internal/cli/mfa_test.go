package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/mototest"
)

// mfaUser is an IAM user of a fresh moto account with an access key and the named virtual MFA
// devices; env signs with the user's key, files in a temporary directory.
func mfaUser(t *testing.T, devices ...string) (cli.Env, []string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	srv := mototest.Shared(t)
	cfg := srv.UserConfig(ctx, "alice")
	admin := iam.NewFromConfig(srv.Config(ctx))
	var serials []string
	for _, d := range devices {
		serials = append(serials, srv.EnableVirtualMFA(admin, "alice", d))
	}
	dir := t.TempDir()
	vars := map[string]string{
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"XDG_CACHE_HOME":              filepath.Join(dir, "cache"),
	}
	env := cli.Env{
		Getenv:    func(k string) string { return vars[k] },
		Now:       time.Now,
		AWSConfig: func(context.Context, string, string) (aws.Config, error) { return cfg, nil },
	}
	return env, serials, vars
}

func TestMFAStatusMoto(t *testing.T) {
	env, serials, _ := mfaUser(t, "phone")
	code, out, errOut := run(t, env, "mfa", "status", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r struct {
		Identity struct {
			ARN string `json:"arn"`
		} `json:"identity"`
		Credentials string `json:"credentials"`
		MFA         string `json:"mfa_authenticated"`
		Devices     []struct {
			Serial string `json:"serial_number"`
			Name   string `json:"name"`
			Kind   string `json:"kind"`
		} `json:"mfa_devices"`
		WithoutMFA []struct {
			Action  string `json:"action"`
			Allowed bool   `json:"allowed_without_mfa"`
		} `json:"enforce_mfa_policy_without_mfa"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.HasSuffix(r.Identity.ARN, ":user/alice") || r.Credentials != "long-term-access-key" || r.MFA != "no" {
		t.Errorf("status %+v", r)
	}
	if len(r.Devices) != 1 || r.Devices[0].Serial != serials[0] || r.Devices[0].Name != "phone" || r.Devices[0].Kind != "virtual" {
		t.Errorf("devices %+v, want %s", r.Devices, serials[0])
	}
	if len(r.WithoutMFA) == 0 {
		t.Error("no action decided without MFA")
	}
	code, out, errOut = run(t, env, "mfa", "status", "-o", "table")
	if code != 0 || !strings.Contains(out, serials[0]) || !strings.Contains(out, "ec2:DescribeInstances") {
		t.Errorf("table: exit %d\n%s%s", code, out, errOut)
	}
}

func TestMFASessionMoto(t *testing.T) {
	env, _, vars := mfaUser(t, "phone", "tablet")

	code, _, errOut := run(t, env, "mfa", "session", "--device", "tablet", "--code", "123456", "--profile-name", "mfa")
	if code != 0 {
		t.Fatalf("profile: exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(vars["AWS_SHARED_CREDENTIALS_FILE"])
	if err != nil || !strings.Contains(string(data), "[mfa]\naws_access_key_id = ") || !strings.Contains(string(data), "aws_session_token = ") {
		t.Errorf("credentials file: %v\n%s", err, data)
	}

	code, out, errOut := run(t, env, "mfa", "session", "--device", "phone", "--code", "123456", "--export", "--duration", "1h")
	if code != 0 || !strings.Contains(out, "export AWS_SESSION_TOKEN=") || !strings.Contains(out, "mfa/phone") {
		t.Errorf("export: exit %d\n%s%s", code, out, errOut)
	}

	var first, second struct {
		Version     int
		AccessKeyID string `json:"AccessKeyId"`
		Expiration  time.Time
	}
	code, out, errOut = run(t, env, "mfa", "session", "--device", "phone", "--code", "123456", "--credential-process")
	if code != 0 || json.Unmarshal([]byte(out), &first) != nil || first.Version != 1 || first.AccessKeyID == "" {
		t.Fatalf("credential_process: exit %d\n%s%s", code, out, errOut)
	}
	// The second call reuses the cache: no code is needed.
	code, out, errOut = run(t, env, "mfa", "session", "--device", "phone", "--credential-process")
	if code != 0 || json.Unmarshal([]byte(out), &second) != nil || second != first {
		t.Errorf("cached credential_process: exit %d\n%s%s", code, out, errOut)
	}
}

func TestMFASessionUsageErrors(t *testing.T) {
	env, _, _ := mfaUser(t, "phone")
	for name, args := range map[string][]string{
		"no output":      {"--code", "123456"},
		"two outputs":    {"--code", "123456", "--export", "--credential-process"},
		"short duration": {"--code", "123456", "--export", "--duration", "10m"},
		"unknown device": {"--code", "123456", "--export", "--device", "laptop"},
		"bad code":       {"--code", "12ab56", "--export"},
	} {
		code, out, errOut := run(t, env, append([]string{"mfa", "session"}, args...)...)
		if code != 2 || out != "" || !strings.Contains(errOut, "try: ") {
			t.Errorf("%s: exit %d\n%s%s", name, code, out, errOut)
		}
	}
}
