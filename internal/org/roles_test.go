package org_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/org"
)

// fakeSTS is an STS client made of a function field; it records the AssumeRole inputs.
type fakeSTS struct {
	assumeRole func(*sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error)

	mu    sync.Mutex
	calls []*sts.AssumeRoleInput
}

var _ org.AssumeRoleAPI = (*fakeSTS)(nil)

func (f *fakeSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.mu.Lock()
	f.calls = append(f.calls, in)
	f.mu.Unlock()
	return f.assumeRole(in)
}

func (f *fakeSTS) inputs() []*sts.AssumeRoleInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*sts.AssumeRoleInput(nil), f.calls...)
}

// grant answers every AssumeRole with credentials named after the role's account, valid for
// lifetime.
func grant(lifetime time.Duration) func(*sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
	return func(in *sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
		account := awsapi.ARNAccount(aws.ToString(in.RoleArn))
		return &sts.AssumeRoleOutput{
			Credentials: &ststypes.Credentials{
				AccessKeyId: aws.String("ASIA" + account), SecretAccessKey: aws.String("secret"), SessionToken: aws.String("token"),
				Expiration: aws.Time(time.Now().Add(lifetime)),
			},
			AssumedRoleUser: &ststypes.AssumedRoleUser{Arn: aws.String("arn:aws:sts::" + account + ":assumed-role/r/s"), AssumedRoleId: aws.String("AROA:s")},
		}, nil
	}
}

const caller = "111111111111"

func baseConfig(region string) aws.Config {
	cfg := aws.NewConfig()
	cfg.Region = region
	cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIDCALLER", "secret", ""))
	return *cfg
}

// newRoles returns Roles over fake, and the configurations NewSTS was given.
func newRoles(fake *fakeSTS) (*org.Roles, *[]aws.Config) {
	var made []aws.Config
	return &org.Roles{
		Base: baseConfig("eu-west-1"),
		NewSTS: func(cfg aws.Config) org.AssumeRoleAPI {
			made = append(made, cfg)
			return fake
		},
		RoleName:      "iamwarden-audit",
		ExternalID:    "ext-123",
		CallerAccount: caller,
	}, &made
}

