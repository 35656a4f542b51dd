package deploy_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/iamwarden/iamwarden/internal/journal/dynamo"
	"github.com/iamwarden/iamwarden/internal/lambdafn"
	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/policy/generate"
)

// contractEnv are the settings the function reads, and contractEvents the IAM calls it judges
// users after: the deployments must set and subscribe to exactly these.
var (
	contractEnv    = lambdafn.Env()
	contractEvents = lambdafn.IAMEventNames()
)

const (
	regionMessage = "iamwarden must be deployed in us-east-1, the only region where CloudTrail delivers IAM events to EventBridge."
	testAccount   = "123456789012"
	testRegion    = "us-east-1"
)

// deployed is one combination of settings, with the values a stack's resources would have.
type deployed struct {
	name                string
	mode                string
	exemptionParameter  string
	configParameter     string
	topicARN, table     string
	group, schedulerARN string
	queueARN, logGroup  string
	// Organization mode and Security Hub.
	organization, securityHub bool
	memberRole, enforceRole   string
	accountQueueARN           string
}

func (d deployed) kind() generate.Kind {
	if d.mode == "enforce" {
		return generate.KindIamwardenLambdaEnforce
	}
	return generate.KindIamwardenLambdaReport
}

// options are the renderer's options for the same resources.
func (d deployed) options() generate.Options {
	var org *generate.OrganizationOptions
	if d.organization {
		org = &generate.OrganizationOptions{MemberRoleName: d.memberRole, EnforceRoleName: d.enforceRole, AccountQueueARN: d.accountQueueARN}
	}
	return generate.Options{Permission: generate.PermissionOptions{
		Organization:       org,
		SecurityHub:        d.securityHub,
		ExemptionParameter: d.exemptionParameter,
		SNSTopicARN:        d.topicARN,
		JournalTable:       d.table,
		ConfigParameter:    d.configParameter,
		ScheduleGroup:      d.group,
		SchedulerRoleARN:   d.schedulerARN,
		DeadLetterQueueARN: d.queueARN,
		LogGroupARN:        "arn:aws:logs:" + testRegion + ":" + testAccount + ":log-group:" + d.logGroup,
	}}
}

func settings() []deployed {
	base := deployed{
		topicARN:     "arn:aws:sns:us-east-1:123456789012:iamwarden-Topic-ABC",
		table:        "iamwarden-JournalTable-XYZ",
		group:        "iamwarden",
		schedulerARN: "arn:aws:iam::123456789012:role/iamwarden-SchedulerRole-QRS",
		queueARN:     "arn:aws:sqs:us-east-1:123456789012:iamwarden-DeadLetterQueue-DEF",
		logGroup:     "/aws/lambda/iamwarden",
		// The parameters' defaults, so that the module's variables' defaults are checked too.
		memberRole:      "iamwarden-audit",
		enforceRole:     "iamwarden-enforce",
		accountQueueARN: "arn:aws:sqs:us-east-1:123456789012:iamwarden-AccountQueue-GHI",
	}
	var out []deployed
	for _, mode := range []string{"report", "enforce"} {
		for _, exempt := range []string{"", "/team/exempt-users"} {
			for _, cfg := range []string{"", "/iamwarden/config"} {
				for _, org := range []bool{false, true} {
					for _, hub := range []bool{false, true} {
						d := base
						d.mode, d.exemptionParameter, d.configParameter, d.organization, d.securityHub = mode, exempt, cfg, org, hub
						d.name = fmt.Sprintf("%s/exempt=%s/config=%s/organization=%t/securityhub=%t", mode, exempt, cfg, org, hub)
						out = append(out, d)
					}
				}
			}
		}
	}
	return out
}

// normalized decodes a policy document so that equal documents compare equal ("a" and ["a"]
// are the same).
func normalized(t *testing.T, v any) policy.Document {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var doc policy.Document
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return doc
}

func rendered(t *testing.T, d deployed) policy.Document {
	t.Helper()
	doc, err := generate.Document(d.kind(), d.options())
	if err != nil {
		t.Fatal(err)
	}
	return normalized(t, doc)
}

