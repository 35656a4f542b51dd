package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// rawControls are what a text or table output must never pass to a terminal.
var rawControls = []string{"\x1b", "\r", "\u2028", "\u2029", "\u202e", "\u009b"}

func checkEscaped(t *testing.T, what, out string, escaped ...string) {
	t.Helper()
	for _, raw := range rawControls {
		if strings.Contains(out, raw) {
			t.Errorf("%s: output holds %q raw:\n%s", what, raw, out)
		}
	}
	for _, e := range escaped {
		if !strings.Contains(out, e) {
			t.Errorf("%s: output lacks %q:\n%s", what, e, out)
		}
	}
}

// hostilePolicy is seed 004's policy with a Sid and a file name that try to rewrite the terminal.
func hostilePolicy(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(lintData + "seed004_minimal_old.json")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(data), `"AllowIndividualUserToManageTheirOwnMFA"`, `"Own\u001b[2J\r\u2028MFA\u202e"`, 1)
	doc = strings.Replace(doc, `"BlockMostAccessUnlessSignedInWithMFA"`, `"Block\u0007\u2029\u009b"`, 1)
	path := filepath.Join(t.TempDir(), "p\x1b]0;x.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPolicyLintTextEscapes(t *testing.T) {
	path := hostilePolicy(t)
	code, out, errOut := run(t, cli.Env{}, "policy", "lint", "-o", "text", path)
	if code != 1 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	checkEscaped(t, "lint text", out, `Own\x1b[2J\x0d\u2028MFA\u202e`, `p\x1b]0;x.json`)
	// JSON carries the document's strings as they are (encoded by JSON).
	_, out, _ = run(t, cli.Env{}, "policy", "lint", "-o", "json", path)
	var rep struct {
		Findings []struct{ Sid string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range rep.Findings {
		found = found || f.Sid == "Own\x1b[2J\r\u2028MFA\u202e"
	}
	if !found {
		t.Errorf("lint json lost the Sid:\n%s", out)
	}
}

func TestPolicySimulateTableEscapes(t *testing.T) {
	path := hostilePolicy(t)
	code, out, errOut := run(t, cli.Env{}, "policy", "simulate", "-o", "table", "--policy", path,
		"--action", "s3:GetObject", "--resource", "arn:aws:s3:::e\x1b[1mve/x", "--auth", "console",
		"--principal", "arn:aws:iam::123456789012:user/eve", "--context", "x:note=string:a\rb")
	if code != 1 {
		t.Fatalf("exit %d, stderr %s\n%s", code, errOut, out)
	}
	checkEscaped(t, "simulate table", out, `Block\x07\u2029\x9b`, `p\x1b]0;x.json`, `:::e\x1b[1mve/x`, `a\x0db`)
}

func TestRulesOutputs(t *testing.T) {
	code, out, _ := run(t, cli.Env{}, "rules", "-o", "csv")
	if code != 0 || !strings.HasPrefix(out, "id,title,severity,root,controls,doc\n") || !strings.Contains(out, "\nconsole-mfa-missing,") {
		t.Errorf("rules -o csv: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, cli.Env{}, "rules", "-o", "table")
	if code != 0 || !strings.HasPrefix(out, "RULE ") {
		t.Errorf("rules -o table: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, cli.Env{}, "rules", "-o", "json")
	if code != 0 || !strings.HasPrefix(out, "[\n  {\n    \"id\": ") {
		t.Errorf("rules -o json: exit %d\n%s", code, out)
	}
}

// Every command prints the formats it documents and refuses the others before doing anything
// (none of these reach AWS: the refusal comes first).
func TestOutputRefused(t *testing.T) {
	jpath := filepath.Join(t.TempDir(), "journal.db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--from", demo, "-o", "sarif"}, `scan prints table, json, csv, ocsf or asff, not "sarif"`},
		{[]string{"rules", "-o", "yaml"}, `rules prints table, json or csv, not "yaml"`},
		{[]string{"export", t.TempDir(), "-o", "json"}, `export prints table only, not "json"`},
		{[]string{"enforce", "-o", "csv"}, `enforce prints table or json, not "csv"`},
		{[]string{"journal", "list", "--journal", jpath, "-o", "csv"}, `journal list prints table or json, not "csv"`},
		{[]string{"journal", "show", "X", "--journal", jpath, "-o", "csv"}, `journal show prints table or json, not "csv"`},
		{[]string{"journal", "init", "--journal", jpath, "-o", "json"}, `journal init prints table only, not "json"`},
		{[]string{"journal", "unlock", "123456789012", "--journal", jpath, "-o", "json"}, `journal unlock prints table only, not "json"`},
		{[]string{"undo", "X", "-o", "csv"}, `undo prints table or json, not "csv"`},
		{[]string{"policy", "render", "enforce-mfa", "-o", "yaml"}, "policy render takes --format json|terraform|cloudformation, not --output yaml"},
		{[]string{"policy", "lint", lintData + "seed004_minimal_old.json", "-o", "csv"}, `policy lint prints text, json or sarif, not "csv"`},
		{[]string{"policy", "simulate", "--policy", lintData + "seed004_minimal_old.json", "--action", "s3:GetObject", "-o", "csv"}, `policy simulate prints table or json, not "csv"`},
		{[]string{"policy", "apply", "enforce-mfa", "--group", "G", "-o", "csv"}, `policy apply prints table or json, not "csv"`},
	} {
		code, out, errOut := run(t, cli.Env{}, c.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, errOut, c.want)
		}
	}
	if _, err := os.Stat(jpath); !os.IsNotExist(err) {
		t.Errorf("a refused journal command created %s", jpath)
	}
}

// Journal JSON is snake_case and carries the key ID whole; the tables mask it.
func TestJournalOutputs(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "journal.db")
	j, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	e := journal.Entry{ActionID: "01JD0000000000000000000000", RunID: "run-1", AccountID: "123456789012", Kind: journal.KindDeactivateKey,
		Principal: "eve\x1b[2J", UserID: "AIDAEXAMPLE", Resource: "AKIAIOSFODNN7EXAMPLE", Rule: "access-key-unused",
		FindingID: "123456789012/access-key-unused/eve/AKIAIOSFODNN7EXAMPLE",
		Reason:    "unused\u2028for long", Prior: map[string]string{"key_status": "Active"}, Status: journal.StatusIntent,
		CreatedAt: fixedNow, UpdatedAt: fixedNow}
	if err := j.Begin(ctx, e); err != nil {
		t.Fatal(err)
	}
	j.Close()
	for _, args := range [][]string{{"journal", "list"}, {"journal", "show", e.ActionID}} {
		args = append(args, "--journal", db)
		code, out, errOut := run(t, cli.Env{}, append(args, "-o", "json")...)
		if code != 0 {
			t.Fatalf("%q: exit %d, %s", args, code, errOut)
		}
		for _, k := range []string{`"action_id"`, `"run_id"`, `"account_id"`, `"user_id"`, `"finding_id"`, `"undo_of"`, `"dedupe_key"`, `"created_at"`, `"updated_at"`, `"AKIAIOSFODNN7EXAMPLE"`} {
			if !strings.Contains(out, k) {
				t.Errorf("%q -o json lacks %s:\n%s", args, k, out)
			}
		}
		if strings.Contains(out, `"ActionID"`) {
			t.Errorf("%q -o json has Go field names:\n%s", args, out)
		}
		code, out, errOut = run(t, cli.Env{}, append(args, "-o", "table")...)
		if code != 0 {
			t.Fatalf("%q: exit %d, %s", args, code, errOut)
		}
		if strings.Contains(out, "AKIAIOSFODNN7EXAMPLE") || !strings.Contains(out, "AKIA…MPLE") {
			t.Errorf("%q table does not mask the key ID:\n%s", args, out)
		}
		checkEscaped(t, strings.Join(args[:2], " "), out, `eve\x1b[2J`)
	}
}

// A day threshold of 0 is refused the same way from a flag as from the file.
func TestThresholdZero(t *testing.T) {
	for _, flag := range []string{"--password-days", "--key-unused-days", "--key-max-age-days", "--root-used-days"} {
		code, out, errOut := run(t, cli.Env{}, "scan", "--from", demo, "-o", "json", flag, "0")
		if want := flag + ": must be at least 1, got 0"; code != 2 || out != "" || !strings.Contains(errOut, want) {
			t.Errorf("%s 0: exit %d, stderr %q; want exit 2 and %q", flag, code, errOut, want)
		}
	}
	cfg := filepath.Join(t.TempDir(), "iamwarden.yaml")
	if err := os.WriteFile(cfg, []byte("rules:\n  password-unused:\n    days: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, cli.Env{}, "scan", "--from", demo, "-o", "json", "--config", cfg)
	if want := "rules.password-unused.days: must be at least 1, got 0"; code != 2 || !strings.Contains(errOut, want) {
		t.Errorf("days: 0 in the file: exit %d, stderr %q; want %q", code, errOut, want)
	}
	if code, out, errOut := run(t, cli.Env{}, "scan", "--from", demo, "-o", "json", "--password-days", "1"); code != 1 || !strings.Contains(out, `"threshold_days": 1`) {
		t.Errorf("--password-days 1: exit %d, stderr %s", code, errOut)
	}
}

// The configuration file found (here through IAMWARDEN_CONFIG) is used, named in the JSON output
// and logged at --log-level info.
func TestConfigFileShown(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "team.yaml")
	if err := os.WriteFile(cfg, []byte("rules:\n  password-unused:\n    days: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := cli.Env{Getenv: func(k string) string {
		if k == "IAMWARDEN_CONFIG" {
			return cfg
		}
		return ""
	}}
	_, out, errOut := run(t, env, "scan", "--from", demo, "-o", "json", "--log-level", "info")
	r := decode(t, out)
	if r.ConfigFile != cfg {
		t.Errorf("config_file = %q, want %q", r.ConfigFile, cfg)
	}
	if !strings.Contains(out, `"threshold_days": 1`) {
		t.Error("the file's threshold was not applied")
	}
	if !strings.Contains(errOut, "level=INFO") || !strings.Contains(errOut, "file="+cfg) {
		t.Errorf("not logged at info: %q", errOut)
	}
	_, out, errOut = run(t, cli.Env{}, "scan", "--from", demo, "-o", "json", "--log-level", "info")
	if r := decode(t, out); r.ConfigFile != "" || !strings.Contains(out, `"config_file": ""`) {
		t.Errorf("without a file: config_file = %q", r.ConfigFile)
	}
	if !strings.Contains(errOut, "no configuration file") {
		t.Errorf("defaults not logged: %q", errOut)
	}
}

// Shell completion offers rule IDs, policy kinds and each command's output formats.
func TestCompletion(t *testing.T) {
	complete := func(args ...string) []string {
		t.Helper()
		code, out, errOut := run(t, cli.Env{}, append([]string{"__complete"}, args...)...)
		if code != 0 {
			t.Fatalf("%q: exit %d, %s", args, code, errOut)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, ":") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		return got
	}
	var ruleIDs []string
	for _, r := range rules.Registry() {
		ruleIDs = append(ruleIDs, r.ID)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"scan", "--rule", ""}, ruleIDs},
		{[]string{"scan", "--skip-rule", "root-"}, []string{"root-mfa-missing", "root-hardware-mfa-missing", "root-access-key", "root-recently-used"}},
		{[]string{"policy", "render", ""}, []string{"enforce-mfa", "enforce-mfa-group", "enforce-mfa-scp", "iamwarden-scan", "iamwarden-enforce", "iamwarden-lambda-report", "iamwarden-lambda-enforce", "iamwarden-member-audit", "iamwarden-member-enforce"}},
		{[]string{"policy", "render", "enforce-mfa", "--format", ""}, []string{"json", "terraform", "cloudformation"}},
		{[]string{"scan", "-o", ""}, []string{"table", "json", "csv", "ocsf", "asff"}},
		{[]string{"journal", "list", "--output", ""}, []string{"table", "json"}},
		{[]string{"policy", "lint", "-o", ""}, []string{"text", "json", "sarif"}},
		{[]string{"export", "-o", ""}, []string{"table"}},
	} {
		if got := complete(c.args...); strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("complete %q = %q, want %q", c.args, got, c.want)
		}
	}
	if code, out, _ := run(t, cli.Env{}, "completion", "bash"); code != 0 || !strings.Contains(out, "__start_iamwarden") {
		t.Errorf("completion bash: exit %d", code)
	}
}

