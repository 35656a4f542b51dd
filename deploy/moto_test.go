package deploy_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithy "github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/mototest"
)

// motoUnsupported are the templates' resource types moto 5.2.1's CloudFormation cannot create
// (no CloudFormationModel in moto for them: moto/cloudformation/parsing.py warns "No Moto
// CloudFormation support" and skips them). The moto tests strip them and put a placeholder
// string where the rest of the template refers to them; docs/deploy.md lists them too.
var motoUnsupported = []string{
	"AWS::Scheduler::ScheduleGroup",
	"AWS::SQS::QueuePolicy",
	"AWS::SNS::Subscription",
	"AWS::CloudWatch::Alarm",
	"AWS::Config::ConfigRule",
	"AWS::Events::EventBusPolicy", // the hub in organization mode
}

// forMoto returns the hub's template without motoUnsupported's resources, as JSON.
func forMoto(t *testing.T) string {
	t.Helper()
	return strippedForMoto(t, loadTemplate(t))
}

// strippedForMoto returns tmpl without motoUnsupported's resources, as JSON.
func strippedForMoto(t *testing.T, tmpl map[string]any) string {
	t.Helper()
	resources := section(t, tmpl, "Resources")
	stripped := map[string]bool{}
	for id, r := range resources {
		for _, typ := range motoUnsupported {
			if r.(map[string]any)["Type"] == typ {
				stripped[id] = true
				delete(resources, id)
			}
		}
	}
	var replace func(v any) any
	replace = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["Ref"].(string); ok && len(v) == 1 && stripped[ref] {
				return "moto-stripped-" + ref
			}
			if dep, ok := v["DependsOn"].(string); ok && stripped[dep] {
				delete(v, "DependsOn")
			}
			for k, e := range v {
				v[k] = replace(e)
			}
		case []any:
			for i, e := range v {
				v[i] = replace(e)
			}
		case string:
			for id := range stripped {
				v = strings.ReplaceAll(v, "${"+id+"}", "moto-stripped-"+id)
			}
			return v
		}
		return v
	}
	replace(resources)
	b, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signedRequest sends an AWS request signed for service to the moto server.
