package lint_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/golden"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/policy/generate"
	"github.com/iamwarden/iamwarden/internal/policy/lint"
)

func lintFile(t *testing.T, name string, kind policy.Kind) []lint.Finding {
	t.Helper()
	path := filepath.Join("testdata", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := lint.ReadFile(path, data, kind)
	if err != nil {
		t.Fatal(err)
	}
	return lint.Lint(docs)
}

// ruleSet returns "rule severity" for each finding, sorted and deduplicated.
func ruleSet(fs []lint.Finding) []string {
	var out []string
	for _, f := range fs {
		k := f.Rule + " " + string(f.Severity)
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestSeedPolicies(t *testing.T) {
	tests := []struct {
		file string
		kind policy.Kind
		want []string
	}{
		// Seed 001: AWS's self-manage policy: users who must reset their password at first
		// sign-in cannot.
		{"seed001_enforce_mfa.json", policy.KindIdentity, []string{"mfa-deny-blocks-registration warning"}},
		{"seed001_enforce_mfa_corrected.json", policy.KindIdentity, nil},
		// Seed 001's SCP: locks out every role, its Allow does nothing, and users cannot even
		// register MFA since the Deny covers "*".
		{"seed001_scp.json", policy.KindSCP, []string{"mfa-deny-blocks-registration error", "scp-allow-noop warning", "scp-mfa-blocks-roles error"}},
		{"seed001_scp_corrected.json", policy.KindSCP, nil},
		{"seed001_user_creators.json", policy.KindIdentity, nil},
		// Seed 002's group policy: the MFA device named after the user.
		{"seed002_force_mfa_group.json", policy.KindIdentity, []string{"legacy-mfa-device-resource error"}},
		{"seed002_force_mfa_group_corrected.json", policy.KindIdentity, nil},
		// Seed 004: AWS's earlier example and the post's minimal policy before and after its fix.
		{"seed004_aws_example.json", policy.KindIdentity, []string{"legacy-mfa-device-resource error", "mfa-deny-blocks-registration error"}},
		{"seed004_aws_example_corrected.json", policy.KindIdentity, nil},
		{"seed004_minimal_old.json", policy.KindIdentity, []string{"legacy-mfa-device-resource error", "mfa-deactivate-without-mfa error", "mfa-deny-blocks-registration error"}},
		{"seed004_minimal_fixed.json", policy.KindIdentity, []string{"mfa-deactivate-without-mfa error", "mfa-deny-blocks-registration error"}},
		{"seed004_minimal_corrected.json", policy.KindIdentity, nil},
		{"bool_not_ifexists.json", policy.KindIdentity, []string{"mfa-bool-not-ifexists error"}},
		// BoolIfExists true lets access keys through, to the MFA devices too.
		{"allow_ifexists_true.json", policy.KindIdentity, []string{"mfa-allow-ifexists-true error", "mfa-deactivate-without-mfa error"}},
		{"invalid.json", policy.KindIdentity, []string{"invalid-policy error"}},
		// sts:GetSessionToken is missing from the NotAction list: no policy can deny it
		// (Permissions for GetSessionToken), so users still get MFA sessions.
		{"deny_covers_get_session_token.json", policy.KindIdentity, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			fs := lintFile(t, tt.file, tt.kind)
			if got := ruleSet(fs); !slices.Equal(got, tt.want) {
				var b bytes.Buffer
				_ = lint.WriteText(&b, fs)
				t.Errorf("rules = %q, want %q\n%s", got, tt.want, b.String())
			}
		})
	}
}

func TestFindingLocations(t *testing.T) {
	fs := lintFile(t, "seed002_force_mfa_group.json", policy.KindIdentity)
	if len(fs) != 1 || fs[0].Line != 53 || fs[0].Sid != "ManageMfaDevice0010" || fs[0].Statement != 3 {
		t.Errorf("finding = %+v, want the ManageMfaDevice0010 statement at line 53", fs)
	}
	fs = lintFile(t, "seed004_minimal_fixed.json", policy.KindIdentity)
	for _, f := range fs {
		want := map[string]int{"mfa-deactivate-without-mfa": 4, "mfa-deny-blocks-registration": 21}[f.Rule]
		if f.Line != want {
			t.Errorf("%s at line %d, want %d", f.Rule, f.Line, want)
		}
	}
	for _, f := range lintFile(t, "invalid.json", policy.KindIdentity) {
		if f.Line != 4 && f.Line != 9 {
			t.Errorf("invalid-policy at line %d, want a statement line (4 or 9): %+v", f.Line, f)
		}
	}
}

func TestRenderedPoliciesAreClean(t *testing.T) {
	for _, k := range generate.Kinds() {
		var b bytes.Buffer
		if err := generate.Render(&b, k.Kind, generate.FormatJSON, generate.Options{}); err != nil {
			t.Fatal(err)
		}
		fs := lint.Lint([]lint.Document{{File: string(k.Kind) + ".json", Kind: k.PolicyKind, Text: b.Bytes()}})
		if len(fs) > 0 {
			t.Errorf("%s: %+v", k.Kind, fs)
		}
	}
	// The CloudFormation rendering, read back as a template, is clean too.
	for _, k := range generate.Kinds() {
		var b bytes.Buffer
		if err := generate.Render(&b, k.Kind, generate.FormatCloudFormation, generate.Options{}); err != nil {
			t.Fatal(err)
		}
		docs, err := lint.ReadFile(string(k.Kind)+".yaml", b.Bytes(), policy.KindIdentity)
		if err != nil || len(docs) != 1 {
			t.Fatalf("%s: %d documents, %v", k.Kind, len(docs), err)
		}
		if docs[0].Kind != k.PolicyKind {
			t.Errorf("%s: read back as %s, want %s", k.Kind, docs[0].Kind, k.PolicyKind)
		}
		if fs := lint.Lint(docs); len(fs) > 0 {
			t.Errorf("%s template: %+v", k.Kind, fs)
		}
	}
}

func TestCloudFormationTemplate(t *testing.T) {
	fs := lintFile(t, "seed002_force_mfa_group.cfn.yaml", policy.KindIdentity)
	if len(fs) != 1 {
		t.Fatalf("findings = %+v, want one", fs)
	}
	f := fs[0]
	if f.Rule != lint.RuleLegacyMFADeviceResource || f.Line != 57 || f.Policy != "ForceMfaAccess.Policies[0] (ForceMfaAccess)" {
		t.Errorf("finding = %+v, want legacy-mfa-device-resource at the ManageMfaDevice0010 statement (line 57)", f)
	}
}

func TestTemplatesAndTerraform(t *testing.T) {
	cfnJSON := `{
  "Resources": {
    "Scp": {
      "Type": "AWS::Organizations::Policy",
      "Properties": {
        "Name": "mfa",
        "Type": "SERVICE_CONTROL_POLICY",
        "Content": {"Version": "2012-10-17", "Statement": [
          {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}
        ]}
      }
    },
    "Tag": {"Type": "AWS::Organizations::Policy", "Properties": {"Type": "TAG_POLICY", "Content": "{}"}},
    "Role": {
      "Type": "AWS::IAM::Role",
      "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "mfa", "PolicyDocument": {"Version": "2012-10-17", "Statement": {
          "Effect": "Deny", "NotAction": "iam:*", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::*"},
          "Condition": {"Bool": {"aws:MultiFactorAuthPresent": false}}}}}]
      }
    }
  }
}`
	docs, err := lint.ReadFile("template.json", []byte(cfnJSON), policy.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Kind != policy.KindSCP || docs[1].Kind != policy.KindIdentity {
		t.Fatalf("documents = %+v, want the SCP and the role's inline policy", docs)
	}
	got := ruleSet(lint.Lint(docs))
	want := []string{"mfa-bool-not-ifexists error", "mfa-deny-blocks-registration error", "scp-mfa-blocks-roles error"}
	if !slices.Equal(got, want) {
		t.Errorf("template rules = %q, want %q", got, want)
	}

	scp, _ := os.ReadFile("testdata/seed001_scp.json")
	legacy, _ := os.ReadFile("testdata/seed002_force_mfa_group.json")
	tf, _ := json.MarshalIndent(map[string]any{"resource": map[string]any{
		"aws_organizations_policy": map[string]any{"enforce_mfa": map[string]any{"name": "x", "content": string(scp)}},
		"aws_iam_group_policy":     map[string]any{"force_mfa": map[string]any{"group": "g", "policy": string(legacy)}},
		"aws_iam_policy":           map[string]any{"computed": map[string]any{"policy": "${data.aws_iam_policy_document.x.json}"}},
	}}, "", "  ")
	docs, err = lint.ReadFile("main.tf.json", tf, policy.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("terraform documents = %d, want 2 (the computed one skipped)", len(docs))
	}
	fs := lint.Lint(docs)
	got = ruleSet(fs)
	want = []string{"legacy-mfa-device-resource error", "mfa-deny-blocks-registration error", "scp-allow-noop warning", "scp-mfa-blocks-roles error"}
	if !slices.Equal(got, want) {
		t.Errorf("terraform rules = %q, want %q", got, want)
	}
	for _, f := range fs {
		if f.Line == 0 {
			t.Errorf("terraform finding without a line: %+v", f)
		}
	}
}

func TestFromSnapshot(t *testing.T) {
	legacy, _ := os.ReadFile("testdata/seed002_force_mfa_group.json")
	fixed, _ := os.ReadFile("testdata/seed002_force_mfa_group_corrected.json")
	snap := &inventory.Snapshot{
		Policies: map[string]inventory.ManagedPolicy{
			"arn:aws:iam::123456789012:policy/ForceMFA":   {Name: "ForceMFA", Document: string(legacy)},
			"arn:aws:iam::aws:policy/AdministratorAccess": {Name: "AdministratorAccess", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
		},
		Groups: map[string]inventory.Group{"ForceMfaAccess": {Name: "ForceMfaAccess", InlinePolicies: []inventory.InlinePolicy{{Name: "ForceMfaAccess", Document: string(legacy)}}}},
		Users: []inventory.User{{Name: "alice", InlinePolicies: []inventory.InlinePolicy{
			{Name: "fixed", Document: string(fixed)},
			{Name: "broken", Document: `{"Statement":[{"Effect":"Permit","Action":"*","Resource":"*"}]}`},
		}}},
	}
	docs := lint.FromSnapshot(snap, "account 123456789012")
	if len(docs) != 4 {
		t.Fatalf("documents = %d, want 4 (AWS managed skipped)", len(docs))
	}
	var got []string
	for _, f := range lint.Lint(docs) {
		got = append(got, f.Policy+" "+f.Rule)
	}
	want := []string{
		"arn:aws:iam::123456789012:policy/ForceMFA legacy-mfa-device-resource",
		"group/ForceMfaAccess/ForceMfaAccess legacy-mfa-device-resource",
		"user/alice/broken invalid-policy",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings = %q, want %q", got, want)
	}
}

func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range lint.Registry() {
		if seen[r.ID] {
			t.Errorf("duplicate rule %s", r.ID)
		}
		seen[r.ID] = true
		if r.Title == "" || r.AWSDoc == "" || !strings.HasPrefix(r.AWSDoc, "https://") {
			t.Errorf("%s: title and AWS documentation are required", r.ID)
		}
		page := filepath.Join("..", "..", "..", "docs", "lint", r.ID+".md")
		text, err := os.ReadFile(page)
		if err != nil {
			t.Errorf("%s: no documentation page: %v", r.ID, err)
			continue
		}
		if !strings.Contains(string(text), r.AWSDoc) {
			t.Errorf("%s does not cite %s", page, r.AWSDoc)
		}
		if _, ok := lint.Lookup(r.ID); !ok {
			t.Errorf("Lookup(%s) failed", r.ID)
		}
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

func TestOutputGolden(t *testing.T) {
	var fs []lint.Finding
	fs = append(fs, lintFile(t, "seed001_scp.json", policy.KindSCP)...)
	fs = append(fs, lintFile(t, "seed004_minimal_old.json", policy.KindIdentity)...)
	fs = append(fs, lintFile(t, "seed002_force_mfa_group.cfn.yaml", policy.KindIdentity)...)
	for _, tt := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"findings.txt.golden", func(b *bytes.Buffer) error { return lint.WriteText(b, fs) }},
		{"findings.json.golden", func(b *bytes.Buffer) error { return lint.WriteJSON(b, fs) }},
		{"findings.sarif.golden", func(b *bytes.Buffer) error { return lint.WriteSARIF(b, fs, "test") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.name, b.String())
		})
	}
}

// TestSARIFStructure checks the parts of SARIF 2.1.0 that code scanning services require.
func TestSARIFStructure(t *testing.T) {
	fs := lintFile(t, "seed004_minimal_old.json", policy.KindIdentity)
	var b bytes.Buffer
	if err := lint.WriteSARIF(&b, fs, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Schema  string `json:"$schema"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID               string `json:"id"`
						ShortDescription struct {
							Text string `json:"text"`
						} `json:"shortDescription"`
						HelpURI string `json:"helpUri"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || log.Schema == "" || len(log.Runs) != 1 {
		t.Fatalf("not a SARIF 2.1.0 log with one run: %s", b.String())
	}
	run := log.Runs[0]
	rules := run.Tool.Driver.Rules
	if run.Tool.Driver.Name != "iamwarden" || len(rules) != len(lint.Registry()) {
		t.Errorf("driver %q with %d rules", run.Tool.Driver.Name, len(rules))
	}
	for _, r := range rules {
		if r.ID == "" || r.ShortDescription.Text == "" || !strings.HasPrefix(r.HelpURI, "https://") {
			t.Errorf("incomplete rule %+v", r)
		}
	}
	if len(run.Results) != len(fs) {
		t.Fatalf("results = %d, want %d", len(run.Results), len(fs))
	}
	levels := map[string]bool{"error": true, "warning": true, "note": true, "none": true}
	for _, r := range run.Results {
		if r.RuleIndex < 0 || r.RuleIndex >= len(rules) || rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s points at rule index %d", r.RuleID, r.RuleIndex)
		}
		if !levels[r.Level] || r.Message.Text == "" || len(r.Locations) != 1 {
			t.Errorf("incomplete result %+v", r)
		}
		loc := r.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI != "testdata/seed004_minimal_old.json" || loc.Region.StartLine < 1 {
			t.Errorf("location %+v", loc)
		}
	}
}

func TestDuplicateKeyIsAnError(t *testing.T) {
	fs := lintFile(t, "duplicate_effect.json", policy.KindIdentity)
	if len(fs) != 1 || fs[0].Rule != lint.RuleInvalidPolicy || fs[0].Severity != lint.SeverityError || fs[0].Line != 6 ||
		!strings.Contains(fs[0].Message, `duplicate key "Effect"`) {
		t.Errorf("findings %+v: want one invalid-policy error on line 6 naming the duplicate Effect", fs)
	}
}
