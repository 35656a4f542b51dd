package htmlreport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/journal/journaltest"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/report/htmlreport"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestLatestFromHistory(t *testing.T) {
	ctx := context.Background()
	h := history.NewStore(&journaltest.Runs{}, func() time.Time { return generatedAt })
	demo := demoResult(t)
	other := report.Result{AccountID: "222233334444", AccountAlias: "staging", Findings: []rules.Finding{
		{ID: "222233334444/password-unused/old", Rule: "password-unused", Severity: rules.SeverityMedium, State: rules.StateViolation, Principal: "old"}}}
	other.Count(1)
	for i := range 4 {
		at := generatedAt.Add(-time.Duration(3-i) * 24 * time.Hour)
		r := *demo
		r.Findings = demo.Findings[:len(demo.Findings)-3+i] // a finding more each day, all of them last
		r.Count(30)
		rec := history.Record{Kind: history.KindScan, Source: history.SourceCLI, RecordedAt: at, Result: r}
		if i == 3 {
			rec.Kind, rec.Actions = history.KindEnforce, &history.Actions{Planned: 4, Done: 3, Failed: 1}
		}
		if _, err := h.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Put(ctx, history.Record{Kind: history.KindScan, Source: history.SourceLambda, RecordedAt: at.Add(time.Hour), Result: other}); err != nil {
			t.Fatal(err)
		}
	}

	accounts, series, err := htmlreport.Latest(ctx, h, nil, generatedAt.Add(-36*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 2 || accounts[0].AccountID != demo.AccountID || accounts[1].AccountID != "222233334444" {
		t.Fatalf("accounts: %+v", accounts)
	}
	if got := len(accounts[0].Result.Findings); got != len(demo.Findings) {
		t.Errorf("newest record of the demo account has %d findings, want %d", got, len(demo.Findings))
	}
	if e := accounts[0].Enforce; e == nil || e.Done != 3 || e.Failed != 1 || e.Planned != 4 {
		t.Errorf("enforce of the newest record: %+v", e)
	}
	if len(series) != 4 { // the last two days of both accounts
		t.Errorf("series since 36 hours ago: %d records, want 4", len(series))
	}

	only, _, err := htmlreport.Latest(ctx, h, []string{"222233334444"}, time.Time{})
	if err != nil || len(only) != 1 || only[0].Name != "staging" {
		t.Errorf("one account: %+v, %v", only, err)
	}
	all, err := htmlreport.Series(ctx, h, []string{demo.AccountID, demo.AccountID}, time.Time{})
	if err != nil || len(all) != 4 {
		t.Errorf("series of the demo account: %d records, %v", len(all), err)
	}

	// The page charts them.
	var b bytes.Buffer
	if err := htmlreport.Write(&b, htmlreport.Input{GeneratedAt: generatedAt, Accounts: accounts, History: series}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "4 recorded runs of 2 accounts") {
		t.Error("the charts do not describe the series")
	}
}

func TestDecode(t *testing.T) {
	scan, err := json.Marshal(demoResult(t))
	if err != nil {
		t.Fatal(err)
	}
	var org bytes.Buffer
	ow := report.NewOrgWriter(&org, report.FormatJSON)
	if err := ow.Add(report.AccountResult{AccountID: "123456789012", AccountName: "prod", Status: report.AccountOK, Result: demoResult(t)}); err != nil {
		t.Fatal(err)
	}
	if err := ow.Add(report.AccountResult{AccountID: "999988887777", Status: report.AccountFailed, Error: "access denied"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ow.Close(); err != nil {
		t.Fatal(err)
	}
	enforce := `{"account_id": "123456789012", "account_alias": "acme-prod", "dry_run": true, "partial": false, "errors": [],
	  "plan": {"account_id": "123456789012", "account_alias": "acme-prod", "actions": [
	    {"kind": "deactivate-key", "account_id": "123456789012", "principal": "hana.sato", "principal_arn": "arn:aws:iam::123456789012:user/hana.sato",
	     "resource": "AKIALTT72SV5NISCXPSV", "rule": "access-key-unused", "finding_id": "123456789012/access-key-unused/hana.sato/AKIALTT72SV5NISCXPSV",
	     "severity": "medium", "reason": "unused for 100 days"},
	    {"kind": "deactivate-key", "account_id": "123456789012", "principal": "k", "rule": "access-key-unused", "finding_id": "123456789012/access-key-unused/k/access_key_2",
	     "resource": "access_key_2", "severity": "medium", "reason": "unused", "refusal": "the key ID is unknown"}],
	   "notify_only": [], "pending": [{"id": "123456789012/console-mfa-missing/fatima.rahman", "rule": "console-mfa-missing", "severity": "high",
	     "state": "pending", "deadline": "2026-11-21T03:00:00Z", "principal": "fatima.rahman", "principal_arn": "", "controls": [], "title": "t", "detail": "d"}]},
	  "outcome": {"run_id": "", "dry_run": true, "results": [{"action": {"kind": "deactivate-key", "principal": "hana.sato", "resource": "AKIALTT72SV5NISCXPSV",
	    "rule": "access-key-unused"}, "status": "would-do", "detail": "still unused"}], "reconciled": [], "warnings": []}}`
	orgEnforce := `{"dry_run": false, "accounts": [{"account_id": "123456789012", "account_name": "prod", "status": "ok",
	  "plan": {"account_id": "123456789012", "actions": [], "notify_only": [], "pending": []},
	  "outcome": {"run_id": "r1", "dry_run": false, "results": [], "reconciled": [], "warnings": []}},
	  {"account_id": "999988887777", "account_name": "sandbox", "status": "failed", "error": "assume role: denied"}],
	  "totals": {"accounts": 2}}`

	for _, c := range []struct {
		name, doc string
		check     func(t *testing.T, as []htmlreport.Account)
	}{
		{"scan", string(scan), func(t *testing.T, as []htmlreport.Account) {
			if len(as) != 1 || as[0].Result == nil || len(as[0].Result.Findings) != 36 || as[0].FromPlan {
				t.Errorf("%+v", as)
			}
		}},
		{"organization scan", org.String(), func(t *testing.T, as []htmlreport.Account) {
			if len(as) != 2 || as[0].Name != "prod" || as[0].Result == nil || as[1].Status != report.AccountFailed || as[1].Error != "access denied" {
				t.Errorf("%+v", as)
			}
		}},
		{"enforce", enforce, func(t *testing.T, as []htmlreport.Account) {
			a := as[0]
			if len(as) != 1 || a.Enforce == nil || !a.Enforce.DryRun || a.Enforce.Planned != 1 || len(a.Enforce.Actions) != 1 || a.Enforce.Actions[0].Status != "would-do" {
				t.Fatalf("%+v %+v", as, a.Enforce)
			}
			if !a.FromPlan || len(a.Result.Findings) != 3 || a.Result.Summary.Violations != 2 || a.Result.Summary.Pending != 1 || a.Result.Summary.Users != 3 {
				t.Errorf("findings from the plan: %+v", a.Result)
			}
		}},
		{"organization enforce", orgEnforce, func(t *testing.T, as []htmlreport.Account) {
			if len(as) != 2 || as[0].Enforce == nil || as[0].Enforce.DryRun || as[1].Status != report.AccountFailed || as[1].Result != nil {
				t.Errorf("%+v", as)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			as, err := htmlreport.Decode("in.json", []byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, as)
		})
	}

	for _, c := range []struct{ name, doc, want string }{
		{"malformed", `{"findings": [`, "in.json: malformed JSON"},
		{"empty", ``, "in.json: malformed JSON"},
		{"array", `[1, 2]`, "in.json: not a JSON document of iamwarden scan -o json, scan --org -o json or enforce -o json: expected a JSON object, not an array"},
		{"other object", `{"Version": "2012-10-17", "Statement": []}`, "expected an object with account_id and findings (scan), accounts and totals (organization scan or enforce), or account_id and plan (enforce); its fields are Statement, Version"},
		{"wrong types", `{"account_id": "1", "findings": {"a": 1}}`, "in.json: json: cannot unmarshal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := htmlreport.Decode("in.json", []byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if c.name == "array" || c.name == "other object" {
				if !errors.Is(err, htmlreport.ErrUnknownDocument) {
					t.Errorf("%v is not ErrUnknownDocument", err)
				}
			}
		})
	}
}

func TestMerge(t *testing.T) {
	old, cur := demoResult(t), demoResult(t)
	cur.GeneratedAt = old.GeneratedAt.Add(time.Hour)
	cur.Findings = cur.Findings[:5]
	plan := htmlreport.Account{AccountID: old.AccountID, FromPlan: true, Result: &report.Result{AccountID: old.AccountID}, Enforce: &htmlreport.Enforce{Done: 2}}
	other := htmlreport.Account{AccountID: "000011112222"}
	got := htmlreport.Merge(
		[]htmlreport.Account{{AccountID: old.AccountID, Result: old}},
		[]htmlreport.Account{plan, other},
		[]htmlreport.Account{{AccountID: cur.AccountID, Result: cur}},
	)
	if len(got) != 2 || got[0].AccountID != "000011112222" {
		t.Fatalf("%+v", got)
	}
	a := got[1]
	if a.FromPlan || len(a.Result.Findings) != 5 || a.Enforce == nil || a.Enforce.Done != 2 {
		t.Errorf("merged: the newest scan with the enforce outcome, got %d findings, from plan %v, enforce %+v", len(a.Result.Findings), a.FromPlan, a.Enforce)
	}
}
