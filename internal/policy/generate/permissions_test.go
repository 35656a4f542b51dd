package generate_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/policy/generate"
)

const repoRoot = "../../.."

// services maps an SDK service package to its IAM action prefix and client. Security Hub joins
// the list with the module that calls it: add
// {"github.com/aws/aws-sdk-go-v2/service/securityhub", "securityhub", &securityhub.Client{}}
// together with internal/securityhub (go.mod gains the module then).
var services = []struct {
	path   string
	prefix string
	client any
}{
	{"github.com/aws/aws-sdk-go-v2/service/iam", "iam", &iam.Client{}},
	{"github.com/aws/aws-sdk-go-v2/service/sts", "sts", &sts.Client{}},
	{"github.com/aws/aws-sdk-go-v2/service/ssm", "ssm", &ssm.Client{}},
	{"github.com/aws/aws-sdk-go-v2/service/sns", "sns", &sns.Client{}},
	{"github.com/aws/aws-sdk-go-v2/service/dynamodb", "dynamodb", &dynamodb.Client{}},
	{"github.com/aws/aws-sdk-go-v2/service/organizations", "organizations", &organizations.Client{}},
	{"github.com/aws/aws-sdk-go-v2/service/scheduler", "scheduler", &scheduler.Client{}},
	{"github.com/aws/aws-sdk-go-v2/service/configservice", "config", &configservice.Client{}},
	{"github.com/aws/aws-sdk-go-v2/service/securityhub", "securityhub", &securityhub.Client{}},
	{"github.com/aws/aws-sdk-go-v2/service/sqs", "sqs", &sqs.Client{}},
}

// packagePolicy says which policy must allow the AWS calls of each package.
var packagePolicy = map[string]generate.Kind{
	"internal/inventory":      generate.KindIamwardenScan,
	"internal/exempt":         generate.KindIamwardenScan,
	"internal/remediate":      generate.KindIamwardenEnforce,
	"internal/notify":         generate.KindIamwardenEnforce,
	"internal/journal/dynamo": generate.KindIamwardenEnforce,
}

// setupOnly are calls made only when deploying ('journal init'), with the deployer's rights:
// creating the journal table and turning on its TTL and point-in-time recovery is not part of
// enforce. (DescribeTable is: every run checks the table.)
var setupOnly = map[string]string{
	"dynamodb:CreateTable":             "dynamo.CreateTable creates the journal table at deployment",
	"dynamodb:UpdateTimeToLive":        "dynamo.CreateTable turns on expiry of abandoned leases",
	"dynamodb:DescribeTimeToLive":      "dynamo.CreateTable reads whether expiry is on",
	"dynamodb:UpdateContinuousBackups": "dynamo.CreateTable turns on point-in-time recovery",
}

// applyOnly are calls made only by 'policy apply' (remediate.Executor.ApplyInstall) and by
// undoing its journal entries: installing the enforce-MFA policy and group is an administrator's
// job, run with an administrator's rights, and not part of the enforce policy the Lambda runs
// with (docs/policy-render.md lists them).
var applyOnly = map[string]string{
	"iam:CreatePolicy":            "policy apply creates the enforce-mfa policy",
	"iam:CreatePolicyVersion":     "policy apply adds the document as a new version",
	"iam:SetDefaultPolicyVersion": "policy apply makes it the default; undo restores the previous one",
	"iam:DeletePolicyVersion":     "policy apply makes room for a version; undo deletes the one it made",
	"iam:CreateGroup":             "policy apply creates the group",
	"iam:AttachGroupPolicy":       "policy apply attaches the policy to the group",
	"iam:GetGroup":                "policy apply and its undo read the group's members",
	"iam:AddUserToGroup":          "policy apply adds users to the group",
	"iam:RemoveUserFromGroup":     "undo of policy apply removes them",
}

// transactItemActions are the IAM actions a TransactWriteItems item needs, by item field.
var transactItemActions = map[string]string{
	"Put":            "dynamodb:PutItem",
	"Update":         "dynamodb:UpdateItem",
	"Delete":         "dynamodb:DeleteItem",
	"ConditionCheck": "dynamodb:ConditionCheckItem",
}

