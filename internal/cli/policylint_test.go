package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/cli"
)

const lintData = "../policy/lint/testdata/"

func TestPolicyRender(t *testing.T) {
	for _, f := range []struct{ format, golden string }{
		{"json", "enforce-mfa.json.golden"},
		{"terraform", "enforce-mfa.tf.golden"},
		{"cloudformation", "enforce-mfa.yaml.golden"},
	} {
		code, out, errOut := run(t, cli.Env{}, "policy", "render", "enforce-mfa", "--format", f.format)
		want, err := os.ReadFile(filepath.Join("../policy/generate/testdata", f.golden))
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 || out != string(want) {
			t.Errorf("render --format %s: exit %d, stderr %q, output differs from %s:\n%s", f.format, code, errOut, f.golden, out)
		}
	}
	code, out, _ := run(t, cli.Env{}, "policy", "render", "enforce-mfa-scp", "--exempt-principal-arn", "arn:aws:iam::*:user/breakglass")
	if code != 0 || !strings.Contains(out, `"ArnNotLike"`) {
		t.Errorf("scp with exemption: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"policy", "render"},
		{"policy", "render", "enforce-everything"},
		{"policy", "render", "enforce-mfa", "--format", "xml"},
		{"policy", "render", "enforce-mfa", "--exempt-principal-arn", "arn:aws:iam::*:user/x"},
		{"policy", "render", "enforce-mfa-scp", "--exempt-principal-arn", "breakglass"},
	} {
		if code, _, errOut := run(t, cli.Env{}, args...); code != 2 || !strings.Contains(errOut, "iamwarden:") {
			t.Errorf("%q: exit %d, stderr %q; want a usage error", args, code, errOut)
		}
	}
}

func TestPolicyLint(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		code  int
		rules []string
	}{
		{"clean rendered policy", []string{"../policy/generate/testdata/enforce-mfa.json.golden"}, 0, nil},
		{"seed 004 old", []string{lintData + "seed004_minimal_old.json"}, 1,
			[]string{"legacy-mfa-device-resource", "mfa-deactivate-without-mfa", "mfa-deny-blocks-registration"}},
		{"seed 001 SCP given with --scp", []string{"--scp", lintData + "seed001_scp.json"}, 1,
			[]string{"mfa-deny-blocks-registration", "scp-mfa-blocks-roles", "scp-allow-noop"}},
		{"--kind scp", []string{"--kind", "scp", lintData + "seed001_scp_corrected.json"}, 0, nil},
		{"template", []string{lintData + "seed002_force_mfa_group.cfn.yaml"}, 1, []string{"legacy-mfa-device-resource"}},
		{"one rule", []string{"--rule", "scp-allow-noop", "--scp", lintData + "seed001_scp.json"}, 1, []string{"scp-allow-noop"}},
		{"demo export", []string{"--from", demo}, -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, cli.Env{}, append([]string{"policy", "lint", "-o", "json"}, tt.args...)...)
			var rep struct {
				Findings []struct {
					Rule string `json:"rule"`
					File string `json:"file"`
					Line int    `json:"line"`
				} `json:"findings"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("exit %d, stderr %q, output not JSON: %v\n%s", code, errOut, err, out)
			}
			if tt.code >= 0 && code != tt.code {
				t.Errorf("exit %d, want %d\n%s", code, tt.code, out)
			}
			if tt.code < 0 && code != 0 && code != 1 {
				t.Errorf("exit %d, want 0 or 1: %s", code, errOut)
			}
			got := map[string]bool{}
			for _, f := range rep.Findings {
				got[f.Rule] = true
				if f.Line < 1 {
					t.Errorf("finding without a line: %+v", f)
				}
			}
			for _, r := range tt.rules {
				if !got[r] {
					t.Errorf("rule %s not reported: %s", r, out)
				}
			}
			if tt.rules != nil && len(got) != len(tt.rules) {
				t.Errorf("rules %v, want %v", got, tt.rules)
			}
		})
	}
}

func TestPolicyLintFormats(t *testing.T) {
	code, out, _ := run(t, cli.Env{}, "policy", "lint", "-o", "text", lintData+"seed002_force_mfa_group.json")
	want := lintData + "seed002_force_mfa_group.json:53: error legacy-mfa-device-resource: "
	if code != 1 || !strings.HasPrefix(out, want) {
		t.Errorf("text: exit %d, got %q, want a line starting %q", code, out, want)
	}
	code, out, _ = run(t, cli.Env{}, "policy", "lint", "-o", "sarif", lintData+"seed002_force_mfa_group.json")
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || code != 1 || sarif.Version != "2.1.0" || len(sarif.Runs) != 1 ||
		len(sarif.Runs[0].Results) != 1 || sarif.Runs[0].Results[0].RuleID != "legacy-mfa-device-resource" {
		t.Errorf("sarif: exit %d, err %v\n%s", code, err, out)
	}
	for _, args := range [][]string{
		{"policy", "lint"},
		{"policy", "lint", "-o", "csv", lintData + "seed001_scp.json"},
		{"policy", "lint", "--kind", "boundary", lintData + "seed001_scp.json"},
		{"policy", "lint", "--rule", "no-such-rule", lintData + "seed001_scp.json"},
		{"policy", "lint", "testdata/no-such-file.json"},
		{"policy", "lint", "--account", "--from", demo},
	} {
		if code, _, errOut := run(t, cli.Env{}, args...); code != 2 {
			t.Errorf("%q: exit %d (%s), want 2", args, code, errOut)
		}
	}
}

// The Terraform rendering of a recommended policy, saved as a .tf file, lints clean; the same
// file with a mistake planted reports it at its line, so the file is read and not skipped.
func TestPolicyLintTerraform(t *testing.T) {
	code, rendered, errOut := run(t, cli.Env{}, "policy", "render", "enforce-mfa", "--format", "terraform")
	if code != 0 {
		t.Fatalf("render: exit %d: %s", code, errOut)
	}
	dir := t.TempDir()
	clean := filepath.Join(dir, "enforce_mfa.tf")
	if err := os.WriteFile(clean, []byte(rendered), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, cli.Env{}, "policy", "lint", "-o", "text", clean); code != 0 || out != "" || errOut != "" {
		t.Errorf("rendered terraform: exit %d, stdout %q, stderr %q; want a clean lint", code, out, errOut)
	}

	broken := strings.Replace(rendered, `"BoolIfExists"`, `"Bool"`, 1)
	if broken == rendered {
		t.Fatal("the rendered policy has no BoolIfExists condition to break")
	}
	// The finding is on the line that opens the statement holding the condition.
	before := rendered[:strings.Index(rendered, `"BoolIfExists"`)]
	line := 1 + strings.Count(before[:strings.LastIndex(before, "\n      {\n")+1], "\n")
	sub := filepath.Join(dir, "modules", "mfa")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	brokenFile := filepath.Join(sub, "main.tf")
	if err := os.WriteFile(brokenFile, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	ref := "resource \"aws_iam_policy\" \"computed\" {\n  policy = data.aws_iam_policy_document.x.json\n}\n"
	if err := os.WriteFile(filepath.Join(sub, "computed.tf"), []byte(ref), 0o600); err != nil {
		t.Fatal(err)
	}
	// The directory is read recursively: the clean file, the broken one and the computed one.
	code, out, errOut := run(t, cli.Env{}, "policy", "lint", "-o", "json", dir)
	if code != 1 {
		t.Fatalf("directory: exit %d, stderr %q, want 1\n%s", code, errOut, out)
	}
	var rep struct {
		Findings []struct {
			Rule string `json:"rule"`
			File string `json:"file"`
			Line int    `json:"line"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range rep.Findings {
		if f.File != brokenFile {
			t.Errorf("finding in %s: %+v", f.File, f)
		}
		if f.Rule == "mfa-bool-not-ifexists" {
			found = true
			if f.Line != line {
				t.Errorf("finding at line %d, want %d, where the statement starts", f.Line, line)
			}
		}
	}
	if !found {
		t.Errorf("mfa-bool-not-ifexists not reported: %s", out)
	}
	for _, want := range []string{"computed.tf:2", "aws_iam_policy.computed", "not a literal", "data.aws_iam_policy_document.x.json"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q does not note %q", errOut, want)
		}
	}
}
