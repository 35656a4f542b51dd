package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func result(partial bool, states ...rules.State) *report.Result {
	r := &report.Result{AccountID: "123456789012", Partial: partial}
	for i, s := range states {
		r.Findings = append(r.Findings, rules.Finding{ID: string(rune('a' + i)), Rule: "user-mfa-missing", State: s, Principal: "u"})
	}
	r.Count(3)
	return r
}

func TestExitCode(t *testing.T) {
	cases := []struct {
		name string
		r    *report.Result
		want int
	}{
		{"clean", result(false), 0},
		{"pending and exempt only", result(false, rules.StatePending, rules.StateExempt), 0},
		{"a violation", result(false, rules.StatePending, rules.StateViolation), 1},
		{"partial without violations", result(true), 3},
		{"partial with violations", result(true, rules.StateViolation), 3},
	}
	for _, c := range cases {
		if got := c.r.ExitCode(); got != c.want {
			t.Errorf("%s: exit %d, want %d", c.name, got, c.want)
		}
	}
	if s := result(false, rules.StateViolation, rules.StatePending, rules.StateExempt, rules.StateViolation).Summary; s != (report.Summary{Users: 3, Violations: 2, Pending: 1, Exempt: 1}) {
		t.Errorf("summary %+v", s)
	}
}

// Details with commas, quotes and newlines survive CSV; evidence is one JSON column.
func TestWriteCSV(t *testing.T) {
	until := time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC)
	r := &report.Result{Findings: []rules.Finding{{
		ID: "x", Rule: "password-unused", State: rules.StateExempt, Principal: "bob", Controls: []string{"FSBP IAM.8", "CIS v3.0.0 1.12"},
		Detail: "used \"never\", set 200 days ago,\nthreshold 90", Evidence: map[string]any{"age_days": 200},
		Exemption: &rules.Exemption{Reason: "on leave, back in June", Source: "config", Until: &until},
	}}}
	var buf bytes.Buffer
	if err := report.WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || len(rows[0]) != len(rows[1]) {
		t.Fatalf("rows %q", rows)
	}
	row := map[string]string{}
	for i, h := range rows[0] {
		row[h] = rows[1][i]
	}
	if row["detail"] != r.Findings[0].Detail || row["exemption_reason"] != "on leave, back in June" ||
		row["exemption_until"] != "2027-06-30T23:59:59Z" || row["controls"] != "FSBP IAM.8; CIS v3.0.0 1.12" {
		t.Errorf("row %q", row)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(row["evidence"]), &ev); err != nil || ev["age_days"] != float64(200) {
		t.Errorf("evidence %q: %v", row["evidence"], err)
	}
}

func TestWriteTablePartial(t *testing.T) {
	r := result(true, rules.StateViolation)
	r.Errors = nil
	var buf bytes.Buffer
	if err := report.WriteTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "PARTIAL RESULT") {
		t.Errorf("partial result not flagged:\n%s", buf.String())
	}
	if _, err := report.ParseFormat("yaml"); err == nil {
		t.Error("unknown format accepted")
	}
}

// The table masks key IDs and never passes control characters to the terminal.
func TestWriteTableMasksAndEscapes(t *testing.T) {
	r := result(false, rules.StateViolation)
	r.Findings[0].Resource = "AKIAIOSFODNN7EXAMPLE"
	r.Findings[0].Detail = "tag says \x1b]0;pwned\x07"
	var buf bytes.Buffer
	if err := report.WriteTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "AKIAIOSFODNN7EXAMPLE") || !strings.Contains(out, "AKIA…MPLE") {
		t.Errorf("key not masked:\n%s", out)
	}
	if strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `\x1b]0;pwned\x07`) {
		t.Errorf("control characters passed through:\n%q", out)
	}
}
