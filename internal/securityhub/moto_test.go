package securityhub_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/securityhub"
)

// scanOf judges the users as the scan does, with the rules that fire on them.
func scanOf(t *testing.T, acct string, at time.Time, users ...inventory.User) *report.Result {
	t.Helper()
	rs, err := rules.Select(map[string]bool{"console-mfa-missing": true, "access-key-not-rotated": true})
	if err != nil {
		t.Fatal(err)
	}
	env := rules.Env{AsOf: at, Thresholds: rules.DefaultThresholds()}
	res := &report.Result{AccountID: acct, GeneratedAt: at, AsOf: at, DataReadAt: at}
	for i := range users {
		res.Findings = append(res.Findings, rules.Evaluate(env, acct, &users[i], rs, nil)...)
	}
	return res
}

// heldFindings reads every finding of the account. moto's GetFindings ignores Filters and
// SortCriteria (it returns all the account's findings in the region, in import order), so the
// caller picks by Id; it pages as AWS does.
func heldFindings(t *testing.T, client *sdk.Client) map[string]types.AwsSecurityFinding {
	t.Helper()
	out := map[string]types.AwsSecurityFinding{}
	p := sdk.NewGetFindingsPaginator(client, &sdk.GetFindingsInput{MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("GetFindings: %v", err)
		}
		for _, f := range page.Findings {
			out[aws.ToString(f.Id)] = f
		}
	}
	return out
}

// Against moto's Security Hub: an import, then a rescan in which a user was fixed archives that
// user's finding as passed and keeps its creation time.
//
// moto differs from AWS here, none of which the lifecycle relies on: its BatchImportFindings
// does not need Security Hub enabled (AWS refuses each finding with InvalidAccess), checks no
// ASFF field but Resources, no batch or size limit and not that AwsAccountId is the caller's;
// an update replaces the finding's top-level fields with those sent, CreatedAt and Workflow
// included (AWS keeps Workflow after creation; Sync itself sends the first import's CreatedAt
// and an UpdatedAt that only moves forward, so both behave alike); it never moves Workflow to
// RESOLVED on archiving. The test enables Security Hub anyway, as AWS needs.
func TestMotoSecurityHub(t *testing.T) {
	ctx := context.Background()
	srv := mototest.Shared(t)
	acct := srv.AccountID
	client := sdk.NewFromConfig(srv.Config(ctx))
	if _, err := client.EnableSecurityHub(ctx, &sdk.EnableSecurityHubInput{EnableDefaultStandards: aws.Bool(false)}); err != nil {
		t.Fatalf("EnableSecurityHub: %v", err)
	}
	store := securityhub.NewFileStore(t.TempDir())
	day1 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

	alice := inventory.User{Name: "alice", ARN: "arn:aws:iam::" + acct + ":user/alice", ID: "AIDAALICE0000000000001", Path: "/",
		Created: day1.AddDate(-1, 0, 0), Password: inventory.Password{Enabled: true, LastChanged: day1.AddDate(0, -2, 0)}}
	bob := inventory.User{Name: "bob", ARN: "arn:aws:iam::" + acct + ":user/bob", ID: "AIDABOB00000000000001", Path: "/",
		Created:    day1.AddDate(-2, 0, 0),
		AccessKeys: []inventory.AccessKey{{Slot: 1, ID: "AKIABOBKEY0000000001", Active: true, Created: day1.AddDate(-1, 0, 0)}}}
	o := securityhub.Options{Region: mototest.Region}

	res := scanOf(t, acct, day1, alice, bob)
	o.Principals = []*inventory.User{&alice, &bob}
	fs := securityhub.Findings(res, o)
	if len(fs) != 2 {
		t.Fatalf("scan gave %d findings, want alice's and bob's", len(fs))
	}
	rep, err := securityhub.Sync(ctx, client, store, acct, mototest.Region, fs, day1.Add(time.Minute))
	if err != nil || rep.Created != 2 || len(rep.Failed) != 0 {
		t.Fatalf("first Sync = %+v, %v", rep, err)
	}
	aliceID := "iamwarden/" + acct + "/console-mfa-missing/AIDAALICE0000000000001"
	bobID := "iamwarden/" + acct + "/access-key-not-rotated/AKIABOBKEY0000000001"
	first := heldFindings(t, client)
	if got := keysOf(first); !slices.Equal(got, []string{bobID, aliceID}) {
		t.Fatalf("held after the first import: %v", got)
	}
	for id, f := range first {
		if f.RecordState != types.RecordStateActive || f.Compliance.Status != types.ComplianceStatusFailed {
			t.Errorf("%s: %s %s, want ACTIVE FAILED", id, f.RecordState, f.Compliance.Status)
		}
		checkRequiredSDK(t, f)
	}
	if k := first[bobID].Resources[0].Details.AwsIamAccessKey; aws.ToString(k.AccessKeyId) != "AKIABOBKEY0000000001" || k.Status != types.AwsIamAccessKeyStatusActive {
		t.Errorf("bob's key as held: %+v", k)
	}

	// Alice registers an MFA device; the next day's scan no longer reports her.
	day2 := day1.AddDate(0, 0, 1)
	alice.MFA = inventory.MFA{Active: true}
	fs = securityhub.Findings(scanOf(t, acct, day2, alice, bob), o)
	rep, err = securityhub.Sync(ctx, client, store, acct, mototest.Region, fs, day2.Add(time.Minute))
	if err != nil || rep.Updated != 1 || rep.Resolved != 1 || len(rep.Failed) != 0 {
		t.Fatalf("second Sync = %+v, %v", rep, err)
	}
	second := heldFindings(t, client)
	a := second[aliceID]
	if a.RecordState != types.RecordStateArchived || a.Compliance == nil || a.Compliance.Status != types.ComplianceStatusPassed {
		t.Errorf("alice's finding: %s %v, want ARCHIVED PASSED", a.RecordState, a.Compliance)
	}
	for id, f := range second {
		if aws.ToString(f.CreatedAt) != aws.ToString(first[id].CreatedAt) || aws.ToString(f.FirstObservedAt) != aws.ToString(first[id].FirstObservedAt) {
			t.Errorf("%s: CreatedAt %s FirstObservedAt %s, want the first import's %s %s", id,
				aws.ToString(f.CreatedAt), aws.ToString(f.FirstObservedAt), aws.ToString(first[id].CreatedAt), aws.ToString(first[id].FirstObservedAt))
		}
		if !parse(t, f.UpdatedAt).After(parse(t, first[id].UpdatedAt)) {
			t.Errorf("%s: UpdatedAt %s not after %s", id, aws.ToString(f.UpdatedAt), aws.ToString(first[id].UpdatedAt))
		}
	}
	if b := second[bobID]; b.RecordState != types.RecordStateActive || aws.ToString(b.LastObservedAt) != securityhub.FormatTime(day2) {
		t.Errorf("bob's finding: %s, LastObservedAt %s; want ACTIVE, seen %s", b.RecordState, aws.ToString(b.LastObservedAt), securityhub.FormatTime(day2))
	}
	st, err := store.Load(ctx, acct, mototest.Region)
	if err != nil || !slices.Equal(keysOf(st.Findings), []string{bobID}) {
		t.Errorf("state = %v, %v; want bob's finding only", keysOf(st.Findings), err)
	}
}

// keysOf lists a map's keys in order.
func keysOf[V any](m map[string]V) []string { return keys(m) }

func parse(t *testing.T, s *string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, aws.ToString(s))
	if err != nil {
		t.Fatalf("timestamp %q: %v", aws.ToString(s), err)
	}
	return at
}
