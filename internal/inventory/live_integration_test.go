package inventory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/mototest"
)

// motoAccount is one moto account with counted clients and a loader that never sleeps.
type motoAccount struct {
	srv     *mototest.Server
	iam     *iam.Client
	counter *awsapi.Counter
	sleeps  *recordedSleep
	loader  *inventory.Loader
}

func newMotoAccount(t *testing.T, cfg func(*aws.Config)) *motoAccount {
	t.Helper()
	srv := mototest.Shared(t)
	c := srv.Config(context.Background())
	if cfg != nil {
		cfg(&c)
	}
	m := &motoAccount{srv: srv, counter: awsapi.NewCounter(), sleeps: &recordedSleep{}}
	m.counter.Attach(&c)
	m.iam = iam.NewFromConfig(c)
	m.loader = inventory.NewLoader(m.iam, sts.NewFromConfig(c), inventory.LoaderOptions{
		Now:   func() time.Time { return liveNow },
		Sleep: m.sleeps.sleep,
	})
	return m
}

func ok[T any](v T, err error) func(t *testing.T, what string) T {
	return func(t *testing.T, what string) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func TestLiveLoadReadsAgedCredentials(t *testing.T) {
	m := newMotoAccount(t, nil)
	ctx := context.Background()
	c := m.iam

	policyDoc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"iam:*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	ok(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("devs")}))(t, "CreateGroup")
	ok(c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("devs"), PolicyName: aws.String("force-mfa"), PolicyDocument: aws.String(policyDoc)}))(t, "PutGroupPolicy")
	ok(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}))(t, "CreateUser")
	ok(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("devs"), UserName: aws.String("alice")}))(t, "AddUserToGroup")
	ok(c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("Secret-123456")}))(t, "CreateLoginProfile")
	aliceKey := ok(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}))(t, "CreateAccessKey")
	dev := ok(c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("alice-phone")}))(t, "CreateVirtualMFADevice")
	ok(c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("alice"), SerialNumber: dev.VirtualMFADevice.SerialNumber, AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")}))(t, "EnableMFADevice")
	ok(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("inline"), PolicyDocument: aws.String(policyDoc)}))(t, "PutUserPolicy")
	ok(c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("platform")}}}))(t, "TagUser")
	ok(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}))(t, "CreateUser")
	bobKeys := []string{
		aws.ToString(ok(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")}))(t, "CreateAccessKey").AccessKey.AccessKeyId),
		aws.ToString(ok(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")}))(t, "CreateAccessKey").AccessKey.AccessKeyId),
	}
	ok(c.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(14), RequireSymbols: true}))(t, "UpdateAccountPasswordPolicy")
	ok(c.CreateAccountAlias(ctx, &iam.CreateAccountAliasInput{AccountAlias: aws.String("example-prod")}))(t, "CreateAccountAlias")

	created := time.Date(2022, 1, 10, 9, 0, 0, 0, time.UTC)
	pwSet := time.Date(2022, 1, 11, 9, 0, 0, 0, time.UTC)
	pwUsed := time.Date(2025, 5, 1, 7, 0, 0, 0, time.UTC)
	keyCreated := time.Date(2022, 1, 12, 0, 0, 0, 0, time.UTC)
	keyUsed := time.Date(2025, 4, 30, 23, 0, 0, 0, time.UTC)
	m.srv.BackdateUser("alice", created)
	m.srv.SetPassword("alice", pwSet, pwUsed)
	m.srv.SetAccessKey("alice", aws.ToString(aliceKey.AccessKey.AccessKeyId), keyCreated, keyUsed, "sts", "eu-central-1")
	rootRotated := time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC)
	m.srv.SetRoot(mototest.RootSpec{
		Created: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC),
		MFA:     true,
		Keys:    []mototest.RootKey{{Active: true, Rotated: rootRotated}},
	})

	raw, err := m.loader.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if raw.AccountID != m.srv.AccountID || raw.ReportGeneratedAt.IsZero() {
		t.Errorf("account %q report generated %v", raw.AccountID, raw.ReportGeneratedAt)
	}
	snap, err := inventory.Assemble(raw)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Partial() {
		t.Errorf("problems: %+v", snap.Problems)
	}
	if snap.AccountAlias != "example-prod" || snap.PasswordPolicy == nil || snap.PasswordPolicy.MinimumPasswordLength != 14 {
		t.Errorf("alias %q password policy %+v", snap.AccountAlias, snap.PasswordPolicy)
	}

	root := snap.Root
	if root == nil || !root.IsRoot || root.ARN != "arn:aws:iam::"+m.srv.AccountID+":root" || !root.MFA.Active {
		t.Fatalf("root %+v", root)
	}
	if len(root.AccessKeys) != 1 || !root.AccessKeys[0].Active || !root.AccessKeys[0].Created.Equal(rootRotated) {
		t.Errorf("root keys %+v", root.AccessKeys)
	}

	alice := userByName(t, snap, "alice")
	if !alice.Created.Equal(created) || !alice.Password.Enabled || !alice.Password.LastChanged.Equal(pwSet) || !alice.Password.LastUsed.Equal(pwUsed) {
		t.Errorf("alice created %v password %+v", alice.Created, alice.Password)
	}
	if !alice.MFA.Active || !alice.MFA.HasVirtual() || alice.MFA.HasNonVirtual() {
		t.Errorf("alice MFA %+v, want one virtual device", alice.MFA)
	}
	if len(alice.AccessKeys) != 1 {
		t.Fatalf("alice keys %+v", alice.AccessKeys)
	}
	k := alice.AccessKeys[0]
	if !k.Created.Equal(keyCreated) || !k.LastUsed.Equal(keyUsed) || k.LastUsedService != "sts" || k.LastUsedRegion != "eu-central-1" {
		t.Errorf("alice key %+v", k)
	}
	if alice.Tags["owner"] != "platform" {
		t.Errorf("alice tags %v", alice.Tags)
	}
	if !slices.Equal(alice.Groups, []string{"devs"}) || len(alice.InlinePolicies) != 1 || !json.Valid([]byte(alice.InlinePolicies[0].Document)) {
		t.Errorf("alice groups %v inline %+v", alice.Groups, alice.InlinePolicies)
	}
	if g := snap.Groups["devs"]; len(g.InlinePolicies) != 1 || !json.Valid([]byte(g.InlinePolicies[0].Document)) {
		t.Errorf("group devs %+v", g)
	}
	bob := userByName(t, snap, "bob")
	if bob.Password.Enabled || bob.MFA.Active || len(bob.AccessKeys) != 2 {
		t.Errorf("bob %+v", bob)
	}

	// The per-user calls agree with the report.
	got, found, err := m.loader.LoginProfileCreated(ctx, "alice")
	if err != nil || !found || !got.Equal(pwSet) {
		t.Errorf("LoginProfileCreated(alice) = %v %v %v, want %v", got, found, err, pwSet)
	}
	if _, found, err := m.loader.LoginProfileCreated(ctx, "bob"); err != nil || found {
		t.Errorf("LoginProfileCreated(bob) = %v %v, want no profile", found, err)
	}
	keys, err := m.loader.AccessKeys(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	if !slices.Equal(ids, bobKeys) {
		t.Errorf("AccessKeys(bob) = %v, want %v", ids, bobKeys)
	}
}

