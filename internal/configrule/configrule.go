// Package configrule is iamwarden as an AWS Config custom rule (Source Owner CUSTOM_LAMBDA,
// periodic): it turns each IAM user's findings into one Config
// evaluation, and sends them with config:PutEvaluations.
//
// # Invocations
//
// The Lambda door (internal/lambdafn) tells a Config rule invocation from its other events and
// hands over its result token and notification time. The rule is deployed with a periodic
// trigger (ScheduledNotification); change notifications, sent only if the rule is given a change
// trigger, are answered as a periodic run, since a user's compliance also depends on the clock and
// on exemptions held outside Config.
//
// # Compliance
//
// One evaluation per IAM user: ComplianceResourceType AWS::IAM::User, ComplianceResourceId the
// user's UserId (AIDA…), OrderingTimestamp the notification's creation time. From the user's
// findings:
//
//	NON_COMPLIANT   a finding is a violation, or pending (the annotation names each rule, the
//	                access key (masked) it is about, and a pending finding's deadline)
//	NOT_APPLICABLE  every finding is exempt (the annotation names each rule's exemption, its
//	                source and its expiry)
//	COMPLIANT       no finding (no annotation)
//
// A user that could not be judged (its data could not be read) gets no evaluation: Config keeps
// the last one it has. Evaluations returns such users, and users without a UserId, as Skipped.
//
// Annotations are at most 256 bytes of UTF-8 (so at most 256 characters however Config counts
// them), cut on a rune boundary and ended with "…" when longer; control, line-separator and
// bidirectional-override characters are removed, and access key IDs are shown as AKIA…WXYZ.
//
// # Sending
//
// Put sends evaluations in batches of 100 (PutEvaluations' limit), collects FailedEvaluations in
// its Report, and stops at the first batch that fails, saying how many were sent before. With
// TestMode, Config checks the call and records nothing.
//
// moto 5.2.1 implements PutEvaluations only with TestMode=true (otherwise it fails with HTTP 500,
// NotImplementedError) and records nothing; internal/mototest's server implements it without
// TestMode, validates it as AWS does and records the evaluations per account.
package configrule

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice/types"

	"github.com/iamwarden/iamwarden/internal/rules"
)

// ResourceType is the Config resource type every evaluation is about.
const ResourceType = "AWS::IAM::User"

// MaxAnnotation is the longest annotation in bytes (Config's limit is 256 characters).
const MaxAnnotation = 256

// User is one IAM user to evaluate.
type User struct {
	Name   string
	UserID string // UserId, AIDA…: the evaluation's ComplianceResourceId
	// Findings are the user's findings; none means compliant.
	Findings []rules.Finding
	// NotJudged says why the user could not be judged; when set the user gets no evaluation.
	NotJudged string
}

// Skipped is a user that got no evaluation, and why.
type Skipped struct {
	Name   string
	UserID string
	Reason string
}

// Evaluations returns one evaluation per user that could be judged, in the order given, with
// at (the notification's creation time) as OrderingTimestamp, and the users that got none.
func Evaluations(users []User, at time.Time) ([]types.Evaluation, []Skipped) {
	evs := make([]types.Evaluation, 0, len(users))
	var skipped []Skipped
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		reason := ""
		switch {
		case u.NotJudged != "":
			reason = u.NotJudged
		case u.UserID == "":
			reason = "no user ID to evaluate it by"
		case seen[u.UserID]:
			reason = "user ID given twice; evaluated once"
		}
		if reason != "" {
			skipped = append(skipped, Skipped{Name: u.Name, UserID: u.UserID, Reason: reason})
			continue
		}
		seen[u.UserID] = true
		ct, annotation := Compliance(u.Findings)
		ev := types.Evaluation{
			ComplianceResourceType: aws.String(ResourceType),
			ComplianceResourceId:   aws.String(u.UserID),
			ComplianceType:         ct,
			OrderingTimestamp:      aws.Time(at.UTC()),
		}
		if annotation != "" {
			ev.Annotation = aws.String(annotation)
		}
		evs = append(evs, ev)
	}
	return evs, skipped
}

// Compliance decides a user's compliance from its findings and explains it in an annotation
// (empty for COMPLIANT). A finding in a state it does not know counts as a violation.
func Compliance(findings []rules.Finding) (types.ComplianceType, string) {
	var broken, pending, exempt []string
	for _, f := range findings {
		what := f.Rule
		if f.Resource != "" {
			what += " " + rules.MaskKeyID(f.Resource)
		}
		switch f.State {
		case rules.StateExempt:
			exempt = append(exempt, what+exemptionText(f.Exemption))
		case rules.StatePending:
			until := "(deadline unknown)"
			if f.Deadline != nil {
				until = "until " + stamp(*f.Deadline)
			}
			pending = append(pending, what+" "+until)
		default:
			broken = append(broken, what)
		}
	}
	switch {
	case len(broken) > 0 || len(pending) > 0:
		var parts []string
		if len(broken) > 0 {
			parts = append(parts, "violates "+strings.Join(broken, ", "))
		}
		if len(pending) > 0 {
			parts = append(parts, "pending "+strings.Join(pending, ", "))
		}
		// Rule IDs and deadlines first, so a cut annotation still names them; then the details.
		var details []string
		for _, f := range findings {
			if f.State != rules.StateExempt && f.Detail != "" {
				details = append(details, f.Rule+": "+f.Detail)
			}
		}
		s := strings.Join(parts, "; ")
		if len(details) > 0 {
			s += ". " + strings.Join(details, "; ")
		}
		return types.ComplianceTypeNonCompliant, Annotation(s)
	case len(exempt) > 0:
		return types.ComplianceTypeNotApplicable, Annotation("exempt from " + strings.Join(exempt, "; "))
	default:
		return types.ComplianceTypeCompliant, ""
	}
}

func exemptionText(e *rules.Exemption) string {
	if e == nil {
		return ""
	}
	s := " until "
	if e.Until != nil {
		s += stamp(*e.Until)
	} else {
		s = " without expiry"
	}
	var by []string
	if e.Source != "" {
		by = append(by, e.Source)
	}
	if e.Reason != "" {
		by = append(by, e.Reason)
	}
	if len(by) > 0 {
		s += " (" + strings.Join(by, ": ") + ")"
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// keyIDPattern finds access key IDs in free text (details, exemption reasons).
var keyIDPattern = regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}\b`)

// Annotation returns s as an annotation Config accepts: access key IDs masked, control,
// line-separator and bidirectional-override characters removed (tabs and line breaks become
// spaces), invalid UTF-8 replaced, and cut to MaxAnnotation bytes on a rune boundary, ending with
// "…" when cut.
func Annotation(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = keyIDPattern.ReplaceAllStringFunc(s, rules.MaskKeyID)
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
			return ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	return truncate(s, MaxAnnotation)
}

// truncate cuts s to at most max bytes on a rune boundary, ending it with "…" when cut.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	cut := max - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRight(s[:cut], " ") + ellipsis
}

// String describes a skipped user for logs.
func (s Skipped) String() string {
	return fmt.Sprintf("%s (%s): %s", s.Name, s.UserID, s.Reason)
}
