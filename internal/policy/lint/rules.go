package lint

import (
	"fmt"
	"sort"
	"strings"

	"github.com/iamwarden/iamwarden/internal/policy"
)

// The probe principals: an IAM user and a role session (CI, Lambda, automation).
const (
	probeUser       = "arn:aws:iam::123456789012:user/alice"
	probeLegacyMFA  = "arn:aws:iam::123456789012:mfa/alice"
	probeNamedMFA   = "arn:aws:iam::123456789012:mfa/alice-phone"
	probeRole       = "arn:aws:sts::123456789012:assumed-role/ci-deploy/build-42"
	probeWorkAction = "ec2:DescribeInstances"
	mfaKey          = "aws:MultiFactorAuthPresent"
	fullAccessJSON  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
)

var (
	adminIdentity = policy.MustParse("AdministratorAccess", fullAccessJSON, policy.KindIdentity)
	fullAWSAccess = policy.MustParse("FullAWSAccess", fullAccessJSON, policy.KindSCP)
)

// withAllow places p in a policy set where everything else allows: an administrator identity
// policy, and FullAWSAccess beside an SCP. Only p's Deny statements can then refuse a request.
func withAllow(p *policy.Policy) *policy.PolicySet {
	if p.Kind == policy.KindSCP {
		return &policy.PolicySet{Identity: []*policy.Policy{adminIdentity}, SCPs: [][]*policy.Policy{{p, fullAWSAccess}}}
	}
	return &policy.PolicySet{Identity: []*policy.Policy{p, adminIdentity}}
}

// alone is a set where p is the only identity policy: what p allows by itself.
func alone(p *policy.Policy) *policy.PolicySet {
	return &policy.PolicySet{Identity: []*policy.Policy{p}}
}

func decide(set *policy.PolicySet, principal string, auth policy.AuthKind, action, resource string) policy.Decision {
	ctx, err := policy.ContextFor(principal, auth, policy.ContextOptions{})
	if err != nil {
		panic(err) // the probe principals are constants
	}
	return policy.Evaluate(set, &policy.Request{Principal: principal, Action: action, Resource: resource, Context: ctx})
}

// ownStatements returns the indexes of p's statements among the deciding ones.
func ownStatements(p *policy.Policy, d policy.Decision) []int {
	var out []int
	for _, s := range d.Deciding {
		if s.Policy == p.Name && s.Kind == p.Kind {
			out = append(out, s.Index)
		}
	}
	return out
}

// mfaCondition returns the operator and values of a statement's aws:MultiFactorAuthPresent
// condition ("" when it has none).
func mfaCondition(st policy.Statement) (string, []string) {
	for _, op := range st.Condition.Operators() {
		for key, vals := range st.Condition[op] {
			if strings.EqualFold(key, mfaKey) {
				return op, vals
			}
		}
	}
	return "", nil
}

func hasValue(vals []string, want string) bool {
	for _, v := range vals {
		if strings.EqualFold(v, want) {
			return true
		}
	}
	return false
}

// isMFADeny reports whether st is a Deny that applies when MFA is absent.
func isMFADeny(st policy.Statement) bool {
	op, vals := mfaCondition(st)
	base := strings.TrimSuffix(strings.ToLower(op), "ifexists")
	return st.Effect == policy.EffectDeny && base == "bool" && hasValue(vals, "false")
}

func legacyMFADeviceResource(d *Document, p *policy.Policy) []Finding {
	if p.Kind == policy.KindSCP {
		return nil
	}
	set := alone(p)
	legacy := decide(set, probeUser, policy.AuthConsoleMFA, "iam:CreateVirtualMFADevice", probeLegacyMFA)
	named := decide(set, probeUser, policy.AuthConsoleMFA, "iam:CreateVirtualMFADevice", probeNamedMFA)
	if !legacy.Allowed() || named.Allowed() {
		return nil
	}
	var out []Finding
	for _, i := range ownStatements(p, legacy) {
		out = append(out, d.statementFinding(p, RuleLegacyMFADeviceResource, SeverityError, i,
			"iam:CreateVirtualMFADevice is allowed only on a device named after the user (arn:aws:iam::*:mfa/${aws:username}); "+
				"since AWS allowed several MFA devices per user, users name their devices and creating one under any other name is denied: "+
				"allow arn:aws:iam::*:mfa/* and keep the user resource pinned to arn:aws:iam::*:user/${aws:username}"))
	}
	return out
}

