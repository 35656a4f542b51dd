// Package securityhub turns a scan's findings into AWS Security Finding Format (ASFF) findings
// and imports them into Security Hub with a lifecycle: a finding keeps its creation time from
// its first import, and a finding that is no longer reported is archived as passed.
// docs/security-hub.md describes the mapping and the lifecycle.
package securityhub

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// SchemaVersion is the ASFF version the findings are written in.
const SchemaVersion = "2018-10-08"

// DefaultDocsBaseURL is where a rule's documentation page (its registry Doc path) is read when
// Options.DocsBaseURL is empty.
const DefaultDocsBaseURL = "https://github.com/iamwarden/iamwarden/blob/main/"

// Finding types (ASFF namespace/category/classifier).
const (
	TypeBestPractices = "Software and Configuration Checks/AWS Security Best Practices"
	TypeCIS           = "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark"
)

// Resource types.
const (
	ResourceIAMUser      = "AwsIamUser"
	ResourceIAMAccessKey = "AwsIamAccessKey"
	ResourceAccount      = "AwsAccount"
)

// Product field keys. Security Hub keeps ProductFields as given, so tools can filter on them.
const (
	FieldState            = "iamwarden/state"
	FieldRule             = "iamwarden/rule"
	FieldPrincipal        = "iamwarden/principal"
	FieldControls         = "iamwarden/controls"
	FieldDeadline         = "iamwarden/deadline"
	FieldExemptionReason  = "iamwarden/exemption/reason"
	FieldExemptionUntil   = "iamwarden/exemption/until"
	FieldExemptionSource  = "iamwarden/exemption/source"
	FieldExemptionExpired = "iamwarden/exemption/expired"
)

// StateResolved is the iamwarden/state of a finding archived because the scan no longer
// reports it.
const StateResolved = "resolved"

// ReasonExempt is the Compliance.StatusReasons code of an exempt finding.
const ReasonExempt = "IAMWARDEN_EXEMPT"

// ASFF string limits this package keeps to.
const (
	maxTitle          = 256
	maxDescription    = 1024
	maxRecommendation = 512
	maxFieldValue     = 2048
)

// timeLayout is how every ASFF timestamp is written: UTC with milliseconds, which ASFF accepts
// and which keeps UpdatedAt strictly increasing at one millisecond per import.
const timeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime writes t as this package's ASFF timestamps.
func FormatTime(t time.Time) string { return t.UTC().Truncate(time.Millisecond).Format(timeLayout) }

// Options says where the findings go and what else is known of the principals.
type Options struct {
	// Partition is the AWS partition of the account; default "aws".
	Partition string
	// Region is the Security Hub region the findings are imported into (IAM is global, the
	// findings are not); required.
	Region string
	// DocsBaseURL prefixes a rule's Doc path to give Remediation.Recommendation.Url; default
	// DefaultDocsBaseURL.
	DocsBaseURL string
	// Principals gives what the findings do not carry: a user's creation date and path. Pass the
	// scanned snapshot's Principals(); nil leaves CreateDate out and takes the path from the ARN.
	Principals []*inventory.User
}

// ProductARN is the ARN of Security Hub's default product for an account's own findings.
func ProductARN(partition, region, account string) string {
	return fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", partition, region, account, account)
}

// FindingID is the ASFF Id of a finding: iamwarden/<account>/<rule>/<subject>, where the
// subject is the user's unique ID (AIDA…), the access key ID for key rules, "root" for the root
// user, and the principal name when the user ID is unknown. A key known only by its credential
// report slot is <user>/<slot>. The same user or key gives the same Id on every run, also after
// a rename (user IDs survive renames).
func FindingID(f rules.Finding) string {
	return "iamwarden/" + f.AccountID + "/" + f.Rule + "/" + subject(f)
}

func subject(f rules.Finding) string {
	who := f.UserID
	switch {
	case isRoot(f):
		who = "root"
	case who == "":
		who = f.Principal
	}
	switch {
	case f.Resource == "":
		return who
	case f.KeyIDUnknown != nil || !looksLikeKeyID(f.Resource):
		return who + "/" + f.Resource
	default:
		return f.Resource
	}
}

func isRoot(f rules.Finding) bool {
	return f.Principal == inventory.RootName || strings.HasSuffix(f.PrincipalARN, ":root")
}

