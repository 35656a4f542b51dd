package configrule_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice/types"

	"github.com/iamwarden/iamwarden/internal/configrule"
	"github.com/iamwarden/iamwarden/internal/rules"
)

const keyID = "AKIAIOSFODNN7EXAMPLE"

var (
	notified = time.Date(2026, 11, 30, 10, 0, 0, 373_000_000, time.UTC)
	due      = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	expires  = time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
)

func finding(rule string, state rules.State, mods ...func(*rules.Finding)) rules.Finding {
	f := rules.Finding{Rule: rule, State: state, Principal: "alice", UserID: "AIDAEXAMPLEEXAMPLE123", Detail: "detail of " + rule}
	for _, m := range mods {
		m(&f)
	}
	return f
}

func withDeadline(t time.Time) func(*rules.Finding) {
	return func(f *rules.Finding) { f.Deadline = &t }
}
func withKey(id string) func(*rules.Finding)   { return func(f *rules.Finding) { f.Resource = id } }
func withDetail(d string) func(*rules.Finding) { return func(f *rules.Finding) { f.Detail = d } }
func withExemption(e rules.Exemption) func(*rules.Finding) {
	return func(f *rules.Finding) { f.Exemption = &e }
}

func TestCompliance(t *testing.T) {
	tests := []struct {
		name     string
		findings []rules.Finding
		want     types.ComplianceType
		contains []string
		lacks    []string
	}{
		{name: "no findings", want: types.ComplianceTypeCompliant},
		{name: "violation", findings: []rules.Finding{finding("console-mfa-missing", rules.StateViolation)},
			want: types.ComplianceTypeNonCompliant, contains: []string{"violates console-mfa-missing", "detail of console-mfa-missing"}},
		{name: "pending names the deadline",
			findings: []rules.Finding{finding("console-mfa-missing", rules.StatePending, withDeadline(due))},
			want:     types.ComplianceTypeNonCompliant, contains: []string{"pending console-mfa-missing until 2026-12-02T10:00:00Z"}},
		{name: "pending without deadline",
			findings: []rules.Finding{finding("console-mfa-missing", rules.StatePending)},
			want:     types.ComplianceTypeNonCompliant, contains: []string{"pending console-mfa-missing (deadline unknown)"}},
		{name: "violation and pending and exempt", findings: []rules.Finding{
			finding("access-key-unused", rules.StateViolation, withKey(keyID)),
			finding("console-mfa-missing", rules.StatePending, withDeadline(due)),
			finding("password-unused", rules.StateExempt, withExemption(rules.Exemption{Reason: "break-glass", Source: "tag", Until: &expires})),
		}, want: types.ComplianceTypeNonCompliant,
			contains: []string{"violates access-key-unused AKIA…MPLE; pending console-mfa-missing until 2026-12-02T10:00:00Z"},
			lacks:    []string{keyID, "password-unused", "break-glass"}},
		{name: "all exempt", findings: []rules.Finding{
			finding("console-mfa-missing", rules.StateExempt, withExemption(rules.Exemption{Reason: "break-glass account", Source: "tag", Until: &expires})),
			finding("access-key-not-rotated", rules.StateExempt, withKey(keyID), withExemption(rules.Exemption{Reason: "vendor", Source: "ssm:/iamwarden/exempt"})),
		}, want: types.ComplianceTypeNotApplicable,
			contains: []string{"exempt from console-mfa-missing until 2027-01-31T00:00:00Z (tag: break-glass account); access-key-not-rotated AKIA…MPLE without expiry (ssm:/iamwarden/exempt: vendor)"},
			lacks:    []string{keyID}},
		{name: "unknown state counts as a violation", findings: []rules.Finding{finding("future-rule", rules.State("weird"))},
			want: types.ComplianceTypeNonCompliant, contains: []string{"violates future-rule"}},
		{name: "key ID in a detail is masked", findings: []rules.Finding{
			finding("access-key-unused", rules.StateViolation, withDetail("key "+keyID+" unused; ASIAIOSFODNN7EXAMPLE too"))},
			want: types.ComplianceTypeNonCompliant, contains: []string{"key AKIA…MPLE unused; ASIA…MPLE too"}, lacks: []string{keyID, "ASIAIOSFODNN7EXAMPLE"}},
		{name: "credential report slot is kept", findings: []rules.Finding{finding("access-key-unused", rules.StateViolation, withKey("access_key_2"))},
			want: types.ComplianceTypeNonCompliant, contains: []string{"violates access-key-unused access_key_2"}},
		{name: "control characters removed", findings: []rules.Finding{
			finding("console-mfa-missing", rules.StateViolation, withDetail("line one\nline\ttwo\x1b[31m red\u202e evil\x00"))},
			want: types.ComplianceTypeNonCompliant, contains: []string{"line one line two[31m red evil"}, lacks: []string{"\n", "\t", "\x1b", "\u202e", "\x00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct, annotation := configrule.Compliance(tc.findings)
			if ct != tc.want {
				t.Errorf("compliance = %s, want %s (annotation %q)", ct, tc.want, annotation)
			}
			if tc.want == types.ComplianceTypeCompliant && annotation != "" {
				t.Errorf("compliant annotation %q", annotation)
			}
			for _, s := range tc.contains {
				if !strings.Contains(annotation, s) {
					t.Errorf("annotation %q lacks %q", annotation, s)
				}
			}
			for _, s := range tc.lacks {
				if strings.Contains(annotation, s) {
					t.Errorf("annotation %q contains %q", annotation, s)
				}
			}
			checkAnnotation(t, annotation)
		})
	}
}

