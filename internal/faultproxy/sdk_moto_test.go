package faultproxy_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/iamwarden/iamwarden/internal/faultproxy"
	"github.com/iamwarden/iamwarden/internal/mototest"
)

// proxied is srv's configuration sent through a new proxy with opts. With retries, the SDK's
// standard retryer runs without backoff delays or client-side rate limiting; without, every
// fault reaches the caller.
func proxied(t *testing.T, srv *mototest.Server, opts faultproxy.Options, retries bool) (aws.Config, *faultproxy.Proxy) {
	t.Helper()
	p := newProxy(t, srv.Endpoint, opts)
	cfg := srv.Config(context.Background())
	cfg.BaseEndpoint = aws.String(p.URL)
	if retries {
		cfg.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 5
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				o.RateLimiter = ratelimit.None
			})
		}
	} else {
		cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	}
	return cfg, p
}

func userExists(t *testing.T, direct *iam.Client, name string) bool {
	t.Helper()
	_, err := direct.GetUser(context.Background(), &iam.GetUserInput{UserName: aws.String(name)})
	var nse *iamtypes.NoSuchEntityException
	if errors.As(err, &nse) {
		return false
	}
	if err != nil {
		t.Fatalf("GetUser %s: %v", name, err)
	}
	return true
}

func TestSDKSeesRawFaults(t *testing.T) {
	tests := []struct {
		name       string
		opts       faultproxy.Options
		code       string // "" for a connection error
		status     int
		userExists bool
	}{
		{"throttling", faultproxy.Options{Throttle: 1}, "Throttling", 400, false},
		{"internal failure", faultproxy.Options{ServerError: 1}, "InternalFailure", 500, false},
		{"dropped before forwarding", faultproxy.Options{DropBefore: 1}, "", 0, false},
		{"dropped after forwarding", faultproxy.Options{DropAfter: 1}, "", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := mototest.Shared(t)
			cfg, p := proxied(t, srv, tc.opts, false)
			_, err := iam.NewFromConfig(cfg).CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("alice")})
			if err == nil {
				t.Fatal("CreateUser succeeded through a failing proxy")
			}
			var apiErr smithy.APIError
			isAPI := errors.As(err, &apiErr)
			if tc.code != "" {
				if !isAPI || apiErr.ErrorCode() != tc.code {
					t.Fatalf("error %v, want API error %s", err, tc.code)
				}
				var respErr *awshttp.ResponseError
				if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != tc.status {
					t.Errorf("error %v, want HTTP status %d", err, tc.status)
				}
				if respErr != nil && respErr.ServiceRequestID() == "" {
					t.Errorf("no request ID in %v", err)
				}
			} else {
				var sendErr *smithyhttp.RequestSendError
				if isAPI || !errors.As(err, &sendErr) {
					t.Fatalf("error %T %v, want a request send error", err, err)
				}
			}
			if got := userExists(t, iam.NewFromConfig(srv.Config(context.Background())), "alice"); got != tc.userExists {
				t.Errorf("user exists at moto: %v, want %v", got, tc.userExists)
			}
			if n := len(p.Faults()); n != 1 {
				t.Errorf("%d faults injected, want 1", n)
			}
		})
	}
}

func TestSDKRetryerRecovers(t *testing.T) {
	tests := []struct {
		name string
		opts faultproxy.Options
	}{
		{"throttling", faultproxy.Options{Throttle: 1}},
		{"internal failure", faultproxy.Options{ServerError: 1}},
		{"dropped before forwarding", faultproxy.Options{DropBefore: 1}},
		{"latency", faultproxy.Options{Latency: 1, MaxLatency: time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := mototest.Shared(t)
			tc.opts.MaxFaultsPerRequestKey = 2
			cfg, p := proxied(t, srv, tc.opts, true)
			if _, err := iam.NewFromConfig(cfg).CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
				t.Fatalf("CreateUser with retries: %v", err)
			}
			if !userExists(t, iam.NewFromConfig(srv.Config(context.Background())), "alice") {
				t.Error("user missing at moto")
			}
			s := p.Stats()
			failures := s.Throttled + s.ServerErrors + s.DroppedBefore
			if tc.opts.Latency > 0 {
				if failures != 0 || s.Delayed != 1 || s.Requests != 1 {
					t.Errorf("stats %+v, want one delayed request", s)
				}
				return
			}
			if failures != 2 || s.Spared != 1 || s.Requests != 3 || s.Forwarded != 1 {
				t.Errorf("stats %+v, want two failures then one forwarded request", s)
			}
		})
	}
}

