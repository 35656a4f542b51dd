// Package lint finds the mistakes that make MFA-enforcing IAM policies and service control
// policies fail silently: legacy MFA device resources, Bool instead of BoolIfExists, denies that
// lock users out of registering MFA or lock every role out of the organization, and SCP Allow
// statements that do nothing. Where it can, a rule decides with the policy evaluator rather than
// by the shape of the JSON.
package lint

import (
	"errors"
	"fmt"
	"sort"

	"github.com/iamwarden/iamwarden/internal/policy"
)

// Severity of a finding.
type Severity string

// Severities, as SARIF names its levels.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityNote    Severity = "note"
)

// DocsBase is where the rule pages are published.
const DocsBase = "https://github.com/iamwarden/iamwarden/blob/main/docs/lint/"

// Rule is one lint check.
type Rule struct {
	ID       string
	Title    string
	Severity Severity
	// AWSDoc is the AWS documentation the rule is based on.
	AWSDoc string
	check  func(d *Document, p *policy.Policy) []Finding
}

// HelpURI is the rule's documentation page.
func (r Rule) HelpURI() string { return DocsBase + r.ID + ".md" }

// Rule IDs.
const (
	RuleInvalidPolicy             = "invalid-policy"
	RuleLegacyMFADeviceResource   = "legacy-mfa-device-resource"
	RuleMFABoolNotIfExists        = "mfa-bool-not-ifexists"
	RuleMFAAllowIfExistsTrue      = "mfa-allow-ifexists-true"
	RuleMFADeactivateWithoutMFA   = "mfa-deactivate-without-mfa"
	RuleMFADenyBlocksRegistration = "mfa-deny-blocks-registration"
	RuleSCPMFABlocksRoles         = "scp-mfa-blocks-roles"
	RuleSCPAllowNoop              = "scp-allow-noop"
)

