package policy_test

import (
	"testing"

	"github.com/iamwarden/iamwarden/internal/policy"
)

const (
	devSession = "arn:aws:sts::123456789012:assumed-role/Dev/alice"
	devRole    = "arn:aws:iam::123456789012:role/Dev"
	reportsObj = "arn:aws:s3:::reports/q3.csv"
)

func TestAssumedRolePrincipalArnIsTheRole(t *testing.T) {
	ctx, err := policy.ContextFor(devSession, policy.AuthAccessKey, policy.ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ctx["aws:PrincipalArn"].Values; len(got) != 1 || got[0] != devRole {
		t.Errorf("aws:PrincipalArn = %v, want %s (the role, not the session)", got, devRole)
	}
	if got := ctx["aws:PrincipalType"].Values; len(got) != 1 || got[0] != "AssumedRole" {
		t.Errorf("aws:PrincipalType = %v, want AssumedRole", got)
	}
	if _, ok := ctx["aws:username"]; ok {
		t.Error("a role session has no aws:username")
	}
	// An identity policy conditioned on the role ARN applies to the session.
	p := policy.MustParse("p", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
		"Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/Dev"}}}]}`, policy.KindIdentity)
	d := policy.Evaluate(&policy.PolicySet{Identity: []*policy.Policy{p}}, &policy.Request{Principal: devSession, Action: "s3:GetObject", Resource: reportsObj, Context: ctx})
	if d.Result != policy.Allowed {
		t.Errorf("ArnEquals aws:PrincipalArn role: %v, want allowed", d.Result)
	}
}

func TestResourcePolicyNamingRoleGrantsItsSessions(t *testing.T) {
	bucket := func(principal string) *policy.Policy {
		return policy.MustParse("bucket", `{"Version":"2012-10-17","Statement":[{"Sid":"R","Effect":"Allow","Principal":{"AWS":"`+principal+`"},
			"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}`, policy.KindResource)
	}
	narrow := policy.MustParse("boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`, policy.KindBoundary)
	session := policy.MustParse("session", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`, policy.KindSession)
	other := "arn:aws:sts::123456789012:assumed-role/Ops/alice"
	tests := []struct {
		name      string
		principal string
		named     string
		boundary  *policy.Policy
		session   *policy.Policy
		want      policy.Result
	}{
		{"role ARN grants the session", devSession, devRole, nil, nil, policy.Allowed},
		{"role ARN with a path grants the session", devSession, "arn:aws:iam::123456789012:role/teams/Dev", nil, nil, policy.Allowed},
		{"another role's ARN does not", other, devRole, nil, nil, policy.ImplicitDeny},
		{"another account's role of that name does not", "arn:aws:sts::210987654321:assumed-role/Dev/alice", devRole, nil, nil, policy.ImplicitDeny},
		{"session ARN grants the session", devSession, devSession, nil, nil, policy.Allowed},
		{"another session of the role is not named", "arn:aws:sts::123456789012:assumed-role/Dev/bob", devSession, nil, nil, policy.ImplicitDeny},
		// Policy evaluation logic: grants to the role ARN are limited by an implicit deny in a
		// permissions boundary or session policy; grants to the session ARN are not.
		{"role ARN grant limited by the boundary", devSession, devRole, narrow, nil, policy.ImplicitDeny},
		{"role ARN grant limited by the session policy", devSession, devRole, nil, session, policy.ImplicitDeny},
		{"session ARN grant not limited by the boundary", devSession, devSession, narrow, nil, policy.Allowed},
		{"session ARN grant not limited by the session policy", devSession, devSession, nil, session, policy.Allowed},
		{"user ARN grant not limited by the boundary", alice, alice, narrow, nil, policy.Allowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := &policy.PolicySet{ResourcePolicies: []*policy.Policy{bucket(tc.named)}, Boundary: tc.boundary}
			if tc.session != nil {
				set.SessionPolicies = []*policy.Policy{tc.session}
			}
			d := policy.Evaluate(set, &policy.Request{Principal: tc.principal, Action: "s3:GetObject", Resource: reportsObj, ResourceAccount: "123456789012"})
			if d.Result != tc.want {
				t.Errorf("got %v (%+v, missing %q), want %v", d.Result, d.Deciding, d.Missing, tc.want)
			}
		})
	}
}

func TestGetSessionTokenCannotBeRestricted(t *testing.T) {
	denyAll := policy.MustParse("deny", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["sts:*","sts:GetSessionToken"],"Resource":"*"}]}`, policy.KindIdentity)
	denySCP := policy.MustParse("scp", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`, policy.KindSCP)
	narrow := policy.MustParse("boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`, policy.KindBoundary)
	allowAllP := policy.MustParse("admin", allowAll, policy.KindIdentity)
	tests := []struct {
		name      string
		principal string
		action    string
		set       *policy.PolicySet
		want      policy.Result
	}{
		{"no policy at all", alice, "sts:GetSessionToken", &policy.PolicySet{}, policy.Allowed},
		{"an explicit identity deny", alice, "sts:GetSessionToken", &policy.PolicySet{Identity: []*policy.Policy{denyAll}}, policy.Allowed},
		{"action case is not significant", alice, "STS:getsessiontoken", &policy.PolicySet{Identity: []*policy.Policy{denyAll}}, policy.Allowed},
		{"a boundary without it", alice, "sts:GetSessionToken", &policy.PolicySet{Identity: []*policy.Policy{allowAllP}, Boundary: narrow}, policy.Allowed},
		{"an SCP denying everything without MFA", alice, "sts:GetSessionToken", &policy.PolicySet{Identity: []*policy.Policy{allowAllP}, SCPs: [][]*policy.Policy{{denySCP}}}, policy.Allowed},
		{"other STS actions stay restricted", alice, "sts:GetCallerIdentity2", &policy.PolicySet{Identity: []*policy.Policy{denyAll}}, policy.ExplicitDeny},
		{"role sessions cannot call it", devSession, "sts:GetSessionToken", &policy.PolicySet{Identity: []*policy.Policy{allowAllP}}, policy.ImplicitDeny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := policy.Evaluate(tc.set, &policy.Request{Principal: tc.principal, Action: tc.action, Resource: "*"})
			if d.Result != tc.want {
				t.Fatalf("got %v (%+v), want %v", d.Result, d.Deciding, tc.want)
			}
			if tc.want == policy.Allowed && d.Rule == "" {
				t.Error("an allow by AWS's rule must say so in Decision.Rule")
			}
		})
	}
}
