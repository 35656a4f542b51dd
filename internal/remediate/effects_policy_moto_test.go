package remediate_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/remediate"
)

// Intents of policy apply left open by a crash are settled from live state: the membership that
// was made counts as done, the default version that was not set as not done.
func TestReconcilePolicyApplyIntents(t *testing.T) {
	ctx := context.Background()
	srv := mototest.Shared(t)
	c := iam.NewFromConfig(srv.Config(ctx))
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	u, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	must(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("ForceMfaAccess")}))
	must(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("ForceMfaAccess"), UserName: aws.String("alice")}))
	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("EnforceMFA"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	must(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: pol.Policy.Arn,
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}`)}))

	j, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	now := time.Now()
	intents := []journal.Entry{
		{ActionID: "01AAAAAAAAAAAAAAAAAAAAAAA1", RunID: "run", AccountID: srv.AccountID, Kind: journal.KindAddToGroup, Principal: "alice",
			UserID: aws.ToString(u.User.UserId), Resource: "ForceMfaAccess", CreatedAt: now},
		{ActionID: "01AAAAAAAAAAAAAAAAAAAAAAA2", RunID: "run", AccountID: srv.AccountID, Kind: journal.KindSetPolicyVersion,
			Resource: aws.ToString(pol.Policy.Arn), Prior: map[string]string{remediate.PriorDefaultVersion: "v1", remediate.PriorNewVersion: "v2"}, CreatedAt: now},
	}
	for _, en := range intents {
		if err := j.Begin(ctx, en); err != nil {
			t.Fatal(err)
		}
	}
	ex := &remediate.Executor{IAM: c, Journal: j, Now: time.Now, IDs: journal.NewIDGenerator(time.Now, nil)}
	settled, err := ex.Reconcile(ctx, srv.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[journal.Kind]journal.Status{journal.KindAddToGroup: journal.StatusReconciledDone, journal.KindSetPolicyVersion: journal.StatusReconciledNotDone}
	if len(settled) != 2 {
		t.Fatalf("settled %+v", settled)
	}
	for _, en := range settled {
		if en.Status != want[en.Kind] {
			t.Errorf("%s: %s (%s), want %s", en.Kind, en.Status, en.Detail, want[en.Kind])
		}
	}
}
