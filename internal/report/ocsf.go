package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// OCSFVersion is the version of the Open Cybersecurity Schema Framework the events follow
// (metadata.version).
const OCSFVersion = "1.3.0"

// DefaultDocsBaseURL is where the rules' documentation pages are found when OCSFOptions gives no
// other base: a rule's Doc path is appended to it.
const DefaultDocsBaseURL = "https://github.com/iamwarden/iamwarden/blob/main/"

// OCSF class, category and enumeration values used by WriteOCSF (docs/ocsf.md has the tables).
const (
	OCSFCategoryFindings     = 2
	OCSFClassCompliance      = 2003
	OCSFClassDetection       = 2004
	ocsfActivityCreate       = 1
	ocsfStatusNew            = 1
	ocsfStatusSuppressed     = 3
	ocsfComplianceStatusFail = 3
	ocsfAccountTypeAWS       = 10
)

// OCSFOptions are the parts of an OCSF event that a scan's Result does not hold.
type OCSFOptions struct {
	// ProductVersion is iamwarden's version (metadata.product.version); omitted when empty.
	ProductVersion string
	// DocsBaseURL is prefixed to a rule's Doc path to give finding_info.src_url and the remediation
	// reference; empty means DefaultDocsBaseURL.
	DocsBaseURL string
	// Region is cloud.region, the region the scan's calls went to; omitted when empty (IAM is a
	// global service, its findings belong to no region).
	Region string
}

