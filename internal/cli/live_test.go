package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

const day = 24 * time.Hour

// scenario is an account with a user for every rule, in moto.
type scenario struct {
	srv  *mototest.Server
	cfg  aws.Config
	keys map[string]string // name -> access key ID
	now  time.Time
}

// noErr fails the test on an error from a call whose answer is not needed.
func noErr(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	ctx := context.Background()
	srv := mototest.Shared(t)
	s := &scenario{srv: srv, cfg: srv.Config(ctx), keys: map[string]string{}, now: time.Now().UTC()}
	c := iam.NewFromConfig(s.cfg)
	ok := noErr(t)
	user := func(name string, tags ...iamtypes.Tag) {
		ok(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name), Tags: tags}))
		srv.BackdateUser(name, s.now.Add(-400*day))
	}
	key := func(name, label string, created, lastUsed time.Time) {
		out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.AccessKey.AccessKeyId)
		srv.SetAccessKey(name, id, created, lastUsed, "s3", "eu-west-1")
		s.keys[label] = id
	}
	mfa := func(name string) { srv.EnableVirtualMFA(c, name, name+"-phone") }
	n := s.now

	user("alice") // console password for 30 days, no MFA
	srv.SetPassword("alice", n.Add(-30*day), n.Add(-day))
	user("bob") // console password set 2 hours ago: inside the grace period
	srv.SetPassword("bob", n.Add(-2*time.Hour), time.Time{})
	user("carol") // password reset 2 hours ago, but console access granted 60 days ago
	srv.SetPasswordProfile("carol", n.Add(-60*day), n.Add(-2*time.Hour), n.Add(-time.Hour))
	user("dave") // MFA, password unused for 100 days
	mfa("dave")
	srv.SetPassword("dave", n.Add(-200*day), n.Add(-100*day))
	user("erin") // MFA, an old key in use and a never-used key
	mfa("erin")
	key("erin", "erin-old", n.Add(-200*day), n.Add(-day))
	key("erin", "erin-new", n.Add(-100*day), time.Time{})
	user("frank") // MFA, a stale key that is already inactive
	mfa("frank")
	key("frank", "frank", n.Add(-300*day), n.Add(-300*day))
	ok(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("frank"), AccessKeyId: aws.String(s.keys["frank"]), Status: iamtypes.StatusTypeInactive}))
	user("breakglass",
		iamtypes.Tag{Key: aws.String("iamwarden:exempt-reason"), Value: aws.String("Break-glass account in the safe")},
		iamtypes.Tag{Key: aws.String("iamwarden:exempt-until"), Value: aws.String(n.AddDate(1, 0, 0).Format("2006-01-02"))},
		iamtypes.Tag{Key: aws.String("iamwarden:exempt-rules"), Value: aws.String("console-mfa-missing user-mfa-missing")})
	srv.SetPassword("breakglass", n.Add(-10*day), time.Time{})
	user("legacy") // a key-only user on the SSM exclusion list
	mfa("legacy")
	key("legacy", "legacy", n.Add(-60*day), n.Add(-95*day+time.Hour))

	srv.SetRoot(mototest.RootSpec{Created: n.Add(-900 * day), PasswordLastUsed: n.Add(-20 * day),
		Keys: []mototest.RootKey{{Active: true, Rotated: n.Add(-500 * day), LastUsed: n.Add(-2 * time.Hour), Service: "ec2", Region: "us-east-1"}}})

	sc := ssm.NewFromConfig(s.cfg)
	ok(sc.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/iam-unused-user-cleanup/excluded-users"),
		Type: ssmtypes.ParameterTypeStringList, Value: aws.String("legacy,someone-else")}))
	return s
}

// env is a CLI environment talking to the scenario's account, optionally through rt.
func (s *scenario) env(rt func(http.RoundTripper) http.RoundTripper) cli.Env {
	return cli.Env{
		Now: time.Now,
		AWSConfig: func(context.Context, string, string) (aws.Config, error) {
			cfg := s.cfg.Copy()
			if rt != nil {
				hc := cfg.HTTPClient.(*http.Client)
				cfg.HTTPClient = &http.Client{Transport: rt(hc.Transport)}
			}
			return cfg, nil
		},
	}
}

type verdict struct {
	state    rules.State
	exemptBy string
}

func findings(r report.Result) map[string]verdict {
	out := map[string]verdict{}
	for _, f := range r.Findings {
		k := f.Rule + " " + f.Principal
		if f.Resource != "" {
			k += " " + f.Resource
		}
		v := verdict{state: f.State}
		if f.Exemption != nil && !f.Exemption.Expired {
			v.exemptBy = f.Exemption.Source
		}
		out[k] = v
	}
	return out
}

