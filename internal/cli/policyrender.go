package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/policy/generate"
)

// RenderInput is what 'policy render' was asked to print.
type RenderInput struct {
	Kind         string
	Format       string
	Name         string
	PolicyName   string
	ExemptARNs   []string
	Parameter    string
	SNSTopicARN  string
	JournalTable string
	// The Lambda's resources (iamwarden-lambda-*).
	ConfigParameter    string
	ScheduleGroup      string
	SchedulerRoleARN   string
	DeadLetterQueueARN string
	LogGroupARN        string
	SecurityHub        bool
	// The organization hub's additions (iamwarden-lambda-* with --organization).
	Organization    bool
	MemberRoleName  string
	EnforceRoleName string
	AccountQueueARN string
}

func newPolicyRenderCmd(g *globals) *cobra.Command {
	in := &RenderInput{}
	var kinds []string
	width := 0
	for _, k := range generate.Kinds() {
		width = max(width, len(k.Kind))
	}
	for _, k := range generate.Kinds() {
		kinds = append(kinds, fmt.Sprintf("  %-*s %s", width, k.Kind, k.Title))
	}
	cmd := &cobra.Command{
		Use:   "render KIND",
		Short: "Print a recommended policy (enforce MFA, MFA SCP, iamwarden's own permissions) as JSON, Terraform or CloudFormation",
		Long: `Print one of the policies iamwarden recommends, ready to deploy.

Kinds:
` + strings.Join(kinds, "\n") + `

Formats: json (the policy document), terraform (HCL resources), cloudformation (a YAML template).
See docs/policy-render.md.`,
		Example: `  iamwarden policy render enforce-mfa --format terraform > enforce_mfa.tf
  iamwarden policy render enforce-mfa-group --name Developers --format cloudformation
  iamwarden policy render enforce-mfa-scp --exempt-principal-arn 'arn:aws:iam::*:user/breakglass'
  iamwarden policy render iamwarden-enforce --sns-topic-arn arn:aws:sns:us-east-1:123456789012:iam-alerts
  iamwarden policy render iamwarden-lambda-enforce --schedule-group iamwarden --config-parameter /iamwarden/config
  iamwarden policy render iamwarden-lambda-report --organization --account-queue-arn arn:aws:sqs:us-east-1:123456789012:iamwarden-accounts
  iamwarden policy render iamwarden-member-enforce --format cloudformation`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{err: errors.New("policy render needs one KIND"), hint: "iamwarden policy render enforce-mfa"}
			}
			return nil
		},
		ValidArgsFunction: completePolicyKinds,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Kind = args[0]
			return runRender(g, in)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Format, "format", "json", "output format: json, terraform or cloudformation")
	f.StringVar(&in.Name, "name", "", "policy name (for enforce-mfa-group: the group name; default ForceMfaAccess)")
	f.StringVar(&in.PolicyName, "policy-name", "", "enforce-mfa-group: the managed policy's name (default NAME + Policy)")
	f.StringArrayVar(&in.ExemptARNs, "exempt-principal-arn", nil, "enforce-mfa-scp: principal ARN pattern never denied, e.g. a break-glass user (repeatable)")
	f.StringVar(&in.Parameter, "exemption-parameter", "", "iamwarden-*: SSM parameter of exempt users (default "+generate.DefaultExemptionParameter+")")
	f.StringVar(&in.SNSTopicARN, "sns-topic-arn", "", "iamwarden-enforce: notification topic (default "+generate.DefaultSNSTopicARN+")")
	f.StringVar(&in.JournalTable, "journal-table", "", "iamwarden-enforce, iamwarden-lambda-*: DynamoDB journal table (default "+generate.DefaultJournalTable+")")
	f.StringVar(&in.ConfigParameter, "config-parameter", "", "iamwarden-lambda-*: SSM parameter holding the configuration (default none: no statement for it)")
	f.StringVar(&in.ScheduleGroup, "schedule-group", "", "iamwarden-lambda-*: EventBridge Scheduler group of the deadline schedules (default "+generate.DefaultScheduleGroup+")")
	f.StringVar(&in.SchedulerRoleARN, "scheduler-role-arn", "", "iamwarden-lambda-*: role the deadline schedules run as (default "+generate.DefaultSchedulerRoleARN+")")
	f.StringVar(&in.DeadLetterQueueARN, "dead-letter-queue-arn", "", "iamwarden-lambda-*: SQS queue of failed invocations (default "+generate.DefaultDeadLetterQueueARN+")")
	f.StringVar(&in.LogGroupARN, "log-group-arn", "", "iamwarden-lambda-*: the function's log group, without :* (default "+generate.DefaultLogGroupARN+")")
	f.BoolVar(&in.SecurityHub, "security-hub", false, "iamwarden-lambda-*: allow importing the account's findings into Security Hub")
	f.BoolVar(&in.Organization, "organization", false, "iamwarden-lambda-*: the organization hub's policy (list accounts, assume the member role, the account queue)")
	f.StringVar(&in.MemberRoleName, "member-role-name", "", "with --organization: role assumed in member accounts in report mode (default "+generate.DefaultMemberRoleName+")")
	f.StringVar(&in.EnforceRoleName, "enforce-role-name", "", "with --organization: role assumed in member accounts in enforce mode (default "+generate.DefaultEnforceRoleName+")")
	f.StringVar(&in.AccountQueueARN, "account-queue-arn", "", "with --organization: SQS queue of per-account work (default "+generate.DefaultAccountQueueARN+")")
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion("json", "terraform", "cloudformation"))
	return cmd
}

