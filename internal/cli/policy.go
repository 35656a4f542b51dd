package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/report"
)

// SimulateInput is what 'policy simulate' was asked to decide.
type SimulateInput struct {
	Policies         []string // identity policy files
	Boundary         string   // permissions boundary file
	SCPs             []string // one organization level each, root first: files separated by commas
	ResourcePolicies []string
	SessionPolicies  []string // session policy files
	Action           string
	Resource         string
	ResourceAccount  string
	Principal        string
	Auth             string   // console, access-key, console-mfa, session-mfa; empty: no MFA keys
	Context          []string // key=type:value
}

// Exit codes of 'policy simulate'.
const (
	exitSimAllowed = 0
	exitSimDenied  = 1
)

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Work with IAM policy documents",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newPolicySimulateCmd(g), newPolicyRenderCmd(g), newPolicyLintCmd(g), newPolicyApplyCmd(g))
	return cmd
}

func newPolicySimulateCmd(g *globals) *cobra.Command {
	in := &SimulateInput{}
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Decide one request against policy files, offline, with AWS's evaluation logic",
		Long: `Decide whether a request is allowed by a set of policy documents, offline.

Identity policies (--policy), a permissions boundary (--boundary), service control policies
(--scp, one flag per organization level from the root to the account, each naming the SCPs
attached at that level separated by commas), resource policies (--resource-policy) and the
session policies of a role session (--session-policy) are evaluated with AWS's logic: an
explicit Deny anywhere wins; otherwise the identity policies, the boundary, every SCP level and
the session policies must allow. The answer names the statements that decided it.
sts:GetSessionToken is allowed to IAM users whatever the policies: AWS does not let policies
control it.

A user principal ARN supplies aws:username, aws:PrincipalArn, aws:PrincipalAccount and
aws:PrincipalType; a role session ARN (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION) supplies
the role's ARN as aws:PrincipalArn. --auth adds the MFA keys as AWS sends them: console (MultiFactorAuthPresent
"false"), access-key (no MFA keys at all), console-mfa and session-mfa ("true").

Context values: --context key=type:value, type being one of string, stringList, numeric,
numericList, boolean, booleanList, ip, ipList, date, dateList, binary, binaryList; list values
are comma-separated.

Exit codes: 0 allowed, 1 denied, 2 usage error.`,
		Example: `  iamwarden policy simulate --policy enforce-mfa.json --policy admin.json \
      --action s3:GetObject --resource 'arn:aws:s3:::reports/q3.csv' \
      --principal arn:aws:iam::123456789012:user/alice --auth access-key
  iamwarden policy simulate --policy p.json --action iam:CreateVirtualMFADevice \
      --resource arn:aws:iam::123456789012:mfa/phone \
      --context aws:username=string:alice --context aws:MultiFactorAuthPresent=boolean:false
  iamwarden policy simulate --policy admin.json --scp FullAWSAccess.json,deny-regions.json \
      --scp FullAWSAccess.json --action ec2:RunInstances
  iamwarden policy simulate --policy dev-role.json --session-policy s3-only.json \
      --principal arn:aws:sts::123456789012:assumed-role/Dev/alice --action s3:GetObject`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(g, in)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&in.Policies, "policy", nil, "identity policy file (repeatable; JSON or URL-encoded JSON)")
	f.StringVar(&in.Boundary, "boundary", "", "permissions boundary policy file")
	f.StringArrayVar(&in.SCPs, "scp", nil, "the service control policies of one organization level, FILE[,FILE...]; repeat per level from the root")
	f.StringArrayVar(&in.ResourcePolicies, "resource-policy", nil, "resource-based policy file (repeatable)")
	f.StringArrayVar(&in.SessionPolicies, "session-policy", nil, "session policy file of the principal's session (repeatable)")
	f.StringVar(&in.Action, "action", "", "the action, service:Action (required)")
	f.StringVar(&in.Resource, "resource", "*", "the resource ARN")
	f.StringVar(&in.ResourceAccount, "resource-account", "", "account owning the resource when its ARN has none (S3); default: the ARN's account")
	f.StringVar(&in.Principal, "principal", "", "the principal ARN, e.g. arn:aws:iam::123456789012:user/alice")
	f.StringVar(&in.Auth, "auth", "", "how the principal signed in: console, access-key, console-mfa or session-mfa")
	f.StringArrayVar(&in.Context, "context", nil, "request context entry key=type:value (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("auth", fixedCompletion("console", "access-key", "console-mfa", "session-mfa"))
	return cmd
}

