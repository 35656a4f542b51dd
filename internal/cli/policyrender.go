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
}

func newPolicyRenderCmd(g *globals) *cobra.Command {
	in := &RenderInput{}
	var kinds []string
	for _, k := range generate.Kinds() {
		kinds = append(kinds, fmt.Sprintf("  %-20s %s", k.Kind, k.Title))
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
  iamwarden policy render iamwarden-lambda-enforce --schedule-group iamwarden --config-parameter /iamwarden/config`,
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
	opts := generate.Options{
		Name:       in.Name,
		PolicyName: in.PolicyName,
		SCP:        generate.SCPOptions{ExemptPrincipalARNs: in.ExemptARNs},
		Permission: generate.PermissionOptions{
			ExemptionParameter: in.Parameter, SNSTopicARN: in.SNSTopicARN, JournalTable: in.JournalTable,
			ConfigParameter: in.ConfigParameter, ScheduleGroup: in.ScheduleGroup, SchedulerRoleARN: in.SchedulerRoleARN,
			DeadLetterQueueARN: in.DeadLetterQueueARN, LogGroupARN: in.LogGroupARN,
		},
	}
	if err := generate.Render(g.stdout, kind, format, opts); err != nil {
		return err
	}
	return nil
}