func TestLiveScanEveryRule(t *testing.T) {
	s := newScenario(t)
	code, out, stderr := run(t, s.env(nil), "scan", "-o", "json", "--stats", "--exemption-parameter", "/iam-unused-user-cleanup/excluded-users")
	if code != report.ExitViolations {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	r := decode(t, out)
	const param = "ssm:/iam-unused-user-cleanup/excluded-users"
	want := map[string]verdict{
		"console-mfa-missing alice":                         {state: rules.StateViolation},
		"console-mfa-missing bob":                           {state: rules.StatePending},
		"console-mfa-missing carol":                         {state: rules.StateViolation},
		"console-mfa-missing breakglass":                    {state: rules.StateExempt, exemptBy: "tag"},
		"user-mfa-missing alice":                            {state: rules.StateViolation},
		"user-mfa-missing bob":                              {state: rules.StateViolation},
		"user-mfa-missing carol":                            {state: rules.StateViolation},
		"user-mfa-missing breakglass":                       {state: rules.StateExempt, exemptBy: "tag"},
		"password-unused dave":                              {state: rules.StateViolation},
		"access-key-unused erin " + s.keys["erin-new"]:      {state: rules.StateViolation},
		"access-key-not-rotated erin " + s.keys["erin-old"]: {state: rules.StateViolation},
		"access-key-not-rotated erin " + s.keys["erin-new"]: {state: rules.StateViolation},
		"access-keys-multiple-active erin":                  {state: rules.StateViolation},
		"access-key-unused legacy " + s.keys["legacy"]:      {state: rules.StateExempt, exemptBy: param},
		"root-mfa-missing <root_account>":                   {state: rules.StateViolation},
		"root-access-key <root_account> access_key_1":       {state: rules.StateViolation},
		"root-recently-used <root_account>":                 {state: rules.StateViolation},
	}
	got := findings(r)
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("missing finding %q", k)
		} else if g != w {
			t.Errorf("%s: got %+v, want %+v", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected finding %q", k)
		}
	}
	if r.Partial || r.Source != "live" || r.AccountID != s.srv.AccountID {
		t.Errorf("partial %v source %s account %s, errors %+v", r.Partial, r.Source, r.AccountID, r.Errors)
	}
	// Per-user calls only where the report cannot decide: bob's and carol's login profiles, and
	// the keys of the users with key findings.
	if r.Calls["iam:GetLoginProfile"] != 2 || r.Calls["iam:ListAccessKeys"] != 2 {
		t.Errorf("per-user calls %v", r.Calls)
	}
	if !strings.Contains(stderr, "AWS API calls:") {
		t.Errorf("--stats printed nothing on stderr: %q", stderr)
	}
}

func TestLiveScanAsOfNextWeek(t *testing.T) {
	s := newScenario(t)
	_, out, _ := run(t, s.env(nil), "scan", "-o", "json", "--as-of", "+7d", "--rule", "console-mfa-missing,access-key-unused")
	got := findings(decode(t, out))
	if got["console-mfa-missing bob"].state != rules.StateViolation {
		t.Errorf("bob next week: %+v", got["console-mfa-missing bob"])
	}
	// legacy's key, last used 95 days ago minus an hour, is stale next week (no exemption list here).
	if got["access-key-unused legacy "+s.keys["legacy"]].state != rules.StateViolation {
		t.Errorf("legacy next week: %v", got)
	}
}

// An export read back offline judges exactly as the live scan did: the whole JSON result is the
// same, but for the read times and the source.
func TestExportRoundTrip(t *testing.T) {
	s := newScenario(t)
	// Two recent keys in use: access-keys-multiple-active is gina's only key finding.
	ctx := context.Background()
	c := iam.NewFromConfig(s.cfg)
	noErr(t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("gina")}))
	s.srv.BackdateUser("gina", s.now.Add(-400*day))
	s.srv.EnableVirtualMFA(c, "gina", "gina-phone")
	for i := range 2 {
		out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("gina")})
		if err != nil {
			t.Fatal(err)
		}
		s.srv.SetAccessKey("gina", aws.ToString(out.AccessKey.AccessKeyId), s.now.Add(-time.Duration(10+i)*day), s.now.Add(-day), "s3", "eu-west-1")
	}
	dir := filepath.Join(t.TempDir(), "export")
	asOf := s.now.Add(time.Hour).Format(time.RFC3339)
	code, _, stderr := run(t, s.env(nil), "export", dir)
	if code != 0 {
		t.Fatalf("export exit %d: %s", code, stderr)
	}
	_, liveOut, _ := run(t, s.env(nil), "scan", "-o", "json", "--as-of", asOf)
	_, offOut, _ := run(t, cli.Env{}, "scan", "-o", "json", "--from", dir, "--as-of", asOf)
	live, off := decode(t, liveOut), decode(t, offOut)
	if off.Source != "export" || live.Source != "live" {
		t.Errorf("sources %s, %s", live.Source, off.Source)
	}
	if len(live.Findings) < 10 {
		t.Errorf("only %d findings", len(live.Findings))
	}
	if a, b := withoutReadTimes(t, liveOut), withoutReadTimes(t, offOut); a != b {
		t.Errorf("offline result differs from live:\n%s", lineDiff(a, b))
	}
}

