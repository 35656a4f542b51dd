package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/mototest"
)

// Targets of the large-account shapes.
const (
	floorFactor     = 2.0 // a scan's wall time against the floor measured in the same run
	largeRSSBudget  = 150 // MiB of peak RSS at 10,000 users that all have findings
	floorWidth      = 8   // the floor's per-user calls run this many at a time
	proxyRoundTrip  = 25 * time.Millisecond
	largeUsers      = 10000 // users of the shapes measured on the bare emulator
	latencyUsers    = 200   // users of the shapes measured through the latency proxy
	largeCallBudget = 40    // account-wide calls
)

// shape is an account whose users all have findings.
type shape struct {
	name string
	// seed fills the account with n users and returns the names of those whose findings need
	// a per-user call (ListAccessKeys to name a key).
	seed func(b *testing.B, srv *mototest.Server, n int) []string
}

var shapes = []shape{
	{"old-keys", func(b *testing.B, srv *mototest.Server, n int) []string {
		// Every user has one access key, created long ago and never used, no MFA and no policy
		// enforcing it: four findings each (access-key-not-rotated, access-key-unused,
		// user-mfa-missing, mfa-not-enforced), two naming the key, which the report cannot name.
		now := time.Now().UTC()
		spec := mototest.SeedSpec{Prefix: "old-", Count: n, Keys: 1,
			Created: now.AddDate(-2, 0, 0), KeyCreated: now.AddDate(0, 0, -200)}
		srv.SeedUsers(spec)
		names := make([]string, n)
		for i := range names {
			names[i] = spec.Name(i)
		}
		return names
	}},
	{"new-console", func(b *testing.B, srv *mototest.Server, n int) []string {
		// Every user was created an hour ago with a console password and has no MFA yet: each
		// has a pending console-mfa-missing finding whose deadline the report decides, since
		// the password was set when the user was created.
		created := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		srv.SeedUsers(mototest.SeedSpec{Prefix: "new-", Count: n, PasswordEvery: 1, Group: "staff", Created: created})
		return nil
	}},
}

// BenchmarkLargeAccount scans accounts whose users all have findings, on the bare emulator
// (10,000 users) and through a proxy adding a real endpoint's round trip to every request (200
// users), and measures in the same run the floor: the account-wide calls plus the per-user
// calls the findings need, made 8 at a time by a plain SDK loop.
func BenchmarkLargeAccount(b *testing.B) {
	bin := build(b)
	for _, lat := range []time.Duration{0, proxyRoundTrip} {
		for _, sh := range shapes {
			users := largeUsers
			if lat > 0 {
				users = latencyUsers
			}
			b.Run(fmt.Sprintf("%s/users=%d/latency=%s", sh.name, users, lat), func(b *testing.B) {
				var need []string
				srv, env := account(b, func(srv *mototest.Server) { need = sh.seed(b, srv, users) })
				endpoint := srv.Endpoint
				if lat > 0 {
					endpoint = latencyProxy(b, srv.Endpoint, lat)
					env = append(env, "AWS_ENDPOINT_URL="+endpoint) // the last setting wins
				}
				floor := measureFloor(b, endpoint, env, need)
				var last result
				for b.Loop() {
					last = scan(b, bin, env)
				}
				reportLarge(b, sh.name, users, lat, last, floor, len(need))
			})
		}
	}
}

