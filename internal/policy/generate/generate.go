// Package generate renders the IAM policies iamwarden recommends: the self-service enforce-MFA
// policy (alone or in a group), an MFA-enforcing service control policy that leaves role sessions
// alone, and the least-privilege policies of iamwarden itself, as policy JSON, Terraform or
// CloudFormation.
package generate

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/iamwarden/iamwarden/internal/policy"
)

// Kind names a policy the generator renders.
type Kind string

// Kinds of rendered policies.
const (
	KindEnforceMFA       Kind = "enforce-mfa"
	KindEnforceMFAGroup  Kind = "enforce-mfa-group"
	KindEnforceMFASCP    Kind = "enforce-mfa-scp"
	KindIamwardenScan    Kind = "iamwarden-scan"
	KindIamwardenEnforce Kind = "iamwarden-enforce"
	// KindIamwardenLambdaReport and KindIamwardenLambdaEnforce are the role policies of the
	// Lambda function (deploy/) in each of its modes.
	KindIamwardenLambdaReport  Kind = "iamwarden-lambda-report"
	KindIamwardenLambdaEnforce Kind = "iamwarden-lambda-enforce"
	// KindIamwardenMemberAudit and KindIamwardenMemberEnforce are the policies of the roles the
	// organization's hub function assumes in member accounts (deploy/cloudformation/member.yaml).
	KindIamwardenMemberAudit   Kind = "iamwarden-member-audit"
	KindIamwardenMemberEnforce Kind = "iamwarden-member-enforce"
)

// KindInfo describes one kind.
type KindInfo struct {
	Kind        Kind
	Title       string
	DefaultName string
	// Terraform is the resource label in Terraform output.
	Terraform string
	// PolicyKind is how the document is validated: identity policy or SCP.
	PolicyKind policy.Kind
}

// Kinds lists every kind, in documentation order.
func Kinds() []KindInfo {
	return []KindInfo{
		{KindEnforceMFA, "self-service MFA policy: deny all but MFA registration until signed in with MFA", "EnforceMFA", "enforce_mfa", policy.KindIdentity},
		{KindEnforceMFAGroup, "a group whose members are forced to use MFA, with the enforce-mfa policy attached", "ForceMfaAccess", "force_mfa_access", policy.KindIdentity},
		{KindEnforceMFASCP, "service control policy forcing MFA on IAM users only (role sessions unaffected)", "EnforceMFAForIAMUsers", "enforce_mfa_for_iam_users", policy.KindSCP},
		{KindIamwardenScan, "least privilege for iamwarden scan and export", "IamwardenScan", "iamwarden_scan", policy.KindIdentity},
		{KindIamwardenEnforce, "least privilege for iamwarden enforce and undo", "IamwardenEnforce", "iamwarden_enforce", policy.KindIdentity},
		{KindIamwardenLambdaReport, "role policy of the iamwarden Lambda function in report mode (judge and notify)", "IamwardenLambdaReport", "iamwarden_lambda_report", policy.KindIdentity},
		{KindIamwardenLambdaEnforce, "role policy of the iamwarden Lambda function in enforce mode (report mode's, plus the user changes)", "IamwardenLambdaEnforce", "iamwarden_lambda_enforce", policy.KindIdentity},
		{KindIamwardenMemberAudit, "policy of the role the organization's hub function assumes in a member account in report mode", "IamwardenMemberAudit", "iamwarden_member_audit", policy.KindIdentity},
		{KindIamwardenMemberEnforce, "policy of the role the hub assumes in a member account in enforce mode (the audit role's, plus the user changes)", "IamwardenMemberEnforce", "iamwarden_member_enforce", policy.KindIdentity},
	}
}

// ErrUnknownKind is returned for a kind that is not in Kinds.
var ErrUnknownKind = errors.New("unknown policy kind")

// Lookup returns the description of kind.
func Lookup(kind Kind) (KindInfo, error) {
	names := make([]string, 0, len(Kinds()))
	for _, k := range Kinds() {
		if k.Kind == kind {
			return k, nil
		}
		names = append(names, string(k.Kind))
	}
	return KindInfo{}, fmt.Errorf("%w %q (valid: %s)", ErrUnknownKind, kind, strings.Join(names, ", "))
}

// Format is an output format.
type Format string

// Output formats.
const (
	FormatJSON           Format = "json"
	FormatTerraform      Format = "terraform"
	FormatCloudFormation Format = "cloudformation"
)

// Formats lists the output formats.
var Formats = []Format{FormatJSON, FormatTerraform, FormatCloudFormation}

