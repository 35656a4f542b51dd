package deploy_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/iamwarden/iamwarden/internal/policy"
)

// terraformTypes are the Terraform resources of each CloudFormation resource type: the same
// AWS resources, split as the AWS provider splits them.
var terraformTypes = map[string][]string{
	"AWS::IAM::Role":                {"aws_iam_role", "aws_iam_role_policy"}, // inline policies are their own resource
	"AWS::Lambda::Function":         {"aws_lambda_function"},
	"AWS::Logs::LogGroup":           {"aws_cloudwatch_log_group"},
	"AWS::Events::Rule":             {"aws_cloudwatch_event_rule", "aws_cloudwatch_event_target"}, // targets too
	"AWS::Lambda::Permission":       {"aws_lambda_permission"},
	"AWS::Scheduler::ScheduleGroup": {"aws_scheduler_schedule_group"},
	"AWS::SQS::Queue":               {"aws_sqs_queue"},
	"AWS::SQS::QueuePolicy":         {"aws_sqs_queue_policy"},
	"AWS::SNS::Topic":               {"aws_sns_topic"},
	"AWS::SNS::Subscription":        {"aws_sns_topic_subscription"},
	"AWS::DynamoDB::Table":          {"aws_dynamodb_table"},
	"AWS::CloudWatch::Alarm":        {"aws_cloudwatch_metric_alarm"},
	"AWS::Config::ConfigRule":       {"aws_config_config_rule"},
	// Organization mode (the hub).
	"AWS::Events::EventBus":           {"aws_cloudwatch_event_bus"},
	"AWS::Events::EventBusPolicy":     {"aws_cloudwatch_event_bus_policy"},
	"AWS::Lambda::EventSourceMapping": {"aws_lambda_event_source_mapping"},
	// member.yaml's placeholder that keeps a stack instance outside us-east-1 from being empty;
	// the member module is applied in us-east-1 only and has none.
	"AWS::CloudFormation::WaitConditionHandle": nil,
}

// terraformVariables are the module's variables of the template's parameters.
var terraformVariables = map[string]string{
	"Mode":                      "mode",
	"Grace":                     "grace",
	"MFARemovedGrace":           "mfa_removed_grace",
	"UnusedDays":                "unused_days",
	"HistoryRetentionDays":      "history_retention_days",
	"ExemptionParameter":        "exemption_parameter",
	"ConfigParameter":           "config_parameter",
	"Config":                    "config",
	"NotificationEmail":         "notification_email",
	"SweepSchedule":             "sweep_schedule",
	"EnableConfigRule":          "enable_config_rule",
	"MaximumExecutionFrequency": "maximum_execution_frequency",
	"MaxActions":                "max_actions",
	"CodeBucket":                "code_bucket",
	"CodeKey":                   "code_key",
	"LogRetentionDays":          "log_retention_days",
	"EnableSecurityHub":         "enable_security_hub",
	"OrganizationMode":          "organization_mode",
	"OrganizationId":            "organization_id",
	"ExternalId":                "external_id",
	"MemberRoleName":            "member_role_name",
	"EnforceRoleName":           "enforce_role_name",
	"EventBusName":              "event_bus_name",
	"MaximumConcurrency":        "maximum_concurrency",
}

// terraformOnlyVariables have no parameter: the stack's name is the function's name there, and
// the template cannot upload a local zip.
var terraformOnlyVariables = []string{"name", "lambda_zip"}

// module is the parsed Terraform module.
type module struct {
	resources map[string]map[string]*hclsyntax.Body // type -> name -> body
	variables map[string]*hclsyntax.Body
	locals    map[string]*hclsyntax.Attribute
	data      []string // type.name
}

func loadModule(t *testing.T) *module {
	t.Helper()
	return loadModuleDir(t, "terraform")
}

// loadModuleDir parses the module in dir (its *.tf files, not its subdirectories).
func loadModuleDir(t *testing.T, dir string) *module {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Terraform files: %v", err)
	}
	p := hclparse.NewParser()
	m := &module{resources: map[string]map[string]*hclsyntax.Body{}, variables: map[string]*hclsyntax.Body{}, locals: map[string]*hclsyntax.Attribute{}}
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			switch b.Type {
			case "resource":
				if m.resources[b.Labels[0]] == nil {
					m.resources[b.Labels[0]] = map[string]*hclsyntax.Body{}
				}
				m.resources[b.Labels[0]][b.Labels[1]] = b.Body
			case "variable":
				m.variables[b.Labels[0]] = b.Body
			case "locals":
				for name, a := range b.Body.Attributes {
					m.locals[name] = a
				}
			case "data":
				m.data = append(m.data, b.Labels[0]+"."+b.Labels[1])
			}
		}
	}
	return m
}

