package report_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/golden"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// demoJSON is the demo account's scan as the JSON report, kept current by internal/cli's golden
// test (TestScanDemoGolden): the OCSF golden file is the same scan in the other format.
const demoJSON = "../cli/testdata/demo.json"

var ocsfOpts = report.OCSFOptions{ProductVersion: "dev"}

func demoResult(t *testing.T) *report.Result {
	t.Helper()
	b, err := os.ReadFile(demoJSON)
	if err != nil {
		t.Fatal(err)
	}
	var r report.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", demoJSON, err)
	}
	return &r
}

func writeOCSF(t *testing.T, r *report.Result, o report.OCSFOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := report.WriteOCSF(&buf, r, o); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// events parses JSON lines, failing on anything that is not one JSON object a line.
func events(t *testing.T, out string) []map[string]any {
	t.Helper()
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end with a newline: %q", out[max(0, len(out)-40):])
	}
	var evs []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		dec := json.NewDecoder(strings.NewReader(line))
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i+1, err, line)
		}
		if dec.More() {
			t.Fatalf("line %d holds more than one JSON value:\n%s", i+1, line)
		}
		evs = append(evs, ev)
	}
	return evs
}

// get follows a dotted path through objects ("metadata.product.name").
func get(ev map[string]any, path string) (any, bool) {
	var v any = ev
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func TestWriteOCSFDemoGolden(t *testing.T) {
	golden.Check(t, filepath.Join("testdata", "demo.ocsf.jsonl"), writeOCSF(t, demoResult(t), ocsfOpts))
}

// The attributes OCSF 1.3.0 requires of each class, and of the objects inside it that iamwarden
// writes (the cloud profile's cloud, the metadata, product, finding_info, compliance and
// remediation objects), plus those iamwarden promises on every event (docs/ocsf.md).
var (
	ocsfRequiredBase = []string{
		// base event and finding classes
		"activity_id", "category_uid", "class_uid", "type_uid", "time", "severity_id", "metadata", "finding_info",
		// metadata and product
		"metadata.version", "metadata.product", "metadata.product.name", "metadata.product.vendor_name",
		// finding_info
		"finding_info.uid", "finding_info.title",
		// cloud profile
		"cloud", "cloud.provider",
		// always written by iamwarden
		"activity_name", "category_name", "class_name", "type_name", "severity", "status_id", "status",
		"metadata.uid", "metadata.profiles", "finding_info.created_time", "finding_info.types", "cloud.account.uid",
		"resources", "unmapped.rule", "unmapped.state", "unmapped.principal", "unmapped.scan_partial",
	}
	ocsfRequiredByClass = map[float64][]string{
		report.OCSFClassCompliance: {"compliance", "compliance.standards",
			"compliance.requirements", "compliance.control", "compliance.status_id", "compliance.status"},
		report.OCSFClassDetection: {},
	}
)

// oddFindings are findings the demo lacks: without controls, of an unknown rule, with an odd
// severity, text that could break a line.
func oddFindings() *report.Result {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	until := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	return &report.Result{AccountID: "111122223333", GeneratedAt: at, AsOf: at, DataReadAt: at, Source: inventory.SourceLive, Partial: true,
		Errors: []inventory.Problem{{Where: "iam:ListAccessKeys", Message: "AccessDenied"}},
		Findings: []rules.Finding{
			{ID: "111122223333/no-controls/eve", Rule: "user-mfa-missing", Severity: rules.SeverityLow, State: rules.StateViolation,
				Principal: "eve", PrincipalARN: "arn:aws:iam::111122223333:user/eve", Title: "IAM user without MFA", Detail: "line\nbreak \u2028 sep"},
			{ID: "111122223333/future-rule/eve", Rule: "future-rule", Severity: "severe", State: rules.StateExempt, Principal: "eve",
				Controls: []string{"NIST 800-53 IA-2"}, Exemption: &rules.Exemption{Reason: "r", Source: "config", Until: &until}},
		}}
}

func TestOCSFRequiredAttributes(t *testing.T) {
	for name, r := range map[string]*report.Result{"demo": demoResult(t), "odd": oddFindings()} {
		t.Run(name, func(t *testing.T) {
			evs := events(t, writeOCSF(t, r, ocsfOpts))
			if len(evs) != len(r.Findings) {
				t.Fatalf("%d events for %d findings", len(evs), len(r.Findings))
			}
			for i, ev := range evs {
				class, _ := ev["class_uid"].(float64)
				extra, ok := ocsfRequiredByClass[class]
				if !ok {
					t.Fatalf("event %d: class_uid %v", i, ev["class_uid"])
				}
				for _, path := range append(append([]string{}, ocsfRequiredBase...), extra...) {
					if v, ok := get(ev, path); !ok || v == nil || v == "" {
						t.Errorf("event %d (%s, class %v) lacks %s", i, r.Findings[i].ID, class, path)
					}
				}
				if ev["category_uid"] != float64(report.OCSFCategoryFindings) || ev["type_uid"] != class*100+ev["activity_id"].(float64) {
					t.Errorf("event %d: category %v, type_uid %v", i, ev["category_uid"], ev["type_uid"])
				}
				if ms := ev["time"].(float64); ms != float64(r.GeneratedAt.UnixMilli()) {
					t.Errorf("event %d: time %v, want the scan's generation time in ms", i, ms)
				}
				if _, ok := ev["remediation"]; ok {
					if v, _ := get(ev, "remediation.desc"); v == "" || v == nil {
						t.Errorf("event %d: remediation without desc", i)
					}
				}
				resources, _ := ev["resources"].([]any)
				for _, res := range resources {
					m := res.(map[string]any)
					if m["type"] == nil || (m["uid"] == nil && m["name"] == nil) {
						t.Errorf("event %d: resource %v lacks type, or both uid and name", i, m)
					}
				}
			}
		})
	}
}

// Every registered rule maps to controls, so every one of its findings is a Compliance Finding,
// with a remediation and its documentation page; a finding without controls is a Detection
// Finding.
func TestOCSFClassPerRule(t *testing.T) {
	r := &report.Result{AccountID: "1", GeneratedAt: time.Unix(1, 0)}
	for _, rule := range rules.Registry() {
		r.Findings = append(r.Findings, rules.Finding{ID: rule.ID, Rule: rule.ID, Severity: rule.Severity, State: rules.StateViolation, Controls: rule.Controls})
	}
	evs := events(t, writeOCSF(t, r, report.OCSFOptions{DocsBaseURL: "https://docs.example/iamwarden/"}))
	for i, rule := range rules.Registry() {
		ev := evs[i]
		if ev["class_uid"] != float64(report.OCSFClassCompliance) {
			t.Errorf("%s: class %v", rule.ID, ev["class_uid"])
		}
		url := "https://docs.example/iamwarden/" + rule.Doc
		if v, _ := get(ev, "finding_info.src_url"); v != url {
			t.Errorf("%s: src_url %v, want %s", rule.ID, v, url)
		}
		if v, _ := get(ev, "remediation.desc"); v == nil || v == "" {
			t.Errorf("%s: no remediation", rule.ID)
		}
		if _, err := os.Stat(filepath.Join("..", "..", rule.Doc)); err != nil {
			t.Errorf("%s: %v", rule.ID, err)
		}
	}
	odd := events(t, writeOCSF(t, oddFindings(), ocsfOpts))
	if odd[0]["class_uid"] != float64(report.OCSFClassDetection) || odd[0]["compliance"] != nil {
		t.Errorf("finding without controls: %v", odd[0])
	}
	if _, ok := odd[1]["remediation"]; ok {
		t.Errorf("unknown rule has a remediation: %v", odd[1]["remediation"])
	}
}

// finding_info.uid is the finding ID, the same on every run; metadata.uid names the event, so a
// later run gives a new one; the same result gives the same bytes.
func TestOCSFStableUIDs(t *testing.T) {
	r := demoResult(t)
	first := writeOCSF(t, r, ocsfOpts)
	if again := writeOCSF(t, demoResult(t), ocsfOpts); again != first {
		t.Error("the same result gives different output")
	}
	later := demoResult(t)
	later.GeneratedAt = later.GeneratedAt.Add(24 * time.Hour)
	a, b := events(t, first), events(t, writeOCSF(t, later, ocsfOpts))
	seen := map[any]bool{}
	for i := range a {
		uid, _ := get(a[i], "finding_info.uid")
		if uid != r.Findings[i].ID {
			t.Errorf("event %d: finding_info.uid %v, want the finding ID %s", i, uid, r.Findings[i].ID)
		}
		if uid2, _ := get(b[i], "finding_info.uid"); uid2 != uid {
			t.Errorf("event %d: finding uid changed between runs: %v, %v", i, uid, uid2)
		}
		m1, _ := get(a[i], "metadata.uid")
		m2, _ := get(b[i], "metadata.uid")
		if m1 == m2 || seen[m1] {
			t.Errorf("event %d: metadata.uid %v not unique to the event (later run: %v)", i, m1, m2)
		}
		seen[m1] = true
	}
}

func TestOCSFSeverity(t *testing.T) {
	for _, c := range []struct {
		in   rules.Severity
		id   int
		name string
	}{
		{rules.SeverityLow, 2, "Low"},
		{rules.SeverityMedium, 3, "Medium"},
		{rules.SeverityHigh, 4, "High"},
		{rules.SeverityCritical, 5, "Critical"},
		{"", 0, "Unknown"},
		{"severe", 0, "Unknown"},
	} {
		if id, name := report.OCSFSeverity(c.in); id != c.id || name != c.name {
			t.Errorf("OCSFSeverity(%q) = %d %q, want %d %q", c.in, id, name, c.id, c.name)
		}
	}
	// The registry uses only severities that map.
	for _, rule := range rules.Registry() {
		if id, _ := report.OCSFSeverity(rule.Severity); id == 0 {
			t.Errorf("%s: severity %q maps to Unknown", rule.ID, rule.Severity)
		}
	}
}

// The states: a violation and a pending finding fail their check and are new; an exempt one
// fails too but is suppressed, and both status details say why.
func TestOCSFStates(t *testing.T) {
	deadline := time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)
	until := time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC)
	lapsed := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	r := &report.Result{AccountID: "1", GeneratedAt: time.Unix(1, 0), Findings: []rules.Finding{
		{ID: "v", Rule: "user-mfa-missing", State: rules.StateViolation, Controls: []string{"Security Hub IAM.19"}},
		{ID: "p", Rule: "console-mfa-missing", State: rules.StatePending, Deadline: &deadline, Controls: []string{"FSBP IAM.5"}},
		{ID: "e", Rule: "console-mfa-missing", State: rules.StateExempt, Controls: []string{"FSBP IAM.5"},
			Exemption: &rules.Exemption{Reason: "break-glass", Source: "tag", Until: &until}},
		{ID: "x", Rule: "user-mfa-missing", State: rules.StateViolation, Controls: []string{"Security Hub IAM.19"},
			Exemption: &rules.Exemption{Reason: "old", Source: "tag", Until: &lapsed, Expired: true}},
	}}
	evs := events(t, writeOCSF(t, r, ocsfOpts))
	for i, want := range []struct {
		status float64
		detail string
	}{
		{1, ""},
		{1, "pending: becomes a violation at 2026-11-21T03:00:00Z"},
		{3, "exempt by tag: break-glass, until 2027-06-30T23:59:59Z"},
		{1, "exemption from tag expired (old, until 2026-01-31T00:00:00Z); not applied"},
	} {
		ev := evs[i]
		if ev["status_id"] != want.status {
			t.Errorf("%s: status_id %v, want %v", r.Findings[i].ID, ev["status_id"], want.status)
		}
		if v, _ := get(ev, "compliance.status_id"); v != float64(3) {
			t.Errorf("%s: compliance.status_id %v, want 3 (Fail)", r.Findings[i].ID, v)
		}
		d, _ := get(ev, "compliance.status_detail")
		if d == nil {
			d = ""
		}
		if d != want.detail || (want.detail != "" && ev["status_detail"] != want.detail) {
			t.Errorf("%s: status_detail %q / %q, want %q", r.Findings[i].ID, ev["status_detail"], d, want.detail)
		}
		if st, _ := get(ev, "unmapped.state"); st != string(r.Findings[i].State) {
			t.Errorf("%s: unmapped.state %v", r.Findings[i].ID, st)
		}
	}
	if v, _ := get(evs[1], "unmapped.deadline"); v != "2026-11-21T03:00:00Z" {
		t.Errorf("pending: unmapped.deadline %v", v)
	}
	if v, _ := get(evs[2], "unmapped.exemption.reason"); v != "break-glass" {
		t.Errorf("exempt: unmapped.exemption %v", v)
	}
}