func mfaBoolNotIfExists(d *Document, p *policy.Policy) []Finding {
	var out []Finding
	for i, st := range p.Document.Statement {
		op, vals := mfaCondition(st)
		if st.Effect == policy.EffectDeny && strings.EqualFold(op, "Bool") && hasValue(vals, "false") {
			out = append(out, d.statementFinding(p, RuleMFABoolNotIfExists, SeverityError, i,
				"Deny conditioned on Bool aws:MultiFactorAuthPresent false: requests signed with long-term access keys carry no "+
					"aws:MultiFactorAuthPresent key, so this Deny never applies to them; use BoolIfExists"))
		}
	}
	return out
}

func mfaAllowIfExistsTrue(d *Document, p *policy.Policy) []Finding {
	var out []Finding
	for i, st := range p.Document.Statement {
		op, vals := mfaCondition(st)
		if st.Effect == policy.EffectAllow && strings.EqualFold(op, "BoolIfExists") && hasValue(vals, "true") {
			out = append(out, d.statementFinding(p, RuleMFAAllowIfExistsTrue, SeverityError, i,
				"Allow conditioned on BoolIfExists aws:MultiFactorAuthPresent true: the condition also holds when the key is absent, "+
					"as it is for every request signed with a long-term access key, so this Allow applies without MFA; use Bool"))
		}
	}
	return out
}

func mfaDeactivateWithoutMFA(d *Document, p *policy.Policy) []Finding {
	if p.Kind == policy.KindSCP {
		return nil
	}
	probes := []struct{ action, resource string }{
		{"iam:DeactivateMFADevice", probeUser},
		{"iam:DeleteVirtualMFADevice", probeNamedMFA},
		{"iam:DeleteVirtualMFADevice", probeLegacyMFA},
	}
	type hit struct{ actions, auths []string }
	byStatement := map[int]*hit{}
	for _, pr := range probes {
		for _, auth := range []policy.AuthKind{policy.AuthConsole, policy.AuthAccessKey} {
			dec := decide(alone(p), probeUser, auth, pr.action, pr.resource)
			if !dec.Allowed() {
				continue
			}
			for _, i := range ownStatements(p, dec) {
				h := byStatement[i]
				if h == nil {
					h = &hit{}
					byStatement[i] = h
				}
				h.actions = appendOnce(h.actions, pr.action)
				h.auths = appendOnce(h.auths, authWords[auth])
			}
		}
	}
	var out []Finding
	for _, i := range sortedKeys(byStatement) {
		h := byStatement[i]
		out = append(out, d.statementFinding(p, RuleMFADeactivateWithoutMFA, SeverityError, i,
			fmt.Sprintf("allows %s without MFA (%s): a stolen password or access key is enough to remove the user's MFA device (AWS-2023-001); "+
				"allow it only with Bool aws:MultiFactorAuthPresent true, and keep it out of the MFA Deny's NotAction list",
				strings.Join(h.actions, " and "), strings.Join(h.auths, ", "))))
	}
	return out
}

var authWords = map[policy.AuthKind]string{
	policy.AuthConsole:   "console password sign-in",
	policy.AuthAccessKey: "long-term access key",
}

// registration lists what a user without MFA needs: critical actions to register a device on
// the console, and the others for a forced password change. sts:GetSessionToken, which command
// line users need for an MFA session, is not listed: no policy can deny it (IAM User Guide,
// Permissions for GetSessionToken), and the evaluator says so.
var registration = []struct {
	action, resource string
	critical         bool
}{
	{"iam:CreateVirtualMFADevice", probeNamedMFA, true},
	{"iam:EnableMFADevice", probeUser, true},
	{"iam:GetUser", probeUser, true},
	{"iam:ListMFADevices", probeUser, true},
	{"iam:ListVirtualMFADevices", "*", true},
	{"iam:ResyncMFADevice", probeUser, false},
	{"iam:ChangePassword", probeUser, false},
	{"iam:GetAccountPasswordPolicy", "*", false},
}

