package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func orgAccounts() []report.AccountResult {
	res := func(acct string, fs ...rules.Finding) *report.Result {
		r := &report.Result{AccountID: acct, Findings: fs, Errors: nil}
		r.Count(3)
		return r
	}
	return []report.AccountResult{
		{AccountID: "111111111111", AccountName: "prod", Status: report.AccountOK, Result: res("111111111111",
			rules.Finding{ID: "111111111111/console-mfa-missing/alice", AccountID: "111111111111", Rule: "console-mfa-missing",
				Principal: "alice", State: rules.StateViolation, Detail: `a "quoted" detail`},
			rules.Finding{ID: "111111111111/access-key-unused/bob/AKIAEXAMPLEKEY000001", AccountID: "111111111111", Rule: "access-key-unused",
				Principal: "bob", Resource: "AKIAEXAMPLEKEY000001", State: rules.StatePending})},
		{AccountID: "222222222222", AccountName: "dev", Status: report.AccountFailed, Error: "sts:AssumeRole iamwarden-audit: AccessDenied"},
		{AccountID: "333333333333", Status: report.AccountPartial, Error: "iam:GetLoginProfile: throttled", Result: res("333333333333")},
	}
}

func TestOrgWriterJSONIsOneDocument(t *testing.T) {
	var out bytes.Buffer
	w := report.NewOrgWriter(&out, report.FormatJSON)
	for _, a := range orgAccounts() {
		if err := w.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	totals, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Accounts []report.AccountResult `json:"accounts"`
		Totals   report.Totals          `json:"totals"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, out.String())
	}
	if len(doc.Accounts) != 3 || doc.Totals != totals || totals.Accounts != 3 || totals.Failed != 1 || totals.Partial != 1 || totals.Violations != 1 {
		t.Fatalf("accounts %d, totals %+v (returned %+v)", len(doc.Accounts), doc.Totals, totals)
	}
	if got := doc.Accounts[0].Result; got == nil || len(got.Findings) != 2 || got.Findings[0].Detail != `a "quoted" detail` {
		t.Errorf("first account's result %+v", got)
	}
	if doc.Accounts[1].Result != nil || doc.Accounts[1].Error == "" {
		t.Errorf("failed account %+v", doc.Accounts[1])
	}
	if totals.ExitCode() != report.ExitPartial {
		t.Errorf("exit %d, want partial: an account failed", totals.ExitCode())
	}
}

func TestOrgWriterEmptyAndClean(t *testing.T) {
	var out bytes.Buffer
	w := report.NewOrgWriter(&out, report.FormatJSON)
	totals, err := w.Close()
	if err != nil || !json.Valid(out.Bytes()) || totals.ExitCode() != report.ExitClean {
		t.Fatalf("no accounts: %v, %s, exit %d", err, out.String(), totals.ExitCode())
	}
}

func TestOrgWriterTableAndCSV(t *testing.T) {
	var table, rows bytes.Buffer
	tw, cw := report.NewOrgWriter(&table, report.FormatTable), report.NewOrgWriter(&rows, report.FormatCSV)
	for _, a := range orgAccounts() {
		if err := tw.Add(a); err != nil {
			t.Fatal(err)
		}
		if err := cw.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	cw.Close()
	for _, want := range []string{"ACCOUNT", "111111111111  violation", "AKIA…0001", "FAILED: sts:AssumeRole", "PARTIAL: iam:GetLoginProfile",
		"3 accounts: 1 ok, 1 partial, 1 failed", "failed: 222222222222"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	recs, err := csv.NewReader(&rows).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][0] != "account_id" || recs[1][0] != "111111111111" {
		t.Fatalf("csv %v, %v", recs, err)
	}
	if f := cw.Failed(); len(f) != 1 || f[0].AccountID != "222222222222" {
		t.Errorf("failed accounts %+v", f)
	}
}
