package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
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

// Cells a spreadsheet would run as a formula are prefixed with a quote (OWASP CSV injection);
// others are left as they are.
func TestWriteCSVNeutralisesFormulas(t *testing.T) {
	until := time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC)
	r := &report.Result{Findings: []rules.Finding{{
		ID: "x", Rule: "password-unused", State: rules.StateExempt, Principal: "=1+1", PrincipalARN: "+cmd",
		Resource: "-2", Title: "@SUM(A1)", Detail: "\tx", Controls: []string{"\rCIS"},
		Exemption: &rules.Exemption{Reason: "=1+2 @SUM(A1:A9)", Source: "config", Until: &until},
	}, {ID: "y", Rule: "user-mfa-missing", Principal: "alice", Detail: "a-b=c"}}}
	var buf bytes.Buffer
	if err := report.WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for name, want := range map[string]string{"principal": "'=1+1", "principal_arn": "'+cmd", "resource": "'-2", "title": "'@SUM(A1)",
		"detail": "'\tx", "controls": "'\rCIS", "exemption_reason": "'=1+2 @SUM(A1:A9)"} {
		if got := rows[1][col[name]]; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := rows[2][col["principal"]]; got != "alice" {
		t.Errorf("plain cell changed: %q", got)
	}
	if got := rows[2][col["detail"]]; got != "a-b=c" {
		t.Errorf("cell with a formula character inside changed: %q", got)
	}
	if got := rows[1][col["evidence"]]; got != "null" {
		t.Errorf("evidence = %q", got)
	}
}

// Every string of the table that comes from the account is escaped: the alias, the findings, and
// the error and warning lines (a tag value must not forge an "error:" line or clear the screen).
func TestWriteTableEscapes(t *testing.T) {
	r := &report.Result{AccountID: "123456789012", AccountAlias: "prod\x1b[2J",
		Errors:   []inventory.Problem{{Where: "tag\u2028x", Message: "bad\rerror: none"}},
		Warnings: []inventory.Problem{{Where: "user/eve", Message: "tag iamwarden:exempt-rules\nerror: none\u202e"}},
		Findings: []rules.Finding{{Rule: "user-mfa-missing", State: rules.StateViolation, Principal: "eve\x07", Detail: "d\u009b"}}}
	var buf bytes.Buffer
	if err := report.WriteTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, raw := range []string{"\x1b", "\r", "\u2028", "\u202e", "\x07", "\u009b", "\nerror: none"} {
		if strings.Contains(out, raw) {
			t.Errorf("table holds %q raw:\n%s", raw, out)
		}
	}
	for _, esc := range []string{`prod\x1b[2J`, `tag\u2028x: bad\x0derror: none`, `tag iamwarden:exempt-rules\x0aerror: none\u202e`, `eve\x07`, `d\x9b`} {
		if !strings.Contains(out, esc) {
			t.Errorf("table lacks %q:\n%s", esc, out)
		}
	}
}
