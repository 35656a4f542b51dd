package cli_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/report"
)

// awsEnv clears the AWS environment and points the SDK at empty config and credential files.
func awsEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	dir := t.TempDir()
	for _, f := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// runWithin runs the CLI with the SDK's default configuration chain and fails the test when the
// command is still running at the deadline.
func runWithin(t *testing.T, d time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := cli.Run(ctx, args, cli.Env{Stdout: &stdout, Stderr: &stderr, Now: time.Now, Getenv: os.Getenv})
	if ctx.Err() != nil {
		t.Fatalf("%v: still running after %s; stderr %s", args, d, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("a failed command printed a result: %s", stdout.String())
	}
	return code, stderr.String()
}

// An endpoint that is down fails the scan within about ten seconds, with a hint.
func TestScanEndpointDown(t *testing.T) {
	awsEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL", "http://"+closedPort(t))
	code, stderr := runWithin(t, 12*time.Second, "scan", "-o", "json")
	if code != report.ExitError {
		t.Errorf("exit %d, want %d", code, report.ExitError)
	}
	for _, want := range []string{"connection refused", "\ntry: check the endpoint in use", "AWS_ENDPOINT_URL"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not contain %q", stderr, want)
		}
	}
	if strings.Contains(stderr, "try: try:") {
		t.Errorf("stderr repeats the hint's lead: %q", stderr)
	}
}

// Without credentials the scan says what to try, and the SDK's own log lines (IMDS fallback
// warnings) never reach stderr raw.
func TestScanNoCredentials(t *testing.T) {
	imds := httptest.NewServer(http.NotFoundHandler()) // an instance metadata service without a role
	defer imds.Close()
	cases := []struct {
		name string
		env  map[string]string
	}{
		{"metadata service disabled", map[string]string{"AWS_EC2_METADATA_DISABLED": "true"}},
		{"metadata service without a role", map[string]string{"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.URL}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			awsEnv(t)
			t.Setenv("AWS_ENDPOINT_URL", "http://"+closedPort(t)) // never AWS itself
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, stderr := runWithin(t, 12*time.Second, "scan", "-o", "json")
			if code != report.ExitError {
				t.Errorf("exit %d, want %d", code, report.ExitError)
			}
			for _, want := range []string{"no credentials", "\ntry: ", "--profile", "aws sso login", "AWS_PROFILE"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q does not contain %q", stderr, want)
				}
			}
			for _, raw := range []string{"SDK ", "IMDSv1", "WARN"} {
				if strings.Contains(stderr, raw) {
					t.Errorf("stderr carries an SDK log line (%q): %q", raw, stderr)
				}
			}
		})
	}
}
