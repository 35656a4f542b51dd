package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/mototest"
)

// The organization's shape and the targets of its scans.
const (
	orgMembers      = 200 // member accounts of the organization
	orgFewMembers   = 50  // the smaller selection peak RSS is compared with
	orgUsers        = 50  // users of every member account
	orgOldKeyUsers  = 20  // of them, users whose key is 200 days old and never used
	orgExternalID   = "iamwarden-bench-external-id"
	orgCallsFactor  = 1.1 // a member's calls against a one-account scan of it (plus its AssumeRole)
	orgRSSGrowth    = 1.5 // peak RSS at orgMembers against orgFewMembers
	orgSpeedup      = 1.2 // wall time at concurrency 4 against 1 must fall at least this much
	orgPlateauSlack = 1.1 // after that, no point slower than the best before it by more than this
)

// orgConcurrency are the --concurrency values of the organization scans.
var orgConcurrency = []int{1, 4, 8, 16}

// BenchmarkOrganizationScan scans an organization of 200 member accounts of 50 users each,
// through their iamwarden-audit roles, with the management account's credentials, at several
// concurrencies and once more importing into every account's Security Hub. Every request goes
// through a proxy counting calls per account; it prints a table and a verdict per target.
func BenchmarkOrganizationScan(b *testing.B) {
	bin := build(b)
	o := newBenchOrg(b, orgMembers)
	proxy := newCountingProxy(b, o.srv.Endpoint, o.mgmtKey, o.srv.AccountID)
	env := o.env(proxy.URL)

	// One member scanned alone, with its role's credentials, is what each member should cost.
	single := o.singleScan(b, bin, proxy, o.members[0])

	var rows []orgRow
	point := func(name string, members []string, concurrency int, securityHub bool) orgRow {
		var r orgRow
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				r = o.scan(b, bin, proxy, env, members, concurrency, securityHub)
			}
			b.ReportMetric(r.wall.Seconds(), "wall-s")
			b.ReportMetric(float64(r.accounts)/r.wall.Seconds(), "accounts/s")
			b.ReportMetric(r.memberCalls(), "calls/member")
			b.ReportMetric(r.rssMiB, "peak-rss-MiB")
		})
		rows = append(rows, r)
		return r
	}
	for _, c := range orgConcurrency {
		point(fmt.Sprintf("concurrency=%d/members=%d", c, orgMembers), o.members, c, false)
	}
	hub := point(fmt.Sprintf("concurrency=8/members=%d/security-hub", orgMembers), o.members, 8, true)
	few := point(fmt.Sprintf("concurrency=8/members=%d", orgFewMembers), o.members[:orgFewMembers], 8, false)

	printOrg(rows, single, hub, few)
}

// benchOrg is the organization in moto.
type benchOrg struct {
	srv              *mototest.Server // the management account
	members          []string
	mgmtKey, mgmtSec string
}

// newBenchOrg creates the organization: members accounts, each with the iamwarden-audit role
// trusting the management account with an ExternalId, and orgUsers users with findings.
func newBenchOrg(b *testing.B, members int) *benchOrg {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	srv := mototest.Shared(b)
	oc := organizations.NewFromConfig(srv.Config(ctx))
	if _, err := oc.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
		b.Fatal(err)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + srv.AccountID +
		`:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"` + orgExternalID + `"}}}]}`
	now := time.Now().UTC()
	o := &benchOrg{srv: srv}
	for i := range members {
		name := fmt.Sprintf("member-%03d", i)
		out, err := oc.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(name), Email: aws.String(name + "@example.com")})
		if err != nil {
			b.Fatal(err)
		}
		id := aws.ToString(out.CreateAccountStatus.AccountId)
		m := srv.Account(id)
		if _, err := iam.NewFromConfig(m.Config(ctx)).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("iamwarden-audit"),
			AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
			b.Fatal(err)
		}
		// Half the users have a console password set a year ago, a third of them MFA: console
		// users without MFA. All have a recent key; orgOldKeyUsers more have a key 200 days old,
		// never used, and no MFA.
		m.SeedUsers(mototest.SeedSpec{Count: orgUsers - orgOldKeyUsers, PasswordEvery: 2, MFAEvery: 3, Keys: 1,
			Created: now.AddDate(-2, 0, 0), PasswordSetAt: now.AddDate(-1, 0, 0), PasswordLastUsed: now.AddDate(0, 0, -3),
			KeyCreated: now.AddDate(0, 0, -30), KeyLastUsed: now.AddDate(0, 0, -1), KeyService: "s3", KeyRegion: "us-east-1"})
		m.SeedUsers(mototest.SeedSpec{Prefix: "old-", Count: orgOldKeyUsers, Keys: 1,
			Created: now.AddDate(-2, 0, 0), KeyCreated: now.AddDate(0, 0, -200)})
		// A credential report generated recently, as a scheduled scan finds it: every scan,
		// whichever comes first, reads it without waiting for a generation.
		generateReport(b, m)
		o.members = append(o.members, id)
	}
	creds, err := srv.UserConfig(ctx, "security-admin").Credentials.Retrieve(ctx)
	if err != nil {
		b.Fatal(err)
	}
	generateReport(b, srv)
	o.mgmtKey, o.mgmtSec = creds.AccessKeyID, creds.SecretAccessKey
	fmt.Printf("\norganization: management account %s, %d member accounts of %d users each, created in %.1fs\n",
		srv.AccountID, members, orgUsers, time.Since(start).Seconds())
	return o
}

