package deploy_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/policy/generate"
)

const (
	hubAccount      = "210987654321"
	hubFunctionRole = "iamwarden-FunctionRole-ABC"
	hubBusARN       = "arn:aws:events:us-east-1:" + hubAccount + ":event-bus/iamwarden"
	testOrgID       = "o-abcdef1234"
	testExternalID  = "iamwarden-external"
)

// memberTerraformVariables are the member module's variables of member.yaml's parameters.
var memberTerraformVariables = map[string]string{
	"HubAccountId":        "hub_account_id",
	"HubFunctionRoleName": "hub_function_role_name",
	"ExternalId":          "external_id",
	"OrganizationId":      "organization_id",
	"AuditRoleName":       "audit_role_name",
	"EnforceRoleName":     "enforce_role_name",
	"EnableEnforceRole":   "enable_enforce_role",
	"HubEventBusName":     "hub_event_bus_name",
	"ExemptionParameter":  "exemption_parameter",
}

func memberStack(tmpl map[string]any, region, exemptionParameter, enableEnforce string) *stack {
	return &stack{
		refs: map[string]string{
			"AWS::Region": region, "AWS::AccountId": testAccount, "AWS::Partition": "aws",
			"HubAccountId": hubAccount, "HubFunctionRoleName": hubFunctionRole, "ExternalId": testExternalID,
			"OrganizationId": testOrgID, "AuditRoleName": "iamwarden-audit", "EnforceRoleName": "iamwarden-enforce",
			"EnableEnforceRole": enableEnforce, "HubEventBusName": "iamwarden", "ExemptionParameter": exemptionParameter,
		},
		attrs:      map[string]string{"ForwarderRole.Arn": "arn:aws:iam::" + testAccount + ":role/forwarder"},
		conditions: tmpl["Conditions"].(map[string]any),
	}
}

func renderedMember(t *testing.T, kind generate.Kind, exemptionParameter string) policy.Document {
	t.Helper()
	doc, err := generate.Document(kind, generate.Options{Permission: generate.PermissionOptions{ExemptionParameter: exemptionParameter}})
	if err != nil {
		t.Fatal(err)
	}
	return normalized(t, doc)
}

// The member roles' policies are the renderer's member kinds.
func TestMemberRolePoliciesAreRendered(t *testing.T) {
	tmpl := loadTemplateAt(t, memberTemplatePath)
	res := section(t, tmpl, "Resources")
	for role, kind := range map[string]generate.Kind{"AuditRole": generate.KindIamwardenMemberAudit, "EnforceRole": generate.KindIamwardenMemberEnforce} {
		policies := props(res[role].(map[string]any))["Policies"].([]any)
		if len(policies) != 1 {
			t.Fatalf("%s has %d policies, want 1", role, len(policies))
		}
		doc := policies[0].(map[string]any)["PolicyDocument"]
		for _, exempt := range []string{"", "/team/exempt-users"} {
			t.Run(role+"/exempt="+exempt, func(t *testing.T) {
				got, err := memberStack(tmpl, testRegion, exempt, "true").eval(doc)
				if err != nil {
					t.Fatal(err)
				}
				if want := renderedMember(t, kind, exempt); !reflect.DeepEqual(normalized(t, got), want) {
					t.Errorf("%s's policy differs from iamwarden policy render %s:\n--- template\n%s\n--- rendered\n%s",
						role, kind, jsonText(t, normalized(t, got)), jsonText(t, want))
				}
			})
		}
	}
}