func signedRequest(t *testing.T, cfg aws.Config, method, service, url, target string, body []byte) (int, []byte) {
	t.Helper()
	ctx := context.Background()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hash, service, cfg.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// uploadCode puts a stand-in function zip where CodeBucket and CodeKey point: moto's Lambda
// reads the code from its S3 when the function is created.
func uploadCode(t *testing.T, srv *mototest.Server, cfg aws.Config, bucket, key string) {
	t.Helper()
	var location []byte
	if cfg.Region != "us-east-1" {
		location = []byte(`<CreateBucketConfiguration><LocationConstraint>` + cfg.Region + `</LocationConstraint></CreateBucketConfiguration>`)
	}
	if code, out := signedRequest(t, cfg, http.MethodPut, "s3", srv.Endpoint+"/"+bucket, "", location); code != http.StatusOK {
		t.Fatalf("create bucket: %d %s", code, out)
	}
	if code, out := signedRequest(t, cfg, http.MethodPut, "s3", srv.Endpoint+"/"+bucket+"/"+key, "", []byte("PK\x05\x06"+strings.Repeat("\x00", 18))); code != http.StatusOK {
		t.Fatalf("upload code: %d %s", code, out)
	}
}

func createStack(ctx context.Context, t *testing.T, cf *cloudformation.Client, name string, params map[string]string) (*cloudformation.CreateStackOutput, error) {
	t.Helper()
	return createStackFrom(ctx, t, cf, name, forMoto(t), params)
}

func createStackFrom(ctx context.Context, t *testing.T, cf *cloudformation.Client, name, body string, params map[string]string) (*cloudformation.CreateStackOutput, error) {
	t.Helper()
	in := &cloudformation.CreateStackInput{
		StackName:    aws.String(name),
		TemplateBody: aws.String(body),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam},
	}
	for k, v := range params {
		in.Parameters = append(in.Parameters, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	return cf.CreateStack(ctx, in)
}

func TestTemplateOnMoto(t *testing.T) {
	srv := mototest.Shared(t)
	ctx := context.Background()
	cfg := srv.Config(ctx)
	uploadCode(t, srv, cfg, "iamwarden-code", "iamwarden-lambda.zip")
	cf := cloudformation.NewFromConfig(cfg)
	if _, err := createStack(ctx, t, cf, "iamwarden", map[string]string{"CodeBucket": "iamwarden-code", "Mode": "enforce"}); err != nil {
		t.Fatal(err)
	}
	outputs := stackComplete(ctx, t, cf, "iamwarden")
	for _, k := range []string{"FunctionArn", "TopicArn", "JournalTableName", "DeadLetterQueueUrl", "FunctionRoleName"} {
		if outputs[k] == "" {
			t.Errorf("output %s missing (outputs %v)", k, outputs)
		}
	}
	for _, k := range []string{"EventBusArn", "AccountQueueUrl"} {
		if _, ok := outputs[k]; ok {
			t.Errorf("output %s outside organization mode", k)
		}
	}

	// The journal table: moto's CloudFormation ignores PointInTimeRecoverySpecification and
	// TimeToLiveSpecification (DescribeContinuousBackups says DISABLED), so only the keys,
	// indexes and billing are checked here; TestTemplateJournalTable checks the rest.
	table, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(outputs["JournalTableName"])})
	if err != nil {
		t.Fatalf("journal table: %v", err)
	}
	var indexes []string
	for _, g := range table.Table.GlobalSecondaryIndexes {
		indexes = append(indexes, aws.ToString(g.IndexName))
	}
	if got := strings.Join(sortedStrings(indexes), ","); got != "by-account,by-run,open" {
		t.Errorf("journal indexes %s, want by-account,by-run,open", got)
	}
	if table.Table.BillingModeSummary == nil || table.Table.BillingModeSummary.BillingMode != "PAY_PER_REQUEST" {
		t.Errorf("journal billing %+v, want PAY_PER_REQUEST", table.Table.BillingModeSummary)
	}

	if _, err := sns.NewFromConfig(cfg).GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(outputs["TopicArn"])}); err != nil {
		t.Errorf("topic: %v", err)
	}
	if _, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(outputs["DeadLetterQueueUrl"])}); err != nil {
		t.Errorf("dead-letter queue: %v", err)
	}

	// The rules, with the function as target.
	res, err := cf.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String("iamwarden")})
	if err != nil {
		t.Fatal(err)
	}
	physical := map[string]string{}
	for _, r := range res.StackResources {
		physical[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
	}
	for _, rule := range []string{"IAMEventRule", "SweepRule"} {
		body, _ := json.Marshal(map[string]string{"Rule": physical[rule]})
		code, out := signedRequest(t, cfg, http.MethodPost, "events", srv.Endpoint+"/", "AWSEvents.ListTargetsByRule", body)
		if code != http.StatusOK || !strings.Contains(string(out), outputs["FunctionArn"]) {
			t.Errorf("rule %s (%s): targets %d %s, want the function", rule, physical[rule], code, out)
		}
	}

	// The function, with the contract's environment.
	code, out := signedRequest(t, cfg, http.MethodGet, "lambda", srv.Endpoint+"/2015-03-31/functions/iamwarden", "", nil)
	if code != http.StatusOK {
		t.Fatalf("function: %d %s", code, out)
	}
	var fn struct {
		Configuration struct {
			Runtime     string
			Handler     string
			Environment struct{ Variables map[string]any }
		}
	}
	if err := json.Unmarshal(out, &fn); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(fn.Configuration.Environment.Variables); strings.Join(got, " ") != strings.Join(sortedStrings(contractEnv), " ") {
		t.Errorf("function environment %v, want %v", got, sortedStrings(contractEnv))
	}
	if v := fn.Configuration.Environment.Variables; v["IAMWARDEN_MODE"] != "enforce" || v["IAMWARDEN_JOURNAL_TABLE"] != outputs["JournalTableName"] || v["IAMWARDEN_SNS_TOPIC_ARN"] != outputs["TopicArn"] {
		t.Errorf("function environment %v", v)
	}
}

// stackComplete waits for the stack to be created and returns its outputs; it fails the test,
// with the stack's events, when the stack is not CREATE_COMPLETE.
func stackComplete(ctx context.Context, t *testing.T, cf *cloudformation.Client, name string) map[string]string {
	t.Helper()
	var stack cfntypes.Stack
	for i := 0; ; i++ {
		out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		stack = out.Stacks[0]
		if !strings.HasSuffix(string(stack.StackStatus), "_IN_PROGRESS") || i > 100 {
			break
		}
		time.Sleep(100 * time.Millisecond) // moto creates stacks synchronously; this rarely runs
	}
	if stack.StackStatus != cfntypes.StackStatusCreateComplete {
		events, _ := cf.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(name)})
		var reasons []string
		if events != nil {
			for _, e := range events.StackEvents {
				reasons = append(reasons, aws.ToString(e.LogicalResourceId)+": "+aws.ToString(e.ResourceStatusReason))
			}
		}
		t.Fatalf("stack %s %s: %s\n%s", name, stack.StackStatus, aws.ToString(stack.StackStatusReason), strings.Join(reasons, "\n"))
	}
	outputs := map[string]string{}
	for _, o := range stack.Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return outputs
}