// withoutReadTimes is a JSON result, indented, without the fields that say when and from where it
// was read.
func withoutReadTimes(t *testing.T, out string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"generated_at", "data_read_at", "credential_report_generated_at", "source"} {
		delete(m, k)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lineDiff lists the lines of a and b that differ, position by position.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("line %d:\n  live:    %s\n  offline: %s", i+1, x, y))
		}
	}
	return strings.Join(out, "\n")
}

// failing answers one IAM or STS action with an AWS query-protocol error.
func failing(action, code string, status int) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return rtFunc(func(r *http.Request) (*http.Response, error) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			if form.Get("Action") != action {
				return next.RoundTrip(r)
			}
			xml := fmt.Sprintf(`<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>injected %s</Message></Error><RequestId>1</RequestId></ErrorResponse>`, code, code)
			return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"text/xml"}},
				Body: io.NopCloser(strings.NewReader(xml)), Request: r}, nil
		})
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestLiveScanErrors(t *testing.T) {
	s := newScenario(t)
	cases := []struct {
		name     string
		rt       func(http.RoundTripper) http.RoundTripper
		code     int
		stderr   []string
		errWhere string
	}{
		{"optional call denied", failing("ListVirtualMFADevices", "AccessDenied", 403), report.ExitPartial, nil, "iam:ListVirtualMFADevices"},
		{"login profile denied", failing("GetLoginProfile", "AccessDenied", 403), report.ExitPartial, nil, "iam:GetLoginProfile"},
		{"required call denied", failing("GetAccountAuthorizationDetails", "AccessDenied", 403), report.ExitError,
			[]string{"iam:GetAccountAuthorizationDetails", "AccessDenied"}, ""},
		{"expired credentials", failing("GetCallerIdentity", "ExpiredToken", 403), report.ExitError,
			[]string{"sts:GetCallerIdentity", "try: "}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, stderr := run(t, s.env(c.rt), "scan", "-o", "json")
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, c.code, stderr)
			}
			for _, w := range c.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
			if c.errWhere == "" {
				if out != "" {
					t.Errorf("a failed scan printed a report: %s", out)
				}
				return
			}
			r := decode(t, out)
			if !r.Partial || len(r.Errors) == 0 || r.Errors[0].Where != c.errWhere {
				t.Errorf("partial %v errors %+v", r.Partial, r.Errors)
			}
			if len(r.Findings) == 0 {
				t.Error("a partial result judged nothing")
			}
		})
	}
}

// mfa-not-enforced on a live account: AWS managed policies are read (once each) and the user's
// whole policy set is evaluated.
func TestLiveScanMFANotEnforced(t *testing.T) {
	ctx := context.Background()
	srv := mototest.Shared(t)
	cfg := srv.Config(ctx)
	c := iam.NewFromConfig(cfg)
	ok := noErr(t)
	enforce := `{"Version":"2012-10-17","Statement":[{"Sid":"DenyAllExceptListedIfNoMFA","Effect":"Deny","NotAction":["iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:GetUser","iam:ListMFADevices","iam:ListVirtualMFADevices","iam:ResyncMFADevice","sts:GetSessionToken","iam:ChangePassword"],"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	boolDeny := strings.Replace(enforce, "BoolIfExists", "Bool", 1)
	pol := func(name, doc string) string {
		out, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Policy.Arn)
	}
	enforceARN, boolARN := pol("EnforceMFA", enforce), pol("EnforceMFABool", boolDeny)
	const adminARN = "arn:aws:iam::aws:policy/AdministratorAccess"
	user := func(name string, password, key bool, policies ...string) {
		ok(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}))
		for _, p := range policies {
			ok(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(name), PolicyArn: aws.String(p)}))
		}
		if password {
			srv.SetPassword(name, time.Now().Add(-time.Hour), time.Time{})
		}
		if key {
			ok(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)}))
		}
	}
	user("admin", true, false, adminARN)
	user("enforced", true, true, adminARN, enforceARN)
	user("boolbug", true, true, adminARN, boolARN)
	user("nothing", true, true)

	code, out, stderr := run(t, cli.Env{Now: time.Now, AWSConfig: func(context.Context, string, string) (aws.Config, error) { return cfg, nil }},
		"scan", "-o", "json", "--stats", "--rule", "mfa-not-enforced")
	if code != report.ExitViolations {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := decode(t, out)
	got := map[string][]string{}
	for _, f := range r.Findings {
		for k := range f.Evidence {
			got[f.Principal] = append(got[f.Principal], k)
		}
		sort.Strings(got[f.Principal])
	}
	want := map[string][]string{"admin": {"console_without_mfa"}, "boolbug": {"access_key_without_mfa"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("findings %v, want %v", got, want)
	}
	if r.Calls["iam:GetPolicy"] != 1 || r.Calls["iam:GetPolicyVersion"] != 1 {
		t.Errorf("AWS managed policy reads %v, want one of each for AdministratorAccess", r.Calls)
	}
}
