package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/policy/lint"
	"github.com/iamwarden/iamwarden/internal/report"
)

// LintInput is what 'policy lint' was asked to check.
type LintInput struct {
	Files   []string // policies, CloudFormation templates, Terraform configurations, directories
	SCPs    []string // files whose plain policy documents are SCPs
	Kind    string   // identity or scp, for Files
	Account bool     // the live account's customer managed and inline policies
	From    string   // the same from an export directory
	Rules   []string
}

// Exit codes of 'policy lint'.
const exitLintFindings = 1

func newPolicyLintCmd(g *globals) *cobra.Command {
	in := &LintInput{}
	cmd := &cobra.Command{
		Use:   "lint [FILE|DIR...]",
		Short: "Find the mistakes that make MFA policies and SCPs fail silently",
		Long: `Check IAM policies and service control policies for the mistakes that make MFA enforcement
fail silently: MFA device resources pinned to the user name, Bool instead of BoolIfExists, MFA
devices removable without MFA, denies that block MFA registration or lock every role out of the
organization, and SCP Allow statements that grant nothing. docs/lint/ explains each rule.

FILE is a policy document (JSON), a CloudFormation template (JSON or YAML: AWS::IAM::Policy,
ManagedPolicy, Group, User and Role policies, AWS::Organizations::Policy SCPs), a Terraform
configuration (*.tf: the policy of aws_iam_policy, aws_iam_role_policy, aws_iam_user_policy,
aws_iam_group_policy and the content of aws_organizations_policy, given as a string, a heredoc
or jsonencode of a literal object) or a Terraform JSON configuration (*.tf.json). A directory
is read recursively: its *.json, *.yaml, *.yml, *.template, *.tf and *.tf.json files, hidden
directories (.terraform, .git) left out. Policies that are not literals (a data source, a
variable, file()) are named on stderr as not linted.
Plain documents are identity policies unless given with --scp or --kind scp.
--account reads the customer managed and inline user and group policies of the live account;
--from reads them from an export directory.

Output: text (file:line: severity rule: message), json or sarif (SARIF 2.1.0 for code scanning).
Exit codes: 0 no findings, 1 findings, 2 usage error.`,
		Example: `  iamwarden policy lint enforce-mfa.json
  iamwarden policy lint --scp org/deny-without-mfa.json templates/iam.yaml
  iamwarden policy lint infra/terraform/
  iamwarden policy lint --account --output sarif > iam-policies.sarif
  iamwarden policy lint --from examples/demo-account`,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Files = args
			return runLint(cmd.Context(), g, in)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&in.SCPs, "scp", nil, "a service control policy file (repeatable)")
	f.StringVar(&in.Kind, "kind", "identity", "kind of the plain policy files: identity or scp")
	f.BoolVar(&in.Account, "account", false, "lint the live account's customer managed and inline policies")
	f.StringVar(&in.From, "from", "", "lint the policies of an export directory")
	f.StringSliceVar(&in.Rules, "rule", nil, "run only these rules (repeatable or comma-separated)")
	_ = cmd.RegisterFlagCompletionFunc("rule", completeLintRules)
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedCompletion("identity", "scp"))
	return cmd
}

func runLint(ctx context.Context, g *globals, in *LintInput) error {
	format, err := lintFormat(g)
	if err != nil {
		return err
	}
	kind := policy.KindIdentity
	switch in.Kind {
	case "identity", "":
	case "scp":
		kind = policy.KindSCP
	default:
		return usageError{err: fmt.Errorf("--kind: unknown kind %q", in.Kind), hint: "--kind identity|scp"}
	}
	rules := lint.Registry()
	if len(in.Rules) > 0 {
		rules = nil
		for _, id := range in.Rules {
			r, ok := lint.Lookup(strings.TrimSpace(id))
			if !ok {
				return usageError{err: fmt.Errorf("unknown lint rule %q", id), hint: "see docs/lint/README.md"}
			}
			rules = append(rules, r)
		}
	}
	if len(in.Files) == 0 && len(in.SCPs) == 0 && !in.Account && in.From == "" {
		return usageError{err: errors.New("nothing to lint"), hint: "iamwarden policy lint FILE... | --account | --from DIR"}
	}
	if in.Account && in.From != "" {
		return usageError{err: errors.New("--account and --from are exclusive")}
	}
	var docs []lint.Document
	read := func(path string, k policy.Kind) error {
		src, err := lint.ReadPath(path, k)
		if err != nil {
			return usageError{err: fmt.Errorf("read policy: %w", err)}
		}
		for _, n := range src.Notes {
			g.log.Warn(n.String())
		}
		docs = append(docs, src.Documents...)
		return nil
	}
	for _, f := range in.Files {
		if err := read(f, kind); err != nil {
			return err
		}
	}
	for _, f := range in.SCPs {
		if err := read(f, policy.KindSCP); err != nil {
			return err
		}
	}
	switch {
	case in.From != "":
		raw, err := inventory.ReadExport(in.From)
		if err != nil {
			return usageError{err: err, hint: "see docs/export.md for the files an export holds"}
		}
		snap, err := inventory.Assemble(raw)
		if err != nil {
			return fmt.Errorf("export %s: %w", in.From, err)
		}
		docs = append(docs, lint.FromSnapshot(snap, in.From)...)
	case in.Account:
		w, err := newWarden(ctx, g, nil, nil)
		if err != nil {
			return err
		}
		snap, err := w.ReadAccount(ctx, false)
		if err != nil {
			return domainFailure(err)
		}
		docs = append(docs, lint.FromSnapshot(snap, "account "+snap.AccountID)...)
	}
	findings := lint.LintRules(docs, rules)
	switch format {
	case report.FormatJSON:
		err = lint.WriteJSON(g.stdout, findings)
	case report.FormatSARIF:
		err = lint.WriteSARIF(g.stdout, findings, currentVersion().Version)
	default:
		err = lint.WriteText(g.stdout, safeLintFindings(findings))
	}
	if err != nil {
		return fmt.Errorf("write findings: %w", err)
	}
	if len(findings) > 0 {
		return exitError{code: exitLintFindings}
	}
	return nil
}

// lintFormat resolves --output for the linter: text, json or sarif; text on a terminal and JSON
// otherwise when not given.
func lintFormat(g *globals) (report.Format, error) {
	return g.format("policy lint")
}

// safeLintFindings returns findings with every string that comes from a document or a file name
// escaped for a terminal (report.SafeText); JSON and SARIF carry them as they are.
func safeLintFindings(findings []lint.Finding) []lint.Finding {
	out := make([]lint.Finding, len(findings))
	for i, f := range findings {
		f.File, f.Policy, f.Sid, f.Message = report.SafeText(f.File), report.SafeText(f.Policy), report.SafeText(f.Sid), report.SafeText(f.Message)
		out[i] = f
	}
	return out
}
