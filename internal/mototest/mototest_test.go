package mototest_test

import (
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/mototest"
)

func clients(t *testing.T) (*mototest.Server, *iam.Client) {
	t.Helper()
	srv := mototest.Shared(t)
	return srv, iam.NewFromConfig(srv.Config(context.Background()))
}

// report generates and reads the credential report, returning its rows by user name.
func report(t *testing.T, c *iam.Client) (map[string]map[string]string, *iam.GetCredentialReportOutput) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		t.Fatalf("GenerateCredentialReport: %v", err)
	}
	out, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatalf("GetCredentialReport: %v", err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(out.Content))).ReadAll()
	if err != nil {
		t.Fatalf("report is not CSV: %v\n%s", err, out.Content)
	}
	rows := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, col := range recs[0] {
			row[col] = rec[i]
		}
		rows[rec[0]] = row
	}
	return rows, out
}

// must returns v, or fails the test naming the call when err is set.
func must[T any](v T, err error) func(t *testing.T, what string) T {
	return func(t *testing.T, what string) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func TestCredentialReportShowsAgedCredentials(t *testing.T) {
	srv, c := clients(t)
	ctx := context.Background()
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}))(t, "CreateUser")
	must(c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("Secret-123456")}))(t, "CreateLoginProfile")
	key := must(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}))(t, "CreateAccessKey")
	keyID := aws.ToString(key.AccessKey.AccessKeyId)

	created := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	pwSet := time.Date(2023, 2, 1, 0, 0, 0, 0, time.UTC)
	pwUsed := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	keyCreated := time.Date(2023, 1, 3, 0, 0, 0, 0, time.UTC)
	keyUsed := time.Date(2024, 4, 5, 6, 7, 8, 0, time.UTC)
	srv.BackdateUser("alice", created)
	srv.SetPassword("alice", pwSet, pwUsed)
	if got := srv.SetAccessKey("alice", keyID, keyCreated, keyUsed, "s3", "eu-west-1"); got != keyID {
		t.Fatalf("SetAccessKey changed key %s, want %s", got, keyID)
	}

	rows, _ := report(t, c)
	row := rows["alice"]
	want := map[string]string{
		"user_creation_time":             "2023-01-02T03:04:05+00:00",
		"password_enabled":               "true",
		"password_last_used":             "2024-03-01T12:00:00+00:00",
		"password_last_changed":          "2023-02-01T00:00:00+00:00",
		"mfa_active":                     "false",
		"access_key_1_active":            "true",
		"access_key_1_last_rotated":      "2023-01-03T00:00:00+00:00",
		"access_key_1_last_used_date":    "2024-04-05T06:07:08+00:00",
		"access_key_1_last_used_region":  "eu-west-1",
		"access_key_1_last_used_service": "s3",
		"access_key_2_active":            "false",
		"access_key_2_last_used_date":    "N/A",
	}
	for col, v := range want {
		if row[col] != v {
			t.Errorf("%s = %q, want %q", col, row[col], v)
		}
	}

	lp := must(c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("alice")}))(t, "GetLoginProfile")
	if got := aws.ToTime(lp.LoginProfile.CreateDate); !got.Equal(pwSet) {
		t.Errorf("GetLoginProfile CreateDate = %v, want %v", got, pwSet)
	}
	lu := must(c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(keyID)}))(t, "GetAccessKeyLastUsed")
	if got := aws.ToTime(lu.AccessKeyLastUsed.LastUsedDate); !got.Equal(keyUsed) {
		t.Errorf("GetAccessKeyLastUsed date = %v, want %v", got, keyUsed)
	}
	if s, r := aws.ToString(lu.AccessKeyLastUsed.ServiceName), aws.ToString(lu.AccessKeyLastUsed.Region); s != "s3" || r != "eu-west-1" {
		t.Errorf("GetAccessKeyLastUsed service/region = %s/%s, want s3/eu-west-1", s, r)
	}
}