// generateReport has the account's credential report generated, untimed.
func generateReport(b *testing.B, srv *mototest.Server) {
	b.Helper()
	ctx := context.Background()
	c := iam.NewFromConfig(srv.Config(ctx))
	for {
		out, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			b.Fatal(err)
		}
		if out.State == iamtypes.ReportStateTypeComplete {
			return
		}
	}
}

// env is the environment of a process using the management account's IAM user key against
// endpoint, without mototest's account header: moto finds the account from the key.
func (o *benchOrg) env(endpoint string) []string {
	return append(os.Environ(),
		"AWS_ENDPOINT_URL="+endpoint, "AWS_ACCESS_KEY_ID="+o.mgmtKey, "AWS_SECRET_ACCESS_KEY="+o.mgmtSec,
		"AWS_SESSION_TOKEN=", "AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PROFILE=")
}

// orgRow is one organization scan.
type orgRow struct {
	concurrency int
	securityHub bool
	accounts    int // scanned, the management account included when selected
	members     int
	findings    int
	imported    int // findings imported into Security Hub
	wall        time.Duration
	rssMiB      float64
	calls       callCounts
	mgmt        string
}

// memberCalls is the mean of the member accounts' calls (each with its AssumeRole).
func (r orgRow) memberCalls() float64 {
	total, n := 0, 0
	for acct, ops := range r.calls {
		if acct != r.mgmt && acct != unknownAccount {
			total += ops.total()
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(total) / float64(n)
}

// scan runs one organization scan in a child process, over the members given (all of them: the
// whole organization, management account included; fewer: those only, with --accounts).
func (o *benchOrg) scan(b *testing.B, bin string, proxy *countingProxy, env []string, members []string, concurrency int, securityHub bool) orgRow {
	b.Helper()
	args := []string{"scan", "--org", "--external-id", orgExternalID, "--concurrency", fmt.Sprint(concurrency), "-o", "json"}
	if len(members) < len(o.members) {
		args = append(args, "--accounts", strings.Join(members, ","))
	}
	if securityHub {
		args = append(args, "--security-hub")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(env, "XDG_STATE_HOME="+b.TempDir()) // the Security Hub state starts empty
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	proxy.reset()
	wall, rss, err := runPeakRSS(cmd)
	calls := proxy.counts()
	if code := cmd.ProcessState.ExitCode(); code != 0 && code != 1 {
		b.Fatalf("scan exit %d (%v), want 0 or 1\n%s", code, err, tail(stderr.String()))
	}
	var doc struct {
		Accounts []struct {
			AccountID string `json:"account_id"`
			Status    string `json:"status"`
			Error     string `json:"error"`
			Result    *struct {
				Findings []json.RawMessage `json:"findings"`
			} `json:"result"`
			SecurityHub *struct {
				Imported int `json:"imported"`
			} `json:"security_hub"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		b.Fatalf("organization report: %v\n%s", err, tail(stderr.String()))
	}
	r := orgRow{concurrency: concurrency, securityHub: securityHub, accounts: len(doc.Accounts), wall: wall, rssMiB: rss,
		calls: calls, mgmt: o.srv.AccountID}
	for _, a := range doc.Accounts {
		if a.Status != "ok" {
			b.Fatalf("account %s: %s: %s", a.AccountID, a.Status, a.Error)
		}
		if a.AccountID != o.srv.AccountID {
			r.members++
		}
		if a.Result != nil {
			r.findings += len(a.Result.Findings)
		}
		if a.SecurityHub != nil {
			r.imported += a.SecurityHub.Imported
		}
	}
	if r.members != len(members) {
		b.Fatalf("%d member accounts scanned, want %d", r.members, len(members))
	}
	if securityHub && r.imported == 0 {
		b.Fatalf("no finding imported into Security Hub\n%s", tail(stderr.String()))
	}
	return r
}

// runPeakRSS runs cmd and returns its wall time and peak RSS in MiB: the high-water mark of its
// resident memory (VmHWM of /proc/<pid>/status), read every 2 ms while it runs. The child's
// rusage would not do here: on Linux a child started by Go (clone with CLONE_VM|CLONE_VFORK)
// takes the parent's peak RSS at exec as the floor of its own ru_maxrss, and this benchmark's
// process outgrows the scans as it decodes their reports.
func runPeakRSS(cmd *exec.Cmd) (time.Duration, float64, error) {
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var peakKiB int64
	for {
		if kib := vmHWM(status); kib > peakKiB {
			peakKiB = kib
		}
		select {
		case err := <-done:
			return time.Since(start), float64(peakKiB) / 1024, err
		case <-tick.C:
		}
	}
}

// vmHWM reads the VmHWM line of a /proc status file, in KiB; 0 when it cannot.
func vmHWM(status string) int64 {
	data, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kib); err == nil {
				return kib
			}
		}
	}
	return 0
}

// singleResult is a one-account scan of a member, with its role's credentials.
type singleResult struct {
	account  string
	stats    map[string]int // the binary's own --stats
	proxied  opCounts       // what the proxy saw
	findings int
	wall     time.Duration
}

// singleScan assumes the member's role (through the proxy, which learns its key) and scans the
// member as a one-account scan with those credentials.
func (o *benchOrg) singleScan(b *testing.B, bin string, proxy *countingProxy, member string) singleResult {
	b.Helper()
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(proxy.URL),
		Credentials: credentials.NewStaticCredentialsProvider(o.mgmtKey, o.mgmtSec, "")}
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + member + ":role/iamwarden-audit"),
		RoleSessionName: aws.String("iamwarden-bench"), ExternalId: aws.String(orgExternalID)})
	if err != nil {
		b.Fatal(err)
	}
	c := out.Credentials
	env := append(o.env(proxy.URL), "AWS_ACCESS_KEY_ID="+aws.ToString(c.AccessKeyId),
		"AWS_SECRET_ACCESS_KEY="+aws.ToString(c.SecretAccessKey), "AWS_SESSION_TOKEN="+aws.ToString(c.SessionToken),
		"XDG_STATE_HOME="+b.TempDir())
	proxy.reset()
	r := scan(b, bin, env)
	return singleResult{account: member, stats: r.calls, proxied: proxy.counts()[member], findings: r.findings, wall: r.wall}
}

func printOrg(rows []orgRow, single singleResult, hub, few orgRow) {
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	fmt.Printf("\norganization scans (%d users per member account; accounts include the management account when the whole organization is scanned)\n", orgUsers)
	fmt.Printf("%-12s %-13s %9s %10s %11s %13s %10s %13s %9s\n",
		"concurrency", "security hub", "accounts", "wall", "accounts/s", "calls/member", "calls/acct", "peak RSS", "imported")
	for _, r := range rows {
		sh, imported := "no", "-"
		if r.securityHub {
			sh, imported = "yes", fmt.Sprint(r.imported)
		}
		fmt.Printf("%-12d %-13s %9d %9.1fs %11.1f %13.1f %10.1f %9.1f MiB %9s\n", r.concurrency, sh, r.accounts, r.wall.Seconds(),
			float64(r.accounts)/r.wall.Seconds(), r.memberCalls(), float64(r.calls.total())/float64(r.accounts), r.rssMiB, imported)
	}

	// Calls per account.
	singleCalls := single.proxied.total()
	fmt.Printf("\none-account scan of member %s with its role's credentials: %d calls (--stats %d, proxy %d), %d findings, wall %.2fs\n",
		single.account, singleCalls, sumOps(single.stats), singleCalls, single.findings, single.wall.Seconds())
	base := rows[0]
	for _, r := range rows {
		if r.concurrency == 8 && !r.securityHub && r.members == orgMembers {
			base = r
		}
	}
	fmt.Printf("calls of one member in the organization scan at concurrency %d (mean over %d members; its AssumeRole included):\n", base.concurrency, base.members)
	member := base.calls.mean(base.mgmt)
	printCompare(member, single.proxied)
	fmt.Printf("  management account %s: %d calls (the organization's listing, its SCPs and its own scan):\n", base.mgmt, base.calls[base.mgmt].total())
	printCalls(base.calls[base.mgmt])
	if n := base.calls[unknownAccount].total(); n > 0 {
		fmt.Printf("  requests of no known account: %d\n", n)
	}
	// Every call counts, the management account's for the organization included, spread over
	// the accounts scanned.
	limit := orgCallsFactor*float64(singleCalls) + 1
	perAccount := float64(base.calls.total()) / float64(base.accounts)
	fmt.Printf("target calls per account (all calls / accounts) <= %.1fx the one-account scan + 1 AssumeRole (%.1f): %.1f (a member's own %.1f) against %d  %s\n",
		orgCallsFactor, limit, perAccount, base.memberCalls(), singleCalls, verdict(perAccount <= limit))
	if hub.securityHub {
		fmt.Printf("  with --security-hub: %.1f calls/member, %d findings imported over %d accounts of %d findings\n",
			hub.memberCalls(), hub.imported, hub.accounts, hub.findings)
	}

	// Peak RSS against the number of accounts.
	growth := base.rssMiB / few.rssMiB
	fmt.Printf("target peak RSS at %d members within %.1fx of %d members (concurrency 8): %.1f MiB against %.1f MiB, %.2fx  %s\n",
		base.members, orgRSSGrowth, few.members, base.rssMiB, few.rssMiB, growth, verdict(growth <= orgRSSGrowth))

	// Wall time against concurrency, per account so that a smaller serial point compares.
	wallPerAccount := func(r orgRow) float64 { return r.wall.Seconds() / float64(r.accounts) }
	var scaled []orgRow
	for _, r := range rows {
		if !r.securityHub && (r.members == orgMembers || r.concurrency == 1) {
			scaled = append(scaled, r)
		}
	}
	fmt.Printf("wall time per account against concurrency 1:")
	for _, r := range scaled {
		fmt.Printf("  c=%d %.3fs (%.2fx)", r.concurrency, wallPerAccount(r), wallPerAccount(scaled[0])/wallPerAccount(r))
	}
	fmt.Println()
	falls := len(scaled) > 1 && wallPerAccount(scaled[0])/wallPerAccount(scaled[1]) >= orgSpeedup
	plateau, best := true, wallPerAccount(scaled[0])
	for _, r := range scaled[1:] {
		if wallPerAccount(r) > best*orgPlateauSlack {
			plateau = false
		}
		best = min(best, wallPerAccount(r))
	}
	fmt.Printf("target wall time falls with concurrency (c=%d at least %.1fx faster than c=1, then none more than %.0f%% slower than the best before it, moto saturated): %s\n",
		scaled[min(1, len(scaled)-1)].concurrency, orgSpeedup, (orgPlateauSlack-1)*100, verdict(falls && plateau))
}

// printCompare prints two operation counts side by side.
func printCompare(org map[string]float64, single opCounts) {
	ops := map[string]bool{}
	for op := range org {
		ops[op] = true
	}
	for op := range single {
		ops[op] = true
	}
	names := make([]string, 0, len(ops))
	for op := range ops {
		names = append(names, op)
	}
	sort.Strings(names)
	fmt.Printf("    %-44s %12s %10s\n", "", "org/member", "one-acct")
	for _, op := range names {
		fmt.Printf("    %-44s %12.1f %10.0f\n", op, org[op], float64(single[op]))
	}
}

func sumOps(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// tail is the end of a long stderr.
func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}

// unknownAccount groups requests whose account the proxy cannot tell.
const unknownAccount = "unknown"

// opCounts are calls by operation ("iam:ListUsers").
type opCounts map[string]int

func (o opCounts) total() int { return sumOps(o) }

// callCounts are calls by account, then operation.
type callCounts map[string]opCounts

func (c callCounts) total() int {
	n := 0
	for _, ops := range c {
		n += ops.total()
	}
	return n
}

// mean is the mean calls of the accounts other than skip, per operation.
func (c callCounts) mean(skip string) map[string]float64 {
	sum, n := map[string]float64{}, 0
	for acct, ops := range c {
		if acct == skip || acct == unknownAccount {
			continue
		}
		n++
		for op, v := range ops {
			sum[op] += float64(v)
		}
	}
	for op := range sum {
		sum[op] /= float64(max(n, 1))
	}
	return sum
}

// countingProxy forwards to moto and counts every request by account and operation. The
// account is the one of the request's access key: the management key's, or an assumed role's,
// learnt from the AssumeRole answers. An AssumeRole counts for the account of its role, an
// Organizations call about one account (ChildId, TargetId, AccountId) for that account.
type countingProxy struct {
	URL string

	mu    sync.Mutex
	keys  map[string]string // access key ID -> account
	calls callCounts
}

var (
	credentialRE = regexp.MustCompile(`Credential=([A-Z0-9]+)/[0-9]+/[^/]*/([^/]+)/`)
	roleARNRE    = regexp.MustCompile(`^arn:[^:]+:iam::([0-9]{12}):role/`)
	accountIDRE  = regexp.MustCompile(`^[0-9]{12}$`)
)

func newCountingProxy(b *testing.B, target, mgmtKey, mgmtAccount string) *countingProxy {
	b.Helper()
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	p := &countingProxy{keys: map[string]string{mgmtKey: mgmtAccount}, calls: callCounts{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute}
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Header.Get("X-Bench-Assume") == "" || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return err
		}
		var out struct {
			Result struct {
				Credentials struct {
					AccessKeyID string `xml:"AccessKeyId"`
				} `xml:"Credentials"`
				User struct {
					Arn string `xml:"Arn"`
				} `xml:"AssumedRoleUser"`
			} `xml:"AssumeRoleResult"`
		}
		if xml.Unmarshal(body, &out) == nil {
			if acct := awsARNAccount(out.Result.User.Arn); acct != "" {
				p.mu.Lock()
				p.keys[out.Result.Credentials.AccessKeyID] = acct
				p.mu.Unlock()
			}
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		key, service := "", "?"
		if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			key, service = m[1], m[2]
		}
		action := r.Header.Get("X-Amz-Target")
		if _, op, ok := strings.Cut(action, "."); ok {
			action = op
		}
		about := ""
		if action != "" {
			// Organizations calls about one account (its parents, its SCPs) count for it.
			var in struct{ ChildId, TargetId, AccountId string }
			if json.Unmarshal(body, &in) == nil {
				for _, id := range []string{in.ChildId, in.TargetId, in.AccountId} {
					if accountIDRE.MatchString(id) {
						about = id
					}
				}
			}
		}
		var form url.Values
		if action == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			form, _ = url.ParseQuery(string(body))
			action = form.Get("Action")
		}
		if action == "" {
			action = r.Method + " " + r.URL.Path // REST services, e.g. Security Hub
		}
		p.mu.Lock()
		acct, ok := p.keys[key]
		if service == "sts" && action == "AssumeRole" {
			if m := roleARNRE.FindStringSubmatch(form.Get("RoleArn")); m != nil {
				acct, ok = m[1], true
			}
			r.Header.Set("X-Bench-Assume", "1")
		}
		if about != "" {
			acct, ok = about, true
		}
		if !ok {
			acct = unknownAccount
		}
		if p.calls[acct] == nil {
			p.calls[acct] = opCounts{}
		}
		p.calls[acct][service+":"+action]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	b.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// awsARNAccount is the account of an ARN such as arn:aws:sts::123456789012:assumed-role/r/s.
func awsARNAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// reset forgets the counts, keeping the keys learnt.
func (p *countingProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = callCounts{}
}

// counts returns the counts since the last reset.
func (p *countingProxy) counts() callCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := callCounts{}
	for acct, ops := range p.calls {
		out[acct] = opCounts{}
		for op, n := range ops {
			out[acct][op] = n
		}
	}
	return out
}
