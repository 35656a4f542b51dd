package awsapi_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/mototest"
)

const sharedConfig = `[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = default-secret

[profile audit]
region = eu-west-1
aws_access_key_id = AKIDAUDIT
aws_secret_access_key = audit-secret
`

// isolate points the SDK at a config file of the test's own and clears the AWS environment.
func isolate(t *testing.T, configText string) {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	if err := os.WriteFile(cfgFile, []byte(configText), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name       string
		opts       awsapi.Options
		env        map[string]string
		wantRegion string
		wantKey    string
	}{
		{"default profile without region", awsapi.Options{}, nil, "us-east-1", "AKIDDEFAULT"},
		{"profile region", awsapi.Options{Profile: "audit"}, nil, "eu-west-1", "AKIDAUDIT"},
		{"flag region wins", awsapi.Options{Profile: "audit", Region: "ap-northeast-1"}, nil, "ap-northeast-1", "AKIDAUDIT"},
		{"AWS_PROFILE", awsapi.Options{}, map[string]string{"AWS_PROFILE": "audit"}, "eu-west-1", "AKIDAUDIT"},
		{"AWS_REGION", awsapi.Options{}, map[string]string{"AWS_REGION": "sa-east-1"}, "sa-east-1", "AKIDDEFAULT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t, sharedConfig)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			ctx := context.Background()
			cfg, err := awsapi.LoadConfig(ctx, tt.opts)
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if cfg.Region != tt.wantRegion {
				t.Errorf("Region = %q, want %q", cfg.Region, tt.wantRegion)
			}
			creds, err := cfg.Credentials.Retrieve(ctx)
			if err != nil {
				t.Fatalf("Retrieve: %v", err)
			}
			if creds.AccessKeyID != tt.wantKey {
				t.Errorf("AccessKeyID = %q, want %q", creds.AccessKeyID, tt.wantKey)
			}
			r := cfg.Retryer()
			if r.MaxAttempts() != awsapi.DefaultMaxAttempts {
				t.Errorf("MaxAttempts = %d, want %d", r.MaxAttempts(), awsapi.DefaultMaxAttempts)
			}
		})
	}
}