func TestPasswordResetKeepsProfileCreation(t *testing.T) {
	srv, c := clients(t)
	ctx := context.Background()
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}))(t, "CreateUser")
	profile := time.Date(2022, 5, 1, 0, 0, 0, 0, time.UTC)
	reset := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	srv.SetPasswordProfile("bob", profile, reset, time.Time{})

	rows, _ := report(t, c)
	if got := rows["bob"]["password_last_changed"]; got != "2024-05-01T00:00:00+00:00" {
		t.Errorf("password_last_changed = %q", got)
	}
	if got := rows["bob"]["password_last_used"]; got != "no_information" {
		t.Errorf("password_last_used = %q, want no_information", got)
	}
	lp := must(c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("bob")}))(t, "GetLoginProfile")
	if got := aws.ToTime(lp.LoginProfile.CreateDate); !got.Equal(profile) {
		t.Errorf("GetLoginProfile CreateDate = %v, want %v", got, profile)
	}
}

func TestRootRow(t *testing.T) {
	srv, c := clients(t)
	srv.SetRoot(mototest.RootSpec{
		Created:          time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC),
		PasswordLastUsed: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Keys: []mototest.RootKey{{
			Active: true, Rotated: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
			LastUsed: time.Date(2024, 2, 2, 0, 0, 0, 0, time.UTC), Service: "ec2", Region: "ap-northeast-1",
		}},
	})
	srv.SeedUsers(mototest.SeedSpec{Count: 1})

	rows, out := report(t, c)
	recs, _ := csv.NewReader(strings.NewReader(string(out.Content))).ReadAll()
	if recs[1][0] != "<root_account>" {
		t.Fatalf("first row is %q, want <root_account>", recs[1][0])
	}
	root := rows["<root_account>"]
	want := map[string]string{
		"arn":                            "arn:aws:iam::" + srv.AccountID + ":root",
		"user_creation_time":             "2019-01-01T00:00:00+00:00",
		"password_enabled":               "not_supported",
		"password_last_used":             "2024-01-01T00:00:00+00:00",
		"mfa_active":                     "false",
		"access_key_1_active":            "true",
		"access_key_1_last_rotated":      "2020-01-01T00:00:00+00:00",
		"access_key_1_last_used_date":    "2024-02-02T00:00:00+00:00",
		"access_key_1_last_used_service": "ec2",
		"access_key_1_last_used_region":  "ap-northeast-1",
		"access_key_2_active":            "false",
	}
	for col, v := range want {
		if root[col] != v {
			t.Errorf("root %s = %q, want %q", col, root[col], v)
		}
	}
	if _, ok := rows["user-00000"]; !ok {
		t.Errorf("seeded user missing from report")
	}
}

func TestReportGenerationStates(t *testing.T) {
	srv, c := clients(t)
	ctx := context.Background()
	srv.SetReport(mototest.ReportSpec{Polls: 2})

	if _, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{}); !errors.As(err, new(*types.CredentialReportNotPresentException)) {
		t.Fatalf("before generation: err = %v, want ReportNotPresent", err)
	}
	for i, want := range []types.ReportStateType{types.ReportStateTypeStarted, types.ReportStateTypeInprogress, types.ReportStateTypeComplete} {
		out := must(c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}))(t, "GenerateCredentialReport")
		if out.State != want {
			t.Fatalf("call %d: state %s, want %s", i+1, out.State, want)
		}
		_, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		if want != types.ReportStateTypeComplete && !errors.As(err, new(*types.CredentialReportNotReadyException)) {
			t.Fatalf("call %d: GetCredentialReport err = %v, want ReportInProgress", i+1, err)
		}
		if want == types.ReportStateTypeComplete && err != nil {
			t.Fatalf("complete report: %v", err)
		}
	}
	out := must(c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{}))(t, "GetCredentialReport")
	if out.GeneratedTime == nil || time.Since(*out.GeneratedTime) > time.Hour || out.GeneratedTime.Nanosecond() != 0 {
		t.Errorf("GeneratedTime = %v, want a recent whole second", out.GeneratedTime)
	}

	srv.SetReport(mototest.ReportSpec{Expired: true})
	if _, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{}); !errors.As(err, new(*types.CredentialReportExpiredException)) {
		t.Fatalf("expired: err = %v, want ReportExpired", err)
	}
	gen := must(c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}))(t, "GenerateCredentialReport")
	if gen.State != types.ReportStateTypeStarted {
		t.Fatalf("after expiry: state %s, want STARTED", gen.State)
	}
	must(c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{}))(t, "GetCredentialReport")
}

