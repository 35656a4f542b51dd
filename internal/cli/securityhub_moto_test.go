package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	sdk "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/report"
)

// findingsIn reads the account's Security Hub findings by Id (moto's GetFindings ignores
// filters).
func findingsIn(t *testing.T, c *sdk.Client) map[string]types.AwsSecurityFinding {
	t.Helper()
	out := map[string]types.AwsSecurityFinding{}
	p := sdk.NewGetFindingsPaginator(c, &sdk.GetFindingsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page.Findings {
			out[aws.ToString(f.Id)] = f
		}
	}
	return out
}

func TestScanSecurityHubArchivesWhatWasFixed(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	state := t.TempDir()
	env := s.env(nil)
	env.Getenv = func(k string) string {
		if k == "XDG_STATE_HOME" {
			return state
		}
		return ""
	}
	code, _, stderr := run(t, env, "scan", "--security-hub", "-o", "json", "--rule", "console-mfa-missing")
	if code != report.ExitViolations || !strings.Contains(stderr, "imported") {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	hub := sdk.NewFromConfig(s.cfg)
	alice, err := iam.NewFromConfig(s.cfg).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	id := "iamwarden/" + s.srv.AccountID + "/console-mfa-missing/" + aws.ToString(alice.User.UserId)
	before, ok := findingsIn(t, hub)[id]
	if !ok || before.Compliance.Status != types.ComplianceStatusFailed || before.RecordState != types.RecordStateActive {
		t.Fatalf("alice's finding %s after the first import: %+v (present %v)", id, before.Compliance, ok)
	}

	// alice registers MFA and carol is exempted; the next scan archives both findings as passed,
	// keeping their creation.
	s.srv.EnableVirtualMFA(iam.NewFromConfig(s.cfg), "alice", "alice-phone")
	carol, err := iam.NewFromConfig(s.cfg).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("carol")})
	if err != nil {
		t.Fatal(err)
	}
	carolID := "iamwarden/" + s.srv.AccountID + "/console-mfa-missing/" + aws.ToString(carol.User.UserId)
	if _, ok := findingsIn(t, hub)[carolID]; !ok {
		t.Fatalf("no finding %s for carol after the first import", carolID)
	}
	if _, err := iam.NewFromConfig(s.cfg).TagUser(ctx, &iam.TagUserInput{UserName: aws.String("carol"), Tags: []iamtypes.Tag{
		{Key: aws.String("iamwarden:exempt-reason"), Value: aws.String("vendor account, INC-7")},
		{Key: aws.String("iamwarden:exempt-until"), Value: aws.String(time.Now().AddDate(0, 1, 0).Format("2006-01-02"))},
	}}); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr = run(t, env, "scan", "--security-hub", "-o", "json", "--rule", "console-mfa-missing"); !strings.Contains(stderr, "2 archived as fixed") {
		t.Fatalf("second scan (exit %d): %s", code, stderr)
	}
	after := findingsIn(t, hub)[id]
	if after.RecordState != types.RecordStateArchived || after.Compliance.Status != types.ComplianceStatusPassed ||
		aws.ToString(after.CreatedAt) != aws.ToString(before.CreatedAt) || aws.ToString(after.UpdatedAt) <= aws.ToString(before.UpdatedAt) {
		t.Errorf("after the fix: state %s, compliance %s, created %s (was %s), updated %s (was %s)", after.RecordState, after.Compliance.Status,
			aws.ToString(after.CreatedAt), aws.ToString(before.CreatedAt), aws.ToString(after.UpdatedAt), aws.ToString(before.UpdatedAt))
	}
	if c := findingsIn(t, hub)[carolID]; c.RecordState != types.RecordStateArchived || c.Compliance.Status != types.ComplianceStatusPassed {
		t.Errorf("carol exempted: state %s, compliance %s; want archived as passed", c.RecordState, c.Compliance.Status)
	}
}

func TestScanASFF(t *testing.T) {
	_, jsonOut, _ := run(t, cli.Env{}, "scan", "--from", demo, "-o", "json")
	want := len(decode(t, jsonOut).Findings)
	_, out, stderr := run(t, cli.Env{}, "scan", "--from", demo, "-o", "asff")
	var fs []map[string]any
	if err := json.Unmarshal([]byte(out), &fs); err != nil || len(fs) != want {
		t.Fatalf("%d ASFF findings, %v, want %d; stderr %s", len(fs), err, want, stderr)
	}
	for _, f := range fs {
		if f["SchemaVersion"] != "2018-10-08" || !strings.HasPrefix(f["Id"].(string), "iamwarden/") {
			t.Fatalf("finding %v", f)
		}
	}
}

func TestScanOrganizationIntoEachSecurityHub(t *testing.T) {
	s := newFleetScenario(t)
	state := t.TempDir()
	env := s.env()
	env.Getenv = func(k string) string {
		if k == "XDG_STATE_HOME" {
			return state
		}
		return ""
	}
	_, out, stderr := run(t, env, "scan", "--org", "--accounts", s.prod+","+s.sandbox, "--external-id", externalID, "--security-hub", "-o", "json")
	d := decodeOrg(t, out)
	for _, a := range d.Accounts {
		if a.SecurityHub == nil || a.SecurityHub.Imported == 0 || a.Status != report.AccountOK {
			t.Fatalf("account %s: %+v; stderr %s", a.AccountID, a, stderr)
		}
		hub := sdk.NewFromConfig(s.mgmt.Account(a.AccountID).Config(context.Background()))
		fs := findingsIn(t, hub)
		if len(fs) != a.SecurityHub.Imported {
			t.Errorf("account %s holds %d findings, %d imported", a.AccountID, len(fs), a.SecurityHub.Imported)
		}
		for id, f := range fs {
			if aws.ToString(f.AwsAccountId) != a.AccountID || !strings.Contains(id, "/"+a.AccountID+"/") {
				t.Errorf("account %s holds finding %s of account %s", a.AccountID, id, aws.ToString(f.AwsAccountId))
			}
		}
	}
}
