package rules

import (
	"fmt"
	"strings"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/policy"
)

func mfaNotEnforced() Rule {
	return Rule{
		ID:       "mfa-not-enforced",
		Title:    "Policies do not force MFA",
		Severity: SeverityHigh,
		Controls: []string{"FSBP IAM.5", "Security Hub IAM.19", "CIS v3.0.0 1.10"},
		Doc:      "docs/rules/mfa-not-enforced.md",
		Check:    checkMFANotEnforced,
	}
}

// probe is a representative sensitive request; %s is the account ID.
type probe struct{ action, resource string }

// sensitiveProbes are requests an attacker holding a password or key without the MFA device
// would want. None is MFA self-service, which an enforce-MFA policy must leave open.
var sensitiveProbes = []probe{
	{"iam:CreateUser", "arn:aws:iam::%s:user/iamwarden-probe"},
	{"iam:AttachUserPolicy", "arn:aws:iam::%s:user/iamwarden-probe"},
	{"iam:CreateAccessKey", "arn:aws:iam::%s:user/iamwarden-probe"},
	{"iam:PassRole", "arn:aws:iam::%s:role/iamwarden-probe"},
	{"sts:AssumeRole", "arn:aws:iam::%s:role/iamwarden-probe"},
	{"ec2:RunInstances", "arn:aws:ec2:us-east-1:%s:instance/*"},
	{"ec2:DescribeInstances", "*"},
	{"s3:ListAllMyBuckets", "*"},
	{"s3:GetObject", "arn:aws:s3:::iamwarden-probe/object"},
	{"s3:PutBucketPolicy", "arn:aws:s3:::iamwarden-probe"},
	{"lambda:CreateFunction", "arn:aws:lambda:us-east-1:%s:function:iamwarden-probe"},
	{"kms:Decrypt", "arn:aws:kms:us-east-1:%s:key/iamwarden-probe"},
	{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:%s:secret:iamwarden-probe"},
	{"dynamodb:Scan", "arn:aws:dynamodb:us-east-1:%s:table/iamwarden-probe"},
	{"cloudtrail:StopLogging", "arn:aws:cloudtrail:us-east-1:%s:trail/iamwarden-probe"},
	{"organizations:LeaveOrganization", "*"},
}

// credential is one way the user can authenticate, without and with MFA.
type credential struct {
	name           string
	without, withM policy.AuthKind
}

// leak is a request allowed without MFA that is also allowed with it.
type leak struct {
	Action    string `json:"action"`
	Policy    string `json:"policy"`
	Statement string `json:"statement"`
}

// checkMFANotEnforced: for each way the user can sign requests (console password, active access
// key), every sensitive request the user's policies (identity, boundary and the organization's
// SCPs) allow with MFA must be denied without it.
// Console requests without MFA carry aws:MultiFactorAuthPresent=false; long-term access keys
// carry no such key at all, which is how Bool-conditioned denies let them through.
func checkMFANotEnforced(env Env, p *inventory.User) []Verdict {
	if p.IsRoot || p.Incomplete || env.Policies == nil {
		return nil
	}
	var creds []credential
	if p.Password.Enabled {
		creds = append(creds, credential{"console", policy.AuthConsole, policy.AuthConsoleMFA})
	}
	for _, k := range p.AccessKeys {
		if existedAt(env.AsOf, k) {
			creds = append(creds, credential{"access_key", policy.AuthAccessKey, policy.AuthSessionMFA})
			break
		}
	}
	if len(creds) == 0 {
		return nil
	}
	set, err := env.Policies.PolicySet(p)
	if err != nil {
		return nil // reported by the scan as a problem: never a silent pass
	}
	account := accountOf(p.ARN)
	leaks := map[string][]leak{}
	var first string
	for _, c := range creds {
		without, err1 := policy.ContextFor(p.ARN, c.without, policy.ContextOptions{UserID: p.ID, Now: env.AsOf})
		with, err2 := policy.ContextFor(p.ARN, c.withM, policy.ContextOptions{UserID: p.ID, Now: env.AsOf})
		if err1 != nil || err2 != nil {
			return nil
		}
		for _, pr := range sensitiveProbes {
			res := pr.resource
			if strings.Contains(res, "%s") {
				res = fmt.Sprintf(res, account)
			}
			req := &policy.Request{Principal: p.ARN, Action: pr.action, Resource: res, Context: without}
			d := policy.Evaluate(set, req)
			if !d.Allowed() {
				continue
			}
			req.Context = with
			if !policy.Evaluate(set, req).Allowed() {
				continue
			}
			l := leak{Action: pr.action}
			if ref, ok := granting(d.Deciding); ok {
				l.Policy = ref.Policy
				l.Statement = statementName(ref)
			}
			if first == "" {
				first = fmt.Sprintf("%s without MFA is allowed %s by %s (%s)", credName(c.name), l.Action, l.Policy, l.Statement)
			}
			leaks[c.name] = append(leaks[c.name], l)
		}
	}
	if len(leaks) == 0 {
		return nil
	}
	n := 0
	for _, ls := range leaks {
		n += len(ls)
	}
	ev := map[string]any{}
	for name, ls := range leaks {
		ev[name+"_without_mfa"] = ls
	}
	detail := first
	if n > 1 {
		detail += ", and " + plural(n-1, "more sensitive request")
	}
	switch {
	case len(set.SCPs) > 0:
		ev["scp_levels_evaluated"] = len(set.SCPs)
	case env.SCPsNotEvaluated != "":
		// An SCP may deny these requests: say what was judged, not that MFA is not enforced.
		ev["scps_not_evaluated"] = env.SCPsNotEvaluated
		detail = fmt.Sprintf("SCPs were not evaluated (%s); without them, %s", env.SCPsNotEvaluated, detail)
	}
	return []Verdict{{State: StateViolation, Detail: detail, Evidence: ev}}
}

// granting is the statement that grants an allowed request: the first identity policy statement
// among the deciding ones (SCPs and boundaries only let it through).
func granting(refs []policy.StatementRef) (policy.StatementRef, bool) {
	for _, r := range refs {
		if r.Kind == policy.KindIdentity {
			return r, true
		}
	}
	if len(refs) > 0 {
		return refs[0], true
	}
	return policy.StatementRef{}, false
}

func credName(c string) string {
	if c == "console" {
		return "console sign-in"
	}
	return "an access key"
}

func statementName(ref policy.StatementRef) string {
	if ref.Sid != "" {
		return fmt.Sprintf("statement %d %q", ref.Index, ref.Sid)
	}
	return fmt.Sprintf("statement %d", ref.Index)
}

// accountOf is the account ID field of an ARN.
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}
