package htmlreport_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/report/htmlreport"
)

// generatedAt is when the fixture's page says it was made: the demo account's data read time.
var generatedAt = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// demoResult is a scan of examples/demo-account (iamwarden scan --from examples/demo-account -o json).
func demoResult(t testing.TB) *report.Result {
	t.Helper()
	data, err := os.ReadFile("testdata/demo-scan.json")
	if err != nil {
		t.Fatal(err)
	}
	var r report.Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// demoInput is the demo account with an enforce dry run, a failed second account, and eight
// weeks of history in which the demo account's open findings come down.
func demoInput(t testing.TB) htmlreport.Input {
	t.Helper()
	r := demoResult(t)
	in := htmlreport.Input{
		Title: "IAM users: demo organization", GeneratedAt: generatedAt, Version: "v1.2.3",
		Accounts: []htmlreport.Account{
			{AccountID: "999988887777", Name: "sandbox", Status: report.AccountFailed, Error: "assume role OrganizationAccountAccessRole: access denied"},
			{AccountID: r.AccountID, Result: r, Enforce: &htmlreport.Enforce{DryRun: true, Planned: 3, Actions: []htmlreport.Action{
				{Status: "would-do", Kind: "deactivate-key", Principal: "hana.sato", Resource: "AKIALTT72SV5NISCXPSV", Rule: "access-key-unused", Detail: "unused for 100 days"},
				{Status: "would-do", Kind: "disable-console", Principal: "xavier.moreau", Rule: "console-mfa-missing", Detail: "console without MFA past its deadline"},
			}}},
		},
		History: series(r.AccountID, 8),
	}
	return in
}

// series is n weekly scans of an account ending at generatedAt, open findings falling.
func series(account string, n int) []history.Meta {
	var out []history.Meta
	for i := range n {
		at := generatedAt.Add(-time.Duration(n-1-i) * 7 * 24 * time.Hour)
		left := n - i
		out = append(out, history.Meta{
			ID: fmt.Sprintf("01J%03d", i), AccountID: account, Kind: history.KindScan, RecordedAt: at, AsOf: at,
			OpenBySeverity: map[string]int{"critical": 1, "high": 4 + left, "medium": 10 + 2*left, "low": 8 + left},
			OpenByRule: map[string]int{"root-access-key": 1, "mfa-not-enforced": 3 + left, "console-mfa-missing": 1 + left%3,
				"password-unused": 4 + left, "access-key-not-rotated": 5 + left, "user-mfa-missing": 8 + left},
		})
	}
	return out
}