// physicalIDs returns the stack's resources' physical IDs by logical ID.
func physicalIDs(ctx context.Context, t *testing.T, cf *cloudformation.Client, name string) map[string]string {
	t.Helper()
	res, err := cf.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	physical := map[string]string{}
	for _, r := range res.StackResources {
		physical[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
	}
	return physical
}

// functionEnvironment reads the function's environment from moto's Lambda.
func functionEnvironment(t *testing.T, srv *mototest.Server, cfg aws.Config, name string) map[string]any {
	t.Helper()
	code, out := signedRequest(t, cfg, http.MethodGet, "lambda", srv.Endpoint+"/2015-03-31/functions/"+name, "", nil)
	if code != http.StatusOK {
		t.Fatalf("function %s: %d %s", name, code, out)
	}
	var fn struct {
		Configuration struct {
			Environment struct{ Variables map[string]any }
		}
	}
	if err := json.Unmarshal(out, &fn); err != nil {
		t.Fatal(err)
	}
	return fn.Configuration.Environment.Variables
}

// The hub in organization mode, in enforce mode with Security Hub: the event bus, its rule to
// the function, the account queue with its redrive to the account dead-letter queue, the event
// source mapping and the function's organization settings. EventBusPolicy and the account
// dead-letter alarm are stripped (motoUnsupported); TestTemplateOrganizationMode checks them.
func TestTemplateOrganizationOnMoto(t *testing.T) {
	srv := mototest.Shared(t)
	ctx := context.Background()
	cfg := srv.Config(ctx)
	uploadCode(t, srv, cfg, "iamwarden-hub-code", "iamwarden-lambda.zip")
	cf := cloudformation.NewFromConfig(cfg)
	const name = "iamwarden-hub"
	if _, err := createStack(ctx, t, cf, name, map[string]string{"CodeBucket": "iamwarden-hub-code", "Mode": "enforce",
		"OrganizationMode": "true", "OrganizationId": "o-abcdef1234", "ExternalId": "iamwarden-test", "EnableSecurityHub": "true"}); err != nil {
		t.Fatal(err)
	}
	outputs := stackComplete(ctx, t, cf, name)
	for _, k := range []string{"EventBusArn", "AccountQueueUrl", "FunctionArn", "FunctionRoleName"} {
		if outputs[k] == "" {
			t.Errorf("output %s missing (outputs %v)", k, outputs)
		}
	}
	if want := "arn:aws:events:" + cfg.Region + ":" + srv.AccountID + ":event-bus/iamwarden"; outputs["EventBusArn"] != want {
		t.Errorf("EventBusArn %s, want %s", outputs["EventBusArn"], want)
	}

	q, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(outputs["AccountQueueUrl"]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatalf("account queue: %v", err)
	}
	if v := q.Attributes["VisibilityTimeout"]; v != "1800" {
		t.Errorf("account queue VisibilityTimeout %s, want 1800 (6 x the function's 300 s)", v)
	}
	var redrive struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(q.Attributes["RedrivePolicy"]), &redrive); err != nil {
		t.Fatalf("account queue RedrivePolicy %q: %v", q.Attributes["RedrivePolicy"], err)
	}
	if fmt.Sprint(redrive.MaxReceiveCount) != "3" || !strings.Contains(redrive.DeadLetterTargetArn, "AccountDeadLetterQueue") {
		t.Errorf("account queue RedrivePolicy %s, want 3 receives then the account dead-letter queue", q.Attributes["RedrivePolicy"])
	}

	code, out := signedRequest(t, cfg, http.MethodGet, "lambda", srv.Endpoint+"/2015-03-31/event-source-mappings/?FunctionName="+name, "", nil)
	if code != http.StatusOK {
		t.Fatalf("event source mappings: %d %s", code, out)
	}
	var mappings struct {
		EventSourceMappings []struct {
			EventSourceArn        string
			BatchSize             int
			FunctionResponseTypes []string
			ScalingConfig         struct{ MaximumConcurrency int }
		}
	}
	if err := json.Unmarshal(out, &mappings); err != nil {
		t.Fatal(err)
	}
	if len(mappings.EventSourceMappings) != 1 {
		t.Fatalf("event source mappings %s, want one", out)
	}
	m := mappings.EventSourceMappings[0]
	if !strings.Contains(m.EventSourceArn, "AccountQueue") || m.BatchSize != 5 || strings.Join(m.FunctionResponseTypes, ",") != "ReportBatchItemFailures" ||
		m.ScalingConfig.MaximumConcurrency != 5 {
		t.Errorf("event source mapping %+v, want the account queue, batch 5, ReportBatchItemFailures, maximum concurrency 5", m)
	}

	physical := physicalIDs(ctx, t, cf, name)
	body, _ := json.Marshal(map[string]string{"Rule": physical["OrganizationEventRule"], "EventBusName": "iamwarden"})
	code, out = signedRequest(t, cfg, http.MethodPost, "events", srv.Endpoint+"/", "AWSEvents.ListTargetsByRule", body)
	if code != http.StatusOK || !strings.Contains(string(out), outputs["FunctionArn"]) {
		t.Errorf("organization rule %s: targets %d %s, want the function", physical["OrganizationEventRule"], code, out)
	}

	env := functionEnvironment(t, srv, cfg, name)
	for k, want := range map[string]string{
		"IAMWARDEN_ORGANIZATION":      "true",
		"IAMWARDEN_ACCOUNT_QUEUE_URL": outputs["AccountQueueUrl"],
		"IAMWARDEN_MEMBER_ROLE_NAME":  "iamwarden-audit",
		"IAMWARDEN_ENFORCE_ROLE_NAME": "iamwarden-enforce",
		"IAMWARDEN_EXTERNAL_ID":       "iamwarden-test",
		"IAMWARDEN_SECURITY_HUB":      "true",
		"IAMWARDEN_MODE":              "enforce",
	} {
		if env[k] != want {
			t.Errorf("function %s = %v, want %q", k, env[k], want)
		}
	}
	if got := sortedKeys(env); strings.Join(got, " ") != strings.Join(sortedStrings(contractEnv), " ") {
		t.Errorf("function environment %v, want %v", got, sortedStrings(contractEnv))
	}
}