// The roles trust the hub's function role only, with the external ID and the organization, and
// exist only in us-east-1 (the enforce role only when enabled); the rule forwards the hub's
// pattern to the hub's bus, from us-east-1 only.
func TestMemberTemplate(t *testing.T) {
	tmpl := loadTemplateAt(t, memberTemplatePath)
	res := section(t, tmpl, "Resources")
	wantTrust := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"AWS": "arn:aws:iam::" + hubAccount + ":role/" + hubFunctionRole},
		"Action":    "sts:AssumeRole",
		"Condition": map[string]any{"StringEquals": map[string]any{"sts:ExternalId": testExternalID, "aws:PrincipalOrgID": testOrgID}},
	}}}
	for role, name := range map[string]string{"AuditRole": "iamwarden-audit", "EnforceRole": "iamwarden-enforce"} {
		p := props(res[role].(map[string]any))
		s := memberStack(tmpl, testRegion, "", "true")
		trust, err := s.eval(p["AssumeRolePolicyDocument"])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(trust, wantTrust) {
			t.Errorf("%s trusts\n%s\nwant\n%s", role, jsonText(t, trust), jsonText(t, wantTrust))
		}
		if got, _ := s.eval(p["RoleName"]); got != name {
			t.Errorf("%s RoleName %v, want %s (the parameter's default)", role, got, name)
		}
	}

	created := func(region, enable string) []string {
		s := memberStack(tmpl, region, "", enable)
		var ids []string
		for id, r := range res {
			c, ok := r.(map[string]any)["Condition"].(string)
			if ok {
				if b, err := s.condition(c); err != nil {
					t.Fatal(err)
				} else if !b {
					continue
				}
			}
			ids = append(ids, id)
		}
		return sortedStrings(ids)
	}
	for _, c := range []struct {
		region, enable string
		want           []string
	}{
		{"us-east-1", "false", []string{"AuditRole", "ForwarderRole", "IAMEventForwardRule", "RegionPlaceholder"}},
		{"us-east-1", "true", []string{"AuditRole", "EnforceRole", "ForwarderRole", "IAMEventForwardRule", "RegionPlaceholder"}},
		{"eu-west-1", "true", []string{"RegionPlaceholder"}},
		{"us-west-2", "false", []string{"RegionPlaceholder"}},
	} {
		if got := created(c.region, c.enable); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s with EnableEnforceRole=%s creates %v, want %v", c.region, c.enable, got, c.want)
		}
	}

	rule := props(res["IAMEventForwardRule"].(map[string]any))
	hubRule := props(section(t, loadTemplate(t), "Resources")["IAMEventRule"].(map[string]any))
	if !reflect.DeepEqual(rule["EventPattern"], hubRule["EventPattern"]) {
		t.Errorf("forwarded pattern %v, want the hub's IAMEventRule pattern %v", rule["EventPattern"], hubRule["EventPattern"])
	}
	var names []string
	for _, n := range rule["EventPattern"].(map[string]any)["detail"].(map[string]any)["eventName"].([]any) {
		names = append(names, n.(string))
	}
	if !reflect.DeepEqual(names, contractEvents) {
		t.Errorf("forwarded eventName %v, want the contract's %v", names, contractEvents)
	}
	if rule["EventBusName"] != nil {
		t.Errorf("the forwarding rule is on %v, want the default bus (CloudTrail's events arrive there)", rule["EventBusName"])
	}
	s := memberStack(tmpl, testRegion, "", "false")
	targets, err := s.eval(rule["Targets"])
	if err != nil {
		t.Fatal(err)
	}
	target := targets.([]any)[0].(map[string]any)
	if target["Arn"] != hubBusARN || target["RoleArn"] != "arn:aws:iam::"+testAccount+":role/forwarder" || target["RetryPolicy"] == nil {
		t.Errorf("forwarding target %v, want the hub's bus %s with ForwarderRole and a retry policy", target, hubBusARN)
	}
	forwarder, err := s.eval(props(res["ForwarderRole"].(map[string]any))["Policies"])
	if err != nil {
		t.Fatal(err)
	}
	want := []any{map[string]any{"PolicyName": "forward-to-iamwarden-hub", "PolicyDocument": map[string]any{"Version": "2012-10-17",
		"Statement": []any{map[string]any{"Effect": "Allow", "Action": "events:PutEvents", "Resource": hubBusARN}}}}}
	if !reflect.DeepEqual(forwarder, want) {
		t.Errorf("ForwarderRole's policy\n%s\nwant\n%s", jsonText(t, forwarder), jsonText(t, want))
	}
}

// allActions collects the IAM actions of every attribute of the module's resources and locals.
func allActions(mod *module) map[string]bool {
	got := map[string]bool{}
	for _, byName := range mod.resources {
		for _, body := range byName {
			for _, a := range body.Attributes {
				actionsIn(a.Expr, got)
			}
		}
	}
	for _, a := range mod.locals {
		actionsIn(a.Expr, got)
	}
	return got
}