func mfaDenyBlocksRegistration(d *Document, p *policy.Policy) []Finding {
	type blocked struct {
		actions  []string
		critical bool
	}
	byStatement := map[int]*blocked{}
	set := withAllow(p)
	for _, r := range registration {
		dec := decide(set, probeUser, policy.AuthConsole, r.action, r.resource)
		if dec.Result != policy.ExplicitDeny {
			continue
		}
		for _, i := range ownStatements(p, dec) {
			if !isMFADeny(p.Document.Statement[i]) {
				continue
			}
			b := byStatement[i]
			if b == nil {
				b = &blocked{}
				byStatement[i] = b
			}
			b.actions = appendOnce(b.actions, r.action)
			b.critical = b.critical || r.critical
		}
	}
	var out []Finding
	for _, i := range sortedKeys(byStatement) {
		b := byStatement[i]
		sev, why := SeverityWarning, "users cannot resynchronize their device, or change a password that must be reset at first sign-in"
		if b.critical {
			sev, why = SeverityError, "users without MFA cannot register a device and are locked out"
		}
		out = append(out, d.statementFinding(p, RuleMFADenyBlocksRegistration, sev, i,
			fmt.Sprintf("the MFA Deny also denies %s without MFA: %s; list them in the Deny's NotAction", strings.Join(b.actions, ", "), why)))
	}
	return out
}

func scpMFABlocksRoles(d *Document, p *policy.Policy) []Finding {
	if p.Kind != policy.KindSCP {
		return nil
	}
	set := withAllow(p)
	seen := map[int]bool{}
	var out []Finding
	for _, auth := range []policy.AuthKind{policy.AuthAccessKey, policy.AuthConsole} {
		dec := decide(set, probeRole, auth, probeWorkAction, "*")
		if dec.Result != policy.ExplicitDeny {
			continue
		}
		for _, i := range ownStatements(p, dec) {
			if seen[i] || !isMFADeny(p.Document.Statement[i]) {
				continue
			}
			seen[i] = true
			out = append(out, d.statementFinding(p, RuleSCPMFABlocksRoles, SeverityError, i,
				"this SCP Deny on missing MFA also applies to role sessions, which never carry MFA: CI pipelines, Lambda functions, "+
					"automation and the organization's own tooling are denied in every account it is attached to; restrict it to IAM users "+
					"with StringEquals aws:PrincipalType User (or ArnLike aws:PrincipalArn arn:aws:iam::*:user/*)"))
		}
	}
	return out
}

func isFullAccess(st policy.Statement) bool {
	return len(st.Action) == 1 && st.Action[0] == "*" && len(st.Resource) == 1 && st.Resource[0] == "*" &&
		st.NotAction == nil && st.NotResource == nil && len(st.Condition) == 0
}

func scpAllowNoop(d *Document, p *policy.Policy) []Finding {
	if p.Kind != policy.KindSCP {
		return nil
	}
	var out []Finding
	denyOnly := &policy.PolicySet{Identity: []*policy.Policy{adminIdentity}, SCPs: [][]*policy.Policy{{p, fullAWSAccess}}}
	for i, st := range p.Document.Statement {
		if st.Effect != policy.EffectAllow || isFullAccess(st) {
			continue
		}
		msg := "SCPs never grant permissions: an Allow only bounds what identity policies may grant, and beside FullAWSAccess it changes nothing"
		var denied []string
		for _, a := range st.Action {
			if strings.ContainsAny(a, "*?") {
				continue
			}
			for _, auth := range []policy.AuthKind{policy.AuthConsole, policy.AuthAccessKey} {
				if dec := decide(denyOnly, probeUser, auth, a, "*"); dec.Result == policy.ExplicitDeny && len(ownStatements(p, dec)) > 0 {
					denied = appendOnce(denied, a)
				}
			}
		}
		if len(denied) > 0 {
			msg += fmt.Sprintf("; nor can it exempt %s from this SCP's Deny: an explicit Deny always wins (exempt them in the Deny with NotAction or a condition)", strings.Join(denied, ", "))
		}
		if len(st.Condition) > 0 || st.NotAction != nil || st.NotResource != nil || !(len(st.Resource) == 1 && st.Resource[0] == "*") {
			msg += "; Condition, NotAction and resource-scoped Allow statements were rejected in SCPs before AWS extended the SCP language in 2025"
		}
		out = append(out, d.statementFinding(p, RuleSCPAllowNoop, SeverityWarning, i, msg))
	}
	return out
}

func appendOnce(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}
