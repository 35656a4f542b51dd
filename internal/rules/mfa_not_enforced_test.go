package rules_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/rules"
)

const (
	adminPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	// The deny of the AWS-recommended self-service policy, reduced to what decides here.
	denyIfExists = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyAllExceptListedIfNoMFA","Effect":"Deny",
		"NotAction":["iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:GetUser","iam:ListMFADevices","iam:ListVirtualMFADevices","iam:ResyncMFADevice","sts:GetSessionToken","iam:ChangePassword"],
		"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	// The classic mistake: Bool instead of BoolIfExists; requests signed with access keys carry no
	// MFA key, so the deny does not apply to them.
	denyBool = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyWithoutMFA","Effect":"Deny","NotAction":"iam:*MFA*",
		"Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	// An allow that only holds with MFA... and with access keys, where the key is absent.
	allowIfExistsTrue = `{"Version":"2012-10-17","Statement":[{"Sid":"AdminWithMFA","Effect":"Allow","Action":"*","Resource":"*",
		"Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}}]}`
	fullAccess    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	enforceMFASCP = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyIAMUsersWithoutMFA","Effect":"Deny",
		"NotAction":["iam:ChangePassword","iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:GetUser","iam:ListMFADevices","iam:ListVirtualMFADevices","iam:ResyncMFADevice","sts:GetSessionToken"],
		"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"},"StringEquals":{"aws:PrincipalType":"User"}}}]}`
	allowMFAOnly = `{"Version":"2012-10-17","Statement":[{"Sid":"AdminWithMFA","Effect":"Allow","Action":"*","Resource":"*",
		"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}`
)

// sets answers PolicySet from fixed documents: identity policies, and SCPs by level.
type sets struct {
	docs []string
	err  error
	scps [][]string
}

func (s sets) PolicySet(*inventory.User) (*policy.PolicySet, error) {
	if s.err != nil {
		return nil, s.err
	}
	set := &policy.PolicySet{}
	for i, d := range s.docs {
		set.Identity = append(set.Identity, policy.MustParse(string(rune('A'+i)), d, policy.KindIdentity))
	}
	for i, level := range s.scps {
		var ps []*policy.Policy
		for j, d := range level {
			ps = append(ps, policy.MustParse(fmt.Sprintf("SCP%d.%d", i, j), d, policy.KindSCP))
		}
		set.SCPs = append(set.SCPs, ps)
	}
	return set, nil
}

func TestMFANotEnforced(t *testing.T) {
	asOf := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	console := inventory.User{Name: "alice", ARN: "arn:aws:iam::123456789012:user/alice", Password: inventory.Password{Enabled: true}}
	keyOnly := inventory.User{Name: "bot", ARN: "arn:aws:iam::123456789012:user/bot", AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, Created: asOf.AddDate(0, -1, 0)}}}
	both := console
	both.AccessKeys = keyOnly.AccessKeys
	inactiveKey := inventory.User{Name: "old", ARN: "arn:aws:iam::123456789012:user/old", AccessKeys: []inventory.AccessKey{{Slot: 1, Active: false}}}

	cases := []struct {
		name     string
		user     inventory.User
		policies rules.PolicySets
		leaks    []string // evidence keys expected
		detail   string
		notEval  string // Env.SCPsNotEvaluated
	}{
		{"admin without any MFA policy", console, sets{docs: []string{adminPolicy}}, []string{"console_without_mfa"}, "console sign-in without MFA is allowed iam:CreateUser by A (statement 0), and 15 more sensitive requests", ""},
		{"recommended deny with IfExists", both, sets{docs: []string{adminPolicy, denyIfExists}}, nil, "", ""},
		{"Bool deny lets access keys through", both, sets{docs: []string{adminPolicy, denyBool}}, []string{"access_key_without_mfa"}, "an access key without MFA is allowed", ""},
		{"Bool deny is enough for console only", console, sets{docs: []string{adminPolicy, denyBool}}, nil, "", ""},
		{"IfExists true allow lets access keys through", keyOnly, sets{docs: []string{allowIfExistsTrue}}, []string{"access_key_without_mfa"}, `by A (statement 0 "AdminWithMFA")`, ""},
		{"Bool true allow holds", both, sets{docs: []string{allowMFAOnly}}, nil, "", ""},
		{"no permissions at all", both, sets{}, nil, "", ""},
		{"no credentials", inactiveKey, sets{docs: []string{adminPolicy}}, nil, "", ""},
		{"policies unknown", both, sets{err: errors.New("managed policy missing")}, nil, "", ""},
		{"no policy data", both, nil, nil, "", ""},
		{"an SCP denies requests without MFA", both, sets{docs: []string{adminPolicy}, scps: [][]string{{fullAccess, enforceMFASCP}}}, nil, "", ""},
		{"an SCP level that denies without MFA under one that allows", both, sets{docs: []string{adminPolicy}, scps: [][]string{{fullAccess}, {fullAccess, enforceMFASCP}}}, nil, "", ""},
		{"SCPs that allow everything", keyOnly, sets{docs: []string{adminPolicy}, scps: [][]string{{fullAccess}, {fullAccess}}},
			[]string{"access_key_without_mfa", "scp_levels_evaluated"}, "an access key without MFA is allowed iam:CreateUser by A (statement 0)", ""},
		{"SCPs not evaluated", console, sets{docs: []string{adminPolicy}}, []string{"console_without_mfa", "scps_not_evaluated"},
			"SCPs were not evaluated (organizations:ListParents: AccessDenied); without them, console sign-in without MFA is allowed iam:CreateUser by A (statement 0)",
			"organizations:ListParents: AccessDenied"},
	}
	r, _ := rules.Lookup("mfa-not-enforced")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := c.user
			vs := r.Check(rules.Env{AsOf: asOf, Thresholds: rules.DefaultThresholds(), Policies: c.policies, SCPsNotEvaluated: c.notEval}, &u)
			if len(c.leaks) == 0 {
				if len(vs) != 0 {
					t.Fatalf("verdicts %+v, want none", vs)
				}
				return
			}
			if len(vs) != 1 || vs[0].State != rules.StateViolation || vs[0].Resource != "" {
				t.Fatalf("verdicts %+v", vs)
			}
			if len(vs[0].Evidence) != len(c.leaks) {
				t.Errorf("evidence %v, want keys %v", vs[0].Evidence, c.leaks)
			}
			for _, k := range c.leaks {
				if _, ok := vs[0].Evidence[k]; !ok {
					t.Errorf("evidence lacks %s: %v", k, vs[0].Evidence)
				}
			}
			if !strings.Contains(vs[0].Detail, c.detail) {
				t.Errorf("detail %q does not contain %q", vs[0].Detail, c.detail)
			}
		})
	}
}