// Outside us-east-1 the stack must be refused. moto 5.2.1 does not evaluate a template's Rules
// section (moto/cloudformation has no code reading it), so the refusal cannot be seen on moto:
// TestTemplateRegionRule checks the assertion is there, and this test records that moto
// creates the stack anyway, to notice when moto starts evaluating Rules.
func TestTemplateRegionOnMoto(t *testing.T) {
	srv := mototest.Shared(t)
	ctx := context.Background()
	cfg := srv.Config(ctx)
	cfg.Region = "eu-west-1"
	uploadCode(t, srv, cfg, "iamwarden-code-eu", "iamwarden-lambda.zip")
	_, err := createStack(ctx, t, cloudformation.NewFromConfig(cfg), "iamwarden", map[string]string{"CodeBucket": "iamwarden-code-eu"})
	var apiErr smithy.APIError
	switch {
	case err == nil:
		t.Log("moto does not evaluate Rules: the stack was created in eu-west-1 (AWS refuses it with the assertion's message)")
	case errors.As(err, &apiErr) && strings.Contains(apiErr.ErrorMessage(), "us-east-1"):
		t.Logf("moto evaluates Rules now: %v (make this test require the refusal)", err)
	default:
		t.Fatalf("create stack in eu-west-1: %v", err)
	}
}

// tool returns the path of name; it skips the test when the tool is missing, but fails under
// IAMWARDEN_REQUIRE_MOTO=1 (CI).
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("IAMWARDEN_REQUIRE_MOTO") == "1" {
			t.Fatalf("%s is required (IAMWARDEN_REQUIRE_MOTO=1): %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func TestCloudFormationLint(t *testing.T) {
	lint := tool(t, "cfn-lint")
	for _, path := range []string{templatePath, memberTemplatePath} {
		if out, err := exec.Command(lint, path).CombinedOutput(); err != nil {
			t.Errorf("cfn-lint %s: %v\n%s", path, err, out)
		}
	}
}

func TestTerraformFormat(t *testing.T) {
	tf := tool(t, "terraform")
	dir := t.TempDir()
	cmd := exec.Command(tf, "fmt", "-check", "-diff", "-recursive", "terraform")
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+filepath.Join(dir, "none.tfrc"), "CHECKPOINT_DISABLE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("terraform fmt -check: %v\n%s", err, out)
	}
}
