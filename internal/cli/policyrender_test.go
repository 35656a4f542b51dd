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