func TestAuthorizationDetailsPaginate(t *testing.T) {
	srv, c := clients(t)
	ctx := context.Background()
	srv.SeedUsers(mototest.SeedSpec{Count: 7, Group: "devs", Tags: map[string]string{"team": "a"}})
	must(c.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName:     aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`),
	}))(t, "CreatePolicy")

	in := &iam.GetAccountAuthorizationDetailsInput{
		Filter:   []types.EntityType{types.EntityTypeUser, types.EntityTypeGroup, types.EntityTypeLocalManagedPolicy},
		MaxItems: aws.Int32(3),
	}
	p := iam.NewGetAccountAuthorizationDetailsPaginator(c, in)
	var pages, users, groups, policies int
	for p.HasMorePages() {
		out := must(p.NextPage(ctx))(t, "GetAccountAuthorizationDetails")
		pages++
		if n := len(out.UserDetailList) + len(out.GroupDetailList) + len(out.Policies); n > 3 {
			t.Fatalf("page %d has %d items, MaxItems is 3", pages, n)
		}
		for _, u := range out.UserDetailList {
			if len(u.GroupList) != 1 || len(u.Tags) != 1 {
				t.Errorf("user %s: groups %v tags %v", aws.ToString(u.UserName), u.GroupList, u.Tags)
			}
		}
		users += len(out.UserDetailList)
		groups += len(out.GroupDetailList)
		policies += len(out.Policies)
	}
	if users != 7 || groups != 1 || policies != 1 || pages != 3 {
		t.Errorf("got %d users, %d groups, %d policies in %d pages; want 7, 1, 1 in 3", users, groups, policies, pages)
	}
}

func TestVirtualMFADevicesPaginate(t *testing.T) {
	srv, c := clients(t)
	ctx := context.Background()
	srv.SeedUsers(mototest.SeedSpec{Count: 10, MFAEvery: 2})
	must(c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("spare")}))(t, "CreateVirtualMFADevice")

	p := iam.NewListVirtualMFADevicesPaginator(c, &iam.ListVirtualMFADevicesInput{
		AssignmentStatus: types.AssignmentStatusTypeAssigned, MaxItems: aws.Int32(2),
	})
	var pages int
	seen := map[string]bool{}
	for p.HasMorePages() {
		out := must(p.NextPage(ctx))(t, "ListVirtualMFADevices")
		pages++
		for _, d := range out.VirtualMFADevices {
			if d.User == nil || d.EnableDate == nil {
				t.Fatalf("assigned device %s without user or enable date", aws.ToString(d.SerialNumber))
			}
			seen[aws.ToString(d.User.UserName)] = true
		}
	}
	if len(seen) != 5 || pages != 3 {
		t.Errorf("got %d users with devices in %d pages, want 5 in 3", len(seen), pages)
	}
	for i := 0; i < 10; i += 2 {
		if !seen[mototest.SeedSpec{}.Name(i)] {
			t.Errorf("%s has no device", mototest.SeedSpec{}.Name(i))
		}
	}
}

func TestAccountsAreIsolated(t *testing.T) {
	a, ca := clients(t)
	b, cb := clients(t)
	if a.AccountID == b.AccountID {
		t.Fatalf("two handles share account %s", a.AccountID)
	}
	a.SeedUsers(mototest.SeedSpec{Count: 3})
	ctx := context.Background()
	la := must(ca.ListUsers(ctx, &iam.ListUsersInput{}))(t, "ListUsers")
	lb := must(cb.ListUsers(ctx, &iam.ListUsersInput{}))(t, "ListUsers")
	if len(la.Users) != 3 || len(lb.Users) != 0 {
		t.Errorf("account a has %d users, b %d; want 3 and 0", len(la.Users), len(lb.Users))
	}
	id := must(sts.NewFromConfig(a.Config(ctx)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))(t, "GetCallerIdentity")
	if aws.ToString(id.Account) != a.AccountID {
		t.Errorf("caller account %s, want %s", aws.ToString(id.Account), a.AccountID)
	}
}

func TestStartAndReset(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	c := iam.NewFromConfig(srv.Config(ctx))
	srv.SeedUsers(mototest.SeedSpec{Count: 2})
	srv.Reset()
	out := must(c.ListUsers(ctx, &iam.ListUsersInput{}))(t, "ListUsers")
	if len(out.Users) != 0 {
		t.Errorf("after reset %d users remain", len(out.Users))
	}
}