// simulateOutput is the JSON form of a decision.
type simulateOutput struct {
	Decision  string           `json:"decision"`
	Deciding  []decidingOutput `json:"deciding_statements"`
	Missing   string           `json:"missing_allow,omitempty"`
	Rule      string           `json:"aws_rule,omitempty"`
	Request   requestOutput    `json:"request"`
	Reasoning string           `json:"reason"`
}

type decidingOutput struct {
	File   string `json:"file"`
	Kind   string `json:"kind"`
	Sid    string `json:"sid"`
	Index  int    `json:"index"`
	Line   int    `json:"line"`
	Effect string `json:"effect"`
}

type requestOutput struct {
	Principal       string                  `json:"principal,omitempty"`
	Action          string                  `json:"action"`
	Resource        string                  `json:"resource"`
	ResourceAccount string                  `json:"resource_account,omitempty"`
	Context         map[string]contextValue `json:"context"`
}

type contextValue struct {
	Type   string   `json:"type"`
	Values []string `json:"values"`
}

func runSimulate(g *globals, in *SimulateInput) error {
	format, err := g.format("policy simulate")
	if err != nil {
		return err
	}
	if format != report.FormatJSON && format != report.FormatTable {
		return usageError{err: fmt.Errorf("policy simulate prints table or json, not %s", format), hint: "--output table|json"}
	}
	set, req, err := buildSimulation(g, in)
	if err != nil {
		return err
	}
	d := policy.Evaluate(set, req)
	out := simulateOutput{
		Decision: d.Result.String(),
		Deciding: []decidingOutput{},
		Missing:  d.Missing,
		Rule:     d.Rule,
		Request: requestOutput{Principal: req.Principal, Action: req.Action, Resource: req.Resource,
			ResourceAccount: req.ResourceAccount, Context: map[string]contextValue{}},
		Reasoning: reason(d),
	}
	for _, s := range d.Deciding {
		out.Deciding = append(out.Deciding, decidingOutput{File: s.Policy, Kind: s.Kind.String(), Sid: s.Sid, Index: s.Index, Line: s.Line, Effect: s.Effect})
	}
	for k, v := range req.Context {
		out.Request.Context[k] = contextValue{Type: string(v.Type), Values: v.Values}
	}
	if format == report.FormatJSON {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("write decision: %w", err)
		}
	} else if err := writeSimulateTable(g.stdout, out); err != nil {
		return fmt.Errorf("write decision: %w", err)
	}
	if d.Result != policy.Allowed {
		return exitError{code: exitSimDenied}
	}
	return nil
}

func reason(d policy.Decision) string {
	if d.Rule != "" {
		return d.Rule
	}
	switch d.Result {
	case policy.Allowed:
		return "allowed by the statements below"
	case policy.ExplicitDeny:
		return "denied explicitly by the statements below"
	}
	return "denied implicitly: no " + d.Missing + " statement allows the request"
}