func checkAnnotation(t *testing.T, a string) {
	t.Helper()
	if len(a) > configrule.MaxAnnotation {
		t.Errorf("annotation is %d bytes: %q", len(a), a)
	}
	if !utf8.ValidString(a) {
		t.Errorf("annotation is not valid UTF-8: %q", a)
	}
	for _, r := range a {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			t.Errorf("annotation has control character %U: %q", r, a)
		}
	}
}

func TestAnnotationLength(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"short", "abc", "abc"},
		{"exactly 256 bytes", strings.Repeat("a", 256), strings.Repeat("a", 256)},
		{"257 bytes", strings.Repeat("a", 257), strings.Repeat("a", 253) + "…"},
		// "é" is 2 bytes: 253 bytes of room end in the middle of one, which is left out whole.
		{"two-byte runes", strings.Repeat("é", 200), strings.Repeat("é", 126) + "…"},
		{"three-byte runes", strings.Repeat("ユ", 100), strings.Repeat("ユ", 84) + "…"},
		{"four-byte runes", "a" + strings.Repeat("😀", 100), "a" + strings.Repeat("😀", 63) + "…"},
		{"invalid UTF-8 replaced", "a\xffb", "a\uFFFDb"},
		{"whitespace collapsed", "  a \n\n b  ", "a b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := configrule.Annotation(tc.in)
			if got != tc.want {
				t.Errorf("Annotation = %q (%d bytes), want %q", got, len(got), tc.want)
			}
			checkAnnotation(t, got)
		})
	}
}

func TestLongAnnotationKeepsRuleIDsFirst(t *testing.T) {
	long := strings.Repeat("ü", 300)
	_, a := configrule.Compliance([]rules.Finding{
		finding("console-mfa-missing", rules.StatePending, withDeadline(due), withDetail(long)),
		finding("access-key-unused", rules.StateViolation, withKey(keyID), withDetail(long+keyID)),
	})
	checkAnnotation(t, a)
	want := "violates access-key-unused AKIA…MPLE; pending console-mfa-missing until 2026-12-02T10:00:00Z. "
	if !strings.HasPrefix(a, want) || !strings.HasSuffix(a, "…") {
		t.Errorf("annotation %q, want it to start with %q and be cut", a, want)
	}
}

func TestEvaluations(t *testing.T) {
	users := []configrule.User{
		{Name: "alice", UserID: "AIDAALICEALICEALICE11", Findings: []rules.Finding{finding("console-mfa-missing", rules.StateViolation)}},
		{Name: "bob", UserID: "AIDABOBBOBBOBBOBBOB11"},
		{Name: "carol", UserID: "AIDACAROLCAROLCAROL11", NotJudged: "GetUser: throttled"},
		{Name: "dave", UserID: "AIDADAVEDAVEDAVEDAVE1", Findings: []rules.Finding{
			finding("console-mfa-missing", rules.StateExempt, withExemption(rules.Exemption{Reason: "r", Source: "tag", Until: &expires}))}},
		{Name: "erin"},
		{Name: "alice-again", UserID: "AIDAALICEALICEALICE11"},
	}
	evs, skipped := configrule.Evaluations(users, notified.In(time.FixedZone("X", 3600)))
	want := []struct {
		id string
		ct types.ComplianceType
	}{
		{"AIDAALICEALICEALICE11", types.ComplianceTypeNonCompliant},
		{"AIDABOBBOBBOBBOBBOB11", types.ComplianceTypeCompliant},
		{"AIDADAVEDAVEDAVEDAVE1", types.ComplianceTypeNotApplicable},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d evaluations, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		ev := evs[i]
		if aws.ToString(ev.ComplianceResourceId) != w.id || ev.ComplianceType != w.ct ||
			aws.ToString(ev.ComplianceResourceType) != "AWS::IAM::User" || !aws.ToTime(ev.OrderingTimestamp).Equal(notified) ||
			aws.ToTime(ev.OrderingTimestamp).Location() != time.UTC {
			t.Errorf("evaluation %d = %s %s %s %v, want %s %s", i, aws.ToString(ev.ComplianceResourceType),
				aws.ToString(ev.ComplianceResourceId), ev.ComplianceType, ev.OrderingTimestamp, w.id, w.ct)
		}
		if (ev.Annotation == nil) != (w.ct == types.ComplianceTypeCompliant) {
			t.Errorf("evaluation %d annotation %v", i, ev.Annotation)
		}
	}
	var names []string
	for _, s := range skipped {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "carol,erin,alice-again" {
		t.Errorf("skipped %v", skipped)
	}
	if skipped[0].Reason != "GetUser: throttled" || skipped[0].UserID != "AIDACAROLCAROLCAROL11" {
		t.Errorf("skipped[0] = %+v", skipped[0])
	}
}