func (m *module) resource(t *testing.T, typ, name string) *hclsyntax.Body {
	t.Helper()
	b := m.resources[typ][name]
	if b == nil {
		t.Fatalf("module has no %s.%s", typ, name)
	}
	return b
}

// literal is the text of a string literal expression.
func literal(e hclsyntax.Expression) (string, bool) {
	switch e := e.(type) {
	case *hclsyntax.TemplateExpr:
		if len(e.Parts) == 1 {
			if l, ok := e.Parts[0].(*hclsyntax.LiteralValueExpr); ok && l.Val.Type() == cty.String {
				return l.Val.AsString(), true
			}
		}
	case *hclsyntax.LiteralValueExpr:
		if e.Val.Type() == cty.String {
			return e.Val.AsString(), true
		}
	case *hclsyntax.ObjectConsKeyExpr:
		if name := hcl.ExprAsKeyword(e.Wrapped); name != "" && !e.ForceNonLiteral {
			return name, true
		}
		return literal(e.Wrapped)
	}
	return "", false
}

// actionsIn collects the string literals under "Action" keys of the object constructors in e.
func actionsIn(e hclsyntax.Node, out map[string]bool) {
	_ = hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		obj, ok := n.(*hclsyntax.ObjectConsExpr)
		if !ok {
			return nil
		}
		for _, item := range obj.Items {
			if k, ok := literal(item.KeyExpr); !ok || k != "Action" {
				continue
			}
			_ = hclsyntax.VisitAll(item.ValueExpr, func(n hclsyntax.Node) hcl.Diagnostics {
				if ex, ok := n.(hclsyntax.Expression); ok {
					if s, ok := literal(ex); ok {
						out[s] = true
					}
				}
				return nil
			})
		}
		return nil
	})
}

// templateActions collects the actions of every policy document of the template (an event bus
// policy's is its Statement).
func templateActions(v any, out map[string]bool, inPolicy bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			switch {
			case k == "PolicyDocument" || k == "AssumeRolePolicyDocument" || k == "Statement":
				templateActions(e, out, true)
			case inPolicy && k == "Action":
				collectStrings(e, out)
			default:
				templateActions(e, out, inPolicy)
			}
		}
	case []any:
		for _, e := range v {
			templateActions(e, out, inPolicy)
		}
	}
}

func collectStrings(v any, out map[string]bool) {
	switch v := v.(type) {
	case string:
		out[v] = true
	case []any:
		for _, e := range v {
			collectStrings(e, out)
		}
	case map[string]any:
		for _, e := range v {
			collectStrings(e, out)
		}
	}
}

