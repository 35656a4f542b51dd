package generate_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/golden"
	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/policy/generate"
)

var extensions = map[generate.Format]string{
	generate.FormatJSON:           "json",
	generate.FormatTerraform:      "tf",
	generate.FormatCloudFormation: "yaml",
}

func goldenPath(kind generate.Kind, f generate.Format) string {
	return filepath.Join("testdata", string(kind)+"."+extensions[f]+".golden")
}

func render(t *testing.T, kind generate.Kind, f generate.Format, opts generate.Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := generate.Render(&b, kind, f, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRenderGolden(t *testing.T) {
	for _, k := range generate.Kinds() {
		for _, f := range generate.Formats {
			t.Run(string(k.Kind)+"/"+string(f), func(t *testing.T) {
				got := render(t, k.Kind, f, generate.Options{})
				path := goldenPath(k.Kind, f)
				golden.Check(t, path, got)
			})
		}
	}
}

func TestRenderOptions(t *testing.T) {
	got := render(t, generate.KindEnforceMFAGroup, generate.FormatTerraform, generate.Options{Name: "Developers"})
	for _, want := range []string{`name = "Developers"`, `name        = "DevelopersPolicy"`} {
		if !strings.Contains(got, want) {
			t.Errorf("terraform lacks %q:\n%s", want, got)
		}
	}
	scp := render(t, generate.KindEnforceMFASCP, generate.FormatJSON, generate.Options{
		SCP: generate.SCPOptions{ExemptPrincipalARNs: []string{"arn:aws:iam::*:user/breakglass"}}})
	if !strings.Contains(scp, `"ArnNotLike"`) || !strings.Contains(scp, "arn:aws:iam::*:user/breakglass") {
		t.Errorf("exempt principal missing:\n%s", scp)
	}
	perm := render(t, generate.KindIamwardenEnforce, generate.FormatJSON, generate.Options{Permission: generate.PermissionOptions{
		ExemptionParameter: "/team/exempt", SNSTopicARN: "arn:aws:sns:us-east-1:123456789012:alerts", JournalTable: "audit"}})
	for _, want := range []string{"arn:aws:ssm:*:*:parameter/team/exempt", "arn:aws:sns:us-east-1:123456789012:alerts", "arn:aws:dynamodb:*:*:table/audit/index/*"} {
		if !strings.Contains(perm, want) {
			t.Errorf("enforce policy lacks %q", want)
		}
	}
}

func TestRenderLambdaOptions(t *testing.T) {
	without := render(t, generate.KindIamwardenLambdaReport, generate.FormatJSON, generate.Options{})
	if strings.Contains(without, "IamwardenConfigParameter") {
		t.Errorf("configuration parameter statement without --config-parameter:\n%s", without)
	}
	with := render(t, generate.KindIamwardenLambdaReport, generate.FormatJSON, generate.Options{Permission: generate.PermissionOptions{ConfigParameter: "/iamwarden/config"}})
	if !strings.Contains(with, "arn:aws:ssm:*:*:parameter/iamwarden/config") {
		t.Errorf("configuration parameter missing:\n%s", with)
	}
	if strings.Contains(with, "iam:DeleteLoginProfile") {
		t.Errorf("report mode may change users:\n%s", with)
	}
	enforce := render(t, generate.KindIamwardenLambdaEnforce, generate.FormatJSON, generate.Options{})
	if !strings.Contains(enforce, "iam:DeleteLoginProfile") {
		t.Errorf("enforce mode lacks the user changes:\n%s", enforce)
	}
}

// The organization hub's additions to the function's policy, in both modes, and Security Hub
// alone in single-account mode.
func TestRenderOrganizationOptions(t *testing.T) {
	hub := generate.Options{Permission: generate.PermissionOptions{Organization: &generate.OrganizationOptions{}, SecurityHub: true}}
	golden.Check(t, filepath.Join("testdata", "iamwarden-lambda-enforce-organization.json.golden"), render(t, generate.KindIamwardenLambdaEnforce, generate.FormatJSON, hub))

	report := render(t, generate.KindIamwardenLambdaReport, generate.FormatJSON, hub)
	for _, want := range []string{"organizations:ListAccounts", `"arn:aws:iam::*:role/iamwarden-audit"`, `"arn:aws:sqs:*:*:iamwarden-*"`, "sqs:ReceiveMessage", "securityhub:BatchImportFindings"} {
		if !strings.Contains(report, want) {
			t.Errorf("hub in report mode lacks %s:\n%s", want, report)
		}
	}
	if strings.Contains(report, "role/iamwarden-enforce") || strings.Contains(report, "iam:DeleteLoginProfile") {
		t.Errorf("hub in report mode may enter the enforce role or change users:\n%s", report)
	}
	named := render(t, generate.KindIamwardenLambdaEnforce, generate.FormatJSON, generate.Options{Permission: generate.PermissionOptions{Organization: &generate.OrganizationOptions{
		MemberRoleName: "audit", EnforceRoleName: "fix", AccountQueueARN: "arn:aws:sqs:us-east-1:123456789012:accounts"}}})
	for _, want := range []string{`"arn:aws:iam::*:role/fix"`, `"arn:aws:sqs:us-east-1:123456789012:accounts"`} {
		if !strings.Contains(named, want) {
			t.Errorf("hub in enforce mode lacks %s:\n%s", want, named)
		}
	}
	if strings.Contains(named, "role/audit") || strings.Contains(named, "securityhub:") {
		t.Errorf("hub in enforce mode: the audit role, or Security Hub without the option:\n%s", named)
	}
	single := render(t, generate.KindIamwardenLambdaReport, generate.FormatJSON, generate.Options{Permission: generate.PermissionOptions{SecurityHub: true}})
	if !strings.Contains(single, "securityhub:BatchImportFindings") || strings.Contains(single, "organizations:ListAccounts") || strings.Contains(single, "sts:AssumeRole") {
		t.Errorf("single account with Security Hub:\n%s", single)
	}
}

func TestRenderUnknown(t *testing.T) {
	var b bytes.Buffer
	if err := generate.Render(&b, "enforce-everything", generate.FormatJSON, generate.Options{}); !errors.Is(err, generate.ErrUnknownKind) {
		t.Errorf("unknown kind: err = %v, want ErrUnknownKind", err)
	}
	if err := generate.Render(&b, generate.KindEnforceMFA, "xml", generate.Options{}); err == nil {
		t.Error("unknown format accepted")
	}
	if _, err := generate.ParseFormat("cfn"); err != nil {
		t.Error(err)
	}
}

// TestRenderedDocumentsParse checks every JSON rendering is accepted by the policy package as
// the kind of policy it is.
func TestRenderedDocumentsParse(t *testing.T) {
	for _, k := range generate.Kinds() {
		if _, err := generate.Compile(k.Kind, generate.Options{}); err != nil {
			t.Errorf("%s: %v", k.Kind, err)
		}
	}
}

// requireTool returns the tool's path; it skips when it is missing, except in CI.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" && os.Getenv("IAMWARDEN_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is required: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func TestTerraformFormatting(t *testing.T) {
	tf := requireTool(t, "terraform")
	for _, k := range generate.Kinds() {
		t.Run(string(k.Kind), func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "main.tf")
			if err := os.WriteFile(file, []byte(render(t, k.Kind, generate.FormatTerraform, generate.Options{})), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(tf, "fmt", "-check", "-diff", file)
			cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+filepath.Join(dir, "none.tfrc"), "CHECKPOINT_DISABLE=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("terraform fmt -check: %v\n%s", err, out)
			}
		})
	}
}