// Registry lists every rule, in report order.
func Registry() []Rule {
	return []Rule{
		{ID: RuleInvalidPolicy, Title: "The policy document is malformed: IAM or Organizations would reject it", Severity: SeverityError,
			AWSDoc: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html"},
		{ID: RuleLegacyMFADeviceResource, Title: "MFA device permissions pinned to mfa/${aws:username}: users cannot create named devices", Severity: SeverityError,
			AWSDoc: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_my-sec-creds-self-manage.html", check: legacyMFADeviceResource},
		{ID: RuleMFABoolNotIfExists, Title: "MFA Deny uses Bool instead of BoolIfExists: access-key requests escape it", Severity: SeverityError,
			AWSDoc: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-multifactorauthpresent", check: mfaBoolNotIfExists},
		{ID: RuleMFAAllowIfExistsTrue, Title: "Allow with BoolIfExists aws:MultiFactorAuthPresent true also allows access keys without MFA", Severity: SeverityError,
			AWSDoc: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-multifactorauthpresent", check: mfaAllowIfExistsTrue},
		{ID: RuleMFADeactivateWithoutMFA, Title: "MFA devices can be deactivated or deleted without MFA", Severity: SeverityError,
			AWSDoc: "https://aws.amazon.com/security/security-bulletins/AWS-2023-001/", check: mfaDeactivateWithoutMFA},
		{ID: RuleMFADenyBlocksRegistration, Title: "The MFA-enforcing Deny blocks the actions needed to register MFA", Severity: SeverityError,
			AWSDoc: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_my-sec-creds-self-manage.html", check: mfaDenyBlocksRegistration},
		{ID: RuleSCPMFABlocksRoles, Title: "SCP denies every session without MFA, roles included: automation, CI and Lambda are locked out", Severity: SeverityError,
			AWSDoc: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principaltype", check: scpMFABlocksRoles},
		{ID: RuleSCPAllowNoop, Title: "SCP Allow statement grants nothing", Severity: SeverityWarning,
			AWSDoc: "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_syntax.html", check: scpAllowNoop},
	}
}

// Lookup returns the rule with the given ID.
func Lookup(id string) (Rule, bool) {
	for _, r := range Registry() {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// Document is one policy document to lint, with where it came from.
type Document struct {
	// File is the file (or account) the document was read from, as reported.
	File string
	// Name names the document inside File: a template's logical ID and policy name, an inline
	// policy's owner; empty for a file that is the policy.
	Name string
	// Line is the line in File where the document starts (a template resource, a Terraform
	// attribute); 0 for a file that is the policy, whose statements carry their own lines.
	Line int
	// StatementLines are the lines of the statements in File when known (templates).
	StatementLines []int
	Kind           policy.Kind
	Text           []byte
}

// Finding is one problem found.
type Finding struct {
	Rule      string   `json:"rule"`
	Severity  Severity `json:"severity"`
	File      string   `json:"file"`
	Line      int      `json:"line"`
	Policy    string   `json:"policy,omitempty"`
	Statement int      `json:"statement"` // 0-based; -1 for the whole document
	Sid       string   `json:"sid,omitempty"`
	Message   string   `json:"message"`
}

// statementFinding builds a finding on statement i of p.
func (d *Document) statementFinding(p *policy.Policy, rule string, sev Severity, i int, msg string) Finding {
	st := p.Document.Statement[i]
	return Finding{Rule: rule, Severity: sev, File: d.File, Line: d.statementLine(i, st.Line), Policy: d.Name, Statement: i, Sid: st.Sid, Message: msg}
}

func (d *Document) statementLine(i, parsed int) int {
	if i >= 0 && i < len(d.StatementLines) && d.StatementLines[i] > 0 {
		return d.StatementLines[i]
	}
	if d.Line > 0 {
		return d.Line
	}
	return parsed
}

// Lint runs every rule over the documents and returns the findings sorted by file, line and rule
// order.
func Lint(docs []Document) []Finding {
	return LintRules(docs, Registry())
}

// LintRules runs the given rules only.
func LintRules(docs []Document, rules []Rule) []Finding {
	var out []Finding
	order := map[string]int{}
	for i, r := range Registry() {
		order[r.ID] = i
	}
	enabled := map[string]bool{}
	for _, r := range rules {
		enabled[r.ID] = true
	}
	for i := range docs {
		d := &docs[i]
		p, err := policy.Parse(d.File, d.Text, d.Kind)
		if err != nil {
			if enabled[RuleInvalidPolicy] {
				out = append(out, d.invalid(err)...)
			}
			continue
		}
		for _, r := range rules {
			if r.check != nil {
				out = append(out, r.check(d, p)...)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Policy != b.Policy {
			return a.Policy < b.Policy
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return order[a.Rule] < order[b.Rule]
	})
	return out
}

// invalid turns the parser's validation issues into findings.
func (d *Document) invalid(err error) []Finding {
	var ve *policy.ValidationError
	if !errors.As(err, &ve) {
		return []Finding{{Rule: RuleInvalidPolicy, Severity: SeverityError, File: d.File, Line: d.Line, Policy: d.Name, Statement: -1, Message: err.Error()}}
	}
	out := make([]Finding, 0, len(ve.Issues))
	for _, is := range ve.Issues {
		line := is.Line
		if d.Line > 0 || (is.Index >= 0 && is.Index < len(d.StatementLines)) {
			line = d.statementLine(is.Index, 0)
		}
		msg := is.Message
		if is.Field != "" {
			msg = is.Field + ": " + msg
		}
		if is.Index >= 0 {
			msg = fmt.Sprintf("Statement[%d]: %s", is.Index, msg)
		}
		out = append(out, Finding{Rule: RuleInvalidPolicy, Severity: SeverityError, File: d.File, Line: line, Policy: d.Name,
			Statement: is.Index, Sid: is.Sid, Message: msg})
	}
	return out
}