var actionShape = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z*]+$`)

func TestTerraformMatchesTemplate(t *testing.T) {
	tmpl := loadTemplate(t)
	mod := loadModule(t)

	t.Run("resources", func(t *testing.T) {
		want := map[string]bool{}
		for _, r := range section(t, tmpl, "Resources") {
			typ := r.(map[string]any)["Type"].(string)
			tf, ok := terraformTypes[typ]
			if !ok {
				t.Errorf("template resource type %s has no Terraform equivalent in terraformTypes", typ)
			}
			for _, x := range tf {
				want[x] = true
			}
		}
		got := map[string]bool{}
		for typ := range mod.resources {
			got[typ] = true
		}
		if !reflect.DeepEqual(sortedKeys(got), sortedKeys(want)) {
			t.Errorf("module resources %v, want (the template's) %v", sortedKeys(got), sortedKeys(want))
		}
	})

	t.Run("variables", func(t *testing.T) {
		want := map[string]bool{}
		for p := range section(t, tmpl, "Parameters") {
			v, ok := terraformVariables[p]
			if !ok {
				t.Errorf("parameter %s has no variable in terraformVariables", p)
			}
			want[v] = true
		}
		for _, v := range terraformOnlyVariables {
			want[v] = true
		}
		if got := sortedKeys(mod.variables); !reflect.DeepEqual(got, sortedKeys(want)) {
			t.Errorf("module variables %v, want %v", got, sortedKeys(want))
		}
	})

	t.Run("actions", func(t *testing.T) {
		want := map[string]bool{}
		templateActions(section(t, tmpl, "Resources"), want, false)
		got := map[string]bool{}
		for _, byName := range mod.resources {
			for _, body := range byName {
				for _, name := range []string{"policy", "assume_role_policy"} {
					if a := body.Attributes[name]; a != nil {
						actionsIn(a.Expr, got)
					}
				}
			}
		}
		for a := range want {
			if !actionShape.MatchString(a) {
				t.Errorf("template action %q is not an action", a)
			}
		}
		if len(want) < 40 {
			t.Errorf("only %d actions found in the template's policies", len(want))
		}
		if !reflect.DeepEqual(sortedKeys(got), sortedKeys(want)) {
			t.Errorf("module actions\n%v\nwant (the template's)\n%v", sortedKeys(got), sortedKeys(want))
		}
	})

	t.Run("environment", func(t *testing.T) {
		fn := mod.resource(t, "aws_lambda_function", "iamwarden")
		var got []string
		for _, b := range fn.Blocks {
			if b.Type != "environment" {
				continue
			}
			obj, ok := b.Body.Attributes["variables"].Expr.(*hclsyntax.ObjectConsExpr)
			if !ok {
				t.Fatal("environment.variables is not an object")
			}
			for _, item := range obj.Items {
				k, _ := literal(item.KeyExpr)
				got = append(got, k)
			}
		}
		sort.Strings(got)
		if want := sortedStrings(contractEnv); !reflect.DeepEqual(got, want) {
			t.Errorf("environment variables %v, want the contract's %v", got, want)
		}
	})

	t.Run("events", func(t *testing.T) {
		var got []string
		tuple, ok := mod.locals["iam_event_names"].Expr.(*hclsyntax.TupleConsExpr)
		if !ok {
			t.Fatal("local.iam_event_names is not a list")
		}
		for _, e := range tuple.Exprs {
			s, _ := literal(e)
			got = append(got, s)
		}
		if !reflect.DeepEqual(got, contractEvents) {
			t.Errorf("local.iam_event_names %v, want %v", got, contractEvents)
		}
		pattern := string(mod.resource(t, "aws_cloudwatch_event_rule", "iam_events").Attributes["event_pattern"].SrcRange.SliceBytes(mustRead(t, "terraform/main.tf")))
		if !strings.Contains(pattern, "local.iam_event_names") {
			t.Errorf("the IAM event rule's pattern does not use local.iam_event_names:\n%s", pattern)
		}
	})

	t.Run("region", func(t *testing.T) {
		msg, ok := literal(mod.locals["region_message"].Expr)
		if !ok || msg != regionMessage {
			t.Errorf("local.region_message = %q, want %q", msg, regionMessage)
		}
		for _, typ := range []string{"aws_lambda_function", "aws_cloudwatch_event_rule"} {
			for name, body := range mod.resources[typ] {
				if typ == "aws_cloudwatch_event_rule" && name == "sweep" {
					continue
				}
				if !hasRegionPrecondition(t, body, regionMessage) {
					t.Errorf("%s.%s: no lifecycle precondition that the region is us-east-1 with local.region_message", typ, name)
				}
			}
		}
	})
}

// hasRegionPrecondition reports whether body has a lifecycle precondition failing outside
// us-east-1 with local.region_message, msg.
func hasRegionPrecondition(t *testing.T, body *hclsyntax.Body, msg string) bool {
	t.Helper()
	for _, b := range body.Blocks {
		if b.Type != "lifecycle" {
			continue
		}
		for _, pc := range b.Body.Blocks {
			if pc.Type != "precondition" {
				continue
			}
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
				"data":  cty.ObjectVal(map[string]cty.Value{"aws_region": cty.ObjectVal(map[string]cty.Value{"current": cty.ObjectVal(map[string]cty.Value{"region": cty.StringVal("eu-west-1")})})}),
				"local": cty.ObjectVal(map[string]cty.Value{"region_message": cty.StringVal(msg)}),
			}}
			cond, diags := pc.Body.Attributes["condition"].Expr.Value(ctx)
			if diags.HasErrors() || !cond.Type().Equals(cty.Bool) || cond.True() {
				continue
			}
			ctx.Variables["data"] = cty.ObjectVal(map[string]cty.Value{"aws_region": cty.ObjectVal(map[string]cty.Value{"current": cty.ObjectVal(map[string]cty.Value{"region": cty.StringVal("us-east-1")})})})
			if cond, _ := pc.Body.Attributes["condition"].Expr.Value(ctx); !cond.True() {
				continue
			}
			if got, diags := pc.Body.Attributes["error_message"].Expr.Value(ctx); !diags.HasErrors() && got.AsString() == msg {
				return true
			}
		}
	}
	return false
}

// The function's role policy in the module is the renderer's: the module's expressions are
// evaluated with Terraform's jsonencode and concat, the variables of each setting and the
// attributes its resources would have.
func TestTerraformRolePolicyIsRendered(t *testing.T) {
	mod := loadModule(t)
	expr := mod.resource(t, "aws_iam_role_policy", "function").Attributes["policy"].Expr
	for _, d := range settings() {
		t.Run(d.name, func(t *testing.T) {
			ctx := d.terraformContext(t, mod)
			v, diags := expr.Value(ctx)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			var doc policy.Document
			if err := json.Unmarshal([]byte(v.AsString()), &doc); err != nil {
				t.Fatal(err)
			}
			got := normalized(t, doc)
			if want := rendered(t, d); !reflect.DeepEqual(got, want) {
				t.Errorf("aws_iam_role_policy.function differs from iamwarden policy render %s:\n--- module\n%s\n--- rendered\n%s",
					d.kind(), jsonText(t, got), jsonText(t, want))
			}
		})
	}
}

func obj(kv ...any) cty.Value {
	m := map[string]cty.Value{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			m[kv[i].(string)] = cty.StringVal(v)
		case cty.Value:
			m[kv[i].(string)] = v
		}
	}
	return cty.ObjectVal(m)
}

func (d deployed) terraformContext(t *testing.T, mod *module) *hcl.EvalContext {
	t.Helper()
	vars := map[string]cty.Value{}
	for name, body := range mod.variables {
		v := cty.NullVal(cty.String)
		if a := body.Attributes["default"]; a != nil {
			dv, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			v = dv
		}
		vars[name] = v
	}
	vars["mode"] = cty.StringVal(d.mode)
	vars["exemption_parameter"] = cty.StringVal(d.exemptionParameter)
	vars["config_parameter"] = cty.StringVal(d.configParameter)
	vars["name"] = cty.StringVal(d.group) // the schedule group is named after the module
	vars["organization_mode"] = cty.BoolVal(d.organization)
	vars["enable_security_hub"] = cty.BoolVal(d.securityHub)
	ctx := &hcl.EvalContext{
		Functions: map[string]function.Function{"jsonencode": stdlib.JSONEncodeFunc, "concat": stdlib.ConcatFunc, "tostring": stdlib.MakeToFunc(cty.String)},
		Variables: map[string]cty.Value{
			"var": cty.ObjectVal(vars),
			"data": obj(
				"aws_region", obj("current", obj("region", testRegion)),
				"aws_caller_identity", obj("current", obj("account_id", testAccount)),
				"aws_partition", obj("current", obj("partition", "aws"))),
			"aws_sns_topic":                obj("notifications", obj("arn", d.topicARN)),
			"aws_dynamodb_table":           obj("journal", obj("name", d.table)),
			"aws_scheduler_schedule_group": obj("deadlines", obj("name", d.group)),
			"aws_iam_role":                 obj("scheduler", obj("arn", d.schedulerARN), "function", obj("id", "iamwarden-function")),
			"aws_sqs_queue":                obj("dead_letters", obj("arn", d.queueARN), "accounts", cty.TupleVal([]cty.Value{obj("arn", d.accountQueueARN)})),
			"aws_cloudwatch_log_group":     obj("function", obj("name", d.logGroup)),
		},
	}
	// Locals may use each other: evaluate until every one is known.
	locals := map[string]cty.Value{}
	for range len(mod.locals) + 1 {
		ctx.Variables["local"] = cty.ObjectVal(locals)
		for name, a := range mod.locals {
			if _, ok := locals[name]; ok {
				continue
			}
			if v, diags := a.Expr.Value(ctx); !diags.HasErrors() {
				locals[name] = v
			}
		}
	}
	if len(locals) != len(mod.locals) {
		t.Fatalf("could evaluate only the locals %v", sortedKeys(locals))
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return ctx
}
