package awsapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/awsapi"
)

const throttleXML = `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>req</RequestId></ErrorResponse>`

const listUsersXML = `<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult><Users><member><Path>/</Path><UserName>alice</UserName><UserId>AIDAEXAMPLE</UserId><Arn>arn:aws:iam::123456789012:user/alice</Arn><CreateDate>2020-01-01T00:00:00Z</CreateDate></member></Users><IsTruncated>false</IsTruncated></ListUsersResult><ResponseMetadata><RequestId>req</RequestId></ResponseMetadata></ListUsersResponse>`

const aliasesXML = `<ListAccountAliasesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListAccountAliasesResult><AccountAliases><member>prod</member></AccountAliases><IsTruncated>false</IsTruncated></ListAccountAliasesResult><ResponseMetadata><RequestId>req</RequestId></ResponseMetadata></ListAccountAliasesResponse>`

// fakeIAM answers ListUsers and ListAccountAliases over the Query protocol, throttling the
// first `throttle` requests.
func fakeIAM(t *testing.T, throttle int32) *httptest.Server {
	t.Helper()
	var seen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		w.Header().Set("Content-Type", "text/xml")
		if seen.Add(1) <= throttle {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, throttleXML)
			return
		}
		switch form.Get("Action") {
		case "ListUsers":
			fmt.Fprint(w, listUsersXML)
		case "ListAccountAliases":
			fmt.Fprint(w, aliasesXML)
		default:
			http.Error(w, "unexpected action "+form.Get("Action"), http.StatusNotImplemented)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// testConfig talks to endpoint and retries without waiting between attempts.
func testConfig(endpoint string) aws.Config {
	cfg := aws.NewConfig()
	cfg.Region = "us-east-1"
	cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	cfg.BaseEndpoint = aws.String(endpoint)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 4
			o.RateLimiter = ratelimit.None
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}
	return *cfg
}

func TestCounterCountsOperationsAndAttempts(t *testing.T) {
	srv := fakeIAM(t, 2)
	cfg := testConfig(srv.URL)
	counter := awsapi.NewCounter()
	counter.Attach(&cfg)
	c := iam.NewFromConfig(cfg)
	ctx := context.Background()

	out, err := c.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatalf("ListUsers after two throttled attempts: %v", err)
	}
	if len(out.Users) != 1 {
		t.Fatalf("ListUsers returned %d users", len(out.Users))
	}
	if _, err := c.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{}); err != nil {
		t.Fatalf("ListAccountAliases: %v", err)
	}

	wantOps := map[string]int{"iam:ListUsers": 1, "iam:ListAccountAliases": 1}
	wantAttempts := map[string]int{"iam:ListUsers": 3, "iam:ListAccountAliases": 1}
	if got := counter.Snapshot(); !equal(got, wantOps) {
		t.Errorf("Snapshot = %v, want %v", got, wantOps)
	}
	if got := counter.Attempts(); !equal(got, wantAttempts) {
		t.Errorf("Attempts = %v, want %v", got, wantAttempts)
	}
	if got := counter.Total(); got != 2 {
		t.Errorf("Total = %d, want 2", got)
	}
}

func TestCounterGivesUpWithThrottledError(t *testing.T) {
	srv := fakeIAM(t, 100)
	cfg := testConfig(srv.URL)
	counter := awsapi.NewCounter()
	counter.Attach(&cfg)
	_, err := iam.NewFromConfig(cfg).ListUsers(context.Background(), &iam.ListUsersInput{})
	if got := awsapi.ClassifyError(err); got != awsapi.Throttled {
		t.Fatalf("ClassifyError(%v) = %v, want throttled", err, got)
	}
	if got := counter.Attempts()["iam:ListUsers"]; got != 4 {
		t.Errorf("attempts = %d, want the retryer's 4", got)
	}
	if got := counter.Total(); got != 1 {
		t.Errorf("Total = %d, want 1", got)
	}
}

func TestCounterIsConcurrencySafe(t *testing.T) {
	srv := fakeIAM(t, 0)
	cfg := testConfig(srv.URL)
	counter := awsapi.NewCounter()
	counter.Attach(&cfg)
	c := iam.NewFromConfig(cfg)

	const workers, calls = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*calls)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				if _, err := c.ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
					errs <- err
				}
				_ = counter.Snapshot()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := counter.Total(); got != workers*calls {
		t.Errorf("Total = %d, want %d", got, workers*calls)
	}
}

func TestCounterOnlyCountsAttachedConfigs(t *testing.T) {
	srv := fakeIAM(t, 0)
	counter := awsapi.NewCounter()
	counted := testConfig(srv.URL)
	counter.Attach(&counted)
	plain := testConfig(srv.URL)
	ctx := context.Background()
	if _, err := iam.NewFromConfig(plain).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatal(err)
	}
	if got := counter.Total(); got != 0 {
		t.Errorf("Total = %d after a call through an unattached config", got)
	}
}

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