func TestLiveLoadCallBudget(t *testing.T) {
	const users, mfaEvery = 2500, 2
	m := newMotoAccount(t, nil)
	m.srv.SeedUsers(mototest.SeedSpec{
		Count: users, Group: "staff", PasswordEvery: 3, Keys: 1, MFAEvery: mfaEvery,
		Tags: map[string]string{"team": "platform"},
	})

	raw, err := m.loader.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pages := func(items int) int { return (items + inventory.PageSize - 1) / inventory.PageSize }
	devices := (users + mfaEvery - 1) / mfaEvery
	want := map[string]int{
		"sts:GetCallerIdentity": 1,
		// moto answers STARTED to the first call, as AWS does for an account without a report.
		"iam:GenerateCredentialReport":       2,
		"iam:GetCredentialReport":            1,
		"iam:GetAccountAuthorizationDetails": pages(users + 1), // the users and one group
		"iam:ListVirtualMFADevices":          pages(devices),
		"iam:GetAccountPasswordPolicy":       1,
		"iam:ListAccountAliases":             1,
		"iam:GetAccountSummary":              1,
	}
	got := m.counter.Snapshot()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls %v\n want %v", got, want)
	}
	if got["iam:GetAccountAuthorizationDetails"] < 2 || got["iam:ListVirtualMFADevices"] < 2 {
		t.Errorf("pagination not exercised: %v", got)
	}
	// The same load of 10,000 users stays within the budget: only the paged calls grow.
	total10k := m.counter.Total() - got["iam:GetAccountAuthorizationDetails"] - got["iam:ListVirtualMFADevices"] +
		pages(10000+1) + pages(10000/mfaEvery)
	if total10k > 30 {
		t.Errorf("a 10,000-user account would take %d calls, budget 30", total10k)
	}

	snap, err := inventory.Assemble(raw)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Partial() {
		t.Errorf("problems: %+v", snap.Problems[:min(3, len(snap.Problems))])
	}
	if len(snap.Users) != users {
		t.Fatalf("%d users in the snapshot, want %d", len(snap.Users), users)
	}
	byName := map[string]*inventory.User{}
	for i := range snap.Users {
		byName[snap.Users[i].Name] = &snap.Users[i]
	}
	spec := mototest.SeedSpec{}
	for i := range users {
		u := byName[spec.Name(i)]
		if u == nil {
			t.Fatalf("user %s missing", spec.Name(i))
		}
		wantMFA := i%mfaEvery == 0
		if u.MFA.Active != wantMFA || u.MFA.HasVirtual() != wantMFA || u.Password.Enabled != (i%3 == 0) || len(u.AccessKeys) != 1 ||
			u.Tags["team"] != "platform" || !slices.Equal(u.Groups, []string{"staff"}) {
			t.Fatalf("user %s: %+v", u.Name, u)
		}
	}
}

