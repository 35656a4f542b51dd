package generate

import (
	"strings"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/policy"
)

// Resource patterns of the self-service statements.
const (
	ownUser      = "arn:aws:iam::*:user/${aws:username}"
	anyMFADevice = "arn:aws:iam::*:mfa/*"
	mfaPresent   = "aws:MultiFactorAuthPresent"
)

// RegistrationActions are the actions a user without MFA still needs: to see and register a
// virtual MFA device, to change an expired or first-time password, and to get MFA session
// credentials on the command line. The MFA-enforcing Deny exempts exactly these.
var RegistrationActions = []string{
	"iam:ChangePassword",
	"iam:CreateVirtualMFADevice",
	"iam:EnableMFADevice",
	"iam:GetAccountPasswordPolicy",
	"iam:GetMFADevice",
	"iam:GetUser",
	"iam:ListMFADevices",
	"iam:ListVirtualMFADevices",
	"iam:ResyncMFADevice",
	"sts:GetSessionToken",
}

func strs(s ...string) policy.StringOrSlice { return policy.StringOrSlice(s) }

func boolCond(op, value string) policy.Condition {
	return policy.Condition{op: {mfaPresent: policy.ConditionValues{value}}}
}

// EnforceMFA is the self-service MFA policy: users manage their own password, access keys,
// signing certificates, SSH keys, service-specific credentials and MFA devices, may remove an MFA
// device only while signed in with MFA, and are denied everything else until they sign in with
// MFA. It grants nothing beyond the user's own credentials: combine it with the policies that
// give users their work permissions.
func EnforceMFA() policy.Document {
	return policy.Document{
		Version: policy.Version2012,
		Statement: []policy.Statement{
			{
				Sid: "AllowViewAccountInfo", Effect: policy.EffectAllow,
				Action:   strs("iam:GetAccountPasswordPolicy", "iam:GetAccountSummary", "iam:ListVirtualMFADevices"),
				Resource: strs("*"),
			},
			{
				Sid: "AllowManageOwnPasswords", Effect: policy.EffectAllow,
				Action:   strs("iam:ChangePassword", "iam:GetLoginProfile", "iam:GetUser"),
				Resource: strs(ownUser),
			},
			{
				Sid: "AllowManageOwnAccessKeys", Effect: policy.EffectAllow,
				Action:   strs("iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed", "iam:ListAccessKeys", "iam:UpdateAccessKey"),
				Resource: strs(ownUser),
			},
			{
				Sid: "AllowManageOwnSigningCertificates", Effect: policy.EffectAllow,
				Action:   strs("iam:DeleteSigningCertificate", "iam:ListSigningCertificates", "iam:UpdateSigningCertificate", "iam:UploadSigningCertificate"),
				Resource: strs(ownUser),
			},
			{
				Sid: "AllowManageOwnSSHPublicKeys", Effect: policy.EffectAllow,
				Action:   strs("iam:DeleteSSHPublicKey", "iam:GetSSHPublicKey", "iam:ListSSHPublicKeys", "iam:UpdateSSHPublicKey", "iam:UploadSSHPublicKey"),
				Resource: strs(ownUser),
			},
			{
				Sid: "AllowManageOwnServiceSpecificCredentials", Effect: policy.EffectAllow,
				Action: strs("iam:CreateServiceSpecificCredential", "iam:DeleteServiceSpecificCredential", "iam:ListServiceSpecificCredentials",
					"iam:ResetServiceSpecificCredential", "iam:UpdateServiceSpecificCredential"),
				Resource: strs(ownUser),
			},
			{
				// Virtual MFA devices carry a name the user chooses: the resource cannot be
				// pinned to the user name.
				Sid: "AllowCreateVirtualMFADevice", Effect: policy.EffectAllow,
				Action:   strs("iam:CreateVirtualMFADevice"),
				Resource: strs(anyMFADevice),
			},
			{
				Sid: "AllowManageOwnUserMFA", Effect: policy.EffectAllow,
				Action:   strs("iam:EnableMFADevice", "iam:GetMFADevice", "iam:ListMFADevices", "iam:ResyncMFADevice"),
				Resource: strs(ownUser),
			},
			{
				// Removing a device needs MFA: a stolen password alone must not be able to
				// take the second factor away.
				Sid: "AllowRemoveOwnMFAOnlyWithMFA", Effect: policy.EffectAllow,
				Action:    strs("iam:DeactivateMFADevice", "iam:DeleteVirtualMFADevice"),
				Resource:  strs(anyMFADevice, ownUser),
				Condition: boolCond("Bool", "true"),
			},
			{
				// BoolIfExists: requests signed with long-term access keys carry no
				// aws:MultiFactorAuthPresent key and must be denied too.
				Sid: "DenyAllExceptMFARegistrationWithoutMFA", Effect: policy.EffectDeny,
				NotAction: strs(RegistrationActions...),
				Resource:  strs("*"),
				Condition: boolCond("BoolIfExists", "false"),
			},
		},
	}
}

