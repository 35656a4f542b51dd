package iamsimulate_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/policy"
)

// Hand-written cases: the shapes of real MFA enforcement, role sessions, boundaries, SCPs and
// session policies. want is AWS's answer by its documentation; theirs, when set, is
// iam-simulate's different answer, explained in docs/policy-simulate.md under the name why.
type handCase struct {
	name      string
	principal string
	auth      policy.AuthKind
	mfaAge    time.Duration
	action    string
	resource  string
	resAcct   string // default: the account
	ctx       map[string]policy.Value
	identity  []string
	boundary  string
	scps      [][]string
	resPolicy string
	session   []string
	want      policy.Result
	why       string // the known difference, when iam-simulate answers otherwise
}

const (
	user      = "arn:aws:iam::123456789012:user/alice"
	pathUser  = "arn:aws:iam::123456789012:user/dev/alice"
	session   = "arn:aws:sts::123456789012:assumed-role/Dev/alice"
	roleARN   = "arn:aws:iam::123456789012:role/Dev"
	object    = "arn:aws:s3:::reports/q3.csv"
	other     = "210987654321"
	mfaPhone  = "arn:aws:iam::123456789012:mfa/phone"
	mfaAlice  = "arn:aws:iam::123456789012:mfa/alice"
	selfMFA   = `"iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:GetUser","iam:ListMFADevices","iam:ListVirtualMFADevices","iam:ResyncMFADevice"`
	adminStmt = `{"Sid":"Admin","Effect":"Allow","Action":"*","Resource":"*"}`
)