// WriteOCSF writes one OCSF event per finding, as JSON lines (one object a line, in report
// order). A finding whose rule maps to controls is a Compliance Finding (2003), one without a
// Detection Finding (2004). Every event is a Create: a scan has no history, so it cannot tell a
// finding first seen from one seen before. The scan's errors and warnings are not findings and
// are not written: a partial result is told by the exit code (3), and each event of a partial
// scan carries unmapped.scan_partial. Access key IDs are written whole.
func WriteOCSF(w io.Writer, res *Result, o OCSFOptions) error {
	at := res.GeneratedAt
	if at.IsZero() {
		at = res.AsOf
	}
	if at.IsZero() && len(res.Findings) > 0 {
		return fmt.Errorf("ocsf: the result has no generation time, which every event needs")
	}
	base := o.DocsBaseURL
	if base == "" {
		base = DefaultDocsBaseURL
	}
	byID := map[string]rules.Rule{}
	for _, r := range rules.Registry() {
		byID[r.ID] = r
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<root_account>" stays readable; U+2028/9 are still escaped
	for i := range res.Findings {
		f := &res.Findings[i]
		rule, known := byID[f.Rule]
		ev := ocsfEvent(res, f, rule, known, at, base, o)
		buf.Reset()
		if err := enc.Encode(ev); err != nil {
			return fmt.Errorf("finding %s: %w", f.ID, err)
		}
		if _, err := bw.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ocsfFinding is one event. Field order is the order of the line; pointers and omitempty leave
// out what a class does not have.
type ocsfFinding struct {
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name"`
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name"`
	TypeUID      int    `json:"type_uid"`
	TypeName     string `json:"type_name"`
	Time         int64  `json:"time"`
	SeverityID   int    `json:"severity_id"`
	Severity     string `json:"severity"`
	StatusID     int    `json:"status_id"`
	Status       string `json:"status"`
	StatusDetail string `json:"status_detail,omitempty"`
	Message      string `json:"message"`

	Metadata    ocsfMetadata     `json:"metadata"`
	FindingInfo ocsfFindingInfo  `json:"finding_info"`
	Compliance  *ocsfCompliance  `json:"compliance,omitempty"`
	Cloud       ocsfCloud        `json:"cloud"`
	Resources   []ocsfResource   `json:"resources"`
	Remediation *ocsfRemediation `json:"remediation,omitempty"`
	Unmapped    ocsfUnmapped     `json:"unmapped"`
}

type ocsfMetadata struct {
	Version  string      `json:"version"`
	Product  ocsfProduct `json:"product"`
	Profiles []string    `json:"profiles"`
	UID      string      `json:"uid"`
	LogName  string      `json:"log_name"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version,omitempty"`
	URL        string `json:"url_string"`
}

type ocsfFindingInfo struct {
	UID            string         `json:"uid"`
	Title          string         `json:"title"`
	Desc           string         `json:"desc,omitempty"`
	CreatedTime    int64          `json:"created_time"`
	Types          []string       `json:"types"`
	SrcURL         string         `json:"src_url,omitempty"`
	SupportingData map[string]any `json:"supporting_data,omitempty"`
}

type ocsfCompliance struct {
	Control      string   `json:"control"`
	Standards    []string `json:"standards"`
	Requirements []string `json:"requirements"`
	StatusID     int      `json:"status_id"`
	Status       string   `json:"status"`
	StatusDetail string   `json:"status_detail,omitempty"`
}

type ocsfCloud struct {
	Provider string      `json:"provider"`
	Account  ocsfAccount `json:"account"`
	Region   string      `json:"region,omitempty"`
}

type ocsfAccount struct {
	UID    string `json:"uid"`
	Name   string `json:"name,omitempty"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
}

type ocsfResource struct {
	Type string `json:"type"`
	UID  string `json:"uid,omitempty"`
	Name string `json:"name"`
}

type ocsfRemediation struct {
	Desc       string   `json:"desc"`
	References []string `json:"references,omitempty"`
}

// ocsfUnmapped is iamwarden's state that OCSF has no attribute for.
type ocsfUnmapped struct {
	Rule         string                  `json:"rule"`
	State        rules.State             `json:"state"`
	Severity     rules.Severity          `json:"severity"`
	Deadline     *time.Time              `json:"deadline,omitempty"`
	Exemption    *rules.Exemption        `json:"exemption,omitempty"`
	Principal    string                  `json:"principal"`
	UserID       string                  `json:"user_id,omitempty"`
	Resource     string                  `json:"resource,omitempty"`
	KeyIDUnknown *inventory.UnmatchedKey `json:"key_id_unknown,omitempty"`
	AsOf         time.Time               `json:"as_of,omitzero"`
	DataReadAt   time.Time               `json:"data_read_at,omitzero"`
	Source       inventory.Source        `json:"source"`
	ScanPartial  bool                    `json:"scan_partial"`
}

func ocsfEvent(res *Result, f *rules.Finding, rule rules.Rule, known bool, at time.Time, base string, o OCSFOptions) ocsfFinding {
	ms := at.UnixMilli()
	sevID, sevName := OCSFSeverity(f.Severity)
	statusID, statusName := ocsfStatusNew, "New"
	if f.State == rules.StateExempt {
		statusID, statusName = ocsfStatusSuppressed, "Suppressed"
	}
	detail := ocsfStatusDetail(f)

	classUID, className := OCSFClassCompliance, "Compliance Finding"
	var comp *ocsfCompliance
	if len(f.Controls) > 0 {
		comp = &ocsfCompliance{Control: f.Rule, Standards: ocsfStandards(f.Controls), Requirements: f.Controls,
			StatusID: ocsfComplianceStatusFail, Status: "Fail", StatusDetail: detail}
	} else {
		classUID, className = OCSFClassDetection, "Detection Finding"
	}

	title := f.Title
	if title == "" && known {
		title = rule.Title
	}
	if title == "" {
		title = f.Rule
	}
	var srcURL string
	var rem *ocsfRemediation
	if known && rule.Doc != "" {
		srcURL = base + rule.Doc
	}
	if desc := ocsfRemediations[f.Rule]; desc != "" {
		rem = &ocsfRemediation{Desc: desc}
		if srcURL != "" {
			rem.References = []string{srcURL}
		}
	}
	account := f.AccountID
	if account == "" {
		account = res.AccountID
	}
	return ocsfFinding{
		ActivityID: ocsfActivityCreate, ActivityName: "Create",
		CategoryUID: OCSFCategoryFindings, CategoryName: "Findings",
		ClassUID: classUID, ClassName: className,
		TypeUID: classUID*100 + ocsfActivityCreate, TypeName: className + ": Create",
		Time:       ms,
		SeverityID: sevID, Severity: sevName,
		StatusID: statusID, Status: statusName, StatusDetail: detail,
		Message: f.Detail,
		Metadata: ocsfMetadata{
			Version:  OCSFVersion,
			Product:  ocsfProduct{Name: "iamwarden", VendorName: "iamwarden", Version: o.ProductVersion, URL: "https://github.com/iamwarden/iamwarden"},
			Profiles: []string{"cloud"},
			// The event's own ID: one finding gives one event per scan, so the finding ID and
			// the scan's time together name it. finding_info.uid is the finding ID alone.
			UID:     fmt.Sprintf("%s@%d", f.ID, ms),
			LogName: "scan",
		},
		FindingInfo: ocsfFindingInfo{UID: f.ID, Title: title, Desc: f.Detail, CreatedTime: ms,
			Types: []string{f.Rule}, SrcURL: srcURL, SupportingData: f.Evidence},
		Compliance: comp,
		Cloud: ocsfCloud{Provider: "AWS", Region: o.Region,
			Account: ocsfAccount{UID: account, Name: res.AccountAlias, TypeID: ocsfAccountTypeAWS, Type: "AWS Account"}},
		Resources:   ocsfResources(f),
		Remediation: rem,
		Unmapped: ocsfUnmapped{Rule: f.Rule, State: f.State, Severity: f.Severity, Deadline: f.Deadline, Exemption: f.Exemption,
			Principal: f.Principal, UserID: f.UserID, Resource: f.Resource, KeyIDUnknown: f.KeyIDUnknown,
			AsOf: res.AsOf, DataReadAt: res.DataReadAt, Source: res.Source, ScanPartial: res.Partial},
	}
}

// OCSFSeverity maps a rule severity to OCSF's severity_id and its caption; a severity iamwarden
// does not know is 0, Unknown.
func OCSFSeverity(s rules.Severity) (int, string) {
	switch s {
	case rules.SeverityLow:
		return 2, "Low"
	case rules.SeverityMedium:
		return 3, "Medium"
	case rules.SeverityHigh:
		return 4, "High"
	case rules.SeverityCritical:
		return 5, "Critical"
	}
	return 0, "Unknown"
}

// ocsfStatusDetail says why a failing check is not (yet) a plain violation: the exemption that
// covers it, the one that lapsed, or the deadline of a grace period.
func ocsfStatusDetail(f *rules.Finding) string {
	var parts []string
	if f.State == rules.StatePending && f.Deadline != nil {
		parts = append(parts, "pending: becomes a violation at "+stamp(*f.Deadline))
	}
	if e := f.Exemption; e != nil {
		var until string
		if e.Until != nil {
			until = ", until " + stamp(*e.Until)
		}
		switch {
		case e.Expired:
			parts = append(parts, fmt.Sprintf("exemption from %s expired (%s%s); not applied", e.Source, e.Reason, until))
		case f.State == rules.StateExempt:
			parts = append(parts, fmt.Sprintf("exempt by %s: %s%s", e.Source, e.Reason, until))
		}
	}
	return strings.Join(parts, "; ")
}

// ocsfStandardNames names the standards of the control prefixes the rules use.
var ocsfStandardNames = map[string]string{
	"FSBP":         "AWS Foundational Security Best Practices",
	"Security Hub": "AWS Security Hub",
	"CIS":          "CIS AWS Foundations Benchmark",
}

// ocsfStandards gives the standards of controls such as "FSBP IAM.8" or "CIS v5.0.0 1.11",
// once each, in order: a control is its standard, a space and the control's number in it.
func ocsfStandards(controls []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range controls {
		std := c
		if i := strings.LastIndexByte(c, ' '); i > 0 {
			std = c[:i]
		}
		name, version, _ := strings.Cut(std, " v")
		if full, ok := ocsfStandardNames[name]; ok {
			std = full
			if version != "" {
				std += " v" + version
			}
		}
		if !seen[std] {
			seen[std] = true
			out = append(out, std)
		}
	}
	return out
}

// ocsfResources lists the access key of a key finding, then the principal.
func ocsfResources(f *rules.Finding) []ocsfResource {
	var out []ocsfResource
	if f.Resource != "" {
		key := ocsfResource{Type: "AWS::IAM::AccessKey", Name: f.Resource}
		if isAccessKeyID(f.Resource) {
			key.UID = f.Resource
		}
		out = append(out, key)
	}
	return append(out, ocsfResource{Type: "AWS::IAM::User", UID: f.PrincipalARN, Name: f.Principal})
}

// isAccessKeyID tells a key ID (AKIA…) from a credential report slot ("access_key_1").
func isAccessKeyID(s string) bool {
	if len(s) < 16 {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// ocsfRemediations says in a sentence how to fix each rule's finding; the rule's page has the
// commands.
var ocsfRemediations = map[string]string{
	"console-mfa-missing":         "Register an MFA device for the user, or delete the user's console password (login profile).",
	"user-mfa-missing":            "Register an MFA device for the user, or replace the user with an IAM role that gives short-lived credentials.",
	"root-mfa-missing":            "Sign in as the root user and assign an MFA device, preferably a FIDO security key or a hardware TOTP token.",
	"root-hardware-mfa-missing":   "Sign in as the root user, assign a FIDO security key or a hardware TOTP token, then remove the virtual MFA device.",
	"root-access-key":             "Find what uses the root user's access key, then deactivate and delete it.",
	"root-recently-used":          "Find in CloudTrail who used the root user and for what; move that work to an IAM role, rotate the root password and check its MFA. Treat use nobody recognises as an incident.",
	"password-unused":             "Delete the user's console password (login profile); create a new one if the user needs the console again.",
	"access-key-unused":           "Deactivate the access key, and delete it once nothing has broken.",
	"access-key-not-rotated":      "Create a new access key, move what uses the old one to it, then deactivate and delete the old key; better, replace the key with an IAM role.",
	"access-keys-multiple-active": "Find which of the user's keys is in use, then deactivate and delete the other.",
	"mfa-not-enforced":            "Attach a policy that denies everything but MFA self-registration while aws:MultiFactorAuthPresent is false (iamwarden policy render enforce-mfa).",
}