func (d deployed) cfnStack(tmpl map[string]any) *stack {
	return &stack{
		refs: map[string]string{
			"AWS::Region": testRegion, "AWS::AccountId": testAccount, "AWS::Partition": "aws", "AWS::StackName": "iamwarden",
			"Mode": d.mode, "ExemptionParameter": d.exemptionParameter, "ConfigParameter": d.configParameter,
			"Topic": d.topicARN, "JournalTable": d.table, "ScheduleGroup": d.group, "LogGroup": d.logGroup,
			"OrganizationMode": fmt.Sprint(d.organization), "EnableSecurityHub": fmt.Sprint(d.securityHub),
			"MemberRoleName": d.memberRole, "EnforceRoleName": d.enforceRole,
		},
		attrs: map[string]string{
			"SchedulerRole.Arn":   d.schedulerARN,
			"DeadLetterQueue.Arn": d.queueARN,
			"AccountQueue.Arn":    d.accountQueueARN,
		},
		conditions: tmpl["Conditions"].(map[string]any),
	}
}

// The function's role policy in the template is the renderer's, for each mode and with or
// without the optional parameters.
func TestTemplateRolePolicyIsRendered(t *testing.T) {
	tmpl := loadTemplate(t)
	role := section(t, tmpl, "Resources")["FunctionRole"].(map[string]any)
	policies := props(role)["Policies"].([]any)
	if len(policies) != 1 {
		t.Fatalf("FunctionRole has %d policies, want 1", len(policies))
	}
	doc := policies[0].(map[string]any)["PolicyDocument"]
	for _, d := range settings() {
		t.Run(d.name, func(t *testing.T) {
			got, err := d.cfnStack(tmpl).eval(doc)
			if err != nil {
				t.Fatal(err)
			}
			if want := rendered(t, d); !reflect.DeepEqual(normalized(t, got), want) {
				t.Errorf("FunctionRole's policy differs from iamwarden policy render %s:\n--- template\n%s\n--- rendered\n%s",
					d.kind(), jsonText(t, normalized(t, got)), jsonText(t, want))
			}
		})
	}
}

func TestTemplateEnvironmentAndEvents(t *testing.T) {
	tmpl := loadTemplate(t)
	_, fn := resource(t, tmpl, "AWS::Lambda::Function")
	p := props(fn)
	vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
	want := append([]string{}, contractEnv...)
	if got := sortedKeys(vars); !reflect.DeepEqual(got, sortedStrings(want)) {
		t.Errorf("environment variables %v, want the contract's %v", got, sortedStrings(want))
	}
	for k, want := range map[string]any{"Runtime": "provided.al2023", "Handler": "bootstrap", "Architectures": []any{"arm64"}} {
		if !reflect.DeepEqual(p[k], want) {
			t.Errorf("function %s = %v, want %v", k, p[k], want)
		}
	}
	if lf := p["LoggingConfig"].(map[string]any)["LogFormat"]; lf != "JSON" {
		t.Errorf("LogFormat %v, want JSON", lf)
	}
	code := p["Code"].(map[string]any)
	if !reflect.DeepEqual(code, map[string]any{"S3Bucket": map[string]any{"Ref": "CodeBucket"}, "S3Key": map[string]any{"Ref": "CodeKey"}}) {
		t.Errorf("Code = %v, want S3Bucket and S3Key from CodeBucket and CodeKey", code)
	}

	var pattern map[string]any
	for _, r := range resourcesOfType(t, tmpl, "AWS::Events::Rule") {
		if pt, ok := props(r)["EventPattern"].(map[string]any); ok {
			pattern = pt
		}
	}
	if pattern == nil {
		t.Fatal("no rule with an EventPattern")
	}
	detail := pattern["detail"].(map[string]any)
	names := detail["eventName"].([]any)
	var got []string
	for _, n := range names {
		got = append(got, n.(string))
	}
	if !reflect.DeepEqual(got, contractEvents) {
		t.Errorf("eventName %v, want the contract's %v", got, contractEvents)
	}
	for k, want := range map[string]any{"source": []any{"aws.iam"}, "detail-type": []any{"AWS API Call via CloudTrail"}} {
		if !reflect.DeepEqual(pattern[k], want) {
			t.Errorf("pattern %s = %v, want %v", k, pattern[k], want)
		}
	}
	if !reflect.DeepEqual(detail["eventSource"], []any{"iam.amazonaws.com"}) {
		t.Errorf("detail.eventSource = %v", detail["eventSource"])
	}
	for id, r := range resourcesOfType(t, tmpl, "AWS::Events::Rule") {
		for _, target := range props(r)["Targets"].([]any) {
			tg := target.(map[string]any)
			if tg["DeadLetterConfig"] == nil || tg["RetryPolicy"] == nil {
				t.Errorf("rule %s: target without a dead-letter queue and retry policy", id)
			}
		}
	}
}

