package deploy_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// organizationResources are the hub's resources of organization mode, with their Terraform
// counterparts.
var organizationResources = map[string]string{
	"EventBus":                    "aws_cloudwatch_event_bus.organization",
	"EventBusPolicy":              "aws_cloudwatch_event_bus_policy.organization",
	"OrganizationEventRule":       "aws_cloudwatch_event_rule.organization",
	"OrganizationEventPermission": "aws_lambda_permission.organization",
	"AccountQueue":                "aws_sqs_queue.accounts",
	"AccountDeadLetterQueue":      "aws_sqs_queue.account_dead_letters",
	"AccountQueueMapping":         "aws_lambda_event_source_mapping.accounts",
	"AccountDeadLetterAlarm":      "aws_cloudwatch_metric_alarm.account_dead_letters",
}

func ref(name string) map[string]any         { return map[string]any{"Ref": name} }
func getAtt(res, attr string) map[string]any { return map[string]any{"Fn::GetAtt": []any{res, attr}} }

// The hub's organization resources exist only in organization mode and are wired as the
// contract says.
func TestTemplateOrganizationMode(t *testing.T) {
	tmpl := loadTemplate(t)
	res := section(t, tmpl, "Resources")
	for id := range organizationResources {
		r, ok := res[id].(map[string]any)
		if !ok {
			t.Errorf("resource %s missing", id)
			continue
		}
		if r["Condition"] != "IsOrganization" {
			t.Errorf("%s: Condition %v, want IsOrganization", id, r["Condition"])
		}
	}
	params := section(t, tmpl, "Parameters")
	for name, def := range map[string]any{"OrganizationMode": "false", "EventBusName": "iamwarden", "MaximumConcurrency": 5,
		"MemberRoleName": "iamwarden-audit", "EnforceRoleName": "iamwarden-enforce", "EnableSecurityHub": "false"} {
		if p, _ := params[name].(map[string]any); p == nil || p["Default"] != def {
			t.Errorf("parameter %s: %v, want default %v", name, params[name], def)
		}
	}

	policy := props(res["EventBusPolicy"].(map[string]any))
	want := map[string]any{"Sid": "OrganizationPutEvents", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents",
		"Resource": getAtt("EventBus", "Arn"), "Condition": map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": ref("OrganizationId")}}}
	if !reflect.DeepEqual(policy["Statement"], want) || !reflect.DeepEqual(policy["EventBusName"], getAtt("EventBus", "Name")) {
		t.Errorf("event bus policy %s, want PutEvents from the organization only", jsonText(t, policy))
	}

	rule := props(res["OrganizationEventRule"].(map[string]any))
	hubRule := props(res["IAMEventRule"].(map[string]any))
	if !reflect.DeepEqual(rule["EventPattern"], hubRule["EventPattern"]) || !reflect.DeepEqual(rule["EventBusName"], getAtt("EventBus", "Name")) {
		t.Errorf("organization rule: pattern %v on %v, want IAMEventRule's pattern on the bus", rule["EventPattern"], rule["EventBusName"])
	}
	target := rule["Targets"].([]any)[0].(map[string]any)
	if !reflect.DeepEqual(target["Arn"], getAtt("Function", "Arn")) {
		t.Errorf("organization rule's target %v, want the function", target["Arn"])
	}
	sources := props(res["DeadLetterQueuePolicy"].(map[string]any))["PolicyDocument"].(map[string]any)["Statement"].([]any)[0].(map[string]any)["Condition"]
	if !strings.Contains(jsonText(t, sources), "OrganizationEventRule") {
		t.Errorf("the dead-letter queue does not admit the organization rule's failed events: %v", sources)
	}

	fn := props(res["Function"].(map[string]any))
	queue := props(res["AccountQueue"].(map[string]any))
	if vt, _ := queue["VisibilityTimeout"].(int); vt < 6*fn["Timeout"].(int) {
		t.Errorf("account queue VisibilityTimeout %v, want at least 6 x the function's Timeout %v", queue["VisibilityTimeout"], fn["Timeout"])
	}
	if want := map[string]any{"deadLetterTargetArn": getAtt("AccountDeadLetterQueue", "Arn"), "maxReceiveCount": 3}; !reflect.DeepEqual(queue["RedrivePolicy"], want) {
		t.Errorf("account queue RedrivePolicy %v, want %v", queue["RedrivePolicy"], want)
	}
	mapping := props(res["AccountQueueMapping"].(map[string]any))
	wantMapping := map[string]any{"EventSourceArn": getAtt("AccountQueue", "Arn"), "FunctionName": ref("Function"), "BatchSize": 5,
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"}, "ScalingConfig": map[string]any{"MaximumConcurrency": ref("MaximumConcurrency")}}
	if !reflect.DeepEqual(mapping, wantMapping) {
		t.Errorf("event source mapping %s, want %s", jsonText(t, mapping), jsonText(t, wantMapping))
	}
	alarm := props(res["AccountDeadLetterAlarm"].(map[string]any))
	if !strings.Contains(jsonText(t, alarm["Dimensions"]), "AccountDeadLetterQueue") || !reflect.DeepEqual(alarm["AlarmActions"], []any{ref("Topic")}) {
		t.Errorf("account dead-letter alarm %s", jsonText(t, alarm))
	}

	outputs := section(t, tmpl, "Outputs")
	for name, value := range map[string]any{"EventBusArn": getAtt("EventBus", "Arn"), "AccountQueueUrl": ref("AccountQueue")} {
		o, _ := outputs[name].(map[string]any)
		if o == nil || o["Condition"] != "IsOrganization" || !reflect.DeepEqual(o["Value"], value) {
			t.Errorf("output %s: %v, want %v under IsOrganization", name, o, value)
		}
	}

	// The function's organization settings: set in organization mode, empty (not set) otherwise.
	vars := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
	for _, org := range []bool{false, true} {
		for _, hub := range []bool{false, true} {
			s := &stack{refs: map[string]string{"OrganizationMode": fmt.Sprint(org), "EnableSecurityHub": fmt.Sprint(hub),
				"AccountQueue": "https://sqs/accounts", "MemberRoleName": "audit", "EnforceRoleName": "fix", "ExternalId": "ext"},
				conditions: tmpl["Conditions"].(map[string]any)}
			want := map[string]string{"IAMWARDEN_ORGANIZATION": "", "IAMWARDEN_ACCOUNT_QUEUE_URL": "", "IAMWARDEN_MEMBER_ROLE_NAME": "",
				"IAMWARDEN_ENFORCE_ROLE_NAME": "", "IAMWARDEN_EXTERNAL_ID": "", "IAMWARDEN_SECURITY_HUB": ""}
			if org {
				want = map[string]string{"IAMWARDEN_ORGANIZATION": "true", "IAMWARDEN_ACCOUNT_QUEUE_URL": "https://sqs/accounts",
					"IAMWARDEN_MEMBER_ROLE_NAME": "audit", "IAMWARDEN_ENFORCE_ROLE_NAME": "fix", "IAMWARDEN_EXTERNAL_ID": "ext"}
			}
			want["IAMWARDEN_SECURITY_HUB"] = map[bool]string{true: "true", false: ""}[hub]
			for k, w := range want {
				got, err := s.eval(vars[k])
				if err != nil {
					t.Fatalf("%s: %v", k, err)
				}
				if got != w {
					t.Errorf("organization=%t securityhub=%t: %s = %q, want %q", org, hub, k, got, w)
				}
			}
		}
	}

	// Organization mode refuses to start without the organization and the external ID.
	rules := section(t, tmpl, "Rules")
	r, _ := rules["OrganizationSettings"].(map[string]any)
	if r == nil || !reflect.DeepEqual(r["RuleCondition"], map[string]any{"Fn::Equals": []any{ref("OrganizationMode"), "true"}}) ||
		!strings.Contains(jsonText(t, r["Assertions"]), "OrganizationId") || !strings.Contains(jsonText(t, r["Assertions"]), "ExternalId") {
		t.Errorf("rule OrganizationSettings %v, want assertions on OrganizationId and ExternalId in organization mode", r)
	}
}

// srcText is the source text of an attribute of a Terraform block.
func srcText(t *testing.T, file string, body *hclsyntax.Body, name string) string {
	t.Helper()
	a := body.Attributes[name]
	if a == nil {
		return ""
	}
	return string(a.Expr.Range().SliceBytes(mustRead(t, file)))
}

// The module's organization resources exist only with organization_mode, with the template's
// settings.
func TestTerraformOrganizationMode(t *testing.T) {
	mod := loadModule(t)
	const main = "terraform/main.tf"
	for id, addr := range organizationResources {
		typ, name, _ := strings.Cut(addr, ".")
		body := mod.resource(t, typ, name)
		if got := srcText(t, main, body, "count"); got != "var.organization_mode ? 1 : 0" {
			t.Errorf("%s (%s): count = %q, want var.organization_mode ? 1 : 0", addr, id, got)
		}
	}
	fn := mod.resource(t, "aws_lambda_function", "iamwarden")
	queue := mod.resource(t, "aws_sqs_queue", "accounts")
	if srcText(t, main, fn, "timeout") != "local.function_timeout" || srcText(t, main, queue, "visibility_timeout_seconds") != "local.function_timeout * 6" {
		t.Errorf("account queue visibility timeout %q and function timeout %q: want 6 x local.function_timeout",
			srcText(t, main, queue, "visibility_timeout_seconds"), srcText(t, main, fn, "timeout"))
	}
	if got := srcText(t, main, queue, "redrive_policy"); !strings.Contains(got, "aws_sqs_queue.account_dead_letters[0].arn") || !strings.Contains(got, "maxReceiveCount     = 3") {
		t.Errorf("account queue redrive_policy %s", got)
	}
	m := mod.resource(t, "aws_lambda_event_source_mapping", "accounts")
	for k, want := range map[string]string{"event_source_arn": "aws_sqs_queue.accounts[0].arn", "batch_size": "5",
		"function_response_types": `["ReportBatchItemFailures"]`} {
		if got := srcText(t, main, m, k); got != want {
			t.Errorf("event source mapping %s = %s, want %s", k, got, want)
		}
	}
	var concurrency string
	for _, b := range m.Blocks {
		if b.Type == "scaling_config" {
			concurrency = srcText(t, main, b.Body, "maximum_concurrency")
		}
	}
	if concurrency != "var.maximum_concurrency" {
		t.Errorf("event source mapping maximum_concurrency %q, want var.maximum_concurrency", concurrency)
	}
	if d, _ := mod.variables["maximum_concurrency"].Attributes["default"].Expr.Value(nil); d.AsBigFloat().String() != "5" {
		t.Errorf("maximum_concurrency default %v, want 5", d)
	}
	bus := mod.resource(t, "aws_cloudwatch_event_bus_policy", "organization")
	if got := srcText(t, main, bus, "policy"); !strings.Contains(got, `"aws:PrincipalOrgID" = var.organization_id`) || !strings.Contains(got, `"events:PutEvents"`) {
		t.Errorf("event bus policy %s, want PutEvents from the organization only", got)
	}
	rule := mod.resource(t, "aws_cloudwatch_event_rule", "organization")
	if got := srcText(t, main, rule, "event_pattern"); got != srcText(t, main, mod.resource(t, "aws_cloudwatch_event_rule", "iam_events"), "event_pattern") {
		t.Errorf("organization rule's pattern differs from iam_events':\n%s", got)
	}
}