func TestMemberTerraformMatchesTemplate(t *testing.T) {
	tmpl := loadTemplateAt(t, memberTemplatePath)
	mod := loadModuleDir(t, "terraform/member")

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
	if got := sortedKeys(mod.resources); !reflect.DeepEqual(got, sortedKeys(want)) {
		t.Errorf("member module resources %v, want (member.yaml's) %v", got, sortedKeys(want))
	}

	vars := map[string]bool{}
	for p := range section(t, tmpl, "Parameters") {
		v, ok := memberTerraformVariables[p]
		if !ok {
			t.Errorf("parameter %s has no variable in memberTerraformVariables", p)
		}
		vars[v] = true
	}
	if got := sortedKeys(mod.variables); !reflect.DeepEqual(got, sortedKeys(vars)) {
		t.Errorf("member module variables %v, want %v", got, sortedKeys(vars))
	}

	actions := map[string]bool{}
	templateActions(section(t, tmpl, "Resources"), actions, false)
	if got := sortedKeys(allActions(mod)); !reflect.DeepEqual(got, sortedKeys(actions)) {
		t.Errorf("member module actions\n%v\nwant (member.yaml's)\n%v", got, sortedKeys(actions))
	}

	var names []string
	for _, e := range mod.locals["iam_event_names"].Expr.(*hclsyntax.TupleConsExpr).Exprs {
		s, _ := literal(e)
		names = append(names, s)
	}
	if !reflect.DeepEqual(names, contractEvents) {
		t.Errorf("member local.iam_event_names %v, want %v", names, contractEvents)
	}
	if !hasRegionPrecondition(t, mod.resource(t, "aws_cloudwatch_event_rule", "forward"), memberRegionMessage(t, mod)) {
		t.Error("aws_cloudwatch_event_rule.forward: no lifecycle precondition that the region is us-east-1")
	}
}

func memberRegionMessage(t *testing.T, mod *module) string {
	t.Helper()
	msg, ok := literal(mod.locals["region_message"].Expr)
	if !ok || !strings.Contains(msg, "us-east-1") {
		t.Fatalf("member local.region_message %q", msg)
	}
	return msg
}

// The member module's role policies and trust, evaluated with Terraform's jsonencode and concat,
// are the renderer's and the template's.
func TestMemberTerraformPolicies(t *testing.T) {
	mod := loadModuleDir(t, "terraform/member")
	for _, exempt := range []string{"", "/team/exempt-users"} {
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
		for k, v := range map[string]string{"hub_account_id": hubAccount, "hub_function_role_name": hubFunctionRole,
			"external_id": testExternalID, "organization_id": testOrgID, "exemption_parameter": exempt} {
			vars[k] = cty.StringVal(v)
		}
		ctx := &hcl.EvalContext{
			Functions: map[string]function.Function{"jsonencode": stdlib.JSONEncodeFunc, "concat": stdlib.ConcatFunc},
			Variables: map[string]cty.Value{"var": cty.ObjectVal(vars),
				"data": obj("aws_region", obj("current", obj("region", testRegion)), "aws_caller_identity", obj("current", obj("account_id", testAccount)))},
		}
		locals := map[string]cty.Value{}
		for range len(mod.locals) + 1 {
			ctx.Variables["local"] = cty.ObjectVal(locals)
			for name, a := range mod.locals {
				if v, diags := a.Expr.Value(ctx); !diags.HasErrors() {
					locals[name] = v
				}
			}
		}
		ctx.Variables["local"] = cty.ObjectVal(locals)
		for name, kind := range map[string]generate.Kind{"audit": generate.KindIamwardenMemberAudit, "enforce": generate.KindIamwardenMemberEnforce} {
			v, diags := mod.resource(t, "aws_iam_role_policy", name).Attributes["policy"].Expr.Value(ctx)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			var doc policy.Document
			if err := json.Unmarshal([]byte(v.AsString()), &doc); err != nil {
				t.Fatal(err)
			}
			if want := renderedMember(t, kind, exempt); !reflect.DeepEqual(normalized(t, doc), want) {
				t.Errorf("aws_iam_role_policy.%s (exempt=%s) differs from iamwarden policy render %s:\n--- module\n%s\n--- rendered\n%s",
					name, exempt, kind, jsonText(t, normalized(t, doc)), jsonText(t, want))
			}
		}
		trust := locals["hub_trust"]
		var got any
		if err := json.Unmarshal([]byte(trust.AsString()), &got); err != nil {
			t.Fatal(err)
		}
		tmpl := loadTemplateAt(t, memberTemplatePath)
		want, err := memberStack(tmpl, testRegion, exempt, "true").eval(props(section(t, tmpl, "Resources")["AuditRole"].(map[string]any))["AssumeRolePolicyDocument"])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalized(t, got), normalized(t, want)) {
			t.Errorf("member module's trust\n%s\nwant (member.yaml's)\n%s", jsonText(t, got), jsonText(t, want))
		}
	}
}