// One line per finding and nothing else: no line for a clean scan, none for the errors of a
// partial one (each event says its scan was partial), and text with newlines or U+2028 stays on
// its line. Key IDs are whole.
func TestOCSFJSONLines(t *testing.T) {
	if out := writeOCSF(t, &report.Result{AccountID: "1", Partial: true, Findings: []rules.Finding{}}, ocsfOpts); out != "" {
		t.Errorf("clean scan wrote %q", out)
	}
	r := oddFindings()
	out := writeOCSF(t, r, report.OCSFOptions{Region: "eu-west-1"})
	if n := strings.Count(out, "\n"); n != len(r.Findings) {
		t.Fatalf("%d lines for %d findings:\n%s", n, len(r.Findings), out)
	}
	if strings.Contains(out, "\u2028") || strings.Contains(out, "AccessDenied") {
		t.Errorf("raw U+2028 or an error in the output:\n%s", out)
	}
	for _, ev := range events(t, out) {
		if v, _ := get(ev, "unmapped.scan_partial"); v != true {
			t.Errorf("partial scan's event lacks scan_partial: %v", ev["unmapped"])
		}
		if v, _ := get(ev, "cloud.region"); v != "eu-west-1" {
			t.Errorf("cloud.region %v", v)
		}
	}
	sc := bufio.NewScanner(strings.NewReader(writeOCSF(t, demoResult(t), ocsfOpts)))
	sc.Buffer(nil, 1<<20)
	var keyLines int
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"type":"AWS::IAM::AccessKey","uid":"AKIA`) {
			keyLines++
		}
	}
	if keyLines == 0 {
		t.Error("no access key written whole in the demo output")
	}
	if err := report.WriteOCSF(&bytes.Buffer{}, &report.Result{Findings: []rules.Finding{{ID: "x"}}}, ocsfOpts); err == nil {
		t.Error("a result without a time was accepted")
	}
}