func runRender(g *globals, in *RenderInput) error {
	if g.output != "" {
		return usageError{err: fmt.Errorf("policy render takes --format json|terraform|cloudformation, not --output %s", g.output), hint: "iamwarden policy render " + in.Kind + " --format json"}
	}
	kind := generate.Kind(in.Kind)
	if _, err := generate.Lookup(kind); err != nil {
		return usageError{err: err, hint: "iamwarden policy render --help"}
	}
	format, err := generate.ParseFormat(in.Format)
	if err != nil {
		return usageError{err: err, hint: "--format json|terraform|cloudformation"}
	}
	if len(in.ExemptARNs) > 0 && kind != generate.KindEnforceMFASCP {
		return usageError{err: errors.New("--exempt-principal-arn applies to enforce-mfa-scp only")}
	}
	for _, a := range in.ExemptARNs {
		if !strings.HasPrefix(a, "arn:") {
			return usageError{err: fmt.Errorf("--exempt-principal-arn %q is not an ARN", a), hint: "--exempt-principal-arn 'arn:aws:iam::*:user/breakglass'"}
		}
	}
	lambda := kind == generate.KindIamwardenLambdaReport || kind == generate.KindIamwardenLambdaEnforce
	if (in.Organization || in.SecurityHub) && !lambda {
		return usageError{err: fmt.Errorf("--organization and --security-hub apply to iamwarden-lambda-report and iamwarden-lambda-enforce, not %s", kind),
			hint: "iamwarden policy render iamwarden-lambda-report --organization"}
	}
	if !in.Organization && (in.MemberRoleName != "" || in.EnforceRoleName != "" || in.AccountQueueARN != "") {
		return usageError{err: errors.New("--member-role-name, --enforce-role-name and --account-queue-arn need --organization"),
			hint: "iamwarden policy render " + in.Kind + " --organization"}
	}
	var org *generate.OrganizationOptions
	if in.Organization {
		org = &generate.OrganizationOptions{MemberRoleName: in.MemberRoleName, EnforceRoleName: in.EnforceRoleName, AccountQueueARN: in.AccountQueueARN}
	}
	opts := generate.Options{
		Name:       in.Name,
		PolicyName: in.PolicyName,
		SCP:        generate.SCPOptions{ExemptPrincipalARNs: in.ExemptARNs},
		Permission: generate.PermissionOptions{
			ExemptionParameter: in.Parameter, SNSTopicARN: in.SNSTopicARN, JournalTable: in.JournalTable,
			ConfigParameter: in.ConfigParameter, ScheduleGroup: in.ScheduleGroup, SchedulerRoleARN: in.SchedulerRoleARN,
			DeadLetterQueueARN: in.DeadLetterQueueARN, LogGroupARN: in.LogGroupARN,
			Organization: org, SecurityHub: in.SecurityHub,
		},
	}
	if err := generate.Render(g.stdout, kind, format, opts); err != nil {
		return err
	}
	return nil
}