// envValue is the last value of name in env, as a child process would see it.
func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// latencyProxy forwards to target after holding every request for d.
func latencyProxy(b *testing.B, target string, d time.Duration) string {
	b.Helper()
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
		rp.ServeHTTP(w, r)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// measureFloor makes the account-wide calls of a scan and ListAccessKeys for each user in need,
// floorWidth at a time, with plain SDK calls, and returns the wall time.
func measureFloor(b *testing.B, endpoint string, env []string, need []string) time.Duration {
	b.Helper()
	ctx := context.Background()
	// The scan's own credentials and nothing else: without mototest's account header moto finds
	// the account from the access key on every request, looking through its users, and the
	// scan pays for that, so the floor must too.
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(envValue(env, "AWS_ACCESS_KEY_ID"), envValue(env, "AWS_SECRET_ACCESS_KEY"), "")}
	c := iam.NewFromConfig(cfg)
	// moto pays a one-time cost to map a new access key to its account, on whichever request
	// comes first: paid here, untimed, so that neither the floor nor the scan carries it.
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		b.Fatalf("floor: warm up: %v", err)
	}
	start := time.Now()
	must := func(_ any, err error) {
		if err != nil {
			b.Fatalf("floor: %v", err)
		}
	}
	must(sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	for {
		gen, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		must(gen, err)
		if gen.State == types.ReportStateTypeComplete {
			break
		}
	}
	must(c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{}))
	ad := iam.NewGetAccountAuthorizationDetailsPaginator(c, &iam.GetAccountAuthorizationDetailsInput{
		Filter:   []types.EntityType{types.EntityTypeUser, types.EntityTypeGroup, types.EntityTypeLocalManagedPolicy},
		MaxItems: aws.Int32(1000)})
	for ad.HasMorePages() {
		must(ad.NextPage(ctx))
	}
	admin := aws.String("arn:aws:iam::aws:policy/AdministratorAccess")
	pol, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: admin})
	must(pol, err)
	must(c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: admin, VersionId: pol.Policy.DefaultVersionId}))
	mfa := iam.NewListVirtualMFADevicesPaginator(c, &iam.ListVirtualMFADevicesInput{AssignmentStatus: types.AssignmentStatusTypeAssigned, MaxItems: aws.Int32(1000)})
	for mfa.HasMorePages() {
		must(mfa.NextPage(ctx))
	}
	_, _ = c.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{}) // NoSuchEntity: none
	must(c.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{}))
	must(c.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{}))

	names := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range floorWidth {
		wg.Go(func() {
			for n := range names {
				if _, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(n)}); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		})
	}
	for _, n := range need {
		names <- n
	}
	close(names)
	wg.Wait()
	if firstErr != nil {
		b.Fatalf("floor: %v", firstErr)
	}
	return time.Since(start)
}

func reportLarge(b *testing.B, name string, users int, lat time.Duration, r result, floor time.Duration, needed int) {
	b.Helper()
	fixed, perUser := 0, 0
	for op, n := range r.calls {
		if perUserOps[op] || op == "iam:GetAccessKeyLastUsed" {
			perUser += n
		} else {
			fixed += n
		}
	}
	ratio := r.wall.Seconds() / floor.Seconds()
	b.ReportMetric(float64(fixed), "calls")
	b.ReportMetric(float64(perUser), "per-user-calls")
	b.ReportMetric(r.wall.Seconds(), "wall-s")
	b.ReportMetric(floor.Seconds(), "floor-s")
	b.ReportMetric(r.rssMiB, "peak-rss-MiB")
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	fmt.Printf("\n%s, %d users, %s added per request: %d findings\n", name, users, lat, r.findings)
	fmt.Printf("  calls      %d account-wide (target <= %d) + %d per-user (target %d, what the findings need)  %s\n",
		fixed, largeCallBudget, perUser, needed, verdict(fixed <= largeCallBudget && perUser <= needed))
	fmt.Printf("  wall       %.2fs against a floor of %.2fs: %.1fx (target <= %.0fx)  %s\n",
		r.wall.Seconds(), floor.Seconds(), ratio, floorFactor, verdict(ratio <= floorFactor))
	rssOK := users < largeUsers || r.rssMiB < largeRSSBudget
	fmt.Printf("  peak RSS   %.1f MiB (target < %d MiB at %d users)  %s\n", r.rssMiB, largeRSSBudget, largeUsers, verdict(rssOK))
	fmt.Printf("  progress   %s\n", progressVerdict(r.stderr))
	printCalls(r.calls)
	if fixed > largeCallBudget {
		b.Errorf("%d account-wide calls, budget %d", fixed, largeCallBudget)
	}
	if perUser > needed {
		b.Errorf("%d per-user calls, the findings need %d", perUser, needed)
	}
	if ratio > floorFactor {
		b.Errorf("wall %.2fs is %.1fx the floor %.2fs, target %.0fx", r.wall.Seconds(), ratio, floor.Seconds(), floorFactor)
	}
	if !rssOK {
		b.Errorf("peak RSS %.1f MiB, budget %d MiB", r.rssMiB, largeRSSBudget)
	}
	if strings.Contains(r.stderr, "\r") {
		b.Errorf("progress written to a piped stderr: %q", r.stderr)
	}
}

// progressVerdict checks that a piped stderr got no progress line.
func progressVerdict(stderr string) string {
	if strings.Contains(stderr, "\r") {
		return "written to a pipe  MISSED"
	}
	return "none on a piped stderr  ok"
}