// SCPOptions tune EnforceMFASCP.
type SCPOptions struct {
	// ExemptPrincipalARNs are principal ARN patterns (ArnLike wildcards allowed) never denied,
	// e.g. a break-glass user.
	ExemptPrincipalARNs []string
}

// EnforceMFASCP is a service control policy denying IAM users every action but MFA
// registration until they sign in with MFA. Role sessions (automation, CI, Lambda, service-linked
// roles, the organization's own tooling) are not IAM users and are not affected. It has no Allow
// statement: SCPs grant nothing, FullAWSAccess stays attached.
func EnforceMFASCP(opts SCPOptions) policy.Document {
	cond := boolCond("BoolIfExists", "false")
	cond["StringEquals"] = map[string]policy.ConditionValues{"aws:PrincipalType": {"User"}}
	if len(opts.ExemptPrincipalARNs) > 0 {
		cond["ArnNotLike"] = map[string]policy.ConditionValues{"aws:PrincipalArn": policy.ConditionValues(opts.ExemptPrincipalARNs)}
	}
	return policy.Document{
		Version: policy.Version2012,
		Statement: []policy.Statement{{
			Sid: "DenyIAMUsersWithoutMFA", Effect: policy.EffectDeny,
			NotAction: strs(RegistrationActions...),
			Resource:  strs("*"),
			Condition: cond,
		}},
	}
}

// PermissionOptions name the resources of iamwarden's own policies.
type PermissionOptions struct {
	// ExemptionParameter is the SSM parameter holding exempt user names.
	ExemptionParameter string
	// SNSTopicARN is the notification topic (wildcards allowed).
	SNSTopicARN string
	// JournalTable is the DynamoDB journal table name.
	JournalTable string

	// The Lambda's own resources (iamwarden-lambda-report, iamwarden-lambda-enforce).

	// ConfigParameter is the SSM parameter holding the configuration document; empty: the
	// function reads no configuration parameter and the policy has no statement for it.
	ConfigParameter string
	// ScheduleGroup is the EventBridge Scheduler group of the one-shot deadline schedules.
	ScheduleGroup string
	// SchedulerRoleARN is the role EventBridge Scheduler assumes to invoke the function.
	SchedulerRoleARN string
	// DeadLetterQueueARN is the SQS queue of the function's failed asynchronous invocations.
	DeadLetterQueueARN string
	// LogGroupARN is the function's log group, without the ":*" suffix of CloudFormation's
	// Fn::GetAtt Arn.
	LogGroupARN string
	// Organization, when set, makes the Lambda's policy the organization hub's: it also lists the
	// organization's accounts, assumes the member role and works off the account queue.
	Organization *OrganizationOptions
	// SecurityHub adds securityhub:BatchImportFindings to the Lambda's policy (hub or single
	// account): the function imports its own account's findings. The member kinds always have it.
	SecurityHub bool
}

// OrganizationOptions name the resources of the hub function's organization statements
// (iamwarden-lambda-report, iamwarden-lambda-enforce with PermissionOptions.Organization).
type OrganizationOptions struct {
	// MemberRoleName is the role the hub assumes in member accounts in report mode, the
	// iamwarden-member-audit role (default iamwarden-audit).
	MemberRoleName string
	// EnforceRoleName is the role it assumes there in enforce mode, the iamwarden-member-enforce
	// role (default iamwarden-enforce).
	EnforceRoleName string
	// AccountQueueARN is the SQS queue of per-account work the hub sends to and consumes.
	AccountQueueARN string
}

// Default resource names of iamwarden's own policies.
const (
	DefaultExemptionParameter = "/iam-unused-user-cleanup/excluded-users"
	DefaultSNSTopicARN        = "arn:aws:sns:*:*:iamwarden-*"
	DefaultJournalTable       = "iamwarden-journal"
	DefaultScheduleGroup      = "iamwarden"
	DefaultSchedulerRoleARN   = "arn:aws:iam::*:role/iamwarden-scheduler-*"
	DefaultDeadLetterQueueARN = "arn:aws:sqs:*:*:iamwarden-*"
	DefaultLogGroupARN        = "arn:aws:logs:*:*:log-group:/aws/lambda/iamwarden-*"
	DefaultMemberRoleName     = "iamwarden-audit"
	DefaultEnforceRoleName    = "iamwarden-enforce"
	DefaultAccountQueueARN    = "arn:aws:sqs:*:*:iamwarden-*"
)