func TestRolesCallerAccountIsNotAssumed(t *testing.T) {
	fake := &fakeSTS{assumeRole: grant(time.Hour)}
	r, _ := newRoles(fake)
	ctx := context.Background()
	for _, get := range []func(context.Context, string) (aws.Config, error){r.Config, r.Assume} {
		cfg, err := get(ctx, caller)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Credentials != r.Base.Credentials || cfg.Region != r.Base.Region {
			t.Errorf("caller's config %+v is not Base", cfg)
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil || creds.AccessKeyID != "AKIDCALLER" {
			t.Errorf("caller's credentials %v, %v", creds.AccessKeyID, err)
		}
	}
	if n := len(fake.inputs()); n != 0 {
		t.Errorf("%d AssumeRole calls for the caller's own account", n)
	}
}

func TestRolesAssumeOncePerAccount(t *testing.T) {
	fake := &fakeSTS{assumeRole: grant(time.Hour)}
	r, made := newRoles(fake)
	ctx := context.Background()
	members := []string{"222222222222", "333333333333", "444444444444"}

	// Config makes no call.
	for _, id := range members {
		if _, err := r.Config(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(fake.inputs()); n != 0 {
		t.Fatalf("Config called AssumeRole %d times", n)
	}

	var wg sync.WaitGroup
	for range 10 {
		for _, id := range members {
			wg.Go(func() {
				cfg, err := r.Config(ctx, id)
				if err != nil {
					t.Error(err)
					return
				}
				creds, err := cfg.Credentials.Retrieve(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if creds.AccessKeyID != "ASIA"+id {
					t.Errorf("account %s got the credentials %s", id, creds.AccessKeyID)
				}
			})
		}
	}
	wg.Wait()
	if _, err := r.Assume(ctx, members[0]); err != nil {
		t.Fatal(err)
	}

	got := map[string]int{}
	for _, in := range fake.inputs() {
		got[aws.ToString(in.RoleArn)]++
		if aws.ToString(in.RoleSessionName) != org.DefaultSessionName || aws.ToString(in.ExternalId) != "ext-123" ||
			aws.ToInt32(in.DurationSeconds) != int32(org.DefaultDuration/time.Second) {
			t.Errorf("AssumeRole input: session %q, external ID %q, duration %d",
				aws.ToString(in.RoleSessionName), aws.ToString(in.ExternalId), aws.ToInt32(in.DurationSeconds))
		}
	}
	for _, id := range members {
		if arn := "arn:aws:iam::" + id + ":role/iamwarden-audit"; got[arn] != 1 {
			t.Errorf("%d AssumeRole calls for %s, want 1 (all: %v)", got[arn], arn, got)
		}
	}
	// One STS client, in the regional endpoint's region, with the caller's credentials.
	if len(*made) != 1 || (*made)[0].Region != "eu-west-1" || (*made)[0].Credentials != r.Base.Credentials {
		t.Errorf("STS clients made from %d configs: %+v", len(*made), *made)
	}
}

// Credentials that expire within RefreshBefore are renewed; others are kept.
func TestRolesRefreshBeforeExpiry(t *testing.T) {
	for _, tc := range []struct {
		lifetime time.Duration
		calls    int
	}{
		{org.RefreshBefore - time.Second, 3},
		{org.DefaultDuration, 1},
	} {
		fake := &fakeSTS{assumeRole: grant(tc.lifetime)}
		r, _ := newRoles(fake)
		cfg, err := r.Config(context.Background(), "222222222222")
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := cfg.Credentials.Retrieve(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(fake.inputs()); n != tc.calls {
			t.Errorf("credentials valid for %s: %d AssumeRole calls, want %d", tc.lifetime, n, tc.calls)
		}
	}
}

func TestRolesSettings(t *testing.T) {
	fake := &fakeSTS{assumeRole: grant(time.Hour)}
	r, made := newRoles(fake)
	r.Region = "cn-north-1"
	r.SessionName = "iamwarden-enforce"
	r.ExternalID = ""
	r.Duration = time.Hour
	if _, err := r.Assume(context.Background(), "222222222222"); err != nil {
		t.Fatal(err)
	}
	in := fake.inputs()[0]
	if aws.ToString(in.RoleArn) != "arn:aws-cn:iam::222222222222:role/iamwarden-audit" || aws.ToString(in.RoleSessionName) != "iamwarden-enforce" ||
		in.ExternalId != nil || aws.ToInt32(in.DurationSeconds) != 3600 {
		t.Errorf("AssumeRole input %+v", in)
	}
	if (*made)[0].Region != "cn-north-1" {
		t.Errorf("STS region %q, want the Region setting", (*made)[0].Region)
	}
}

func TestRolesValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(r *org.Roles)
		want string
	}{
		{"session name without iamwarden", func(r *org.Roles) { r.SessionName = "audit-scan" }, "role session name"},
		{"session name too long", func(r *org.Roles) { r.SessionName = "iamwarden-" + strings.Repeat("x", 55) }, "role session name"},
		{"session name with a space", func(r *org.Roles) { r.SessionName = "iamwarden scan" }, "role session name"},
		{"no role name", func(r *org.Roles) { r.RoleName = "" }, "member role name"},
		{"role name with a slash", func(r *org.Roles) { r.RoleName = "path/role" }, "member role name"},
		{"bad caller account", func(r *org.Roles) { r.CallerAccount = "1234" }, "caller account"},
		{"external ID with a space", func(r *org.Roles) { r.ExternalID = "a b" }, "external ID"},
		{"external ID of one character", func(r *org.Roles) { r.ExternalID = "a" }, "external ID"},
		{"duration under STS's minimum", func(r *org.Roles) { r.Duration = time.Minute }, "session duration"},
		{"no region", func(r *org.Roles) { r.Base.Region = "" }, "no region"},
		{"the global endpoint", func(r *org.Roles) { r.Region = "aws-global" }, "aws-global"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeSTS{assumeRole: grant(time.Hour)}
			r, _ := newRoles(fake)
			tc.set(r)
			_, err := r.Config(context.Background(), "222222222222")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one about %s", err, tc.want)
			}
		})
	}
	r, _ := newRoles(&fakeSTS{assumeRole: grant(time.Hour)})
	r.SessionName = "iamwarden-" + strings.Repeat("x", 54) // 64 characters
	if err := r.Validate(); err != nil {
		t.Errorf("64-character session name: %v", err)
	}
	if _, err := r.Config(context.Background(), "22222222222"); err == nil || !strings.Contains(err.Error(), "12 digits") {
		t.Errorf("Config of an 11-digit account: %v", err)
	}
}

func TestRolesAssumeFailure(t *testing.T) {
	fake := &fakeSTS{assumeRole: func(in *sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
		if strings.Contains(aws.ToString(in.RoleArn), "333333333333") {
			return grant(time.Hour)(in)
		}
		return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: sts:AssumeRole"}
	}}
	r, _ := newRoles(fake)
	ctx := context.Background()
	const arn = "arn:aws:iam::222222222222:role/iamwarden-audit"
	check := func(what string, err error) {
		t.Helper()
		var ae *org.AssumeError
		if !errors.As(err, &ae) {
			t.Fatalf("%s: err = %v, want an *AssumeError", what, err)
		}
		if ae.Account != "222222222222" || ae.RoleARN != arn || ae.Kind != awsapi.AccessDenied {
			t.Errorf("%s: %+v", what, ae)
		}
		for _, w := range []string{"222222222222", arn} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not name %s", what, err, w)
			}
		}
		for _, w := range []string{"member stack", "ExternalId", "trust"} {
			if !strings.Contains(ae.Hint(), w) {
				t.Errorf("%s: hint %q does not say %q", what, ae.Hint(), w)
			}
		}
	}
	_, err := r.Assume(ctx, "222222222222")
	check("Assume", err)
	// The same error surfaces through the configuration's credentials, as a client sees it.
	cfg, err := r.Config(ctx, "222222222222")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Credentials.Retrieve(ctx)
	check("Retrieve", err)
	if _, err := r.Assume(ctx, "333333333333"); err != nil {
		t.Errorf("another account: %v", err)
	}
}