// looksLikeKeyID reports whether s is an access key ID (AKIA… long-term, ASIA… temporary), not
// a credential report slot.
func looksLikeKeyID(s string) bool {
	return len(s) >= 16 && (strings.HasPrefix(s, "AKIA") || strings.HasPrefix(s, "ASIA")) && rules.MaskKeyID(s) != s
}

// Findings maps a scan's findings to ASFF, in the result's order. Every finding of the result
// is mapped whatever its state: violations and pending findings as FAILED, exempt ones as
// NOT_AVAILABLE with the exemption as the status reason (see docs/security-hub.md).
// Timestamps: CreatedAt and UpdatedAt are the result's GeneratedAt, FirstObservedAt and
// LastObservedAt the instant its data was read; Sync replaces CreatedAt, FirstObservedAt and
// UpdatedAt by the lifecycle's.
func Findings(res *report.Result, o Options) []types.AwsSecurityFinding {
	if res == nil {
		return nil
	}
	o = o.withDefaults()
	byARN := map[string]*inventory.User{}
	for _, p := range o.Principals {
		if p != nil && p.ARN != "" {
			byARN[p.ARN] = p
		}
	}
	created := res.GeneratedAt
	observed := firstSet(res.DataReadAt, res.AsOf, res.GeneratedAt)
	if created.IsZero() {
		created = observed
	}
	out := make([]types.AwsSecurityFinding, 0, len(res.Findings))
	for _, f := range res.Findings {
		if f.AccountID == "" {
			f.AccountID = res.AccountID
		}
		out = append(out, mapFinding(f, o, byARN[f.PrincipalARN], created, observed))
	}
	return out
}

func (o Options) withDefaults() Options {
	if o.Partition == "" {
		o.Partition = "aws"
	}
	if o.DocsBaseURL == "" {
		o.DocsBaseURL = DefaultDocsBaseURL
	}
	return o
}

func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func mapFinding(f rules.Finding, o Options, p *inventory.User, created, observed time.Time) types.AwsSecurityFinding {
	rule, known := rules.Lookup(f.Rule)
	doc := rule.Doc
	if !known || doc == "" {
		doc = "docs/rules/" + f.Rule + ".md"
	}
	title := f.Title
	if title == "" {
		title = rule.Title
	}
	if title == "" {
		title = f.Rule
	}
	description := f.Detail
	if strings.TrimSpace(description) == "" {
		description = title
	}
	label, normalized := severity(f.Severity)
	findingTypes := Types(f.Controls)

	af := types.AwsSecurityFinding{
		SchemaVersion:   aws.String(SchemaVersion),
		Id:              aws.String(FindingID(f)),
		ProductArn:      aws.String(ProductARN(o.Partition, o.Region, f.AccountID)),
		GeneratorId:     aws.String("iamwarden/" + f.Rule),
		AwsAccountId:    aws.String(f.AccountID),
		Region:          aws.String(o.Region),
		Types:           findingTypes,
		CreatedAt:       aws.String(FormatTime(created)),
		UpdatedAt:       aws.String(FormatTime(created)),
		FirstObservedAt: aws.String(FormatTime(observed)),
		LastObservedAt:  aws.String(FormatTime(observed)),
		Severity: &types.Severity{
			Label:      label,
			Normalized: aws.Int32(normalized),
			Original:   aws.String(string(f.Severity)),
		},
		FindingProviderFields: &types.FindingProviderFields{
			Severity: &types.FindingProviderSeverity{Label: label, Original: aws.String(string(f.Severity))},
			Types:    slices.Clone(findingTypes),
		},
		Title:       aws.String(truncate(title, maxTitle)),
		Description: aws.String(truncate(description, maxDescription)),
		Remediation: &types.Remediation{Recommendation: &types.Recommendation{
			Text: aws.String(truncate(recommendation(f.Rule, title), maxRecommendation)),
			Url:  aws.String(strings.TrimSuffix(o.DocsBaseURL, "/") + "/" + strings.TrimPrefix(doc, "/")),
		}},
		Resources:     resources(f, o, p),
		Compliance:    compliance(f),
		ProductFields: productFields(f),
		RecordState:   types.RecordStateActive,
		Workflow:      &types.Workflow{Status: types.WorkflowStatusNew},
	}
	return af
}