func doc(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

// enforce is the self-service enforce-MFA Deny with the given operator on
// aws:MultiFactorAuthPresent "false"; extra actions join its NotAction list.
func enforce(op string, extra ...string) string {
	na := selfMFA
	for _, e := range extra {
		na += `,"` + e + `"`
	}
	return doc(`{"Sid":"DenyAllExceptListedIfNoMFA","Effect":"Deny","NotAction":[`+na+`],"Resource":"*","Condition":{"`+op+`":{"aws:MultiFactorAuthPresent":"false"}}}`, adminStmt)
}

func allow(action, resource, cond string) string {
	st := `{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"`
	if cond != "" {
		st += `,"Condition":` + cond
	}
	return doc(st + "}")
}

func deny(action, cond string) string {
	return doc(`{"Effect":"Deny","Action":"`+action+`","Resource":"*","Condition":`+cond+`}`, adminStmt)
}

func bucket(effect, principal string) string {
	return doc(`{"Effect":"` + effect + `","Principal":{"AWS":"` + principal + `"},"Action":"s3:*","Resource":"arn:aws:s3:::reports/*"}`)
}

var (
	admin      = doc(adminStmt)
	fullAccess = doc(`{"Sid":"FullAWSAccess","Effect":"Allow","Action":"*","Resource":"*"}`)
	s3Only     = allow("s3:*", "*", "")
	ec2Only    = allow("ec2:*", "*", "")
	scpNoMFA   = doc(`{"Sid":"DenyNoMFA","Effect":"Deny","NotAction":[` + selfMFA + `],"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}`)
	scpUsers   = doc(`{"Sid":"DenyUsersNoMFA","Effect":"Deny","NotAction":[` + selfMFA + `],"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"},"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}}`)
	calledVia  = `{"ForAllValues:StringEquals":{"aws:CalledVia":["athena.amazonaws.com"]}}`
)

const (
	A = policy.Allowed
	E = policy.ExplicitDeny
	I = policy.ImplicitDeny
)

var (
	console    = policy.AuthConsole
	accessKey  = policy.AuthAccessKey
	consoleMFA = policy.AuthConsoleMFA
	sessionMFA = policy.AuthSessionMFA
)

var handCases = []handCase{
	// Bool vs BoolIfExists with aws:MultiFactorAuthPresent absent (long-term access keys).
	{name: "BoolIfExists deny, access key", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{enforce("BoolIfExists")}, want: E},
	{name: "BoolIfExists deny, console without MFA", principal: user, auth: console, action: "s3:GetObject", resource: object, identity: []string{enforce("BoolIfExists")}, want: E},
	{name: "BoolIfExists deny, console with MFA", principal: user, auth: consoleMFA, action: "s3:GetObject", resource: object, identity: []string{enforce("BoolIfExists")}, want: A},
	{name: "BoolIfExists deny, MFA session", principal: user, auth: sessionMFA, action: "ec2:RunInstances", resource: "*", identity: []string{enforce("BoolIfExists")}, want: A},
	{name: "Bool deny misses access keys", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{enforce("Bool")}, want: A},
	{name: "Bool deny, console without MFA", principal: user, auth: console, action: "s3:GetObject", resource: object, identity: []string{enforce("Bool")}, want: E},
	{name: "Bool deny, MFA session", principal: user, auth: sessionMFA, action: "s3:GetObject", resource: object, identity: []string{enforce("Bool")}, want: A},
	{name: "Allow Bool true, access key", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{allow("s3:*", "*", `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`)}, want: I},
	{name: "Allow BoolIfExists true lets access keys in", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{allow("s3:*", "*", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}`)}, want: A},
	{name: "Allow Bool true, console with MFA", principal: user, auth: consoleMFA, action: "s3:GetObject", resource: object, identity: []string{allow("s3:*", "*", `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`)}, want: A},
	{name: "Allow Bool true, console without MFA", principal: user, auth: console, action: "s3:GetObject", resource: object, identity: []string{allow("s3:*", "*", `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`)}, want: I},
	// aws:MultiFactorAuthAge.
	{name: "deny MFA older than an hour, old MFA", principal: user, auth: consoleMFA, mfaAge: 2 * time.Hour, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"3600"}}`)}, want: E},
	{name: "deny MFA older than an hour, fresh MFA", principal: user, auth: consoleMFA, mfaAge: 5 * time.Minute, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"3600"}}`)}, want: A},
	{name: "deny MFA older than an hour misses access keys", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"3600"}}`)}, want: A},
	{name: "NumericGreaterThanIfExists catches access keys", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"NumericGreaterThanIfExists":{"aws:MultiFactorAuthAge":"3600"}}`)}, want: E},
	{name: "allow recent MFA, fresh MFA session", principal: user, auth: sessionMFA, mfaAge: 10 * time.Minute, action: "s3:GetObject", resource: object, identity: []string{allow("s3:*", "*", `{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}`)}, want: A},
	{name: "allow recent MFA, access key", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{allow("s3:*", "*", `{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}`)}, want: I},
	{name: "allow recent MFA, console without MFA", principal: user, auth: console, action: "s3:GetObject", resource: object, identity: []string{allow("s3:*", "*", `{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}`)}, want: I},
	// Null.
	{name: "Null MultiFactorAuthAge true, access key", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"Null":{"aws:MultiFactorAuthAge":"true"}}`)}, want: E},
	{name: "Null MultiFactorAuthAge true, console without MFA", principal: user, auth: console, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"Null":{"aws:MultiFactorAuthAge":"true"}}`)}, want: E},
	{name: "Null MultiFactorAuthAge true, console with MFA", principal: user, auth: consoleMFA, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"Null":{"aws:MultiFactorAuthAge":"true"}}`)}, want: A},
	{name: "Null MultiFactorAuthPresent true, console without MFA", principal: user, auth: console, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"Null":{"aws:MultiFactorAuthPresent":"true"}}`)}, want: A},
	{name: "Null MultiFactorAuthPresent true, access key", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"Null":{"aws:MultiFactorAuthPresent":"true"}}`)}, want: E},
	{name: "Null MultiFactorAuthPresent false, access key", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"Null":{"aws:MultiFactorAuthPresent":"false"}}`)}, want: A},
	// ForAllValues / ForAnyValue with absent and empty sets.
	{name: "ForAllValues deny, key absent", principal: user, auth: consoleMFA, action: "s3:GetObject", resource: object, identity: []string{deny("*", calledVia)}, want: E},
	{name: "ForAllValues deny, empty set", principal: user, auth: consoleMFA, action: "s3:GetObject", resource: object, ctx: map[string]policy.Value{"aws:CalledVia": policy.Strings()}, identity: []string{deny("*", calledVia)}, want: E},
	{name: "ForAllValues deny, one value outside", principal: user, auth: consoleMFA, action: "s3:GetObject", resource: object, ctx: map[string]policy.Value{"aws:CalledVia": policy.Strings("athena.amazonaws.com", "dynamodb.amazonaws.com")}, identity: []string{deny("*", calledVia)}, want: A},
	{name: "ForAllValues deny, every value inside", principal: user, auth: consoleMFA, action: "s3:GetObject", resource: object, ctx: map[string]policy.Value{"aws:CalledVia": policy.Strings("athena.amazonaws.com")}, identity: []string{deny("*", calledVia)}, want: E},
	{name: "ForAnyValue deny, key absent", principal: user, auth: consoleMFA, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"ForAnyValue:StringEquals":{"aws:CalledVia":["athena.amazonaws.com"]}}`)}, want: A},
	{name: "ForAnyValue deny, empty set", principal: user, auth: consoleMFA, action: "s3:GetObject", resource: object, ctx: map[string]policy.Value{"aws:CalledVia": policy.Strings()}, identity: []string{deny("*", `{"ForAnyValue:StringEquals":{"aws:CalledVia":["athena.amazonaws.com"]}}`)}, want: A},
	// NotAction deny lists.
	{name: "NotAction list exempts MFA registration", principal: user, auth: console, action: "iam:CreateVirtualMFADevice", resource: mfaPhone, identity: []string{enforce("BoolIfExists")}, want: A},
	{name: "NotAction list does not exempt deactivation", principal: user, auth: console, action: "iam:DeactivateMFADevice", resource: user, identity: []string{enforce("BoolIfExists")}, want: E},
	{name: "NotAction iam:*MFA* also exempts deactivation", principal: user, auth: accessKey, action: "iam:DeactivateMFADevice", resource: user, identity: []string{doc(`{"Effect":"Deny","NotAction":"iam:*MFA*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}`, adminStmt)}, want: A},
	{name: "NotAction iam:* denies S3", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{doc(`{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}`, adminStmt)}, want: E},
	{name: "NotAction iam:* leaves IAM", principal: user, auth: accessKey, action: "iam:CreateUser", resource: "arn:aws:iam::123456789012:user/bob", identity: []string{doc(`{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}`, adminStmt)}, want: A},
	{name: "NotAction case-insensitive", principal: user, auth: console, action: "iam:createvirtualmfadevice", resource: mfaPhone, identity: []string{enforce("BoolIfExists")}, want: A},
	// sts:GetSessionToken cannot be restricted by policies.
	{name: "GetSessionToken in the NotAction list", principal: user, auth: accessKey, action: "sts:GetSessionToken", resource: "*", identity: []string{enforce("BoolIfExists", "sts:GetSessionToken")}, want: A},
	{name: "GetSessionToken left out of the NotAction list", principal: user, auth: accessKey, action: "sts:GetSessionToken", resource: "*", identity: []string{enforce("BoolIfExists")}, want: A, why: diffGetSessionToken},
	{name: "GetSessionToken denied explicitly", principal: user, auth: accessKey, action: "sts:GetSessionToken", resource: "*", identity: []string{deny("sts:GetSessionToken", `{"Bool":{"aws:SecureTransport":"true"}}`)}, want: A, why: diffGetSessionToken},
	{name: "GetSessionToken without any Allow", principal: user, auth: accessKey, action: "sts:GetSessionToken", resource: "*", identity: []string{ec2Only}, want: A, why: diffGetSessionToken},
	{name: "GetSessionToken under an MFA SCP", principal: user, auth: accessKey, action: "sts:GetSessionToken", resource: "*", identity: []string{admin}, scps: [][]string{{fullAccess, scpNoMFA}}, want: A, why: diffGetSessionToken},
	{name: "GetSessionToken outside the boundary", principal: user, auth: accessKey, action: "sts:GetSessionToken", resource: "*", identity: []string{admin}, boundary: ec2Only, want: A, why: diffGetSessionToken},
	// mfa/${aws:username} vs mfa/*.
	{name: "mfa/${aws:username}, device named after the user", principal: user, auth: console, action: "iam:CreateVirtualMFADevice", resource: mfaAlice, identity: []string{allow("iam:CreateVirtualMFADevice", "arn:aws:iam::*:mfa/${aws:username}", "")}, want: A},
	{name: "mfa/${aws:username}, device named phone", principal: user, auth: console, action: "iam:CreateVirtualMFADevice", resource: mfaPhone, identity: []string{allow("iam:CreateVirtualMFADevice", "arn:aws:iam::*:mfa/${aws:username}", "")}, want: I},
	{name: "mfa/*, device named phone", principal: user, auth: console, action: "iam:CreateVirtualMFADevice", resource: mfaPhone, identity: []string{allow("iam:CreateVirtualMFADevice", "arn:aws:iam::*:mfa/*", "")}, want: A},
	{name: "mfa/${aws:username} for a role session", principal: session, auth: accessKey, action: "iam:CreateVirtualMFADevice", resource: mfaAlice, identity: []string{allow("iam:CreateVirtualMFADevice", "arn:aws:iam::*:mfa/${aws:username}", "")}, want: I},
	{name: "user/${aws:username}, another user", principal: user, auth: console, action: "iam:EnableMFADevice", resource: "arn:aws:iam::123456789012:user/bob", identity: []string{allow("iam:EnableMFADevice", "arn:aws:iam::*:user/${aws:username}", "")}, want: I},
	{name: "user/${aws:username}, user with a path", principal: pathUser, auth: console, action: "iam:EnableMFADevice", resource: pathUser, identity: []string{allow("iam:EnableMFADevice", "arn:aws:iam::*:user/${aws:username}", "")}, want: I},
	{name: "user/*/${aws:username}, user with a path", principal: pathUser, auth: console, action: "iam:EnableMFADevice", resource: pathUser, identity: []string{allow("iam:EnableMFADevice", "arn:aws:iam::*:user/*/${aws:username}", "")}, want: A},
	// Role sessions: aws:PrincipalArn is the role's ARN.
	{name: "ArnEquals aws:PrincipalArn role", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{allow("s3:*", "*", `{"ArnEquals":{"aws:PrincipalArn":"`+roleARN+`"}}`)}, want: A},
	{name: "StringEquals aws:PrincipalArn session ARN", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{allow("s3:*", "*", `{"StringEquals":{"aws:PrincipalArn":"`+session+`"}}`)}, want: I},
	{name: "ArnLike aws:PrincipalArn role/*", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{allow("s3:*", "*", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}`)}, want: A},
	{name: "aws:PrincipalType AssumedRole", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{allow("s3:*", "*", `{"StringEquals":{"aws:PrincipalType":"AssumedRole"}}`)}, want: A},
	{name: "user-only MFA deny spares role sessions", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"},"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`)}, want: A},
	{name: "user-only MFA deny catches users", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{deny("*", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"},"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`)}, want: E},
	{name: "bucket policy names the role", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, resPolicy: bucket("Allow", roleARN), want: A},
	{name: "bucket policy names the session", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, resPolicy: bucket("Allow", session), want: A},
	{name: "bucket policy names another role", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, resPolicy: bucket("Allow", "arn:aws:iam::123456789012:role/Ops"), want: I},
	{name: "bucket policy denies the role", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{admin}, resPolicy: bucket("Deny", roleARN), want: E},
	{name: "bucket policy names the role, other account, no identity", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, resAcct: other, resPolicy: bucket("Allow", roleARN), want: I},
	{name: "bucket policy names the role, other account, identity allows", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, resAcct: other, identity: []string{admin}, resPolicy: bucket("Allow", roleARN), want: A},
	// Permissions boundaries.
	{name: "boundary without the action", principal: user, auth: consoleMFA, action: "ec2:RunInstances", resource: "*", identity: []string{admin}, boundary: s3Only, want: I},
	{name: "boundary with the action", principal: user, auth: consoleMFA, action: "s3:GetObject", resource: object, identity: []string{admin}, boundary: s3Only, want: A},
	{name: "boundary MFA deny, access key", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{admin}, boundary: enforce("BoolIfExists"), want: E},
	{name: "boundary does not limit a grant to the user", principal: user, auth: consoleMFA, action: "s3:GetObject", resource: object, boundary: ec2Only, resPolicy: bucket("Allow", user), want: A},
	{name: "boundary limits a grant to the role", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, boundary: ec2Only, resPolicy: bucket("Allow", roleARN), want: I},
	{name: "boundary does not limit a grant to the session", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, boundary: ec2Only, resPolicy: bucket("Allow", session), want: A},
	{name: "boundary limits a grant to the account", principal: user, auth: consoleMFA, action: "s3:GetObject", resource: object, identity: []string{admin}, boundary: ec2Only, resPolicy: bucket("Allow", "arn:aws:iam::123456789012:root"), want: I},
	// SCPs, several per level.
	{name: "MFA SCP beside FullAWSAccess, access key", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{admin}, scps: [][]string{{fullAccess, scpNoMFA}}, want: E},
	{name: "MFA SCP beside FullAWSAccess, MFA session", principal: user, auth: sessionMFA, action: "s3:GetObject", resource: object, identity: []string{admin}, scps: [][]string{{fullAccess, scpNoMFA}}, want: A},
	{name: "MFA SCP beside FullAWSAccess, registration", principal: user, auth: console, action: "iam:CreateVirtualMFADevice", resource: mfaPhone, identity: []string{admin}, scps: [][]string{{fullAccess, scpNoMFA}}, want: A},
	{name: "Deny-only SCP alone allows nothing", principal: user, auth: sessionMFA, action: "s3:GetObject", resource: object, identity: []string{admin}, scps: [][]string{{scpNoMFA}}, want: I},
	{name: "MFA SCP on the OU level", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{admin}, scps: [][]string{{fullAccess}, {scpNoMFA, fullAccess}}, want: E},
	{name: "OU level allowing only S3", principal: user, auth: consoleMFA, action: "ec2:RunInstances", resource: "*", identity: []string{admin}, scps: [][]string{{fullAccess}, {s3Only}}, want: I},
	{name: "OU level allowing S3 and EC2 in two SCPs", principal: user, auth: consoleMFA, action: "ec2:RunInstances", resource: "*", identity: []string{admin}, scps: [][]string{{fullAccess}, {s3Only, ec2Only}}, want: A},
	{name: "user-only MFA SCP spares role sessions", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{admin}, scps: [][]string{{fullAccess, scpUsers}}, want: A},
	{name: "user-only MFA SCP catches users", principal: user, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{admin}, scps: [][]string{{fullAccess, scpUsers}}, want: E},
	// Session policies.
	{name: "session policy allows", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{admin}, session: []string{s3Only}, want: A},
	{name: "session policy does not allow", principal: session, auth: accessKey, action: "ec2:RunInstances", resource: "*", identity: []string{admin}, session: []string{s3Only}, want: I},
	{name: "two session policies, either allows", principal: session, auth: accessKey, action: "ec2:RunInstances", resource: "*", identity: []string{admin}, session: []string{s3Only, ec2Only}, want: A},
	{name: "session policy denies", principal: session, auth: accessKey, action: "s3:PutObject", resource: object, identity: []string{admin}, session: []string{doc(adminStmt, `{"Effect":"Deny","Action":"s3:PutObject","Resource":"*"}`)}, want: E},
	{name: "session policy cannot add to identity", principal: session, auth: accessKey, action: "ec2:RunInstances", resource: "*", identity: []string{s3Only}, session: []string{ec2Only}, want: I},
	{name: "session policy limits a grant to the role", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, session: []string{ec2Only}, resPolicy: bucket("Allow", roleARN), want: I},
	{name: "session policy does not limit a grant to the session", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, session: []string{ec2Only}, resPolicy: bucket("Allow", session), want: A, why: diffSessionARNGrant},
	{name: "session policy with an MFA condition, no MFA", principal: session, auth: accessKey, action: "s3:GetObject", resource: object, identity: []string{admin}, session: []string{allow("s3:*", "*", `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`)}, want: I},
}

// build turns a hand-written case into the driver's input and iamwarden's policy set.
func (h handCase) build(t *testing.T, id string) *simCase {
	t.Helper()
	ctx, err := policy.ContextFor(h.principal, h.auth, policy.ContextOptions{Now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), MFAAge: h.mfaAge})
	if err != nil {
		t.Fatal(err)
	}
	delete(ctx, "aws:EpochTime")
	for k, v := range h.ctx {
		ctx[k] = v
	}
	acct := h.resAcct
	if acct == "" {
		acct = account
	}
	c := &simCase{ID: id, Principal: h.principal, Action: h.action, Resource: h.resource, ResourceAccount: acct,
		Context: map[string]any{}, Identity: []any{}, set: &policy.PolicySet{}}
	for k, v := range ctx {
		if v.Type.IsList() {
			c.Context[k] = append([]string{}, v.Values...)
		} else {
			c.Context[k] = v.Values[0]
		}
	}
	c.req = &policy.Request{Principal: h.principal, Action: h.action, Resource: h.resource, Context: ctx, ResourceAccount: acct}
	parse := func(text string, kind policy.Kind) (any, *policy.Policy) {
		var m map[string]any
		if err := json.Unmarshal([]byte(text), &m); err != nil {
			t.Fatalf("%s: %v\n%s", h.name, err, text)
		}
		return m, mustCompile(t, m, kind)
	}
	for _, text := range h.identity {
		m, p := parse(text, policy.KindIdentity)
		c.Identity = append(c.Identity, m)
		c.set.Identity = append(c.set.Identity, p)
	}
	if h.boundary != "" {
		c.Boundary, c.set.Boundary = parse(h.boundary, policy.KindBoundary)
	}
	for _, level := range h.scps {
		var docs []any
		var ps []*policy.Policy
		for _, text := range level {
			m, p := parse(text, policy.KindSCP)
			docs, ps = append(docs, m), append(ps, p)
		}
		c.SCPs = append(c.SCPs, docs)
		c.set.SCPs = append(c.set.SCPs, ps)
	}
	if h.resPolicy != "" {
		m, p := parse(h.resPolicy, policy.KindResource)
		c.ResourcePolicy = m
		c.set.ResourcePolicies = []*policy.Policy{p}
	}
	// iam-simulate takes one session policy: several are one policy with all their statements,
	// which is how AWS combines them (any of them may allow, a Deny in one wins).
	var merged []any
	for _, text := range h.session {
		m, p := parse(text, policy.KindSession)
		merged = append(merged, m.(map[string]any)["Statement"].([]any)...)
		c.set.SessionPolicies = append(c.set.SessionPolicies, p)
	}
	if len(merged) > 0 {
		c.SessionPolicy = map[string]any{"Version": "2012-10-17", "Statement": merged}
	}
	return c
}

// TestHandWrittenCases checks iamwarden's answers on the hand-written cases against AWS's
// documented logic; it needs no iam-simulate.
func TestHandWrittenCases(t *testing.T) {
	if len(handCases) < 60 {
		t.Errorf("%d hand-written cases, want at least 60", len(handCases))
	}
	seen := map[string]bool{}
	for i, h := range handCases {
		if seen[h.name] {
			t.Errorf("duplicate case name %q", h.name)
		}
		seen[h.name] = true
		c := h.build(t, strconv.Itoa(i))
		if got := policy.Evaluate(c.set, c.req); got.Result != h.want {
			t.Errorf("%s: iamwarden %s (%+v, missing %q), want %s", h.name, got.Result, got.Deciding, got.Missing, h.want)
		}
	}
}

// TestCrossCheckHandWritten runs the hand-written cases through iam-simulate: every disagreement
// must be a documented difference, and every documented difference must still be one.
func TestCrossCheckHandWritten(t *testing.T) {
	dir := simDir(t)
	var cases []*simCase
	for i, h := range handCases {
		cases = append(cases, h.build(t, "hand"+strconv.Itoa(i)))
	}
	res := runDriver(t, dir, cases)
	agree := 0
	for i, h := range handCases {
		r := res[cases[i].ID]
		if r.Error != "" {
			t.Errorf("%s: iam-simulate refused it: %.300s", h.name, r.Error)
			continue
		}
		ours := simNames[policy.Evaluate(cases[i].set, cases[i].req).Result]
		switch {
		case ours == r.Decision && h.why == "":
			agree++
		case ours == r.Decision:
			t.Errorf("%s: both answer %s, but the case is listed as the known difference %q", h.name, ours, h.why)
		case h.why == "":
			t.Errorf("%s: iamwarden %s, iam-simulate %s: unexplained", h.name, ours, r.Decision)
		}
	}
	t.Logf("hand-written cases: %d, agree %d, known differences %d", len(handCases), agree, len(handCases)-agree)
}