// TestSDKRetryAfterDroppedAnswer shows the case enforcement must survive: the mutation happened
// but the client saw an error, and its retry meets the changed state.
func TestSDKRetryAfterDroppedAnswer(t *testing.T) {
	ctx := context.Background()
	t.Run("create is not idempotent", func(t *testing.T) {
		srv := mototest.Shared(t)
		cfg, p := proxied(t, srv, faultproxy.Options{DropAfter: 1, MaxFaultsPerRequestKey: 1}, true)
		_, err := iam.NewFromConfig(cfg).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")})
		var exists *iamtypes.EntityAlreadyExistsException
		if !errors.As(err, &exists) {
			t.Fatalf("CreateUser = %v, want EntityAlreadyExists from the retry", err)
		}
		if !userExists(t, iam.NewFromConfig(srv.Config(ctx)), "alice") {
			t.Error("user missing at moto")
		}
		if s := p.Stats(); s.DroppedAfter != 1 || s.Forwarded != 2 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("delete answers NoSuchEntity", func(t *testing.T) {
		srv := mototest.Shared(t)
		direct := iam.NewFromConfig(srv.Config(ctx))
		mustCreateUser(t, direct, "bob")
		srv.SetPassword("bob", time.Now().Add(-48*time.Hour), time.Time{})
		cfg, _ := proxied(t, srv, faultproxy.Options{DropAfter: 1, MaxFaultsPerRequestKey: 1, Match: faultproxy.Mutating}, true)
		_, err := iam.NewFromConfig(cfg).DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String("bob")})
		var nse *iamtypes.NoSuchEntityException
		if !errors.As(err, &nse) {
			t.Fatalf("DeleteLoginProfile = %v, want NoSuchEntity from the retry", err)
		}
		if _, err := direct.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("bob")}); !errors.As(err, &nse) {
			t.Errorf("login profile still there: %v", err)
		}
	})
	t.Run("deactivating a key is idempotent", func(t *testing.T) {
		srv := mototest.Shared(t)
		direct := iam.NewFromConfig(srv.Config(ctx))
		mustCreateUser(t, direct, "carol")
		key, err := direct.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("carol")})
		if err != nil {
			t.Fatal(err)
		}
		cfg, p := proxied(t, srv, faultproxy.Options{DropAfter: 1, MaxFaultsPerRequestKey: 2}, true)
		if _, err := iam.NewFromConfig(cfg).UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("carol"),
			AccessKeyId: key.AccessKey.AccessKeyId, Status: iamtypes.StatusTypeInactive}); err != nil {
			t.Fatalf("UpdateAccessKey with retries: %v", err)
		}
		if got := keyStatus(t, direct, "carol"); got != iamtypes.StatusTypeInactive {
			t.Errorf("key status %s", got)
		}
		if s := p.Stats(); s.DroppedAfter != 2 || s.Forwarded != 3 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestSDKJSONProtocol(t *testing.T) {
	ctx := context.Background()
	srv := mototest.Shared(t)
	if _, err := ssm.NewFromConfig(srv.Config(ctx)).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/iamwarden/exempt"),
		Value: aws.String("alice,bob"), Type: ssmtypes.ParameterTypeStringList}); err != nil {
		t.Fatal(err)
	}
	get := &ssm.GetParameterInput{Name: aws.String("/iamwarden/exempt")}
	for _, tc := range []struct {
		opts faultproxy.Options
		code string
	}{
		{faultproxy.Options{Throttle: 1}, "ThrottlingException"},
		{faultproxy.Options{ServerError: 1}, "InternalFailure"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			cfg, _ := proxied(t, srv, tc.opts, false)
			_, err := ssm.NewFromConfig(cfg).GetParameter(ctx, get)
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code {
				t.Fatalf("GetParameter = %v, want %s", err, tc.code)
			}
			tc.opts.MaxFaultsPerRequestKey = 2
			cfg, p := proxied(t, srv, tc.opts, true)
			out, err := ssm.NewFromConfig(cfg).GetParameter(ctx, get)
			if err != nil || aws.ToString(out.Parameter.Value) != "alice,bob" {
				t.Fatalf("GetParameter with retries = %v", err)
			}
			if n := len(p.Faults()); n != 2 {
				t.Errorf("%d faults, want 2", n)
			}
		})
	}
}

