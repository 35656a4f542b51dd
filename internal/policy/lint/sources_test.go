package lint_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/policy/generate"
	"github.com/iamwarden/iamwarden/internal/policy/lint"
)

// Terraform HCL: heredocs and jsonencode of literal objects are linted, with the lines of their
// statements; references and function calls that cannot be evaluated offline are noted.
func TestTerraformHCL(t *testing.T) {
	path := filepath.Join("testdata", "terraform", "main.tf")
	src, err := lint.ReadPath(path, policy.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range src.Documents {
		names = append(names, fmt.Sprint(d.Name, " ", d.Kind))
	}
	want := []string{fmt.Sprint("aws_iam_policy.heredoc ", policy.KindIdentity), fmt.Sprint("aws_iam_user_policy.encoded ", policy.KindIdentity), fmt.Sprint("aws_organizations_policy.scp ", policy.KindSCP)}
	if !slices.Equal(names, want) {
		t.Fatalf("documents %q, want %q", names, want)
	}
	var notes []string
	for _, n := range src.Notes {
		notes = append(notes, n.String())
	}
	wantNotes := []string{
		path + ":48: aws_iam_role_policy.reference: not linted: not a literal (refers to data.aws_iam_policy_document.computed.json)",
		path + ":54: aws_iam_group_policy.from_file: not linted: not a literal (calls file)",
	}
	if !slices.Equal(notes, wantNotes) {
		t.Errorf("notes\n%q, want\n%q", notes, wantNotes)
	}

	type at struct {
		rule string
		line int
	}
	var got []at
	for _, f := range lint.Lint(src.Documents) {
		if f.File != path {
			t.Errorf("finding in %q, want %q", f.File, path)
		}
		got = append(got, at{f.Rule, f.Line})
	}
	wantFindings := []at{
		{lint.RuleLegacyMFADeviceResource, 5}, // the heredoc's attribute
		// The second statement of jsonencode. It spares iam:*, so registration stays possible
		// (sts:GetSessionToken is never denied by policies).
		{lint.RuleMFABoolNotIfExists, 28},
		{lint.RuleSCPAllowNoop, 61},
	}
	if !slices.Equal(got, wantFindings) {
		t.Errorf("findings %+v, want %+v", got, wantFindings)
	}
}

func TestTerraformHCLErrors(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"syntax", "resource \"aws_iam_policy\" \"x\" {\n  policy = \n}\n", "bad.tf:2"},
		{"not a string", "resource \"aws_iam_policy\" \"x\" {\n  policy = { Version = \"2012-10-17\" }\n}\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, err := lint.Read("bad.tf", []byte(c.text), policy.KindIdentity)
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v, want one at %s", err, c.want)
				}
				return
			}
			if err != nil || len(src.Documents) != 0 || len(src.Notes) != 1 || !strings.Contains(src.Notes[0].Reason, "not a string") {
				t.Errorf("err %v, source %+v; want a note that the policy is not a string", err, src)
			}
		})
	}
}

// Every Terraform rendering of a recommended policy reads back as one clean document.
func TestRenderedTerraformIsClean(t *testing.T) {
	for _, k := range generate.Kinds() {
		var b bytes.Buffer
		if err := generate.Render(&b, k.Kind, generate.FormatTerraform, generate.Options{}); err != nil {
			t.Fatal(err)
		}
		src, err := lint.Read(string(k.Kind)+".tf", b.Bytes(), policy.KindIdentity)
		if err != nil || len(src.Documents) != 1 || len(src.Notes) != 0 {
			t.Fatalf("%s: %+v, %v; want one document", k.Kind, src, err)
		}
		if src.Documents[0].Kind != k.PolicyKind {
			t.Errorf("%s: read back as %s, want %s", k.Kind, src.Documents[0].Kind, k.PolicyKind)
		}
		if fs := lint.Lint(src.Documents); len(fs) > 0 {
			t.Errorf("%s: %+v", k.Kind, fs)
		}
	}
}

// A directory is read recursively by extension; hidden directories (.terraform, .git) and files
// of other kinds are left out, and JSON or YAML that holds no policy is noted, not linted.
func TestReadDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`
	write("policies/a.json", doc)
	write("policies/deep/b.json", doc)
	write("cfn/t.yaml", "Resources:\n  P:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument: "+doc+"\n")
	write("cfn/t.yml", "Resources:\n  P:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument: "+doc+"\n")
	write("cfn/t.template", `{"Resources":{"P":{"Type":"AWS::IAM::ManagedPolicy","Properties":{"PolicyDocument":`+doc+`}}}}`)
	write("tf/main.tf", "resource \"aws_iam_policy\" \"p\" {\n  policy = <<EOT\n"+doc+"\nEOT\n}\n")
	write("tf/json.tf.json", `{"resource":{"aws_iam_policy":{"p":{"policy":`+quote(doc)+`}}}}`)
	write("tf/.terraform/modules/m/main.tf", "this is not read")
	write(".git/config.json", "not read either")
	write("README.md", "# not a policy")
	write("ci/workflow.yml", "on: push\njobs: {}\n")
	write("package.json", `{"name": "x"}`)

	src, err := lint.ReadPath(dir, policy.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, d := range src.Documents {
		rel, _ := filepath.Rel(dir, d.File)
		files = append(files, filepath.ToSlash(rel))
	}
	want := []string{"cfn/t.template", "cfn/t.yaml", "cfn/t.yml", "policies/a.json", "policies/deep/b.json", "tf/json.tf.json", "tf/main.tf"}
	if !slices.Equal(files, want) {
		t.Errorf("documents from %q, want %q", files, want)
	}
	var noted []string
	for _, n := range src.Notes {
		rel, _ := filepath.Rel(dir, n.File)
		noted = append(noted, filepath.ToSlash(rel))
	}
	if want := []string{"ci/workflow.yml", "package.json"}; !slices.Equal(noted, want) {
		t.Errorf("notes on %q, want %q", noted, want)
	}
	if fs := lint.Lint(src.Documents); len(fs) != 0 {
		t.Errorf("findings %+v", fs)
	}
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