func (o PermissionOptions) withDefaults() PermissionOptions {
	if o.ExemptionParameter == "" {
		o.ExemptionParameter = DefaultExemptionParameter
	}
	if o.SNSTopicARN == "" {
		o.SNSTopicARN = DefaultSNSTopicARN
	}
	if o.JournalTable == "" {
		o.JournalTable = DefaultJournalTable
	}
	if o.ScheduleGroup == "" {
		o.ScheduleGroup = DefaultScheduleGroup
	}
	if o.SchedulerRoleARN == "" {
		o.SchedulerRoleARN = DefaultSchedulerRoleARN
	}
	if o.DeadLetterQueueARN == "" {
		o.DeadLetterQueueARN = DefaultDeadLetterQueueARN
	}
	if o.LogGroupARN == "" {
		o.LogGroupARN = DefaultLogGroupARN
	}
	if o.Organization != nil {
		org := *o.Organization
		if org.MemberRoleName == "" {
			org.MemberRoleName = DefaultMemberRoleName
		}
		if org.EnforceRoleName == "" {
			org.EnforceRoleName = DefaultEnforceRoleName
		}
		if org.AccountQueueARN == "" {
			org.AccountQueueARN = DefaultAccountQueueARN
		}
		o.Organization = &org
	}
	return o
}

// ScanActions are the calls of 'iamwarden scan' and 'export' (and of the Lambda's scan).
var ScanActions = []string{
	"sts:GetCallerIdentity",
	"iam:GenerateCredentialReport",
	"iam:GetCredentialReport",
	"iam:GetAccountAuthorizationDetails",
	"iam:ListVirtualMFADevices",
	"iam:GetAccountPasswordPolicy",
	"iam:ListAccountAliases",
	"iam:GetAccountSummary",
	"iam:GetLoginProfile",
	"iam:ListAccessKeys",
	"iam:GetAccessKeyLastUsed",
	"iam:GetPolicy",
	"iam:GetPolicyVersion",
	"organizations:DescribeOrganization",
	"organizations:ListParents",
	"organizations:ListPoliciesForTarget",
	"organizations:DescribePolicy",
}

// UserReadActions re-read one user live before it is judged or changed: 'enforce', 'undo' and
// the Lambda in both modes.
var UserReadActions = []string{
	"iam:GetUser",
	"iam:ListMFADevices",
}

// UserChangeActions are the changes 'enforce' makes and 'undo' reverts (CreateLoginProfile is
// undo's only).
var UserChangeActions = []string{
	"iam:DeleteLoginProfile",
	"iam:UpdateAccessKey",
	"iam:CreateLoginProfile",
}

// EnforceIAMActions are the user-level calls 'iamwarden enforce' and 'undo' add to the scan's.
var EnforceIAMActions = append(append([]string{}, UserReadActions...), UserChangeActions...)

// JournalActions are the IAM actions of the journal's DynamoDB calls. TransactWriteItems is not
// an IAM action: a transaction needs the action of each item it writes (PutItem here).
// DescribeTable checks the table before a run. DeleteItem is in JournalDeleteActions.
var JournalActions = []string{
	"dynamodb:GetItem",
	"dynamodb:PutItem",
	"dynamodb:UpdateItem",
	"dynamodb:Query",
	"dynamodb:Scan",
	"dynamodb:DescribeTable",
}

// JournalDeleteActions release leases and dedupe keys and delete the body chunks of a run record
// that lost a race. They are granted only on items whose key starts with a reserved prefix
// (dynamodb:LeadingKeys), so the role cannot erase an entry of its own audit trail, nor a run
// record's head: chunk keys are "RUN#<id>#<generation>#<n>", heads "RUN#<id>" (run IDs have no #).
var JournalDeleteActions = []string{"dynamodb:DeleteItem"}

func parameterARN(name string) string {
	return "arn:aws:ssm:*:*:parameter/" + strings.TrimPrefix(name, "/")
}

// IamwardenScan is the least-privilege policy of the read-only commands.
func IamwardenScan(opts PermissionOptions) policy.Document {
	opts = opts.withDefaults()
	return policy.Document{
		Version:   policy.Version2012,
		Statement: scanStatements(opts),
	}
}