func TestLiveLoadWaitsForReportGeneration(t *testing.T) {
	m := newMotoAccount(t, nil)
	m.srv.SeedUsers(mototest.SeedSpec{Count: 3})
	m.srv.SetReport(mototest.ReportSpec{Polls: 3})

	raw, err := m.loader.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := m.counter.Snapshot()["iam:GenerateCredentialReport"]; got != 4 {
		t.Errorf("%d GenerateCredentialReport calls, want STARTED, 2 x INPROGRESS, COMPLETE", got)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !slices.Equal(m.sleeps.waits, want) {
		t.Errorf("waits %v, want %v", m.sleeps.waits, want)
	}
	snap, err := inventory.Assemble(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Users) != 3 {
		t.Errorf("%d users", len(snap.Users))
	}
}

func TestLiveLoadRegeneratesExpiredReport(t *testing.T) {
	m := newMotoAccount(t, nil)
	m.srv.SeedUsers(mototest.SeedSpec{Count: 2})
	if _, err := m.loader.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.srv.SetReport(mototest.ReportSpec{Expired: true})
	before := m.counter.Snapshot()

	raw, err := m.loader.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	after := m.counter.Snapshot()
	// COMPLETE, ReportExpired, then STARTED and COMPLETE for the new report.
	if g, r := after["iam:GenerateCredentialReport"]-before["iam:GenerateCredentialReport"], after["iam:GetCredentialReport"]-before["iam:GetCredentialReport"]; g != 3 || r != 2 {
		t.Errorf("%d generates and %d gets, want 3 and 2", g, r)
	}
	if len(raw.CredentialReport) == 0 {
		t.Error("no report")
	}
}

const throttledXML = `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>throttled</RequestId></ErrorResponse>`

// throttlingProxy forwards to target but throttles the first request of every action.
func throttlingProxy(t *testing.T, target string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		form, _ := url.ParseQuery(string(body))
		action := form.Get("Action")
		mu.Lock()
		first := !seen[action]
		seen[action] = true
		mu.Unlock()
		if first {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, throttledXML)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLiveLoadSurvivesThrottling(t *testing.T) {
	var proxy *httptest.Server
	m := newMotoAccount(t, func(c *aws.Config) {
		proxy = throttlingProxy(t, aws.ToString(c.BaseEndpoint))
		c.BaseEndpoint = aws.String(proxy.URL)
		c.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		}
	})
	m.srv.SeedUsers(mototest.SeedSpec{Count: 5, MFAEvery: 1})

	raw, err := m.loader.Load(context.Background())
	if err != nil {
		t.Fatalf("Load through a throttling endpoint: %v", err)
	}
	if len(raw.Problems) != 0 || len(raw.VirtualMFADevices) != 5 {
		t.Errorf("problems %+v devices %d", raw.Problems, len(raw.VirtualMFADevices))
	}
	ops, attempts := m.counter.Snapshot(), m.counter.Attempts()
	for op, n := range ops {
		// Each action was throttled once, on its first attempt, and retried by the SDK.
		if attempts[op] != n+1 {
			t.Errorf("%s: %d operations, %d attempts; want one retry", op, n, attempts[op])
		}
	}
	if len(ops) != 8 {
		t.Errorf("operations %v", ops)
	}
}

// BenchmarkLiveLoad10k loads an account of 10,000 users (half with virtual MFA) from moto and
// reports the API calls per load, which must stay within the scan's budget.
func BenchmarkLiveLoad10k(b *testing.B) {
	const users = 10000
	srv := mototest.Shared(b)
	srv.SeedUsers(mototest.SeedSpec{Count: users, PasswordEvery: 2, Keys: 1, MFAEvery: 2, Group: "staff"})
	cfg := srv.Config(context.Background())
	counter := awsapi.NewCounter()
	counter.Attach(&cfg)
	loader := inventory.NewLoader(iam.NewFromConfig(cfg), sts.NewFromConfig(cfg), inventory.LoaderOptions{
		Sleep: (&recordedSleep{}).sleep,
	})
	b.ResetTimer()
	for b.Loop() {
		raw, err := loader.Load(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if n := len(raw.Authorization.UserDetailList); n != users {
			b.Fatalf("%d users read, want %d", n, users)
		}
	}
	calls := float64(counter.Total()) / float64(b.N)
	if calls > 30 {
		b.Fatalf("%.1f calls per load, budget 30: %v", calls, counter.Snapshot())
	}
	b.ReportMetric(calls, "calls/op")
}
