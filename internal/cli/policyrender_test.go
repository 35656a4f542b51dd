package cli_test

import (
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/cli"
)

// The Lambda's resources reach the rendered role policy through the flags.
func TestRenderLambdaFlags(t *testing.T) {
	code, out, errOut := run(t, cli.Env{}, "policy", "render", "iamwarden-lambda-enforce",
		"--config-parameter", "/iamwarden/config",
		"--schedule-group", "deadlines",
		"--scheduler-role-arn", "arn:aws:iam::123456789012:role/sched",
		"--dead-letter-queue-arn", "arn:aws:sqs:us-east-1:123456789012:dlq",
		"--log-group-arn", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn",
		"--journal-table", "audit")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`"arn:aws:ssm:*:*:parameter/iamwarden/config"`,
		`"arn:aws:scheduler:*:*:schedule/deadlines/*"`,
		`"arn:aws:iam::123456789012:role/sched"`,
		`"arn:aws:sqs:us-east-1:123456789012:dlq"`,
		`"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:*"`,
		`"arn:aws:dynamodb:*:*:table/audit"`,
		`"iam:DeleteLoginProfile"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	code, out, _ = run(t, cli.Env{}, "policy", "render", "iamwarden-lambda-report", "--format", "terraform")
	if code != 0 || !strings.Contains(out, `resource "aws_iam_policy" "iamwarden_lambda_report"`) || strings.Contains(out, "iam:DeleteLoginProfile") {
		t.Errorf("report mode as terraform: exit %d:\n%s", code, out)
	}
}

// The organization hub's additions and the member roles' policies, through the flags.
func TestRenderOrganizationFlags(t *testing.T) {
	code, out, errOut := run(t, cli.Env{}, "policy", "render", "iamwarden-lambda-enforce", "--organization", "--security-hub",
		"--member-role-name", "audit", "--enforce-role-name", "fix",
		"--account-queue-arn", "arn:aws:sqs:us-east-1:123456789012:accounts")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`"organizations:ListAccounts"`,
		`"organizations:ListOrganizationalUnitsForParent"`,
		`"arn:aws:iam::*:role/fix"`,
		`"arn:aws:sqs:us-east-1:123456789012:accounts"`,
		`"sqs:ChangeMessageVisibility"`,
		`"securityhub:BatchImportFindings"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "role/audit") {
		t.Errorf("enforce-mode hub may assume the audit role:\n%s", out)
	}
	code, out, _ = run(t, cli.Env{}, "policy", "render", "iamwarden-lambda-report", "--security-hub")
	if code != 0 || !strings.Contains(out, "securityhub:BatchImportFindings") || strings.Contains(out, "sts:AssumeRole") {
		t.Errorf("single account with --security-hub: exit %d:\n%s", code, out)
	}
	code, out, _ = run(t, cli.Env{}, "policy", "render", "iamwarden-member-enforce", "--exemption-parameter", "/team/exempt")
	if code != 0 || !strings.Contains(out, "arn:aws:ssm:*:*:parameter/team/exempt") || !strings.Contains(out, `"iam:DeleteLoginProfile"`) ||
		!strings.Contains(out, `"securityhub:BatchImportFindings"`) {
		t.Errorf("member enforce role: exit %d:\n%s", code, out)
	}
	for _, args := range [][]string{
		{"iamwarden-member-audit", "--organization"},
		{"iamwarden-scan", "--security-hub"},
		{"iamwarden-lambda-report", "--account-queue-arn", "arn:aws:sqs:us-east-1:123456789012:accounts"},
	} {
		if code, _, errOut := run(t, cli.Env{}, append([]string{"policy", "render"}, args...)...); code != 2 {
			t.Errorf("policy render %v: exit %d, want 2 (usage): %s", args, code, errOut)
		}
	}
}