// operations returns the API operation names of an SDK client: its methods taking a context and
// a *XInput.
func operations(client any) map[string]bool {
	ctxType := reflect.TypeOf((*context.Context)(nil)).Elem()
	t := reflect.TypeOf(client)
	ops := map[string]bool{}
	for i := range t.NumMethod() {
		m := t.Method(i)
		if m.Type.NumIn() < 3 || m.Type.In(1) != ctxType {
			continue
		}
		in := m.Type.In(2)
		if in.Kind() == reflect.Pointer && in.Elem().Name() == m.Name+"Input" {
			ops[m.Name] = true
		}
	}
	return ops
}

// callsIn returns the IAM actions of the AWS calls the non-test Go files of dir make: method calls
// named after an operation of a service the file imports, and uses of an operation's Input type
// (paginators, waiters, interfaces with the SDK's signatures).
func callsIn(t *testing.T, dir string) map[string]string {
	t.Helper()
	ops := map[string]map[string]bool{}
	for _, s := range services {
		ops[s.path] = operations(s.client)
	}
	found := map[string]string{} // action -> file:line
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(repoRoot, dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	transactItems := map[string]bool{}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		imported := map[string]string{} // local name -> prefix
		var prefixes []string
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			for _, s := range services {
				if p != s.path {
					continue
				}
				name := filepath.Base(p)
				if im.Name != nil {
					name = im.Name.Name
				}
				imported[name] = s.path
				prefixes = append(prefixes, s.path)
			}
		}
		if len(prefixes) == 0 {
			continue
		}
		prefixOf := func(path string) string {
			for _, s := range services {
				if s.path == path {
					return s.prefix
				}
			}
			return ""
		}
		record := func(path, op string, pos token.Pos) {
			action := prefixOf(path) + ":" + op
			if _, ok := found[action]; !ok {
				p := fset.Position(pos)
				found[action] = filepath.Base(p.Filename) + ":" + strconv.Itoa(p.Line)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok {
					if path, ok := imported[id.Name]; ok && strings.HasSuffix(n.Sel.Name, "Input") {
						if op := strings.TrimSuffix(n.Sel.Name, "Input"); ops[path][op] {
							record(path, op, n.Pos())
						}
					}
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && imported[id.Name] != "" {
					return true // a package function such as iam.NewFromConfig
				}
				for _, path := range prefixes {
					if ops[path][sel.Sel.Name] {
						record(path, sel.Sel.Name, n.Pos())
					}
				}
			case *ast.CompositeLit:
				keys := func(lit *ast.CompositeLit) {
					for _, e := range lit.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok {
								transactItems[k.Name] = true
							}
						}
					}
				}
				typ := n.Type
				if arr, ok := typ.(*ast.ArrayType); ok {
					typ = arr.Elt
				}
				sel, ok := typ.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "TransactWriteItem" {
					return true
				}
				if n.Type == typ {
					keys(n)
					return true
				}
				for _, e := range n.Elts { // []types.TransactWriteItem{{Put: ...}}
					if lit, ok := e.(*ast.CompositeLit); ok {
						keys(lit)
					}
				}
			}
			return true
		})
	}
	if where, ok := found["dynamodb:TransactWriteItems"]; ok {
		delete(found, "dynamodb:TransactWriteItems")
		if len(transactItems) == 0 {
			t.Errorf("%s: TransactWriteItems call whose item kinds could not be found", where)
		}
		for k := range transactItems {
			found[transactItemActions[k]] = where + " (TransactWriteItems " + k + ")"
		}
	}
	// SQS's batch calls are authorised by the action of one message.
	for batch, action := range map[string]string{"sqs:SendMessageBatch": "sqs:SendMessage", "sqs:DeleteMessageBatch": "sqs:DeleteMessage"} {
		if where, ok := found[batch]; ok {
			delete(found, batch)
			found[action] = where + " (" + batch + ")"
		}
	}
	return found
}