// severity maps a rule severity to the ASFF label and the normalized score Security Hub itself
// derives from a label (CRITICAL 90, HIGH 70, MEDIUM 40, LOW 1).
func severity(s rules.Severity) (types.SeverityLabel, int32) {
	switch s {
	case rules.SeverityCritical:
		return types.SeverityLabelCritical, 90
	case rules.SeverityHigh:
		return types.SeverityLabelHigh, 70
	case rules.SeverityMedium:
		return types.SeverityLabelMedium, 40
	case rules.SeverityLow:
		return types.SeverityLabelLow, 1
	default:
		return types.SeverityLabelInformational, 0
	}
}

// Types gives the ASFF finding types of a rule's controls: best practices always, and the CIS
// benchmark type when a CIS control is among them.
func Types(controls []string) []string {
	out := []string{TypeBestPractices}
	for _, c := range controls {
		if strings.HasPrefix(c, "CIS ") {
			return append(out, TypeCIS)
		}
	}
	return out
}

// RelatedRequirements writes the controls as Security Hub names standard requirements:
// "FSBP IAM.5" as "AWS Foundational Security Best Practices v1.0.0/IAM.5", "CIS v5.0.0 1.9" as
// "CIS AWS Foundations Benchmark v5.0.0/1.9". Security Hub control IDs outside a standard
// ("Security Hub IAM.19") are no standard requirement: they are in the iamwarden/controls
// product field only.
func RelatedRequirements(controls []string) []string {
	var out []string
	for _, c := range controls {
		switch {
		case strings.HasPrefix(c, "FSBP "):
			out = append(out, "AWS Foundational Security Best Practices v1.0.0/"+strings.TrimPrefix(c, "FSBP "))
		case strings.HasPrefix(c, "CIS "):
			rest := strings.TrimPrefix(c, "CIS ")
			if version, id, ok := strings.Cut(rest, " "); ok && strings.HasPrefix(version, "v") {
				out = append(out, "CIS AWS Foundations Benchmark "+version+"/"+id)
			} else {
				out = append(out, "CIS AWS Foundations Benchmark/"+rest)
			}
		}
	}
	return out
}

// compliance: violations and pending findings FAILED (a grace period does not make the control
// hold), exempt findings NOT_AVAILABLE with the exemption as the reason.
func compliance(f rules.Finding) *types.Compliance {
	c := &types.Compliance{Status: types.ComplianceStatusFailed, RelatedRequirements: RelatedRequirements(f.Controls)}
	if f.State == rules.StateExempt {
		c.Status = types.ComplianceStatusNotAvailable
		c.StatusReasons = []types.StatusReason{{
			ReasonCode:  aws.String(ReasonExempt),
			Description: aws.String(truncate(exemptionNote(f.Exemption), maxDescription)),
		}}
	}
	return c
}

func exemptionNote(e *rules.Exemption) string {
	if e == nil {
		return "exempt"
	}
	note := "exempt"
	if e.Source != "" {
		note += " by " + e.Source
	}
	if e.Until != nil {
		note += " until " + FormatTime(*e.Until)
	}
	if e.Reason != "" {
		note += ": " + e.Reason
	}
	return note
}

func productFields(f rules.Finding) map[string]string {
	m := map[string]string{
		FieldState:     string(f.State),
		FieldRule:      f.Rule,
		FieldPrincipal: f.Principal,
	}
	if len(f.Controls) > 0 {
		m[FieldControls] = strings.Join(f.Controls, ", ")
	}
	if f.Deadline != nil {
		m[FieldDeadline] = FormatTime(*f.Deadline)
	}
	if e := f.Exemption; e != nil {
		m[FieldExemptionReason] = e.Reason
		m[FieldExemptionSource] = e.Source
		if e.Until != nil {
			m[FieldExemptionUntil] = FormatTime(*e.Until)
		}
		if e.Expired {
			m[FieldExemptionExpired] = "true"
		}
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = truncate(v, maxFieldValue)
		}
	}
	return m
}

// resources: for a key rule the access key, then its owner; otherwise the user. Root is the
// account (AwsAccount, as Security Hub's own root controls report it).
func resources(f rules.Finding, o Options, p *inventory.User) []types.Resource {
	var out []types.Resource
	if f.Resource != "" {
		out = append(out, accessKey(f, o, p))
	}
	return append(out, owner(f, o, p))
}