func TestLoadConfigMaxAttempts(t *testing.T) {
	isolate(t, sharedConfig)
	cfg, err := awsapi.LoadConfig(context.Background(), awsapi.Options{MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Retryer().MaxAttempts(); got != 3 {
		t.Errorf("MaxAttempts = %d, want 3", got)
	}
}

func TestLoadConfigUnknownProfile(t *testing.T) {
	isolate(t, sharedConfig)
	_, err := awsapi.LoadConfig(context.Background(), awsapi.Options{Profile: "nope"})
	var notExist config.SharedConfigProfileNotExistError
	if !errors.As(err, &notExist) {
		t.Fatalf("err = %v, want SharedConfigProfileNotExistError", err)
	}
	if !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("error %q does not name the profile", err)
	}
}

// The SDK honours AWS_ENDPOINT_URL, so the CLI can be pointed at moto without flags.
func TestLoadConfigHonoursEndpointURL(t *testing.T) {
	srv := mototest.Shared(t)
	isolate(t, sharedConfig)
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	ctx := context.Background()
	cfg, err := awsapi.LoadConfig(ctx, awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(cfg.BaseEndpoint); got != srv.Endpoint {
		t.Errorf("BaseEndpoint = %q, want %q", got, srv.Endpoint)
	}
	counter := awsapi.NewCounter()
	counter.Attach(&cfg)
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity against %s: %v", srv.Endpoint, err)
	}
	if aws.ToString(id.Account) == "" {
		t.Errorf("no account in %+v", id)
	}
	if got := counter.Snapshot(); got["sts:GetCallerIdentity"] != 1 || len(got) != 1 {
		t.Errorf("calls = %v, want one sts:GetCallerIdentity", got)
	}
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

// countAttempts counts the requests the retry loop sends.
func countAttempts(n *atomic.Int32) func(*sts.Options) {
	return func(o *sts.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("countAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					n.Add(1)
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	}
}

// An endpoint that refuses connections fails after two attempts, well inside the deadline,
// instead of the DefaultMaxAttempts attempts with backoff that throttling gets.
func TestLoadConfigGivesUpOnRefusedConnections(t *testing.T) {
	isolate(t, sharedConfig)
	t.Setenv("AWS_ENDPOINT_URL", "http://"+closedPort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := awsapi.LoadConfig(ctx, awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var attempts atomic.Int32
	_, err = sts.NewFromConfig(cfg, countAttempts(&attempts)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if ctx.Err() != nil {
		t.Fatalf("still retrying when the deadline fired: %v", err)
	}
	if got := awsapi.ClassifyError(err); got != awsapi.ConnectionRefused {
		t.Errorf("ClassifyError = %v, want %v; err %v", got, awsapi.ConnectionRefused, err)
	}
	if got := attempts.Load(); got != awsapi.UnreachableAttempts {
		t.Errorf("%d attempts, want %d", got, awsapi.UnreachableAttempts)
	}
}

func TestRetryer(t *testing.T) {
	refused := sendErr(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")})
	unknownHost := sendErr(&net.DNSError{Err: "server misbehaving", Name: "x.invalid", IsTemporary: true})
	throttled := apiErr("Throttling")
	r := awsapi.NewRetryer(awsapi.DefaultMaxAttempts)
	if r.MaxAttempts() != awsapi.DefaultMaxAttempts {
		t.Errorf("MaxAttempts = %d", r.MaxAttempts())
	}
	tests := []struct {
		name    string
		err     error
		attempt int
		giveUp  bool
	}{
		{"refused, first attempt", refused, 1, false},
		{"refused, second attempt", refused, awsapi.UnreachableAttempts, true},
		{"unknown host, second attempt", unknownHost, awsapi.UnreachableAttempts, true},
		{"throttled, second attempt", throttled, awsapi.UnreachableAttempts, false},
		{"throttled, seventh attempt", throttled, awsapi.DefaultMaxAttempts - 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !r.IsErrorRetryable(tt.err) {
				t.Fatalf("%v is not retryable", tt.err)
			}
			_, err := r.RetryDelay(tt.attempt, tt.err)
			if tt.giveUp != (err != nil) {
				t.Fatalf("RetryDelay(%d) error %v, want give up %v", tt.attempt, err, tt.giveUp)
			}
			if err != nil && awsapi.ClassifyError(err) != awsapi.ClassifyError(tt.err) {
				t.Errorf("giving up hides the cause: %v", err)
			}
		})
	}
	// Throttling keeps the SDK's adaptive mode: its rate limiter hands out attempt tokens.
	if _, ok := r.(aws.RetryerV2); !ok {
		t.Errorf("retryer %T cannot hand out attempt tokens", r)
	}
}

func TestLoadConfigNoCredentials(t *testing.T) {
	isolate(t, "")
	cfg, err := awsapi.LoadConfig(context.Background(), awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Credentials.Retrieve(context.Background())
	if got := awsapi.ClassifyError(err); got != awsapi.NoCredentials {
		t.Fatalf("ClassifyError = %v, want %v; err %v", got, awsapi.NoCredentials, err)
	}
	for _, want := range []string{"--profile", "AWS_PROFILE", "aws sso login"} {
		if !strings.Contains(awsapi.Hint(err), want) {
			t.Errorf("hint %q does not mention %s", awsapi.Hint(err), want)
		}
	}
}

// The SDK's own log lines (IMDS fallbacks, retries, clock skew) go to the injected slog logger
// at debug level, whatever level the SDK gave them; without a logger they are dropped.
func TestLoadConfigLogger(t *testing.T) {
	isolate(t, sharedConfig)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg, err := awsapi.LoadConfig(context.Background(), awsapi.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger.Logf(logging.Warn, "falling back to IMDSv1: %v", "status 404")
	got := buf.String()
	for _, want := range []string{"level=DEBUG", `msg="falling back to IMDSv1: status 404"`, "sdk_level=WARN"} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q does not contain %s", got, want)
		}
	}

	cfg, err = awsapi.LoadConfig(context.Background(), awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Logger.(*logging.StandardLogger); ok {
		t.Error("without a logger the SDK still writes to stderr")
	}
}

// An instance metadata service that has no role, as on a laptop behind a captive answer,
// makes the SDK warn about IMDSv1; the warning reaches the logger, not stderr.
func TestLoadConfigIMDSWarningsAreLogged(t *testing.T) {
	isolate(t, "")
	os.Unsetenv("AWS_EC2_METADATA_DISABLED")
	imds := httptest.NewServer(http.NotFoundHandler())
	defer imds.Close()
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg, err := awsapi.LoadConfig(context.Background(), awsapi.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Credentials.Retrieve(context.Background())
	if got := awsapi.ClassifyError(err); got != awsapi.NoCredentials {
		t.Fatalf("ClassifyError = %v, want %v; err %v", got, awsapi.NoCredentials, err)
	}
	if !strings.Contains(buf.String(), "IMDSv1") {
		t.Errorf("the SDK's IMDS warning did not reach the logger: %q", buf.String())
	}
}
