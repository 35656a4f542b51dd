package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/policy/generate"
)

type applyOut struct {
	DryRun bool `json:"dry_run"`
	Plan   struct {
		AccountID string `json:"account_id"`
		PolicyARN string `json:"policy_arn"`
		Steps     []struct {
			Call   string `json:"call"`
			Target string `json:"target"`
			Status string `json:"status"`
		} `json:"steps"`
		Members []string `json:"already_members"`
	} `json:"plan"`
}

func (o applyOut) calls() []string {
	var out []string
	for _, s := range o.Plan.Steps {
		out = append(out, s.Call+" "+s.Target+" "+s.Status)
	}
	return out
}

func members(t *testing.T, c *iam.Client, group string) []string {
	t.Helper()
	out, err := c.GetGroup(context.Background(), &iam.GetGroupInput{GroupName: aws.String(group)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range out.Users {
		names = append(names, aws.ToString(u.UserName))
	}
	sort.Strings(names)
	return names
}

func TestPolicyApply(t *testing.T) {
	ctx := context.Background()
	srv := mototest.Shared(t)
	cfg := srv.Config(ctx)
	c := iam.NewFromConfig(cfg)
	now := time.Now().UTC()
	ok := noErr(t)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		ok(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)}))
	}
	srv.SetPassword("alice", now.Add(-10*day), time.Time{}) // console, no MFA
	srv.SetPassword("bob", now.Add(-10*day), time.Time{})   // console with MFA
	dev, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("bob-phone")})
	if err != nil {
		t.Fatal(err)
	}
	ok(c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("bob"), SerialNumber: dev.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")}))
	srv.SetPassword("dave", now.Add(-2*day), time.Time{}) // console, no MFA; carol has no password

	env := cli.Env{Now: time.Now, AWSConfig: func(context.Context, string, string) (aws.Config, error) { return cfg.Copy(), nil }}
	apply := func(extra ...string) (int, applyOut, string) {
		t.Helper()
		args := append([]string{"policy", "apply", "enforce-mfa", "--group", "ForceMfaAccess", "--add-users", "console-users-without-mfa", "-o", "json"}, extra...)
		code, out, errOut := run(t, env, args...)
		var o applyOut
		if out != "" {
			if err := json.Unmarshal([]byte(out), &o); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
		}
		return code, o, errOut
	}
	arn := generate.PolicyARN(srv.AccountID, "EnforceMFA")

	// Dry run: the plan, and nothing changed.
	code, o, errOut := apply()
	wantPlan := []string{
		"iam:CreatePolicy EnforceMFA planned",
		"iam:CreateGroup ForceMfaAccess planned",
		"iam:AttachGroupPolicy ForceMfaAccess planned",
		"iam:AddUserToGroup alice planned",
		"iam:AddUserToGroup dave planned",
	}
	if code != 0 || !o.DryRun || !slices.Equal(o.calls(), wantPlan) || o.Plan.PolicyARN != arn {
		t.Fatalf("dry run: exit %d (%s), plan %q, want %q", code, errOut, o.calls(), wantPlan)
	}
	var nse *iamtypes.NoSuchEntityException
	if _, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("ForceMfaAccess")}); !errors.As(err, &nse) {
		t.Fatalf("dry run created the group: %v", err)
	}

	// Without --yes and without a terminal, apply refuses.
	if code, _, errOut := apply("--apply"); code != 2 || !strings.Contains(errOut, "--yes") {
		t.Errorf("apply without confirmation: exit %d, stderr %q", code, errOut)
	}

	code, o, errOut = apply("--apply", "--yes")
	if code != 0 || o.DryRun || len(o.Plan.Steps) != 5 {
		t.Fatalf("apply: exit %d (%s), %q", code, errOut, o.calls())
	}
	for _, s := range o.Plan.Steps {
		if s.Status != generate.StepDone {
			t.Errorf("step %s %s: %s", s.Call, s.Target, s.Status)
		}
	}
	if got := members(t, c, "ForceMfaAccess"); !slices.Equal(got, []string{"alice", "dave"}) {
		t.Errorf("members = %q, want alice and dave", got)
	}
	att, err := c.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String("ForceMfaAccess")})
	if err != nil || len(att.AttachedPolicies) != 1 || aws.ToString(att.AttachedPolicies[0].PolicyArn) != arn {
		t.Errorf("attached = %+v, %v", att, err)
	}
	wantDoc, _ := generate.MarshalDocument(generate.EnforceMFA())
	defaultDocument := func() string {
		t.Helper()
		p, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: p.Policy.DefaultVersionId})
		if err != nil {
			t.Fatal(err)
		}
		d, err := url.QueryUnescape(aws.ToString(v.PolicyVersion.Document))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if !jsonEqual(t, defaultDocument(), string(wantDoc)) {
		t.Errorf("installed document differs from enforce-mfa:\n%s", defaultDocument())
	}

	// Idempotent: nothing to do the second time.
	code, o, errOut = apply("--apply", "--yes")
	if code != 0 || len(o.Plan.Steps) != 0 || !slices.Equal(o.Plan.Members, []string{"alice", "dave"}) {
		t.Errorf("second apply: exit %d (%s), steps %q, members %q", code, errOut, o.calls(), o.Plan.Members)
	}

	// A policy edited by hand, with IAM's 5 versions used up: the oldest non-default version is
	// deleted and the document restored as the new default.
	for i := range 4 {
		ok(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), SetAsDefault: i == 3,
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}`)}))
	}
	code, o, errOut = apply("--apply", "--yes")
	want := []string{"iam:DeletePolicyVersion " + arn + " done", "iam:CreatePolicyVersion " + arn + " done"}
	if code != 0 || !slices.Equal(o.calls(), want) {
		t.Fatalf("update: exit %d (%s), %q, want %q", code, errOut, o.calls(), want)
	}
	versions, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	if err != nil || len(versions.Versions) != 5 {
		t.Fatalf("versions = %+v, %v", versions, err)
	}
	for _, v := range versions.Versions {
		if aws.ToString(v.VersionId) == "v1" {
			t.Error("the oldest version v1 was kept")
		}
	}
	if !jsonEqual(t, defaultDocument(), string(wantDoc)) {
		t.Errorf("document not restored:\n%s", defaultDocument())
	}

	// Table output of a no-op run.
	code, out, _ := run(t, env, "policy", "apply", "enforce-mfa", "--group", "ForceMfaAccess", "-o", "table")
	if code != 0 || !strings.Contains(out, "Nothing to do") || !strings.Contains(out, "DRY RUN") {
		t.Errorf("table: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"policy", "apply", "enforce-mfa"},
		{"policy", "apply", "enforce-mfa-scp", "--group", "g"},
		{"policy", "apply", "enforce-mfa", "--group", "g", "--add-users", "everyone"},
	} {
		if code, _, _ := run(t, env, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}