// ParseFormat accepts a format name (and "tf", "cfn").
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "json", "":
		return FormatJSON, nil
	case "terraform", "tf", "hcl":
		return FormatTerraform, nil
	case "cloudformation", "cfn":
		return FormatCloudFormation, nil
	}
	return "", fmt.Errorf("unknown format %q (valid: json, terraform, cloudformation)", s)
}

// Options tune a rendering. Zero values take the defaults.
type Options struct {
	// Name is the policy name, or the group name for enforce-mfa-group.
	Name string
	// PolicyName is the managed policy's name in enforce-mfa-group; Name + "Policy" by default.
	PolicyName string
	SCP        SCPOptions
	Permission PermissionOptions
}

// Document returns the policy document of kind.
func Document(kind Kind, opts Options) (policy.Document, error) {
	switch kind {
	case KindEnforceMFA, KindEnforceMFAGroup:
		return EnforceMFA(), nil
	case KindEnforceMFASCP:
		return EnforceMFASCP(opts.SCP), nil
	case KindIamwardenScan:
		return IamwardenScan(opts.Permission), nil
	case KindIamwardenEnforce:
		return IamwardenEnforce(opts.Permission), nil
	case KindIamwardenLambdaReport:
		return IamwardenLambda(opts.Permission, false), nil
	case KindIamwardenLambdaEnforce:
		return IamwardenLambda(opts.Permission, true), nil
	case KindIamwardenMemberAudit:
		return IamwardenMember(opts.Permission, false), nil
	case KindIamwardenMemberEnforce:
		return IamwardenMember(opts.Permission, true), nil
	}
	_, err := Lookup(kind)
	return policy.Document{}, err
}

// Compile returns the document of kind parsed and validated by the policy package, ready for the
// evaluator.
func Compile(kind Kind, opts Options) (*policy.Policy, error) {
	info, err := Lookup(kind)
	if err != nil {
		return nil, err
	}
	doc, err := Document(kind, opts)
	if err != nil {
		return nil, err
	}
	text, err := MarshalDocument(doc)
	if err != nil {
		return nil, err
	}
	return policy.Parse(string(kind)+".json", text, info.PolicyKind)
}

// Render writes kind in format.
func Render(w io.Writer, kind Kind, format Format, opts Options) error {
	info, err := Lookup(kind)
	if err != nil {
		return err
	}
	if opts.Name == "" {
		opts.Name = info.DefaultName
	}
	if opts.PolicyName == "" {
		opts.PolicyName = opts.Name
		if kind == KindEnforceMFAGroup {
			opts.PolicyName = opts.Name + "Policy"
		}
	}
	doc, err := Document(kind, opts)
	if err != nil {
		return err
	}
	// Never render what IAM or Organizations would reject.
	text, err := MarshalDocument(doc)
	if err != nil {
		return err
	}
	if _, err := policy.Parse(string(kind), text, info.PolicyKind); err != nil {
		return fmt.Errorf("render %s: %w", kind, err)
	}
	switch format {
	case FormatJSON:
		_, err = w.Write(text)
	case FormatTerraform:
		err = renderTerraform(w, info, opts, doc)
	case FormatCloudFormation:
		err = renderCloudFormation(w, info, opts, text)
	default:
		_, err = ParseFormat(string(format))
	}
	if err != nil {
		return fmt.Errorf("render %s as %s: %w", kind, format, err)
	}
	return nil
}

func description(info KindInfo) string {
	switch info.Kind {
	case KindEnforceMFA, KindEnforceMFAGroup:
		return "Users manage their own credentials and MFA; everything else is denied until they sign in with MFA. Generated by iamwarden."
	case KindEnforceMFASCP:
		return "Denies IAM users everything but MFA registration until they sign in with MFA; role sessions are not affected. Generated by iamwarden."
	case KindIamwardenScan:
		return "Read-only permissions of iamwarden scan and export. Generated by iamwarden."
	case KindIamwardenLambdaReport:
		return "Role policy of the iamwarden Lambda function in report mode. Generated by iamwarden."
	case KindIamwardenLambdaEnforce:
		return "Role policy of the iamwarden Lambda function in enforce mode. Generated by iamwarden."
	case KindIamwardenMemberAudit:
		return "Policy of the role the iamwarden hub assumes in a member account in report mode. Generated by iamwarden."
	case KindIamwardenMemberEnforce:
		return "Policy of the role the iamwarden hub assumes in a member account in enforce mode. Generated by iamwarden."
	}
	return "Permissions of iamwarden enforce and undo. Generated by iamwarden."
}