func scanStatements(opts PermissionOptions) []policy.Statement {
	return []policy.Statement{
		{Sid: "IamwardenScan", Effect: policy.EffectAllow, Action: strs(ScanActions...), Resource: strs("*")},
		{Sid: "IamwardenExemptionList", Effect: policy.EffectAllow, Action: strs("ssm:GetParameter"), Resource: strs(parameterARN(opts.ExemptionParameter))},
	}
}

// IamwardenEnforce is the least-privilege policy of 'enforce' and 'undo': the scan's, the
// user-level calls, notifications and the DynamoDB journal.
func IamwardenEnforce(opts PermissionOptions) policy.Document {
	opts = opts.withDefaults()
	return policy.Document{
		Version: policy.Version2012,
		Statement: append(scanStatements(opts),
			policy.Statement{Sid: "IamwardenEnforce", Effect: policy.EffectAllow, Action: strs(EnforceIAMActions...), Resource: strs(anyUser)},
			notifyStatement(opts),
			journalStatement(opts),
			journalReleaseStatement(opts),
		),
	}
}

const anyUser = "arn:aws:iam::*:user/*"

func tableARN(opts PermissionOptions) string {
	return "arn:aws:dynamodb:*:*:table/" + opts.JournalTable
}

func notifyStatement(opts PermissionOptions) policy.Statement {
	return policy.Statement{Sid: "IamwardenNotify", Effect: policy.EffectAllow, Action: strs("sns:Publish"), Resource: strs(opts.SNSTopicARN)}
}

func journalStatement(opts PermissionOptions) policy.Statement {
	table := tableARN(opts)
	return policy.Statement{Sid: "IamwardenJournal", Effect: policy.EffectAllow, Action: strs(JournalActions...), Resource: strs(table, table+"/index/*")}
}