// TestSDKSameSeedSameFaults runs the same calls twice, in two accounts, through proxies with the
// same seed: the faults and what the caller saw are identical.
func TestSDKSameSeedSameFaults(t *testing.T) {
	run := func(seed uint64) (faults, results string) {
		srv := mototest.Shared(t)
		cfg, p := proxied(t, srv, faultproxy.Options{Seed: seed, Throttle: .2, ServerError: .2, DropBefore: .1, DropAfter: .1}, false)
		client := iam.NewFromConfig(cfg)
		for i := range 20 {
			_, err := client.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(fmt.Sprintf("user-%02d", i))})
			results += outcome(err) + " "
		}
		for _, r := range p.Faults() {
			faults += fmt.Sprintf("%d:%s:%s ", r.Seq, r.Operation, r.Fault)
		}
		return faults, results
	}
	f1, r1 := run(99)
	f2, r2 := run(99)
	if f1 != f2 || r1 != r2 {
		t.Errorf("same seed, different runs:\n%s\n%s\n%s\n%s", f1, f2, r1, r2)
	}
	if f1 == "" {
		t.Error("no fault injected in 20 calls")
	}
	if f3, _ := run(100); f3 == f1 {
		t.Error("another seed gave the same faults")
	}
}

// TestSDKConvergesUnderFaults disables users through a faulty proxy, treating "already done"
// answers as success, and ends in the state a faultless run reaches.
func TestSDKConvergesUnderFaults(t *testing.T) {
	ctx := context.Background()
	srv := mototest.Shared(t)
	spec := mototest.SeedSpec{Prefix: "u-", Count: 8, Width: 2, PasswordEvery: 1, Keys: 1}
	srv.SeedUsers(spec)
	direct := iam.NewFromConfig(srv.Config(ctx))
	cfg, p := proxied(t, srv, faultproxy.Options{Seed: 5, Throttle: .15, ServerError: .15, DropBefore: .15, DropAfter: .15,
		Latency: .2, MaxLatency: time.Millisecond, Match: faultproxy.Mutating, MaxFaultsPerRequestKey: 3}, true)
	client := iam.NewFromConfig(cfg)
	for i := range spec.Count {
		user := spec.Name(i)
		_, err := client.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(user)})
		var nse *iamtypes.NoSuchEntityException
		if err != nil && !errors.As(err, &nse) {
			t.Fatalf("DeleteLoginProfile %s: %v", user, err)
		}
		keys, err := direct.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys.AccessKeyMetadata {
			if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user),
				AccessKeyId: k.AccessKeyId, Status: iamtypes.StatusTypeInactive}); err != nil {
				t.Fatalf("UpdateAccessKey %s: %v", user, err)
			}
		}
	}
	for i := range spec.Count {
		user := spec.Name(i)
		var nse *iamtypes.NoSuchEntityException
		if _, err := direct.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(user)}); !errors.As(err, &nse) {
			t.Errorf("%s still has a login profile (%v)", user, err)
		}
		if got := keyStatus(t, direct, user); got != iamtypes.StatusTypeInactive {
			t.Errorf("%s key is %s", user, got)
		}
	}
	if s := p.Stats(); s.Throttled == 0 || s.ServerErrors == 0 || s.DroppedBefore == 0 || s.DroppedAfter == 0 {
		t.Errorf("not every fault kind was exercised: %+v", s)
	}
}

func outcome(err error) string {
	var apiErr smithy.APIError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &apiErr):
		return apiErr.ErrorCode()
	default:
		return "connection"
	}
}

func mustCreateUser(t *testing.T, c *iam.Client, name string) {
	t.Helper()
	if _, err := c.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

func keyStatus(t *testing.T, c *iam.Client, user string) iamtypes.StatusType {
	t.Helper()
	out, err := c.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil || len(out.AccessKeyMetadata) != 1 {
		t.Fatalf("ListAccessKeys %s: %v (%d keys)", user, err, len(out.AccessKeyMetadata))
	}
	return out.AccessKeyMetadata[0].Status
}
