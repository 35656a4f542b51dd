package awsapi_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

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
			if _, ok := r.(*retry.AdaptiveMode); !ok {
				t.Errorf("retryer is %T, want adaptive mode", r)
			}
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