// version prints the build's version and revision, the same that SARIF names as the tool's.
func TestVersion(t *testing.T) {
	code, out, _ := run(t, cli.Env{}, "version", "-o", "json")
	var v struct{ Version, Revision string }
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Version == "" || v.Revision == "" {
		t.Fatalf("version -o json: exit %d, %v\n%s", code, err, out)
	}
	code, text, _ := run(t, cli.Env{}, "version")
	if code != 0 || !strings.HasPrefix(text, "iamwarden "+v.Version+" (revision "+v.Revision) {
		t.Errorf("version: %q", text)
	}
	_, out, _ = run(t, cli.Env{}, "policy", "lint", "-o", "sarif", lintData+"seed004_minimal_old.json")
	var sarif struct {
		Runs []struct {
			Tool struct{ Driver struct{ Version string } }
		}
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || len(sarif.Runs) != 1 || sarif.Runs[0].Tool.Driver.Version != v.Version {
		t.Errorf("sarif tool.driver.version is not %q: %v\n%.300s", v.Version, err, out)
	}
}

func TestScanOCSF(t *testing.T) {
	_, jsonOut, _ := run(t, cli.Env{}, "scan", "--from", demo, "-o", "json")
	want := len(decode(t, jsonOut).Findings)
	code, out, stderr := run(t, cli.Env{}, "scan", "--from", demo, "-o", "ocsf")
	if code != 1 {
		t.Fatalf("exit %d, stderr %s; want 1 (violations), as with the other formats", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != want {
		t.Fatalf("%d OCSF events, want one per finding (%d)", len(lines), want)
	}
	for _, l := range lines {
		var ev struct {
			ClassUID int `json:"class_uid"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.ClassUID != 2003 {
			t.Fatalf("line %q: class %d, %v", l, ev.ClassUID, err)
		}
	}
}