// recordHost answers every request with STS's AccessDenied and records where it was sent.
type recordHost struct {
	mu    sync.Mutex
	hosts []string
}

func (h *recordHost) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.URL.Host)
	h.mu.Unlock()
	body := `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>denied</Message></Error><RequestId>r</RequestId></ErrorResponse>`
	return &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{"Content-Type": {"text/xml"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// With the real STS client, AssumeRole goes to the regional endpoint, us-east-1 included.
func TestRolesRegionalEndpoint(t *testing.T) {
	for _, tc := range []struct{ base, region, host string }{
		{"eu-west-1", "", "sts.eu-west-1.amazonaws.com"},
		{"us-east-1", "", "sts.us-east-1.amazonaws.com"},
		{"us-east-1", "ap-southeast-2", "sts.ap-southeast-2.amazonaws.com"},
	} {
		rt := &recordHost{}
		base := baseConfig(tc.base)
		base.HTTPClient = &http.Client{Transport: rt}
		r := &org.Roles{Base: base, Region: tc.region, RoleName: "iamwarden-audit", CallerAccount: caller}
		_, err := r.Assume(context.Background(), "222222222222")
		var ae *org.AssumeError
		if !errors.As(err, &ae) || ae.Kind != awsapi.AccessDenied {
			t.Fatalf("err = %v, want AccessDenied", err)
		}
		if len(rt.hosts) != 1 || rt.hosts[0] != tc.host {
			t.Errorf("region %s/%q: AssumeRole sent to %v, want %s", tc.base, tc.region, rt.hosts, tc.host)
		}
	}
}

func TestCallerAccount(t *testing.T) {
	rt := &recordHost{}
	base := baseConfig("eu-west-1")
	base.HTTPClient = &http.Client{Transport: rt}
	if _, err := org.CallerAccount(context.Background(), sts.NewFromConfig(base)); err == nil || !strings.Contains(err.Error(), "sts:GetCallerIdentity") {
		t.Errorf("err = %v", err)
	}
}
