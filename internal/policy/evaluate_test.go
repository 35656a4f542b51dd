package policy_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/policy"
)

const alice = "arn:aws:iam::123456789012:user/alice"

func load(t testing.TB, file string, kind policy.Kind) *policy.Policy {
	t.Helper()
	data, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse(file, data, kind)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctxFor(t testing.TB, kind policy.AuthKind) map[string]policy.Value {
	t.Helper()
	c, err := policy.ContextFor(alice, kind, policy.ContextOptions{Now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), MFAAge: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// allowAll stands for whatever else grants the user access (e.g. AdministratorAccess).
const allowAll = `{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Action":"*","Resource":"*"}]}`

func TestSeedPoliciesEnforceMFA(t *testing.T) {
	admin := policy.MustParse("admin", allowAll, policy.KindIdentity)
	const (
		mfaPhone    = "arn:aws:iam::123456789012:mfa/phone"
		mfaAlice    = "arn:aws:iam::123456789012:mfa/alice"
		aliceARN    = alice
		bob         = "arn:aws:iam::123456789012:user/bob"
		bucket      = "arn:aws:s3:::reports/q3.csv"
		createMFA   = "iam:CreateVirtualMFADevice"
		enableMFA   = "iam:EnableMFADevice"
		getObject   = "s3:GetObject"
		changePass  = "iam:ChangePassword"
		createKey   = "iam:CreateAccessKey"
		sessionTok  = "sts:GetSessionToken"
		terminateEC = "ec2:TerminateInstances"
	)
	type row struct {
		action, resource string
		auth             policy.AuthKind
		want             policy.Result
	}
	tests := []struct {
		name     string
		policies []string
		withAdm  bool
		rows     []row
	}{
		{"001 enforce MFA policy with admin", []string{"seed001_enforce_mfa.json"}, true, []row{
			{getObject, bucket, policy.AuthConsole, policy.ExplicitDeny},
			{getObject, bucket, policy.AuthAccessKey, policy.ExplicitDeny}, // BoolIfExists: absent key counts
			{getObject, bucket, policy.AuthConsoleMFA, policy.Allowed},
			{getObject, bucket, policy.AuthSessionMFA, policy.Allowed},
			{terminateEC, "*", policy.AuthConsole, policy.ExplicitDeny},
			{createMFA, mfaPhone, policy.AuthConsole, policy.Allowed},
			{enableMFA, aliceARN, policy.AuthConsole, policy.Allowed},
			{sessionTok, "*", policy.AuthAccessKey, policy.Allowed},
			{changePass, aliceARN, policy.AuthConsole, policy.ExplicitDeny}, // not in the NotAction list
		}},
		{"001 enforce MFA policy alone", []string{"seed001_enforce_mfa.json"}, false, []row{
			{createMFA, mfaPhone, policy.AuthConsole, policy.Allowed},
			{enableMFA, aliceARN, policy.AuthConsole, policy.Allowed},
			{enableMFA, bob, policy.AuthConsole, policy.ImplicitDeny},
			{createKey, aliceARN, policy.AuthConsoleMFA, policy.Allowed},
			{createKey, bob, policy.AuthConsoleMFA, policy.ImplicitDeny},
			{getObject, bucket, policy.AuthConsoleMFA, policy.ImplicitDeny},
		}},
		{"002 ForceMfaAccess group", []string{"seed002_force_mfa_group.json"}, true, []row{
			{getObject, bucket, policy.AuthConsole, policy.ExplicitDeny},
			{getObject, bucket, policy.AuthAccessKey, policy.ExplicitDeny},
			{getObject, bucket, policy.AuthConsoleMFA, policy.Allowed},
			{changePass, aliceARN, policy.AuthConsole, policy.Allowed},
			{createMFA, mfaAlice, policy.AuthConsole, policy.Allowed},
			{sessionTok, "*", policy.AuthAccessKey, policy.Allowed},
		}},
		{"002 group alone: named MFA devices refused", []string{"seed002_force_mfa_group.json"}, false, []row{
			{createMFA, mfaAlice, policy.AuthConsole, policy.Allowed},
			{createMFA, mfaPhone, policy.AuthConsole, policy.ImplicitDeny},
		}},
		{"004 AWS example", []string{"seed004_aws_example.json"}, true, []row{
			{getObject, bucket, policy.AuthConsole, policy.ExplicitDeny},
			{getObject, bucket, policy.AuthAccessKey, policy.ExplicitDeny},
			{getObject, bucket, policy.AuthConsoleMFA, policy.Allowed},
			{"iam:DeactivateMFADevice", aliceARN, policy.AuthConsole, policy.ExplicitDeny},
			{"iam:ListUsers", "*", policy.AuthConsole, policy.Allowed},
		}},
		{"004 minimal policy before the fix", []string{"seed004_minimal_old.json"}, false, []row{
			{createMFA, mfaPhone, policy.AuthConsole, policy.ImplicitDeny},
			{createMFA, mfaAlice, policy.AuthConsole, policy.Allowed},
		}},
		{"004 minimal policy after the fix", []string{"seed004_minimal_fixed.json"}, false, []row{
			{createMFA, mfaPhone, policy.AuthConsole, policy.Allowed},
			{enableMFA, aliceARN, policy.AuthConsole, policy.Allowed},
			{enableMFA, bob, policy.AuthConsole, policy.ImplicitDeny},
			{changePass, aliceARN, policy.AuthConsole, policy.Allowed},
		}},
		{"004 fixed policy with admin", []string{"seed004_minimal_fixed.json"}, true, []row{
			{getObject, bucket, policy.AuthConsole, policy.ExplicitDeny},
			{getObject, bucket, policy.AuthAccessKey, policy.ExplicitDeny},
			{getObject, bucket, policy.AuthSessionMFA, policy.Allowed},
			{createMFA, mfaPhone, policy.AuthConsole, policy.Allowed},
		}},
		{"001 user creators deny", []string{"seed001_user_creators.json"}, true, []row{
			{createKey, bob, policy.AuthConsole, policy.ExplicitDeny},
			{createKey, bob, policy.AuthAccessKey, policy.ExplicitDeny},
			{createKey, bob, policy.AuthConsoleMFA, policy.Allowed},
			{"iam:CreateLoginProfile", bob, policy.AuthConsole, policy.ExplicitDeny},
			{"iam:CreateUser", bob, policy.AuthConsole, policy.Allowed},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := &policy.PolicySet{}
			for _, f := range tc.policies {
				set.Identity = append(set.Identity, load(t, f, policy.KindIdentity))
			}
			if tc.withAdm {
				set.Identity = append(set.Identity, admin)
			}
			for _, r := range tc.rows {
				req := &policy.Request{Principal: alice, Action: r.action, Resource: r.resource, Context: ctxFor(t, r.auth)}
				d := policy.Evaluate(set, req)
				if d.Result != r.want {
					t.Errorf("%s on %s as %s: got %s (%+v), want %s", r.action, r.resource, r.auth, d.Result, d, r.want)
				}
				if d.Result != policy.ImplicitDeny && len(d.Deciding) == 0 && d.Rule == "" {
					t.Errorf("%s on %s as %s: no deciding statement", r.action, r.resource, r.auth)
				}
			}
		})
	}
}

func TestClassicBoolBug(t *testing.T) {
	// A Deny on "Bool aws:MultiFactorAuthPresent false" does not fire when the key is absent:
	// requests signed with long-term access keys get through. BoolIfExists closes the gap.
	const buggy = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyNoMFA","Effect":"Deny","NotAction":"iam:*MFA*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	const fixed = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyNoMFA","Effect":"Deny","NotAction":"iam:*MFA*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	admin := policy.MustParse("admin", allowAll, policy.KindIdentity)
	tests := []struct {
		doc  string
		auth policy.AuthKind
		want policy.Result
	}{
		{buggy, policy.AuthConsole, policy.ExplicitDeny},
		{buggy, policy.AuthAccessKey, policy.Allowed},
		{buggy, policy.AuthConsoleMFA, policy.Allowed},
		{fixed, policy.AuthConsole, policy.ExplicitDeny},
		{fixed, policy.AuthAccessKey, policy.ExplicitDeny},
		{fixed, policy.AuthSessionMFA, policy.Allowed},
	}
	for _, tc := range tests {
		set := &policy.PolicySet{Identity: []*policy.Policy{policy.MustParse("mfa", tc.doc, policy.KindIdentity), admin}}
		d := policy.Evaluate(set, &policy.Request{Principal: alice, Action: "s3:ListAllMyBuckets", Resource: "*", Context: ctxFor(t, tc.auth)})
		if d.Result != tc.want {
			t.Errorf("%s: got %s, want %s", tc.auth, d.Result, tc.want)
		}
		if tc.want == policy.ExplicitDeny && (len(d.Deciding) != 1 || d.Deciding[0].Sid != "DenyNoMFA" || d.Deciding[0].Policy != "mfa" || d.Deciding[0].Line != 1) {
			t.Errorf("%s: deciding = %+v", tc.auth, d.Deciding)
		}
	}
}

func TestLayers(t *testing.T) {
	allowS3 := policy.MustParse("s3", `{"Version":"2012-10-17","Statement":[{"Sid":"S3","Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, policy.KindIdentity)
	allowAllP := func(kind policy.Kind) *policy.Policy { return policy.MustParse("all", allowAll, kind) }
	boundaryEC2 := policy.MustParse("boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`, policy.KindBoundary)
	scpDenyS3 := policy.MustParse("scp-deny", `{"Version":"2012-10-17","Statement":[{"Sid":"NoS3","Effect":"Deny","Action":"s3:*","Resource":"*"}]}`, policy.KindSCP)
	scpEC2 := policy.MustParse("scp-ec2", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`, policy.KindSCP)
	bucketPolicy := policy.MustParse("bucket", `{"Version":"2012-10-17","Statement":[{"Sid":"Alice","Effect":"Allow","Principal":{"AWS":"`+alice+`"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, policy.KindResource)
	tests := []struct {
		name        string
		set         policy.PolicySet
		action      string
		want        policy.Result
		wantMissing string
	}{
		{"identity allows", policy.PolicySet{Identity: []*policy.Policy{allowS3}}, "s3:GetObject", policy.Allowed, ""},
		{"nothing allows", policy.PolicySet{Identity: []*policy.Policy{allowS3}}, "ec2:RunInstances", policy.ImplicitDeny, "identity"},
		{"boundary lacks it", policy.PolicySet{Identity: []*policy.Policy{allowS3}, Boundary: boundaryEC2}, "s3:GetObject", policy.ImplicitDeny, "boundary"},
		{"boundary and identity allow", policy.PolicySet{Identity: []*policy.Policy{allowAllP(policy.KindIdentity)}, Boundary: boundaryEC2}, "ec2:RunInstances", policy.Allowed, ""},
		{"scp deny", policy.PolicySet{Identity: []*policy.Policy{allowS3}, SCPs: [][]*policy.Policy{{allowAllP(policy.KindSCP), scpDenyS3}}}, "s3:GetObject", policy.ExplicitDeny, ""},
		{"second scp level lacks it", policy.PolicySet{Identity: []*policy.Policy{allowS3}, SCPs: [][]*policy.Policy{{allowAllP(policy.KindSCP)}, {scpEC2}}}, "s3:GetObject", policy.ImplicitDeny, "scp level 1"},
		{"every scp level allows", policy.PolicySet{Identity: []*policy.Policy{allowAllP(policy.KindIdentity)}, SCPs: [][]*policy.Policy{{allowAllP(policy.KindSCP)}, {scpEC2}}}, "ec2:RunInstances", policy.Allowed, ""},
		{"same-account bucket policy naming the user", policy.PolicySet{ResourcePolicies: []*policy.Policy{bucketPolicy}}, "s3:GetObject", policy.Allowed, ""},
		{"bucket policy does not cover the action", policy.PolicySet{ResourcePolicies: []*policy.Policy{bucketPolicy}}, "s3:PutObject", policy.ImplicitDeny, "identity"},
		{"other account's resource without resource policy", policy.PolicySet{Identity: []*policy.Policy{allowS3}}, "s3:GetObject@210987654321", policy.ImplicitDeny, "resource"},
		{"other account's bucket policy naming the user", policy.PolicySet{Identity: []*policy.Policy{allowS3}, ResourcePolicies: []*policy.Policy{bucketPolicy}}, "s3:GetObject@210987654321", policy.Allowed, ""},
		{"other account's bucket policy without identity allow", policy.PolicySet{ResourcePolicies: []*policy.Policy{bucketPolicy}}, "s3:GetObject@210987654321", policy.ImplicitDeny, "identity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			action, acct, _ := strings.Cut(tc.action, "@")
			d := policy.Evaluate(&tc.set, &policy.Request{Principal: alice, Action: action, Resource: "arn:aws:s3:::b/k", ResourceAccount: acct, Context: ctxFor(t, policy.AuthConsoleMFA)})
			if d.Result != tc.want || d.Missing != tc.wantMissing {
				t.Errorf("got %s missing %q, want %s missing %q", d.Result, d.Missing, tc.want, tc.wantMissing)
			}
		})
	}
}

func TestActionAndResourceMatching(t *testing.T) {
	tests := []struct {
		name     string
		field    string // "Action", "NotAction", "Resource", "NotResource"
		pattern  string
		action   string
		resource string
		want     bool
	}{
		{"action exact", "Action", "iam:GetUser", "iam:GetUser", "*", true},
		{"action case-insensitive", "Action", "IAM:getuser", "iam:GetUser", "*", true},
		{"action prefix wildcard", "Action", "iam:Get*", "iam:GetUser", "*", true},
		{"action wildcard does not match other service", "Action", "iam:Get*", "s3:GetObject", "*", false},
		{"action question mark", "Action", "iam:?etUser", "iam:GetUser", "*", true},
		{"action infix", "Action", "iam:*MFA*", "iam:CreateVirtualMFADevice", "*", true},
		{"action star alone", "Action", "*", "ec2:RunInstances", "*", true},
		{"notaction excludes", "NotAction", "iam:*", "iam:GetUser", "*", false},
		{"notaction includes others", "NotAction", "iam:*", "s3:GetObject", "*", true},
		{"resource case-sensitive", "Resource", "arn:aws:iam::123456789012:user/Alice", "iam:GetUser", "arn:aws:iam::123456789012:user/alice", false},
		{"resource account wildcard", "Resource", "arn:aws:iam::*:user/alice", "iam:GetUser", "arn:aws:iam::123456789012:user/alice", true},
		{"resource star spans slashes", "Resource", "arn:aws:s3:::b/*", "s3:GetObject", "arn:aws:s3:::b/x/y/z", true},
		{"resource mid-segment star stops at colon", "Resource", "arn:aws:iam::1*2:user/alice", "iam:GetUser", "arn:aws:iam::1:x:2:user/alice", false},
		{"resource trailing star crosses colons", "Resource", "arn:aws:logs:*", "logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:g:log-stream:s", true},
		{"resource question mark", "Resource", "arn:aws:s3:::b?", "s3:ListBucket", "arn:aws:s3:::b1", true},
		{"resource variable", "Resource", "arn:aws:iam::*:user/${aws:username}", "iam:GetUser", "arn:aws:iam::123456789012:user/alice", true},
		{"resource variable other user", "Resource", "arn:aws:iam::*:user/${aws:username}", "iam:GetUser", "arn:aws:iam::123456789012:user/bob", false},
		{"resource variable value is literal", "Resource", "arn:aws:s3:::b/${aws:PrincipalTag/team}/*", "s3:GetObject", "arn:aws:s3:::b/x/k", false},
		{"resource variable default", "Resource", "arn:aws:s3:::b/${aws:PrincipalTag/dept, 'none'}/*", "s3:GetObject", "arn:aws:s3:::b/none/k", true},
		{"resource unresolvable variable", "Resource", "arn:aws:s3:::b/${aws:PrincipalTag/dept}/*", "s3:GetObject", "arn:aws:s3:::b//k", false},
		{"unresolvable variable in NotResource, resource outside anyway", "NotResource", "arn:aws:s3:::b/${aws:PrincipalTag/dept}/*", "s3:GetObject", "arn:aws:s3:::c/k", true},
		{"unresolvable variable in NotResource, resource may be inside", "NotResource", "arn:aws:s3:::b/${aws:PrincipalTag/dept}/*", "s3:GetObject", "arn:aws:s3:::b/x/k", false},
		{"special character variables", "Resource", "arn:aws:s3:::b/${*}${?}${$}", "s3:GetObject", "arn:aws:s3:::b/*?$", true},
		{"special characters are literal", "Resource", "arn:aws:s3:::b/${*}", "s3:GetObject", "arn:aws:s3:::b/x", false},
		{"notresource", "NotResource", "arn:aws:s3:::b/*", "s3:GetObject", "arn:aws:s3:::c/k", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			act, res := `"Action":"*"`, `"Resource":"*"`
			switch tc.field {
			case "Action", "NotAction":
				act = `"` + tc.field + `":"` + tc.pattern + `"`
			default:
				res = `"` + tc.field + `":"` + tc.pattern + `"`
			}
			doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` + act + `,` + res + `}]}`
			set := &policy.PolicySet{Identity: []*policy.Policy{policy.MustParse("p", doc, policy.KindIdentity)}}
			ctx := ctxFor(t, policy.AuthConsoleMFA)
			ctx["aws:PrincipalTag/team"] = policy.String("*")
			got := policy.Evaluate(set, &policy.Request{Principal: alice, Action: tc.action, Resource: tc.resource, Context: ctx}).Allowed()
			if got != tc.want {
				t.Errorf("%s %q vs %s %s: allowed = %v, want %v", tc.field, tc.pattern, tc.action, tc.resource, got, tc.want)
			}
		})
	}
}

func TestUnresolvableVariableInResourceList(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::b/${aws:PrincipalTag/dept}/*","arn:aws:s3:::b/shared/*"]}]}`
	set := &policy.PolicySet{Identity: []*policy.Policy{policy.MustParse("p", doc, policy.KindIdentity)}}
	ctx := ctxFor(t, policy.AuthConsoleMFA)
	for res, want := range map[string]bool{"arn:aws:s3:::b/shared/k": true, "arn:aws:s3:::b/sales/k": false} {
		if got := policy.Evaluate(set, &policy.Request{Principal: alice, Action: "s3:GetObject", Resource: res, Context: ctx}).Allowed(); got != want {
			t.Errorf("%s: allowed = %v, want %v", res, got, want)
		}
	}
}

func TestVersion2008TreatsVariablesLiterally(t *testing.T) {
	doc := `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}]}`
	set := &policy.PolicySet{Identity: []*policy.Policy{policy.MustParse("p", doc, policy.KindIdentity)}}
	ctx := ctxFor(t, policy.AuthConsoleMFA)
	if policy.Evaluate(set, &policy.Request{Principal: alice, Action: "iam:GetUser", Resource: alice, Context: ctx}).Allowed() {
		t.Error("variable substituted in a 2008-10-17 policy")
	}
	if !policy.Evaluate(set, &policy.Request{Principal: alice, Action: "iam:GetUser", Resource: "arn:aws:iam::123456789012:user/${aws:username}", Context: ctx}).Allowed() {
		t.Error("literal ${aws:username} not matched in a 2008-10-17 policy")
	}
}

func TestManyWildcardsStayFast(t *testing.T) {
	pat := strings.Repeat("*a", 40) + "*b"
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + pat + `"}]}`
	set := &policy.PolicySet{Identity: []*policy.Policy{policy.MustParse("p", doc, policy.KindIdentity)}}
	res := "arn:aws:s3:::" + strings.Repeat("a", 2000)
	if policy.Evaluate(set, &policy.Request{Principal: alice, Action: "s3:GetObject", Resource: res}).Allowed() {
		t.Error("matched a resource without the final b")
	}
	if !policy.Evaluate(set, &policy.Request{Principal: alice, Action: "s3:GetObject", Resource: res + "b"}).Allowed() {
		t.Error("did not match a resource ending in b")
	}
}

func TestSeedSCPBlocksMFARegistration(t *testing.T) {
	// The SCP of the Security Hub IAM.5 post denies "*" without MFA; its Allow statement cannot
	// carve out MFA registration, because an explicit Deny wins: users without MFA cannot register
	// one while it is attached.
	admin := policy.MustParse("admin", allowAll, policy.KindIdentity)
	full := policy.MustParse("FullAWSAccess", allowAll, policy.KindSCP)
	scp := load(t, "seed001_scp.json", policy.KindSCP)
	tests := []struct {
		name        string
		level       []*policy.Policy
		action      string
		resource    string
		auth        policy.AuthKind
		want        policy.Result
		wantMissing string
	}{
		{"registration without MFA", []*policy.Policy{full, scp}, "iam:CreateVirtualMFADevice", "arn:aws:iam::123456789012:mfa/phone", policy.AuthConsole, policy.ExplicitDeny, ""},
		{"access key without MFA", []*policy.Policy{full, scp}, "s3:GetObject", "arn:aws:s3:::b/k", policy.AuthAccessKey, policy.ExplicitDeny, ""},
		{"with MFA", []*policy.Policy{full, scp}, "s3:GetObject", "arn:aws:s3:::b/k", policy.AuthSessionMFA, policy.Allowed, ""},
		{"SCP alone allows only the MFA actions", []*policy.Policy{scp}, "s3:GetObject", "arn:aws:s3:::b/k", policy.AuthSessionMFA, policy.ImplicitDeny, "scp level 0"},
		{"SCP alone, MFA action with MFA", []*policy.Policy{scp}, "iam:EnableMFADevice", alice, policy.AuthSessionMFA, policy.Allowed, ""},
	}
	for _, tc := range tests {
		set := &policy.PolicySet{Identity: []*policy.Policy{admin}, SCPs: [][]*policy.Policy{tc.level}}
		d := policy.Evaluate(set, &policy.Request{Principal: alice, Action: tc.action, Resource: tc.resource, Context: ctxFor(t, tc.auth)})
		if d.Result != tc.want || d.Missing != tc.wantMissing {
			t.Errorf("%s: got %s missing %q, want %s missing %q", tc.name, d.Result, d.Missing, tc.want, tc.wantMissing)
		}
	}
}
