package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const seeds = "../policy/testdata/"

func simulate(t *testing.T, output string, args ...string) (error, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	g := &globals{output: output, stdout: &stdout, stderr: &stderr,
		getenv: func(string) string { return "" },
		now:    func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }}
	cmd := newPolicyCmd(g)
	cmd.SetArgs(append([]string{"simulate"}, args...))
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return err, stdout.String()
}

func exitCode(err error) int {
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return 2
	}
	return -1
}

func TestPolicySimulateJSON(t *testing.T) {
	admin := filepath.Join(t.TempDir(), "admin.json")
	if err := os.WriteFile(admin, []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Action":"*","Resource":"*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	enforce := seeds + "seed001_enforce_mfa.json"
	tests := []struct {
		name     string
		args     []string
		code     int
		decision string
		sid      string
		line     int
	}{
		{"access key without MFA is denied", []string{"--policy", enforce, "--policy", admin, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k",
			"--principal", "arn:aws:iam::123456789012:user/alice", "--auth", "access-key"}, 1, "explicit_deny", "DenyAllExceptListedIfNoMFA", 89},
		{"MFA session is allowed", []string{"--policy", enforce, "--policy", admin, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k",
			"--principal", "arn:aws:iam::123456789012:user/alice", "--auth", "session-mfa"}, 0, "allowed", "Admin", 1},
		{"MFA self-registration", []string{"--policy", enforce, "--action", "iam:CreateVirtualMFADevice", "--resource", "arn:aws:iam::123456789012:mfa/phone",
			"--context", "aws:username=string:alice", "--context", "aws:MultiFactorAuthPresent=boolean:false"}, 0, "allowed", "AllowManageOwnVirtualMFADevice", 69},
		{"implicit deny", []string{"--policy", enforce, "--action", "ec2:RunInstances", "--context", "aws:MultiFactorAuthPresent=boolean:true"}, 1, "implicit_deny", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err, out := simulate(t, "json", tc.args...)
			if got := exitCode(err); got != tc.code {
				t.Fatalf("exit code %d (%v), want %d", got, err, tc.code)
			}
			var res struct {
				Decision string `json:"decision"`
				Deciding []struct {
					File   string `json:"file"`
					Sid    string `json:"sid"`
					Index  int    `json:"index"`
					Line   int    `json:"line"`
					Effect string `json:"effect"`
				} `json:"deciding_statements"`
				Request struct {
					Action  string `json:"action"`
					Context map[string]struct {
						Type   string   `json:"type"`
						Values []string `json:"values"`
					} `json:"context"`
				} `json:"request"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v in %s", err, out)
			}
			if res.Decision != tc.decision {
				t.Errorf("decision %q, want %q", res.Decision, tc.decision)
			}
			if tc.sid == "" {
				if len(res.Deciding) != 0 {
					t.Errorf("deciding statements on an implicit deny: %+v", res.Deciding)
				}
				return
			}
			found := false
			for _, s := range res.Deciding {
				if s.Sid == tc.sid && s.Line == tc.line {
					found = true
				}
			}
			if !found {
				t.Errorf("no deciding statement %s at line %d in %+v", tc.sid, tc.line, res.Deciding)
			}
			if res.Request.Action == "" || res.Request.Context == nil {
				t.Errorf("request not echoed: %s", out)
			}
		})
	}
}

func TestPolicySimulateTable(t *testing.T) {
	err, out := simulate(t, "table", "--policy", seeds+"seed001_enforce_mfa.json", "--action", "iam:ChangePassword",
		"--resource", "arn:aws:iam::123456789012:user/alice", "--principal", "arn:aws:iam::123456789012:user/alice", "--auth", "console")
	if exitCode(err) != 1 {
		t.Fatalf("exit %d (%v)", exitCode(err), err)
	}
	for _, want := range []string{"decision:", "explicit_deny", "aws:MultiFactorAuthPresent=boolean:false", "aws:username=string:alice",
		"FILE:LINE", "seed001_enforce_mfa.json:89", "DenyAllExceptListedIfNoMFA", "Deny"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestPolicySimulateCrossAccount(t *testing.T) {
	admin := filepath.Join(t.TempDir(), "admin.json")
	if err := os.WriteFile(admin, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--policy", admin, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::other/k", "--principal", "arn:aws:iam::123456789012:user/alice"}
	for acct, want := range map[string]string{"123456789012": "allowed", "210987654321": "implicit_deny"} {
		err, out := simulate(t, "json", append(args, "--resource-account", acct)...)
		var res struct {
			Decision string `json:"decision"`
			Missing  string `json:"missing_allow"`
		}
		if jerr := json.Unmarshal([]byte(out), &res); jerr != nil {
			t.Fatalf("%v: %s", jerr, out)
		}
		if res.Decision != want || (want == "implicit_deny" && (res.Missing != "resource" || exitCode(err) != 1)) {
			t.Errorf("resource account %s: %+v (exit %d), want %s", acct, res, exitCode(err), want)
		}
	}
}

func TestPolicySimulateUsage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Alow","Action":"s3:*","Resource":"*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	enforce := seeds + "seed001_enforce_mfa.json"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no action", []string{"--policy", enforce}, "--action is required"},
		{"action without service", []string{"--policy", enforce, "--action", "GetObject"}, "not service:Action"},
		{"no policy", []string{"--action", "s3:GetObject"}, "no policy"},
		{"bad context type", []string{"--policy", enforce, "--action", "s3:GetObject", "--context", "aws:x=text:y"}, "unknown context type"},
		{"bad context shape", []string{"--policy", enforce, "--action", "s3:GetObject", "--context", "aws:x"}, "want key=type:value"},
		{"bad context value", []string{"--policy", enforce, "--action", "s3:GetObject", "--context", "aws:SourceIp=ip:nope"}, "not an IP address"},
		{"malformed policy", []string{"--policy", bad, "--action", "s3:GetObject"}, `Effect: must be "Allow" or "Deny"`},
		{"missing file", []string{"--policy", "nope.json", "--action", "s3:GetObject"}, "nope.json"},
		{"bad principal", []string{"--policy", enforce, "--action", "s3:GetObject", "--principal", "alice"}, "--principal"},
		{"bad auth", []string{"--policy", enforce, "--action", "s3:GetObject", "--principal", "arn:aws:iam::1:user/a", "--auth", "sms"}, "--auth"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err, _ := simulate(t, "json", tc.args...)
			if exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (exit %d), want a usage error containing %q", err, exitCode(err), tc.want)
			}
		})
	}
}

// TestPolicySimulateDocExamples runs the examples of docs/policy-simulate.md: each "$ iamwarden"
// line of a console block must print what follows it and exit with the "# exit N" code.
func TestPolicySimulateDocExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/policy-simulate.md")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir("../..")
	blocks := regexp.MustCompile("(?s)```console\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) == 0 {
		t.Fatal("no console examples in docs/policy-simulate.md")
	}
	for i, b := range blocks {
		lines := strings.Split(strings.TrimRight(b[1], "\n"), "\n")
		cmdLine := strings.TrimPrefix(lines[0], "$ iamwarden policy simulate ")
		for len(lines) > 1 && strings.HasSuffix(cmdLine, "\\") {
			lines = lines[1:]
			cmdLine = strings.TrimSuffix(cmdLine, "\\") + strings.TrimSpace(lines[0])
		}
		var want []string
		code := 0
		for _, l := range lines[1:] {
			if n, ok := strings.CutPrefix(l, "# exit "); ok {
				code = int(n[0] - '0')
				continue
			}
			want = append(want, l)
		}
		args := strings.Fields(strings.ReplaceAll(cmdLine, "'", ""))
		output := "table"
		for j := 0; j < len(args)-1; j++ {
			if args[j] == "--output" {
				output = args[j+1]
				args = append(args[:j], args[j+2:]...)
				break
			}
		}
		err, out := simulate(t, output, args...)
		if exitCode(err) != code {
			t.Errorf("example %d: exit %d (%v), want %d", i, exitCode(err), err, code)
		}
		if got := strings.TrimRight(out, "\n"); got != strings.Join(want, "\n") {
			t.Errorf("example %d: output\n%s\nwant\n%s", i, got, strings.Join(want, "\n"))
		}
	}
}

// simulateJSON runs 'policy simulate -o json' and decodes the answer.
func simulateJSON(t *testing.T, args ...string) (int, map[string]any) {
	t.Helper()
	err, out := simulate(t, "json", args...)
	var res map[string]any
	if jerr := json.Unmarshal([]byte(out), &res); jerr != nil {
		t.Fatalf("%v (%v) in %q", jerr, err, out)
	}
	return exitCode(err), res
}

func writePolicy(t *testing.T, text string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "*.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

func TestPolicySimulateGetSessionToken(t *testing.T) {
	deny := writePolicy(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:*","Resource":"*"}]}`)
	code, res := simulateJSON(t, "--policy", deny, "--action", "sts:GetSessionToken",
		"--principal", "arn:aws:iam::123456789012:user/alice", "--auth", "access-key")
	if code != 0 || res["decision"] != "allowed" {
		t.Fatalf("exit %d, decision %v: a policy cannot deny sts:GetSessionToken", code, res["decision"])
	}
	if rule, _ := res["aws_rule"].(string); !strings.Contains(rule, "GetSessionToken") || res["reason"] != rule {
		t.Errorf("aws_rule %q, reason %q: want the rule that decided", rule, res["reason"])
	}
}

func TestPolicySimulateAssumedRolePrincipal(t *testing.T) {
	p := writePolicy(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
		"Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Dev"}}}]}`)
	code, res := simulateJSON(t, "--policy", p, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k",
		"--principal", "arn:aws:sts::123456789012:assumed-role/Dev/alice")
	if code != 0 {
		t.Errorf("exit %d, decision %v, want allowed", code, res["decision"])
	}
	ctx := res["request"].(map[string]any)["context"].(map[string]any)
	arn := ctx["aws:PrincipalArn"].(map[string]any)["values"].([]any)
	if len(arn) != 1 || arn[0] != "arn:aws:iam::123456789012:role/Dev" {
		t.Errorf("aws:PrincipalArn = %v, want the role ARN", arn)
	}
}

func TestPolicySimulateRefusesDuplicateKeys(t *testing.T) {
	p := writePolicy(t, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\n\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}")
	err, _ := simulate(t, "json", "--policy", p, "--action", "s3:GetObject")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), `duplicate key "Effect"`) || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("exit %d (%v): want a usage error naming the duplicate key and its line", exitCode(err), err)
	}
}

func TestPolicySimulateSCPsPerLevel(t *testing.T) {
	full := writePolicy(t, `{"Version":"2012-10-17","Statement":[{"Sid":"FullAWSAccess","Effect":"Allow","Action":"*","Resource":"*"}]}`)
	denyEC2 := writePolicy(t, `{"Version":"2012-10-17","Statement":[{"Sid":"NoEC2","Effect":"Deny","Action":"ec2:*","Resource":"*"}]}`)
	denyOnly := writePolicy(t, `{"Version":"2012-10-17","Statement":[{"Sid":"NoKMS","Effect":"Deny","Action":"kms:*","Resource":"*"}]}`)
	admin := writePolicy(t, allowAllText)
	tests := []struct {
		name     string
		scps     []string
		action   string
		code     int
		decision string
		missing  string
	}{
		{"a Deny-only SCP beside FullAWSAccess at the root", []string{full + "," + denyOnly}, "s3:GetObject", 0, "allowed", ""},
		{"its Deny applies", []string{full + "," + denyOnly}, "kms:Decrypt", 1, "explicit_deny", ""},
		{"a level of Deny-only SCPs allows nothing", []string{full, denyOnly + "," + denyEC2}, "s3:GetObject", 1, "implicit_deny", "scp level 1"},
		{"two levels, each with FullAWSAccess", []string{full + "," + denyEC2, denyOnly + "," + full}, "ec2:RunInstances", 1, "explicit_deny", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--policy", admin, "--action", tc.action}
			for _, s := range tc.scps {
				args = append(args, "--scp", s)
			}
			code, res := simulateJSON(t, args...)
			if code != tc.code || res["decision"] != tc.decision || (tc.missing != "" && res["missing_allow"] != tc.missing) {
				t.Errorf("exit %d, %v, missing %v; want %d, %s, %q", code, res["decision"], res["missing_allow"], tc.code, tc.decision, tc.missing)
			}
		})
	}
}

func TestPolicySimulateSessionPolicies(t *testing.T) {
	admin := writePolicy(t, allowAllText)
	s3Only := writePolicy(t, `{"Version":"2012-10-17","Statement":[{"Sid":"S3","Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	ec2Only := writePolicy(t, `{"Version":"2012-10-17","Statement":[{"Sid":"EC2","Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`)
	const role = "arn:aws:sts::123456789012:assumed-role/Dev/alice"
	tests := []struct {
		name     string
		sessions []string
		action   string
		code     int
		missing  string
	}{
		{"inside the session policy", []string{s3Only}, "s3:GetObject", 0, ""},
		{"outside it", []string{s3Only}, "iam:CreateUser", 1, "session"},
		{"several session policies: any of them may allow", []string{s3Only, ec2Only}, "ec2:RunInstances", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--policy", admin, "--action", tc.action, "--principal", role}
			for _, s := range tc.sessions {
				args = append(args, "--session-policy", s)
			}
			code, res := simulateJSON(t, args...)
			if code != tc.code || (tc.missing != "" && res["missing_allow"] != tc.missing) {
				t.Errorf("exit %d (%v), missing %v; want %d, %q", code, res["decision"], res["missing_allow"], tc.code, tc.missing)
			}
			if tc.code == 0 && !strings.Contains(fmt.Sprint(res["deciding_statements"]), "session") {
				t.Errorf("the session policy statement is not among the deciding ones: %v", res["deciding_statements"])
			}
		})
	}
	// A session policy with a principal is malformed.
	bad := writePolicy(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`)
	if err, _ := simulate(t, "json", "--policy", admin, "--action", "s3:GetObject", "--session-policy", bad); exitCode(err) != 2 {
		t.Errorf("exit %d (%v), want a usage error", exitCode(err), err)
	}
}

const allowAllText = `{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Action":"*","Resource":"*"}]}`