// The stack refuses other regions than us-east-1.
func TestTemplateRegionRule(t *testing.T) {
	tmpl := loadTemplate(t)
	var found bool
	for _, r := range section(t, tmpl, "Rules") {
		rule := r.(map[string]any)
		if rule["RuleCondition"] != nil {
			continue
		}
		for _, a := range rule["Assertions"].([]any) {
			as := a.(map[string]any)
			if reflect.DeepEqual(as["Assert"], map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AWS::Region"}, "us-east-1"}}) &&
				as["AssertDescription"] == regionMessage {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no unconditional rule asserts AWS::Region is us-east-1 with the description %q", regionMessage)
	}
}

// The journal table is the one 'iamwarden journal init' creates.
func TestTemplateJournalTable(t *testing.T) {
	tmpl := loadTemplate(t)
	_, table := resource(t, tmpl, "AWS::DynamoDB::Table")
	if table["DeletionPolicy"] != "Retain" || table["UpdateReplacePolicy"] != "Retain" {
		t.Errorf("journal table DeletionPolicy %v, UpdateReplacePolicy %v, want Retain", table["DeletionPolicy"], table["UpdateReplacePolicy"])
	}
	p := props(table)
	in := dynamo.TableInput("x")
	want := map[string]any{
		"BillingMode":                      string(in.BillingMode),
		"DeletionProtectionEnabled":        aws.ToBool(in.DeletionProtectionEnabled),
		"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
		"TimeToLiveSpecification":          map[string]any{"AttributeName": "ExpiresEpoch", "Enabled": true},
	}
	var attrs, keys, gsis, tags []any
	for _, a := range in.AttributeDefinitions {
		attrs = append(attrs, map[string]any{"AttributeName": aws.ToString(a.AttributeName), "AttributeType": string(a.AttributeType)})
	}
	for _, k := range in.KeySchema {
		keys = append(keys, map[string]any{"AttributeName": aws.ToString(k.AttributeName), "KeyType": string(k.KeyType)})
	}
	for _, g := range in.GlobalSecondaryIndexes {
		var ks []any
		for _, k := range g.KeySchema {
			ks = append(ks, map[string]any{"AttributeName": aws.ToString(k.AttributeName), "KeyType": string(k.KeyType)})
		}
		gsis = append(gsis, map[string]any{"IndexName": aws.ToString(g.IndexName), "KeySchema": ks,
			"Projection": map[string]any{"ProjectionType": string(g.Projection.ProjectionType)}})
	}
	for _, tg := range in.Tags {
		tags = append(tags, map[string]any{"Key": aws.ToString(tg.Key), "Value": aws.ToString(tg.Value)})
	}
	want["AttributeDefinitions"], want["KeySchema"], want["GlobalSecondaryIndexes"], want["Tags"] = attrs, keys, gsis, tags
	if !reflect.DeepEqual(p, want) {
		t.Errorf("journal table properties\n%s\nwant (journal init's)\n%s", jsonText(t, p), jsonText(t, want))
	}
}

func sortedStrings(s []string) []string {
	m := map[string]bool{}
	for _, e := range s {
		m[e] = true
	}
	return sortedKeys(m)
}