func buildSimulation(g *globals, in *SimulateInput) (*policy.PolicySet, *policy.Request, error) {
	if in.Action == "" {
		return nil, nil, usageError{err: errors.New("--action is required"), hint: "--action s3:GetObject"}
	}
	if !strings.Contains(in.Action, ":") {
		return nil, nil, usageError{err: fmt.Errorf("--action %q is not service:Action", in.Action), hint: "--action s3:GetObject"}
	}
	if len(in.Policies) == 0 && len(in.ResourcePolicies) == 0 {
		return nil, nil, usageError{err: errors.New("no policy to evaluate"), hint: "--policy FILE"}
	}
	set := &policy.PolicySet{}
	for _, f := range in.Policies {
		p, err := loadPolicy(f, policy.KindIdentity)
		if err != nil {
			return nil, nil, err
		}
		set.Identity = append(set.Identity, p)
	}
	if in.Boundary != "" {
		p, err := loadPolicy(in.Boundary, policy.KindBoundary)
		if err != nil {
			return nil, nil, err
		}
		set.Boundary = p
	}
	for i, level := range in.SCPs {
		var ps []*policy.Policy
		for _, f := range strings.Split(level, ",") {
			if f == "" {
				return nil, nil, usageError{err: fmt.Errorf("--scp %q: empty file name at level %d", level, i), hint: "--scp FullAWSAccess.json,deny.json"}
			}
			p, err := loadPolicy(f, policy.KindSCP)
			if err != nil {
				return nil, nil, err
			}
			ps = append(ps, p)
		}
		set.SCPs = append(set.SCPs, ps)
	}
	for _, f := range in.SessionPolicies {
		p, err := loadPolicy(f, policy.KindSession)
		if err != nil {
			return nil, nil, err
		}
		set.SessionPolicies = append(set.SessionPolicies, p)
	}
	for _, f := range in.ResourcePolicies {
		p, err := loadPolicy(f, policy.KindResource)
		if err != nil {
			return nil, nil, err
		}
		set.ResourcePolicies = append(set.ResourcePolicies, p)
	}
	req := &policy.Request{Principal: in.Principal, Action: in.Action, Resource: in.Resource, ResourceAccount: in.ResourceAccount, Context: map[string]policy.Value{}}
	if in.Auth != "" && in.Principal == "" {
		return nil, nil, usageError{err: errors.New("--auth needs --principal"), hint: "--principal arn:aws:iam::123456789012:user/alice"}
	}
	if in.Principal != "" {
		kind, err := parseAuth(in.Auth)
		if err != nil {
			return nil, nil, err
		}
		ctx, err := policy.ContextFor(in.Principal, kind, policy.ContextOptions{Now: g.now()})
		if err != nil {
			return nil, nil, usageError{err: fmt.Errorf("--principal: %w", err), hint: "--principal arn:aws:iam::123456789012:user/alice"}
		}
		req.Context = ctx
	}
	for _, c := range in.Context {
		key, rest, ok := strings.Cut(c, "=")
		typ, val, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 || key == "" {
			return nil, nil, usageError{err: fmt.Errorf("--context %q: want key=type:value", c), hint: "--context aws:MultiFactorAuthPresent=boolean:true"}
		}
		v, err := policy.ParseValue(policy.ValueType(typ), val)
		if err != nil {
			return nil, nil, usageError{err: fmt.Errorf("--context %s: %w", key, err), hint: "--context aws:SourceIp=ip:203.0.113.7"}
		}
		req.Context[key] = v
	}
	return set, req, nil
}

func parseAuth(s string) (policy.AuthKind, error) {
	for _, k := range []policy.AuthKind{policy.AuthConsole, policy.AuthAccessKey, policy.AuthConsoleMFA, policy.AuthSessionMFA} {
		if s == k.String() {
			return k, nil
		}
	}
	if s == "" {
		return policy.AuthAccessKey, nil // no MFA keys unless --context sets them
	}
	return 0, usageError{err: fmt.Errorf("--auth: unknown value %q", s), hint: "--auth console|access-key|console-mfa|session-mfa"}
}

func loadPolicy(path string, kind policy.Kind) (*policy.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{err: fmt.Errorf("read %s policy: %w", kind, err)}
	}
	p, err := policy.Parse(path, data, kind)
	if err != nil {
		return nil, usageError{err: err, hint: "fix the policy document; IAM would reject it too"}
	}
	return p, nil
}

// writeSimulateTable prints a decision for people: every string from the request or the documents
// is escaped (report.SafeText).
func writeSimulateTable(w io.Writer, out simulateOutput) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "decision:\t%s\n", out.Decision)
	fmt.Fprintf(tw, "reason:\t%s\n", report.SafeText(out.Reasoning))
	if out.Request.Principal != "" {
		fmt.Fprintf(tw, "principal:\t%s\n", report.SafeText(out.Request.Principal))
	}
	fmt.Fprintf(tw, "action:\t%s\n", report.SafeText(out.Request.Action))
	fmt.Fprintf(tw, "resource:\t%s\n", report.SafeText(out.Request.Resource))
	if out.Request.ResourceAccount != "" {
		fmt.Fprintf(tw, "resource account:\t%s\n", report.SafeText(out.Request.ResourceAccount))
	}
	keys := make([]string, 0, len(out.Request.Context))
	for k := range out.Request.Context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := out.Request.Context[k]
		fmt.Fprintf(tw, "context:\t%s\n", report.SafeText(k+"="+v.Type+":"+strings.Join(v.Values, ",")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(out.Deciding) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE:LINE\tKIND\tSTATEMENT\tSID\tEFFECT")
	for _, s := range out.Deciding {
		fmt.Fprintf(tw, "%s:%d\t%s\t%d\t%s\t%s\n", report.SafeText(s.File), s.Line, s.Kind, s.Index, report.SafeText(dash(s.Sid)), report.SafeText(s.Effect))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