func TestCloudFormationLint(t *testing.T) {
	lint := requireTool(t, "cfn-lint")
	dir := t.TempDir()
	var files []string
	for _, k := range generate.Kinds() {
		f := filepath.Join(dir, string(k.Kind)+".yaml")
		if err := os.WriteFile(f, []byte(render(t, k.Kind, generate.FormatCloudFormation, generate.Options{})), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	out, err := exec.Command(lint, files...).CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint: %v\n%s", err, out)
	}
}

// ctx builds the request context of alice authenticated as kind.
func ctx(t *testing.T, kind policy.AuthKind) map[string]policy.Value {
	t.Helper()
	c, err := policy.ContextFor(alice, kind, policy.ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	alice = "arn:aws:iam::123456789012:user/alice"
	admin = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
)

func TestEnforceMFAEvaluation(t *testing.T) {
	enforce, err := generate.Compile(generate.KindEnforceMFA, generate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	adminPolicy := policy.MustParse("admin", admin, policy.KindIdentity)
	withAdmin := &policy.PolicySet{Identity: []*policy.Policy{enforce, adminPolicy}}
	alone := &policy.PolicySet{Identity: []*policy.Policy{enforce}}
	noMFA := []policy.AuthKind{policy.AuthConsole, policy.AuthAccessKey}
	withMFA := []policy.AuthKind{policy.AuthConsoleMFA, policy.AuthSessionMFA}

	tests := []struct {
		name     string
		set      *policy.PolicySet
		action   string
		resource string
		auths    []policy.AuthKind
		want     policy.Result
	}{
		{"ec2 without MFA", withAdmin, "ec2:DescribeInstances", "*", noMFA, policy.ExplicitDeny},
		{"s3 without MFA", withAdmin, "s3:ListAllMyBuckets", "*", noMFA, policy.ExplicitDeny},
		{"create user without MFA", withAdmin, "iam:CreateUser", "arn:aws:iam::123456789012:user/mallory", noMFA, policy.ExplicitDeny},
		{"own access key without MFA", withAdmin, "iam:CreateAccessKey", alice, noMFA, policy.ExplicitDeny},
		{"deactivate MFA without MFA", withAdmin, "iam:DeactivateMFADevice", alice, noMFA, policy.ExplicitDeny},
		{"delete virtual MFA without MFA", alone, "iam:DeleteVirtualMFADevice", "arn:aws:iam::123456789012:mfa/my-phone", noMFA, policy.ExplicitDeny},

		{"create named virtual MFA", alone, "iam:CreateVirtualMFADevice", "arn:aws:iam::123456789012:mfa/my-phone", noMFA, policy.Allowed},
		{"enable own MFA", alone, "iam:EnableMFADevice", alice, noMFA, policy.Allowed},
		{"list own MFA", alone, "iam:ListMFADevices", alice, noMFA, policy.Allowed},
		{"list virtual MFA", alone, "iam:ListVirtualMFADevices", "*", noMFA, policy.Allowed},
		{"resync own MFA", alone, "iam:ResyncMFADevice", alice, noMFA, policy.Allowed},
		{"get own user", alone, "iam:GetUser", alice, noMFA, policy.Allowed},
		{"change own password", alone, "iam:ChangePassword", alice, noMFA, policy.Allowed},
		{"password policy", alone, "iam:GetAccountPasswordPolicy", "*", noMFA, policy.Allowed},
		{"get session token", withAdmin, "sts:GetSessionToken", "*", noMFA, policy.Allowed},
		{"enable someone else's MFA", alone, "iam:EnableMFADevice", "arn:aws:iam::123456789012:user/bob", noMFA, policy.ImplicitDeny},

		{"ec2 with MFA", withAdmin, "ec2:DescribeInstances", "*", withMFA, policy.Allowed},
		{"s3 with MFA", withAdmin, "s3:ListAllMyBuckets", "*", withMFA, policy.Allowed},
		{"create user with MFA", withAdmin, "iam:CreateUser", "arn:aws:iam::123456789012:user/mallory", withMFA, policy.Allowed},
		{"own access key with MFA", alone, "iam:CreateAccessKey", alice, withMFA, policy.Allowed},
		{"own SSH key with MFA", alone, "iam:UploadSSHPublicKey", alice, withMFA, policy.Allowed},
		{"deactivate own MFA with MFA", alone, "iam:DeactivateMFADevice", alice, withMFA, policy.Allowed},
		{"delete virtual MFA with MFA", alone, "iam:DeleteVirtualMFADevice", "arn:aws:iam::123456789012:mfa/my-phone", withMFA, policy.Allowed},
		{"nothing beyond own credentials", alone, "ec2:DescribeInstances", "*", withMFA, policy.ImplicitDeny},
		{"other user's keys", alone, "iam:CreateAccessKey", "arn:aws:iam::123456789012:user/bob", withMFA, policy.ImplicitDeny},
	}
	for _, tt := range tests {
		for _, auth := range tt.auths {
			t.Run(tt.name+"/"+auth.String(), func(t *testing.T) {
				d := policy.Evaluate(tt.set, &policy.Request{Principal: alice, Action: tt.action, Resource: tt.resource, Context: ctx(t, auth)})
				if d.Result != tt.want {
					t.Errorf("%s on %s as %s: %s (deciding %+v, missing %q), want %s", tt.action, tt.resource, auth, d.Result, d.Deciding, d.Missing, tt.want)
				}
			})
		}
	}
}

func TestEnforceMFASCPEvaluation(t *testing.T) {
	scp, err := generate.Compile(generate.KindEnforceMFASCP, generate.Options{SCP: generate.SCPOptions{ExemptPrincipalARNs: []string{"arn:aws:iam::*:user/breakglass"}}})
	if err != nil {
		t.Fatal(err)
	}
	full := policy.MustParse("FullAWSAccess", admin, policy.KindSCP)
	set := &policy.PolicySet{
		Identity: []*policy.Policy{policy.MustParse("admin", admin, policy.KindIdentity)},
		SCPs:     [][]*policy.Policy{{full, scp}},
	}
	tests := []struct {
		name      string
		principal string
		auth      policy.AuthKind
		action    string
		want      policy.Result
	}{
		{"user console without MFA", alice, policy.AuthConsole, "ec2:DescribeInstances", policy.ExplicitDeny},
		{"user access key without MFA", alice, policy.AuthAccessKey, "s3:ListAllMyBuckets", policy.ExplicitDeny},
		{"user registers MFA", alice, policy.AuthConsole, "iam:CreateVirtualMFADevice", policy.Allowed},
		{"user gets MFA session", alice, policy.AuthAccessKey, "sts:GetSessionToken", policy.Allowed},
		{"user with MFA", alice, policy.AuthSessionMFA, "ec2:DescribeInstances", policy.Allowed},
		{"role session (CI, Lambda)", "arn:aws:sts::123456789012:assumed-role/ci-deploy/run-42", policy.AuthAccessKey, "ec2:DescribeInstances", policy.Allowed},
		{"exempt break-glass user", "arn:aws:iam::123456789012:user/breakglass", policy.AuthConsole, "ec2:DescribeInstances", policy.Allowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := policy.ContextFor(tt.principal, tt.auth, policy.ContextOptions{})
			if err != nil {
				t.Fatal(err)
			}
			d := policy.Evaluate(set, &policy.Request{Principal: tt.principal, Action: tt.action, Resource: "*", Context: c})
			if d.Result != tt.want {
				t.Errorf("%s by %s: %s, want %s", tt.action, tt.principal, d.Result, tt.want)
			}
		})
	}
}
