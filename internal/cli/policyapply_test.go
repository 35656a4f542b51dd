package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/journal"
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
	srv.EnableVirtualMFA(c, "bob", "bob-phone")
	srv.SetPassword("dave", now.Add(-2*day), time.Time{}) // console, no MFA; carol has no password

	env := cli.Env{Now: time.Now, AWSConfig: func(context.Context, string, string) (aws.Config, error) { return cfg.Copy(), nil }}
	db := filepath.Join(t.TempDir(), "journal.db")
	apply := func(extra ...string) (int, applyOut, string) {
		t.Helper()
		args := append([]string{"policy", "apply", "enforce-mfa", "--group", "ForceMfaAccess", "--add-users", "console-users-without-mfa",
			"--journal", db, "-o", "json"}, extra...)
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
	code, out, _ := run(t, env, "policy", "apply", "enforce-mfa", "--group", "ForceMfaAccess", "--journal", db, "-o", "table")
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

// policyState is what policy apply may change: the group's members and the policy's versions,
// the default one marked.
func policyState(t *testing.T, c *iam.Client, group, arn string) []string {
	t.Helper()
	ctx := context.Background()
	out := members(t, c, group)
	vs, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Versions {
		s := "version " + aws.ToString(v.VersionId)
		if v.IsDefaultVersion {
			s += " default"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

type journaledApply struct {
	DryRun  bool   `json:"dry_run"`
	RunID   string `json:"run_id"`
	Refused string `json:"refused"`
	Plan    struct {
		Steps []struct {
			Call     string `json:"call"`
			Target   string `json:"target"`
			Status   string `json:"status"`
			ActionID string `json:"action_id"`
		} `json:"steps"`
		Skipped []struct {
			User   string `json:"user"`
			Reason string `json:"reason"`
		} `json:"skipped_users"`
	} `json:"plan"`
}

// An exempt user and the caller are never added, a plan over the blast-radius limit changes
// nothing, and undo --run puts the group and the policy back as they were.
func TestPolicyApplyExemptJournaledUndone(t *testing.T) {
	ctx := context.Background()
	srv := mototest.Shared(t)
	cfg := srv.Config(ctx)
	c := iam.NewFromConfig(cfg)
	now := time.Now().UTC()
	ok := noErr(t)
	ok(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}))
	ok(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("breakglass"), Tags: []iamtypes.Tag{
		{Key: aws.String("iamwarden:exempt-reason"), Value: aws.String("Break-glass account in the safe")},
		{Key: aws.String("iamwarden:exempt-until"), Value: aws.String(now.AddDate(1, 0, 0).Format("2006-01-02"))},
	}}))
	ok(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("operator")}))
	for _, u := range []string{"alice", "breakglass", "operator"} {
		srv.SetPassword(u, now.Add(-10*day), time.Time{}) // console, no MFA
	}
	// The tool runs as operator: moto answers GetCallerIdentity with the key's owner.
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("operator")})
	if err != nil {
		t.Fatal(err)
	}
	asOperator := cfg.Copy()
	asOperator.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
		aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""))

	// The policy and the group are in place, with a default version edited by hand.
	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("EnforceMFA"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(pol.Policy.Arn)
	ok(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("ForceMfaAccess")}))
	ok(c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("ForceMfaAccess"), PolicyArn: aws.String(arn)}))
	before := policyState(t, c, "ForceMfaAccess", arn)

	db := filepath.Join(t.TempDir(), "journal.db")
	env := cli.Env{Now: time.Now, AWSConfig: func(context.Context, string, string) (aws.Config, error) { return asOperator.Copy(), nil }}
	apply := func(extra ...string) (int, journaledApply, string) {
		t.Helper()
		args := append([]string{"policy", "apply", "enforce-mfa", "--group", "ForceMfaAccess", "--add-users", "console-users-without-mfa",
			"--journal", db, "-o", "json"}, extra...)
		code, out, errOut := run(t, env, args...)
		var o journaledApply
		if err := json.Unmarshal([]byte(out), &o); err != nil {
			t.Fatalf("output is not JSON (exit %d, %s): %v\n%s", code, errOut, err, out)
		}
		return code, o, errOut
	}
	skipped := func(o journaledApply) map[string]string {
		out := map[string]string{}
		for _, s := range o.Plan.Skipped {
			out[s.User] = s.Reason
		}
		return out
	}
	calls := func(o journaledApply) []string {
		var out []string
		for _, s := range o.Plan.Steps {
			out = append(out, s.Call+" "+s.Target+" "+s.Status)
		}
		return out
	}

	code, o, errOut := apply()
	want := []string{"iam:CreatePolicyVersion " + arn + " planned", "iam:AddUserToGroup alice planned"}
	if code != 0 || !slices.Equal(calls(o), want) {
		t.Fatalf("dry run: exit %d (%s), %q, want %q", code, errOut, calls(o), want)
	}
	sk := skipped(o)
	if !strings.Contains(sk["breakglass"], "Break-glass account in the safe") || !strings.Contains(sk["operator"], "running iamwarden") || len(sk) != 2 {
		t.Errorf("skipped users = %q, want breakglass with its reason and operator as the caller", sk)
	}

	code, table, _ := run(t, env, "policy", "apply", "enforce-mfa", "--group", "ForceMfaAccess", "--add-users", "console-users-without-mfa",
		"--journal", db, "-o", "table")
	if code != 0 || !strings.Contains(table, "not added: breakglass: exempt from console-mfa-missing (tag until ") ||
		!strings.Contains(table, "not added: operator: the identity running iamwarden is never added") {
		t.Errorf("table dry run: exit %d\n%s", code, table)
	}

	// Over the blast-radius limit: refused whole, shown, nothing changed.
	code, o, errOut = apply("--apply", "--yes", "--max-actions", "1")
	if code != 2 || !strings.Contains(o.Refused, "nothing was changed") || len(o.Plan.Steps) != 2 || !strings.Contains(errOut, "blast-radius") {
		t.Errorf("over the limit: exit %d (%s), refused %q, %q", code, errOut, o.Refused, calls(o))
	}
	if got := policyState(t, c, "ForceMfaAccess", arn); !slices.Equal(got, before) {
		t.Fatalf("a refused plan changed the account: %q -> %q", before, got)
	}

	code, o, errOut = apply("--apply", "--yes")
	want = []string{"iam:CreatePolicyVersion " + arn + " done", "iam:AddUserToGroup alice done"}
	if code != 0 || !slices.Equal(calls(o), want) || o.RunID == "" {
		t.Fatalf("apply: exit %d (%s), %q, want %q", code, errOut, calls(o), want)
	}
	for _, s := range o.Plan.Steps {
		if s.ActionID == "" {
			t.Errorf("step %s %s has no action ID", s.Call, s.Target)
		}
	}
	if got := members(t, c, "ForceMfaAccess"); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("members = %q, want only alice", got)
	}

	code, out, _ := run(t, env, "journal", "list", "--journal", db, "--run", o.RunID, "-o", "json")
	var entries []journal.Entry
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 2 {
		t.Fatalf("journal list: exit %d %s", code, out)
	}
	alice, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Kind {
		case journal.KindAddToGroup:
			if e.Principal != "alice" || e.Resource != "ForceMfaAccess" || e.UserID != aws.ToString(alice.User.UserId) || e.Status != journal.StatusDone {
				t.Errorf("membership entry %+v", e)
			}
		case journal.KindSetPolicyVersion:
			if e.Resource != arn || e.Prior["default_version"] != "v1" || e.Prior["new_version"] != "v2" || e.Status != journal.StatusDone {
				t.Errorf("policy version entry %+v", e)
			}
		default:
			t.Errorf("unexpected entry %+v", e)
		}
	}

	code, out, errOut = run(t, env, "undo", "--run", o.RunID, "--journal", db, "-o", "json")
	if code != 0 {
		t.Fatalf("undo: exit %d (%s)\n%s", code, errOut, out)
	}
	if got := policyState(t, c, "ForceMfaAccess", arn); !slices.Equal(got, before) {
		t.Errorf("undo left %q, want %q", got, before)
	}
	// Undone once: a second undo changes nothing and says so.
	code, out, _ = run(t, env, "undo", "--run", o.RunID, "--journal", db, "-o", "json")
	if code != 0 || strings.Count(out, `"status": "skipped"`) != 2 {
		t.Errorf("second undo: exit %d\n%s", code, out)
	}
}
