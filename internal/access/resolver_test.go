package access_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/access"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/rules"
)

const (
	admin     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	readOnly  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","ec2:Describe*"],"Resource":"*"}]}`
	boundary  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`
	enforce   = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyWithoutMFA","Effect":"Deny","NotAction":["iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:ListMFADevices","iam:GetUser","sts:GetSessionToken","iam:ChangePassword"],"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	adminARN  = "arn:aws:iam::aws:policy/AdministratorAccess"
	roARN     = "arn:aws:iam::aws:policy/ReadOnlyAccess"
	boundARN  = "arn:aws:iam::123456789012:policy/Boundary"
	brokenARN = "arn:aws:iam::123456789012:policy/Broken"
)

func snapshot() *inventory.Snapshot {
	return &inventory.Snapshot{
		Policies: map[string]inventory.ManagedPolicy{
			adminARN:  {Name: "AdministratorAccess", ARN: adminARN, Document: admin},
			roARN:     {Name: "ReadOnlyAccess", ARN: roARN, Document: readOnly},
			boundARN:  {Name: "Boundary", ARN: boundARN, Document: boundary},
			brokenARN: {Name: "Broken", ARN: brokenARN, Document: `{"Statement":[{"Effect":"Maybe"}]}`},
		},
		Groups: map[string]inventory.Group{
			"Admins":   {Name: "Admins", AttachedPolicies: []string{adminARN}, InlinePolicies: []inventory.InlinePolicy{{Name: "EnforceMFA", Document: enforce}}},
			"Readers":  {Name: "Readers", AttachedPolicies: []string{roARN}},
			"BadGroup": {Name: "BadGroup", AttachedPolicies: []string{brokenARN}},
		},
	}
}

func decide(t *testing.T, set *policy.PolicySet, arn, action string, kind policy.AuthKind) policy.Result {
	t.Helper()
	ctx, err := policy.ContextFor(arn, kind, policy.ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return policy.Evaluate(set, &policy.Request{Principal: arn, Action: action, Resource: "*", Context: ctx}).Result
}

func TestPolicySet(t *testing.T) {
	r := access.NewResolver(snapshot())
	arn := "arn:aws:iam::123456789012:user/u"
	cases := []struct {
		name   string
		user   inventory.User
		action string
		kind   policy.AuthKind
		want   policy.Result
		err    string
	}{
		{"group inline deny without MFA", inventory.User{Groups: []string{"Admins"}}, "ec2:RunInstances", policy.AuthConsole, policy.ExplicitDeny, ""},
		{"group attached allow with MFA", inventory.User{Groups: []string{"Admins"}}, "ec2:RunInstances", policy.AuthConsoleMFA, policy.Allowed, ""},
		{"user attached", inventory.User{AttachedPolicies: []string{roARN}}, "ec2:DescribeInstances", policy.AuthAccessKey, policy.Allowed, ""},
		{"user inline", inventory.User{InlinePolicies: []inventory.InlinePolicy{{Name: "i", Document: readOnly}}}, "s3:GetObject", policy.AuthAccessKey, policy.Allowed, ""},
		{"boundary limits", inventory.User{AttachedPolicies: []string{adminARN}, PermissionsBoundary: boundARN}, "ec2:RunInstances", policy.AuthConsole, policy.ImplicitDeny, ""},
		{"boundary passes", inventory.User{AttachedPolicies: []string{adminARN}, PermissionsBoundary: boundARN}, "s3:PutObject", policy.AuthConsole, policy.Allowed, ""},
		{"unknown managed policy", inventory.User{AttachedPolicies: []string{"arn:aws:iam::aws:policy/Missing"}}, "", 0, 0, "arn:aws:iam::aws:policy/Missing: document not in the data"},
		{"invalid managed policy via group", inventory.User{Groups: []string{"BadGroup"}}, "", 0, 0, "group BadGroup: managed policy " + brokenARN},
		{"unknown group", inventory.User{Groups: []string{"Nope"}}, "", 0, 0, "group Nope: not in the authorization details"},
		{"invalid inline", inventory.User{InlinePolicies: []inventory.InlinePolicy{{Name: "bad", Document: "{"}}}, "", 0, 0, "inline policy bad"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := c.user
			u.ARN = arn
			set, err := r.PolicySet(&u)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := decide(t, set, arn, c.action, c.kind); got != c.want {
				t.Errorf("%s as %v: %v, want %v", c.action, c.kind, got, c.want)
			}
		})
	}
}

// BenchmarkMFANotEnforced10k judges 10,000 console users with keys, in groups with AWS managed
// and inline policies: the rule's share of a scan. Target: under 2 s.
func BenchmarkMFANotEnforced10k(b *testing.B) {
	const users = 10000
	snap := snapshot()
	asOf := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for i := range users {
		u := inventory.User{Name: fmt.Sprintf("user-%05d", i), ARN: fmt.Sprintf("arn:aws:iam::123456789012:user/user-%05d", i),
			Password:   inventory.Password{Enabled: true},
			AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, Created: asOf.AddDate(0, -1, 0)}}}
		switch i % 3 {
		case 0:
			u.Groups = []string{"Admins"}
		case 1:
			u.Groups = []string{"Readers"}
		default:
			u.AttachedPolicies = []string{adminARN}
			u.InlinePolicies = []inventory.InlinePolicy{{Name: "own", Document: readOnly}}
		}
		snap.Users = append(snap.Users, u)
	}
	rule, _ := rules.Lookup("mfa-not-enforced")
	var findings int
	for b.Loop() {
		env := rules.Env{AsOf: asOf, Thresholds: rules.DefaultThresholds(), Policies: access.NewResolver(snap)}
		findings = 0
		for i := range snap.Users {
			findings += len(rule.Check(env, &snap.Users[i]))
		}
	}
	if want := users - (users+2)/3; findings != want {
		b.Fatalf("%d findings, want %d", findings, want)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/10k-users")
}