func owner(f rules.Finding, o Options, p *inventory.User) types.Resource {
	if isRoot(f) {
		return types.Resource{
			Type:      aws.String(ResourceAccount),
			Id:        aws.String("AWS::::Account:" + f.AccountID),
			Partition: types.Partition(o.Partition),
			Region:    aws.String(o.Region),
		}
	}
	arn := f.PrincipalARN
	if arn == "" {
		arn = fmt.Sprintf("arn:%s:iam::%s:user/%s", o.Partition, f.AccountID, f.Principal)
	}
	d := &types.AwsIamUserDetails{UserName: aws.String(f.Principal)}
	if f.UserID != "" {
		d.UserId = aws.String(f.UserID)
	}
	path := pathOf(arn)
	if p != nil {
		if p.Path != "" {
			path = p.Path
		}
		if !p.Created.IsZero() {
			d.CreateDate = aws.String(FormatTime(p.Created))
		}
		if d.UserId == nil && p.ID != "" {
			d.UserId = aws.String(p.ID)
		}
	}
	d.Path = aws.String(path)
	return types.Resource{
		Type:      aws.String(ResourceIAMUser),
		Id:        aws.String(arn),
		Partition: types.Partition(o.Partition),
		Region:    aws.String(o.Region),
		Details:   &types.ResourceDetails{AwsIamUser: d},
	}
}

// pathOf is the path of a user ARN: arn:aws:iam::1:user/a/b/name has path /a/b/.
func pathOf(arn string) string {
	_, rest, ok := strings.Cut(arn, ":user/")
	if !ok {
		return "/"
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "/"
	}
	return "/" + rest[:i+1]
}

func accessKey(f rules.Finding, o Options, p *inventory.User) types.Resource {
	d := &types.AwsIamAccessKeyDetails{
		PrincipalName: aws.String(f.Principal),
		PrincipalType: aws.String("IAMUser"),
		AccountId:     aws.String(f.AccountID),
	}
	id := f.Resource
	if looksLikeKeyID(f.Resource) && f.KeyIDUnknown == nil {
		d.AccessKeyId = aws.String(f.Resource)
		id = "AWS::IAM::AccessKey:" + f.Resource
	} else {
		// A key the credential report names by slot only: the slot under its owner.
		arn := f.PrincipalARN
		if arn == "" {
			arn = f.Principal
		}
		id = arn + "/" + f.Resource
	}
	if isRoot(f) {
		d.PrincipalType = aws.String("Root")
	}
	switch {
	case f.UserID != "":
		d.PrincipalId = aws.String(f.UserID)
	case p != nil && p.ID != "":
		d.PrincipalId = aws.String(p.ID)
	}
	if k := f.Key; k != nil {
		d.Status = types.AwsIamAccessKeyStatusInactive
		if k.Active {
			d.Status = types.AwsIamAccessKeyStatusActive
		}
		if !k.Created.IsZero() {
			d.CreatedAt = aws.String(FormatTime(k.Created))
		}
	} else if s, ok := f.Evidence["created"].(string); ok && s != "" {
		// A finding read back from a JSON report has no Key: its evidence says when.
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			d.CreatedAt = aws.String(FormatTime(t))
		}
	}
	return types.Resource{
		Type:      aws.String(ResourceIAMAccessKey),
		Id:        aws.String(id),
		Partition: types.Partition(o.Partition),
		Region:    aws.String(o.Region),
		Details:   &types.ResourceDetails{AwsIamAccessKey: d},
	}
}

// recommendations say in a sentence what fixes each rule; the docs page says how.
var recommendations = map[string]string{
	"console-mfa-missing":         "Have the user register an MFA device, or remove their console password if they do not need the console.",
	"user-mfa-missing":            "Register an MFA device for the user.",
	"root-mfa-missing":            "Enable MFA on the root user.",
	"root-hardware-mfa-missing":   "Replace the root user's virtual MFA device with a hardware MFA device or a FIDO security key.",
	"root-access-key":             "Delete the root user's access keys; use IAM roles or users instead.",
	"root-recently-used":          "Stop using the root user for everyday tasks; check that the use was expected.",
	"password-unused":             "Remove the unused console password.",
	"access-key-unused":           "Deactivate, then delete, the unused access key.",
	"access-key-not-rotated":      "Rotate the access key: create a new one, move its users to it, then deactivate and delete the old one.",
	"access-keys-multiple-active": "Keep one active access key per user; deactivate the other once its users have moved.",
	"mfa-not-enforced":            "Attach a policy that denies sensitive actions without MFA (aws:MultiFactorAuthPresent).",
}

func recommendation(rule, title string) string {
	if r, ok := recommendations[rule]; ok {
		return r
	}
	return "Fix: " + title + " (see the rule's documentation)."
}

// truncate shortens s to at most n characters, ending with "…" when it was cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