// member.yaml on moto: in us-east-1 both roles (with their trust and policies) and the rule to
// the hub's bus; in another region, only the placeholder (moto ignores
// AWS::CloudFormation::WaitConditionHandle, so nothing is stripped).
func TestMemberTemplateOnMoto(t *testing.T) {
	ctx := context.Background()
	params := map[string]string{"HubAccountId": hubAccount, "HubFunctionRoleName": hubFunctionRole, "ExternalId": testExternalID,
		"OrganizationId": testOrgID, "EnableEnforceRole": "true"}
	body := strippedForMoto(t, loadTemplateAt(t, memberTemplatePath))

	srv := mototest.Shared(t)
	cfg := srv.Config(ctx)
	cf := cloudformation.NewFromConfig(cfg)
	if _, err := createStackFrom(ctx, t, cf, "iamwarden-member", body, params); err != nil {
		t.Fatal(err)
	}
	outputs := stackComplete(ctx, t, cf, "iamwarden-member")
	for k, name := range map[string]string{"AuditRoleArn": "iamwarden-audit", "EnforceRoleArn": "iamwarden-enforce"} {
		if want := "arn:aws:iam::" + srv.AccountID + ":role/" + name; outputs[k] != want {
			t.Errorf("output %s = %q, want %s", k, outputs[k], want)
		}
	}
	client := iam.NewFromConfig(cfg)
	for role, kind := range map[string]generate.Kind{"iamwarden-audit": generate.KindIamwardenMemberAudit, "iamwarden-enforce": generate.KindIamwardenMemberEnforce} {
		r, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
		if err != nil {
			t.Fatalf("role %s: %v", role, err)
		}
		trust, _ := url.QueryUnescape(aws.ToString(r.Role.AssumeRolePolicyDocument))
		if !strings.Contains(trust, "arn:aws:iam::"+hubAccount+":role/"+hubFunctionRole) || !strings.Contains(trust, testExternalID) || !strings.Contains(trust, testOrgID) {
			t.Errorf("role %s trusts %s", role, trust)
		}
		p, err := client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(string(kind))})
		if err != nil {
			t.Fatalf("role %s policy: %v", role, err)
		}
		// moto's CloudFormation stores an inline policy as the text of a Python dict, not JSON:
		// the names are looked for in it (TestMemberRolePoliciesAreRendered compares the
		// documents).
		text, _ := url.QueryUnescape(aws.ToString(p.PolicyDocument))
		for _, st := range renderedMember(t, kind, "").Statement {
			for _, name := range append([]string{st.Sid}, st.Action...) {
				if !strings.Contains(text, "'"+name+"'") && !strings.Contains(text, `"`+name+`"`) {
					t.Errorf("role %s's policy on moto lacks %s:\n%s", role, name, text)
				}
			}
		}
	}
	physical := physicalIDs(ctx, t, cf, "iamwarden-member")
	b, _ := json.Marshal(map[string]string{"Rule": physical["IAMEventForwardRule"]})
	code, out := signedRequest(t, cfg, http.MethodPost, "events", srv.Endpoint+"/", "AWSEvents.ListTargetsByRule", b)
	if code != http.StatusOK || !strings.Contains(string(out), hubBusARN) || !strings.Contains(string(out), "RoleArn") {
		t.Errorf("forwarding rule %s: targets %d %s, want the hub's bus with a role", physical["IAMEventForwardRule"], code, out)
	}

	// Another account, another region: the stack instance creates no role.
	other := mototest.Shared(t)
	ocfg := other.Config(ctx)
	ocfg.Region = "eu-west-1"
	ocf := cloudformation.NewFromConfig(ocfg)
	if _, err := createStackFrom(ctx, t, ocf, "iamwarden-member", body, params); err != nil {
		t.Fatal(err)
	}
	if outputs := stackComplete(ctx, t, ocf, "iamwarden-member"); len(outputs) != 0 {
		t.Errorf("eu-west-1 outputs %v, want none", outputs)
	}
	_, err := iam.NewFromConfig(ocfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("iamwarden-audit")})
	var missing *iamtypes.NoSuchEntityException
	if !errors.As(err, &missing) {
		t.Errorf("eu-west-1 stack instance: GetRole iamwarden-audit: %v, want NoSuchEntity", err)
	}
	if ids := physicalIDs(ctx, t, ocf, "iamwarden-member"); len(ids) > 1 {
		t.Errorf("eu-west-1 stack instance resources %v, want the placeholder only", ids)
	}
}