func journalReleaseStatement(opts PermissionOptions) policy.Statement {
	return policy.Statement{Sid: "IamwardenJournalRelease", Effect: policy.EffectAllow, Action: strs(JournalDeleteActions...), Resource: strs(tableARN(opts)),
		Condition: policy.Condition{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": {journal.LeasePrefix + "*", journal.ReservedPrefix + "*", journal.SecurityHubPrefix + "*", journal.RunPrefix + "*#*"}}}}
}

// ScheduleActions manage the function's one-shot deadline schedules.
var ScheduleActions = []string{
	"scheduler:CreateSchedule",
	"scheduler:GetSchedule",
	"scheduler:UpdateSchedule",
	"scheduler:DeleteSchedule",
}

// ConfigEvaluationActions report an AWS Config custom rule's evaluations. PutEvaluations has no
// resource-level permissions: its statement is on "*".
var ConfigEvaluationActions = []string{"config:PutEvaluations"}

// DeadLetterActions send a failed asynchronous invocation to the function's dead-letter queue.
var DeadLetterActions = []string{"sqs:SendMessage"}

// LogActions write the function's logs; Lambda creates the log streams in its log group.
var LogActions = []string{"logs:CreateLogStream", "logs:PutLogEvents"}

// schedulerService is the service a scheduler role may be passed to.
const schedulerService = "scheduler.amazonaws.com"

// IamwardenLambda is the role policy of the Lambda function in report mode (enforce false) or
// enforce mode: the scan's, the live re-read of a user, the configuration parameter (when
// named), notifications, the journal (report mode deduplicates its notifications there), the
// deadline schedules and the scheduler role they pass, Config evaluations, the dead-letter queue
// and the log group; in enforce mode also the user-level changes, as the last statement.
func IamwardenLambda(opts PermissionOptions, enforce bool) policy.Document {
	opts = opts.withDefaults()
	st := scanStatements(opts)
	if opts.ConfigParameter != "" {
		st = append(st, policy.Statement{Sid: "IamwardenConfigParameter", Effect: policy.EffectAllow, Action: strs("ssm:GetParameter"), Resource: strs(parameterARN(opts.ConfigParameter))})
	}
	st = append(st,
		policy.Statement{Sid: "IamwardenReadUsers", Effect: policy.EffectAllow, Action: strs(UserReadActions...), Resource: strs(anyUser)},
		notifyStatement(opts),
		journalStatement(opts),
		journalReleaseStatement(opts),
		policy.Statement{Sid: "IamwardenDeadlineSchedules", Effect: policy.EffectAllow, Action: strs(ScheduleActions...),
			Resource: strs("arn:aws:scheduler:*:*:schedule/" + opts.ScheduleGroup + "/*")},
		policy.Statement{Sid: "IamwardenPassSchedulerRole", Effect: policy.EffectAllow, Action: strs("iam:PassRole"), Resource: strs(opts.SchedulerRoleARN),
			Condition: policy.Condition{"StringEquals": {"iam:PassedToService": {schedulerService}}}},
		policy.Statement{Sid: "IamwardenConfigEvaluations", Effect: policy.EffectAllow, Action: strs(ConfigEvaluationActions...), Resource: strs("*")},
		policy.Statement{Sid: "IamwardenDeadLetter", Effect: policy.EffectAllow, Action: strs(DeadLetterActions...), Resource: strs(opts.DeadLetterQueueARN)},
		policy.Statement{Sid: "IamwardenLogs", Effect: policy.EffectAllow, Action: strs(LogActions...), Resource: strs(opts.LogGroupARN + ":*")},
	)
	if org := opts.Organization; org != nil {
		role := org.MemberRoleName
		if enforce {
			role = org.EnforceRoleName
		}
		st = append(st,
			policy.Statement{Sid: "IamwardenOrganizationAccounts", Effect: policy.EffectAllow, Action: strs(OrganizationListActions...), Resource: strs("*")},
			policy.Statement{Sid: "IamwardenAssumeMemberRole", Effect: policy.EffectAllow, Action: strs(AssumeMemberRoleActions...), Resource: strs(memberRoleARN(role))},
			policy.Statement{Sid: "IamwardenAccountQueue", Effect: policy.EffectAllow, Action: strs(AccountQueueActions...), Resource: strs(org.AccountQueueARN)},
		)
	}
	if opts.SecurityHub {
		st = append(st, securityHubStatement())
	}
	if enforce {
		st = append(st, enforceStatement())
	}
	return policy.Document{Version: policy.Version2012, Statement: st}
}

func enforceStatement() policy.Statement {
	return policy.Statement{Sid: "IamwardenEnforce", Effect: policy.EffectAllow, Action: strs(UserChangeActions...), Resource: strs(anyUser)}
}

// OrganizationListActions list the organization's accounts and OUs (the hub's sweep, the
// selection by OU), and describe one account. ListAccounts has no resource-level permissions.
var OrganizationListActions = []string{
	"organizations:ListAccounts",
	"organizations:ListAccountsForParent",
	"organizations:ListOrganizationalUnitsForParent",
	"organizations:DescribeAccount",
}

// AssumeMemberRoleActions enter a member account through its iamwarden role.
var AssumeMemberRoleActions = []string{"sts:AssumeRole"}

// AccountQueueActions send the per-account work of a sweep to the account queue and consume it
// (the event source mapping polls with the function's role).
var AccountQueueActions = []string{
	"sqs:SendMessage",
	"sqs:ReceiveMessage",
	"sqs:DeleteMessage",
	"sqs:GetQueueAttributes",
	"sqs:ChangeMessageVisibility",
}

// SecurityHubActions import iamwarden's findings into Security Hub.
var SecurityHubActions = []string{"securityhub:BatchImportFindings"}

// memberRoleARN is the role of that name in every account: the hub assumes it in each member.
func memberRoleARN(name string) string { return "arn:aws:iam::*:role/" + name }

// securityHubStatement is on "*": with the default product ARN, Security Hub takes only findings
// whose AwsAccountId is the caller's own account, so the resource cannot widen what the role may
// import.
func securityHubStatement() policy.Statement {
	return policy.Statement{Sid: "IamwardenSecurityHub", Effect: policy.EffectAllow, Action: strs(SecurityHubActions...), Resource: strs("*")}
}

// IamwardenMember is the policy of the role the organization's hub assumes in a member account:
// the scan's (including the exemption list in that account), the live re-read of a user and the
// import of the account's findings into its Security Hub (findings are imported by their own
// account); with enforce, also the user changes, as the last statement.
func IamwardenMember(opts PermissionOptions, enforce bool) policy.Document {
	opts = opts.withDefaults()
	st := append(scanStatements(opts),
		policy.Statement{Sid: "IamwardenReadUsers", Effect: policy.EffectAllow, Action: strs(UserReadActions...), Resource: strs(anyUser)},
		securityHubStatement(),
	)
	if enforce {
		st = append(st, enforceStatement())
	}
	return policy.Document{Version: policy.Version2012, Statement: st}
}