const ocsfDocPath = "../../docs/ocsf.md"

// ocsfDocExamples are the demo findings docs/ocsf.md shows, by finding ID.
var ocsfDocExamples = []string{
	"123456789012/access-key-unused/hana.sato/AKIALTT72SV5NISCXPSV",
	"123456789012/console-mfa-missing/breakglass-admin",
}

// TestOCSFDocsExample keeps the examples of docs/ocsf.md equal to lines of the golden output;
// with -update it rewrites them.
func TestOCSFDocsExample(t *testing.T) {
	doc, err := os.ReadFile(ocsfDocPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(writeOCSF(t, demoResult(t), ocsfOpts), "\n")
	var ex strings.Builder
	for _, id := range ocsfDocExamples {
		var found bool
		for _, line := range lines {
			if strings.Contains(line, `"finding_info":{"uid":"`+id+`"`) {
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, []byte(line), "", "  "); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&ex, "\n```json\n%s\n```\n", pretty.String())
				found = true
			}
		}
		if !found {
			t.Fatalf("the demo has no finding %s", id)
		}
	}
	got := string(doc)
	const begin, end = "<!-- example:begin -->", "<!-- example:end -->"
	i, j := strings.Index(got, begin), strings.Index(got, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks %s ... %s", ocsfDocPath, begin, end)
	}
	got = got[:i+len(begin)] + ex.String() + got[j:]
	if *golden.Update {
		if err := os.WriteFile(ocsfDocPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != string(doc) {
		t.Errorf("%s is out of date with the demo's OCSF output (run go test ./internal/report -update)", ocsfDocPath)
	}
}