// allowedActions returns the actions the Allow statements of a document list, lower-cased.
func allowedActions(doc policy.Document) map[string]string {
	out := map[string]string{}
	for _, st := range doc.Statement {
		if st.Effect != policy.EffectAllow {
			continue
		}
		for _, a := range st.Action {
			out[strings.ToLower(a)] = a
		}
	}
	return out
}

func TestPermissionsMatchTheCode(t *testing.T) {
	used := map[generate.Kind]map[string]bool{}
	setupSeen := map[string]bool{}
	dirs := make([]string, 0, len(packagePolicy))
	for d := range packagePolicy {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		kind := packagePolicy[dir]
		doc, err := generate.Document(kind, generate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		allowed := allowedActions(doc)
		calls := callsIn(t, dir)
		if len(calls) == 0 {
			t.Errorf("%s: no AWS call found; is the package still calling AWS?", dir)
		}
		for action, where := range calls {
			if _, ok := setupOnly[action]; ok {
				setupSeen[action] = true
				continue
			}
			if _, ok := applyOnly[action]; ok && kind == generate.KindIamwardenEnforce {
				setupSeen[action] = true
				continue
			}
			if used[kind] == nil {
				used[kind] = map[string]bool{}
			}
			used[kind][strings.ToLower(action)] = true
			if _, ok := allowed[strings.ToLower(action)]; !ok {
				t.Errorf("%s/%s calls %s, which the %s policy does not allow (add it to internal/policy/generate/policies.go)", dir, where, action, kind)
			}
		}
	}
	for action := range setupOnly {
		if !setupSeen[action] {
			t.Errorf("setupOnly lists %s, which no package calls any more", action)
		}
	}
	for action := range applyOnly {
		if !setupSeen[action] {
			t.Errorf("applyOnly lists %s, which no package calls any more", action)
		}
	}
	// Least privilege: every action granted is called by a package the policy covers (the enforce
	// policy covers the scan packages too).
	for _, kind := range []generate.Kind{generate.KindIamwardenScan, generate.KindIamwardenEnforce} {
		doc, _ := generate.Document(kind, generate.Options{})
		for low, action := range allowedActions(doc) {
			if used[kind][low] || (kind == generate.KindIamwardenEnforce && used[generate.KindIamwardenScan][low]) {
				continue
			}
			t.Errorf("the %s policy allows %s, which no covered package calls", kind, action)
		}
	}
}

var docAction = regexp.MustCompile(`\b(?:iam|sts|ssm|sns|dynamodb|organizations|scheduler|config|sqs|logs|securityhub):[A-Z][A-Za-z]+`)

// TestPermissionsDocument checks docs/permissions.md lists exactly the actions of the rendered
// iamwarden policies.
func TestPermissionsDocument(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(repoRoot, "docs", "permissions.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, a := range docAction.FindAllString(string(text), -1) {
		documented[a] = true
	}
	rendered := map[string]bool{}
	hub := generate.PermissionOptions{ConfigParameter: "/iamwarden/config", Organization: &generate.OrganizationOptions{}, SecurityHub: true}
	for _, kind := range []generate.Kind{generate.KindIamwardenScan, generate.KindIamwardenEnforce,
		generate.KindIamwardenLambdaReport, generate.KindIamwardenLambdaEnforce,
		generate.KindIamwardenMemberAudit, generate.KindIamwardenMemberEnforce} {
		doc, _ := generate.Document(kind, generate.Options{Permission: hub})
		for _, a := range allowedActions(doc) {
			rendered[a] = true
			if !documented[a] {
				t.Errorf("docs/permissions.md does not mention %s, which the %s policy allows", a, kind)
			}
		}
	}
	for a := range documented {
		if !rendered[a] {
			t.Errorf("docs/permissions.md lists %s, which no iamwarden policy allows", a)
		}
	}
}

// The enforce role may delete the journal's lease and dedupe items and run body chunks, never an
// entry of the audit trail or a run record's head: DeleteItem is allowed only for keys with a
// reserved prefix.
func TestEnforcePolicyCannotEraseTheJournal(t *testing.T) {
	doc, err := generate.Document(generate.KindIamwardenEnforce, generate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Compile("iamwarden-enforce", &doc, policy.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	set := &policy.PolicySet{Identity: []*policy.Policy{p}}
	table := "arn:aws:dynamodb:us-east-1:123456789012:table/iamwarden-journal"
	for key, want := range map[string]policy.Result{
		journal.LeasePrefix + "123456789012":                                policy.Allowed,
		journal.ReservedPrefix + "change/123456789012/x":                    policy.Allowed,
		"01JPAAAAAAAAAAAAAAAAAAAAA1":                                        policy.ImplicitDeny,
		journal.RunPrefix + "01JPAAAAAAAAAAAAAAAAAAAAA1#0123456789abcdef#0": policy.Allowed,
		journal.RunPrefix + "01JPAAAAAAAAAAAAAAAAAAAAA1":                    policy.ImplicitDeny,
	} {
		d := policy.Evaluate(set, &policy.Request{Principal: "arn:aws:sts::123456789012:assumed-role/iamwarden/run", Action: "dynamodb:DeleteItem",
			Resource: table, Context: map[string]policy.Value{"dynamodb:LeadingKeys": policy.Strings(key)}})
		if d.Result != want {
			t.Errorf("DeleteItem of %s: %s, want %s", key, d.Result, want)
		}
	}
}

// lambdaOnly are the actions the Lambda's role has beyond the CLI's policies, each for a call
// the Lambda contract lists ("AWS calls the function makes").
var lambdaOnly = map[string]string{
	"scheduler:CreateSchedule": "one-shot deadline schedule of a user given a grace period",
	"scheduler:GetSchedule":    "reads a deadline schedule before changing it",
	"scheduler:UpdateSchedule": "moves a deadline",
	"scheduler:DeleteSchedule": "removes a deadline no longer needed",
	"iam:PassRole":             "hands the scheduler role to the deadline schedules",
	"config:PutEvaluations":    "answers the AWS Config custom rule",
	"sqs:SendMessage":          "failed asynchronous invocations go to the dead-letter queue",
	"logs:CreateLogStream":     "the function's logs",
	"logs:PutLogEvents":        "the function's logs",
}

func actionSet(t *testing.T, kind generate.Kind, opts generate.PermissionOptions) map[string]bool {
	t.Helper()
	doc, err := generate.Document(kind, generate.Options{Permission: opts})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, a := range allowedActions(doc) {
		out[a] = true
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestLambdaPolicies checks the Lambda's role policies grant what the function calls: in report
// mode the scan's policy, the live re-read of a user, notifications, the journal as the
// enforce policy has it, and the Lambda-only actions; in enforce mode also the user changes.
func TestLambdaPolicies(t *testing.T) {
	opts := generate.PermissionOptions{}
	want := actionSet(t, generate.KindIamwardenScan, opts)
	for _, a := range generate.UserReadActions {
		want[a] = true
	}
	want["sns:Publish"] = true
	for _, a := range append(append([]string{}, generate.JournalActions...), generate.JournalDeleteActions...) {
		want[a] = true
	}
	for a := range lambdaOnly {
		want[a] = true
	}
	report := actionSet(t, generate.KindIamwardenLambdaReport, opts)
	if got, w := sortedKeys(report), sortedKeys(want); !reflect.DeepEqual(got, w) {
		t.Errorf("iamwarden-lambda-report allows\n%v\nwant\n%v", got, w)
	}
	for _, a := range generate.UserChangeActions {
		want[a] = true
	}
	enforce := actionSet(t, generate.KindIamwardenLambdaEnforce, opts)
	if got, w := sortedKeys(enforce), sortedKeys(want); !reflect.DeepEqual(got, w) {
		t.Errorf("iamwarden-lambda-enforce allows\n%v\nwant\n%v", got, w)
	}
	// Everything the CLI's enforce policy allows, the enforce role allows.
	for a := range actionSet(t, generate.KindIamwardenEnforce, opts) {
		if !enforce[a] {
			t.Errorf("iamwarden-lambda-enforce lacks %s of iamwarden-enforce", a)
		}
	}

	// The journal and notification statements are the enforce policy's, word for word.
	cli, _ := generate.Document(generate.KindIamwardenEnforce, generate.Options{})
	bySid := func(doc policy.Document) map[string]policy.Statement {
		m := map[string]policy.Statement{}
		for _, st := range doc.Statement {
			m[st.Sid] = st
		}
		return m
	}
	for _, kind := range []generate.Kind{generate.KindIamwardenLambdaReport, generate.KindIamwardenLambdaEnforce} {
		doc, _ := generate.Document(kind, generate.Options{})
		got := bySid(doc)
		for _, sid := range []string{"IamwardenScan", "IamwardenExemptionList", "IamwardenNotify", "IamwardenJournal", "IamwardenJournalRelease"} {
			if !reflect.DeepEqual(got[sid], bySid(cli)[sid]) {
				t.Errorf("%s: statement %s is %+v, want iamwarden-enforce's %+v", kind, sid, got[sid], bySid(cli)[sid])
			}
		}
		if _, ok := got["IamwardenConfigParameter"]; ok {
			t.Errorf("%s: configuration parameter statement without a configuration parameter", kind)
		}
		pass := got["IamwardenPassSchedulerRole"]
		if svc := pass.Condition["StringEquals"]["iam:PassedToService"]; !reflect.DeepEqual(svc, policy.ConditionValues{"scheduler.amazonaws.com"}) {
			t.Errorf("%s: iam:PassRole condition %v, want iam:PassedToService scheduler.amazonaws.com", kind, pass.Condition)
		}
	}
}

// TestLambdaPolicyResources checks the options scope the Lambda's resources.
func TestLambdaPolicyResources(t *testing.T) {
	doc, err := generate.Document(generate.KindIamwardenLambdaEnforce, generate.Options{Permission: generate.PermissionOptions{
		ConfigParameter:    "/iamwarden/config",
		ScheduleGroup:      "deadlines",
		SchedulerRoleARN:   "arn:aws:iam::123456789012:role/sched",
		DeadLetterQueueARN: "arn:aws:sqs:us-east-1:123456789012:dlq",
		LogGroupARN:        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn",
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"IamwardenConfigParameter":   {"arn:aws:ssm:*:*:parameter/iamwarden/config"},
		"IamwardenDeadlineSchedules": {"arn:aws:scheduler:*:*:schedule/deadlines/*"},
		"IamwardenPassSchedulerRole": {"arn:aws:iam::123456789012:role/sched"},
		"IamwardenDeadLetter":        {"arn:aws:sqs:us-east-1:123456789012:dlq"},
		"IamwardenLogs":              {"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:*"},
		"IamwardenConfigEvaluations": {"*"},
	}
	seen := map[string]bool{}
	for _, st := range doc.Statement {
		if w, ok := want[st.Sid]; ok {
			seen[st.Sid] = true
			if !reflect.DeepEqual([]string(st.Resource), w) {
				t.Errorf("%s: resource %v, want %v", st.Sid, st.Resource, w)
			}
		}
	}
	for sid := range want {
		if !seen[sid] {
			t.Errorf("statement %s missing", sid)
		}
	}
	last := doc.Statement[len(doc.Statement)-1]
	if last.Sid != "IamwardenEnforce" || !reflect.DeepEqual([]string(last.Action), generate.UserChangeActions) {
		t.Errorf("enforce mode's last statement is %+v, want IamwardenEnforce with %v (deploy/ appends it to report mode's)", last, generate.UserChangeActions)
	}
}

// hubOnly are the actions the organization's hub function has beyond the single-account
// function's, each for a call of the organization contract (docs/organizations.md).
var hubOnly = map[string]string{
	"organizations:ListAccounts":                     "the sweep lists the organization's accounts",
	"organizations:ListAccountsForParent":            "accounts of a selected OU",
	"organizations:ListOrganizationalUnitsForParent": "the OUs under a selected OU",
	"organizations:DescribeAccount":                  "an event's account is still ACTIVE",
	"sts:AssumeRole":                                 "enters a member account through its iamwarden role",
	"sqs:ReceiveMessage":                             "the event source mapping polls the account queue",
	"sqs:DeleteMessage":                              "removes the account's work once done",
	"sqs:GetQueueAttributes":                         "the event source mapping checks the queue",
	"sqs:ChangeMessageVisibility":                    "a failed account's work goes back to the queue",
	"securityhub:BatchImportFindings":                "imports the hub account's own findings (with the Security Hub option)",
	// sqs:SendMessage is already there, on the dead-letter queue: the hub also sends one message
	// per account of a sweep to the account queue.
}

// TestOrganizationPolicies checks the hub's additions to the function's policy and the member
// roles' policies.
func TestOrganizationPolicies(t *testing.T) {
	org := generate.PermissionOptions{Organization: &generate.OrganizationOptions{}, SecurityHub: true}
	for _, kind := range []generate.Kind{generate.KindIamwardenLambdaReport, generate.KindIamwardenLambdaEnforce} {
		want := actionSet(t, kind, generate.PermissionOptions{})
		for a := range hubOnly {
			want[a] = true
		}
		if got, w := sortedKeys(actionSet(t, kind, org)), sortedKeys(want); !reflect.DeepEqual(got, w) {
			t.Errorf("%s as the hub allows\n%v\nwant\n%v", kind, got, w)
		}
		// The hub's statements come before the enforce statement, which stays last.
		doc, _ := generate.Document(kind, generate.Options{Permission: org})
		if last := doc.Statement[len(doc.Statement)-1]; kind == generate.KindIamwardenLambdaEnforce && last.Sid != "IamwardenEnforce" {
			t.Errorf("%s as the hub: last statement %s, want IamwardenEnforce", kind, last.Sid)
		}
	}
	// Security Hub alone (single account) adds only the import.
	want := actionSet(t, generate.KindIamwardenLambdaReport, generate.PermissionOptions{})
	want["securityhub:BatchImportFindings"] = true
	if got, w := sortedKeys(actionSet(t, generate.KindIamwardenLambdaReport, generate.PermissionOptions{SecurityHub: true})), sortedKeys(want); !reflect.DeepEqual(got, w) {
		t.Errorf("single account with Security Hub allows\n%v\nwant\n%v", got, w)
	}

	// Which member role each mode may enter, and nothing else.
	roles := func(kind generate.Kind) []string {
		doc, _ := generate.Document(kind, generate.Options{Permission: org})
		var out []string
		for _, st := range doc.Statement {
			for _, a := range st.Action {
				if a == "sts:AssumeRole" {
					out = append(out, st.Resource...)
				}
			}
		}
		return out
	}
	if got := roles(generate.KindIamwardenLambdaReport); !reflect.DeepEqual(got, []string{"arn:aws:iam::*:role/iamwarden-audit"}) {
		t.Errorf("report-mode hub assumes %v, want the audit role only", got)
	}
	if got := roles(generate.KindIamwardenLambdaEnforce); !reflect.DeepEqual(got, []string{"arn:aws:iam::*:role/iamwarden-enforce"}) {
		t.Errorf("enforce-mode hub assumes %v, want the enforce role only", got)
	}

	// The member roles: the scan's, the live re-read of a user and the import of findings; the
	// enforce role adds the user changes.
	member := actionSet(t, generate.KindIamwardenScan, generate.PermissionOptions{})
	for _, a := range append(append([]string{}, generate.UserReadActions...), generate.SecurityHubActions...) {
		member[a] = true
	}
	if got, w := sortedKeys(actionSet(t, generate.KindIamwardenMemberAudit, generate.PermissionOptions{})), sortedKeys(member); !reflect.DeepEqual(got, w) {
		t.Errorf("iamwarden-member-audit allows\n%v\nwant\n%v", got, w)
	}
	for _, a := range generate.UserChangeActions {
		member[a] = true
	}
	if got, w := sortedKeys(actionSet(t, generate.KindIamwardenMemberEnforce, generate.PermissionOptions{})), sortedKeys(member); !reflect.DeepEqual(got, w) {
		t.Errorf("iamwarden-member-enforce allows\n%v\nwant\n%v", got, w)
	}
	scan, _ := generate.Document(generate.KindIamwardenScan, generate.Options{Permission: generate.PermissionOptions{ExemptionParameter: "/team/exempt"}})
	for _, kind := range []generate.Kind{generate.KindIamwardenMemberAudit, generate.KindIamwardenMemberEnforce} {
		doc, _ := generate.Document(kind, generate.Options{Permission: generate.PermissionOptions{ExemptionParameter: "/team/exempt"}})
		if !reflect.DeepEqual(doc.Statement[:len(scan.Statement)], scan.Statement) {
			t.Errorf("%s does not start with the statements of iamwarden-scan", kind)
		}
	}
	enforce, _ := generate.Document(generate.KindIamwardenMemberEnforce, generate.Options{})
	if last := enforce.Statement[len(enforce.Statement)-1]; last.Sid != "IamwardenEnforce" || !reflect.DeepEqual([]string(last.Action), generate.UserChangeActions) {
		t.Errorf("iamwarden-member-enforce's last statement is %+v, want IamwardenEnforce (member.yaml appends it to the audit role's)", last)
	}
}

// organizationPackages are the packages of the organization mode whose AWS calls the hub's
// role must allow (TestHubCallsAreAllowed): the organization listing and fan-out, and the
// Security Hub import.
var organizationPackages = []string{"internal/org", "internal/securityhub"}

// TestHubCallsAreAllowed checks the direct AWS calls of the function's packages, and of the
// organization packages, against the hub's enforce-mode role with Security Hub on. Calls made
// inside a member account go through the member role: the enforce member role allows a subset
// of these (TestOrganizationPolicies).
func TestHubCallsAreAllowed(t *testing.T) {
	allowed := actionSet(t, generate.KindIamwardenLambdaEnforce, generate.PermissionOptions{ConfigParameter: "/x",
		Organization: &generate.OrganizationOptions{}, SecurityHub: true})
	low := map[string]bool{}
	for a := range allowed {
		low[strings.ToLower(a)] = true
	}
	for _, dir := range append([]string{"internal/lambdafn", "internal/deadline", "internal/configrule", "internal/warden"}, organizationPackages...) {
		for action, where := range callsIn(t, dir) {
			if !low[strings.ToLower(action)] {
				t.Errorf("%s/%s calls %s, which the hub's iamwarden-lambda-enforce does not allow", dir, where, action)
			}
		}
	}
}

// TestLambdaCallsAreAllowed checks the direct AWS calls of the Lambda's package, once it exists,
// against the enforce-mode role (the services this test knows: IAM, STS, SSM, SNS, DynamoDB,
// Organizations).
func TestLambdaCallsAreAllowed(t *testing.T) {
	allowed := actionSet(t, generate.KindIamwardenLambdaEnforce, generate.PermissionOptions{ConfigParameter: "/x"})
	low := map[string]bool{}
	for a := range allowed {
		low[strings.ToLower(a)] = true
	}
	// The function's own calls, beyond those of scan and enforce (checked above): its settings,
	// the deadline schedules and the AWS Config evaluations.
	for _, dir := range []string{"internal/lambdafn", "internal/deadline", "internal/configrule", "internal/warden"} {
		calls := callsIn(t, dir)
		if len(calls) == 0 && dir != "internal/warden" {
			t.Errorf("%s: no AWS call found; the check would pass whatever the policy says", dir)
		}
		for action, where := range calls {
			if !low[strings.ToLower(action)] {
				t.Errorf("%s/%s calls %s, which iamwarden-lambda-enforce does not allow", dir, where, action)
			}
		}
	}
}
