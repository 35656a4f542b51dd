package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// demoScanJSON writes the demo account's scan as scan -o json prints it.
func demoScanJSON(t *testing.T) string {
	t.Helper()
	code, out, stderr := run(t, cli.Env{}, "scan", "--from", demo, "-o", "json")
	if code != report.ExitViolations {
		t.Fatalf("scan exit %d: %s", code, stderr)
	}
	p := filepath.Join(t.TempDir(), "scan.json")
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var wholeKeyID = regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`)

func TestReportFromScan(t *testing.T) {
	scan := demoScanJSON(t)
	code, page, stderr := run(t, cli.Env{}, "report", "--html", "--input", scan, "--title", "Demo")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"<!DOCTYPE html>", "<title>Demo</title>", "default-src &#39;none&#39;", "fatima.rahman", "AKIA…XPSV",
		"123456789012 (acme-prod)", "No history was given"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if k := wholeKeyID.FindString(page); k != "" {
		t.Errorf("page holds the whole key ID %s", k)
	}

	// --out replaces the file whole, and leaves nothing beside it.
	dir := t.TempDir()
	out := filepath.Join(dir, "report.html")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, cli.Env{}, "report", "--html", "--input", scan, "--title", "Demo", "--out", out)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", code, stdout, stderr)
	}
	if got, err := os.ReadFile(out); err != nil || string(got) != page {
		t.Errorf("--out wrote %d bytes (%v), stdout gave %d", len(got), err, len(page))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left in the directory: %v", entries)
	}
	code, _, stderr = run(t, cli.Env{}, "report", "--html", "--input", scan, "--out", filepath.Join(dir, "missing", "r.html"))
	if code != report.ExitError || !strings.Contains(stderr, "missing/r.html") {
		t.Errorf("unwritable --out: exit %d: %s", code, stderr)
	}

	// --account narrows the inputs.
	code, _, stderr = run(t, cli.Env{}, "report", "--html", "--input", scan, "--account", "000000000000")
	if code != report.ExitError || !strings.Contains(stderr, "no input holds the accounts [000000000000]") {
		t.Errorf("--account of no input: exit %d: %s", code, stderr)
	}
}

func TestReportJoinsScanAndEnforce(t *testing.T) {
	dir := t.TempDir()
	scan := demoScanJSON(t)
	enforce := filepath.Join(dir, "enforce.json")
	doc := `{"account_id": "123456789012", "account_alias": "acme-prod", "dry_run": true, "partial": false, "errors": [],
  "plan": {"account_id": "123456789012", "account_alias": "acme-prod", "actions": [{"kind": "deactivate-key", "account_id": "123456789012",
    "principal": "hana.sato", "resource": "AKIALTT72SV5NISCXPSV", "rule": "access-key-unused", "finding_id": "x", "severity": "medium", "reason": "unused"}],
    "notify_only": [], "pending": []},
  "outcome": {"run_id": "", "dry_run": true, "results": [{"action": {"kind": "deactivate-key", "principal": "hana.sato", "resource": "AKIALTT72SV5NISCXPSV",
    "rule": "access-key-unused"}, "status": "would-do", "detail": "still unused"}], "reconciled": [], "warnings": []}}`
	if err := os.WriteFile(enforce, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, page, stderr := run(t, cli.Env{}, "report", "--html", "--input", enforce, "--input", scan)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"dry run: 1 planned, 0 done", "Enforce actions in 123456789012 (acme-prod) (dry run)", "<b class=\"st-violation\">32</b> violations"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "findings from an enforce plan") {
		t.Error("the scan's findings were replaced by the plan's")
	}
	// Alone, the enforce run gives its plan's findings.
	code, page, stderr = run(t, cli.Env{}, "report", "--html", "--input", enforce)
	if code != 0 || !strings.Contains(page, "findings from an enforce plan") || !strings.Contains(page, "hana.sato") {
		t.Errorf("enforce alone: exit %d: %s", code, stderr)
	}
}

// The demo's findings are written out as HTML; with --inline-findings below their number they are
// data the page shows on demand.
func TestReportInlineFindings(t *testing.T) {
	scan := demoScanJSON(t)
	const data = `id="findings-data"`
	for _, c := range []struct {
		args   []string
		inline bool
	}{{nil, true}, {[]string{"--inline-findings", "5"}, false}, {[]string{"--inline-findings", "1000"}, true}} {
		code, page, stderr := run(t, cli.Env{}, append([]string{"report", "--html", "--input", scan}, c.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, stderr)
		}
		if got := !strings.Contains(page, data); got != c.inline {
			t.Errorf("%v: findings written out as HTML %v, want %v", c.args, got, c.inline)
		}
	}
}

func TestReportRefusals(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	scan := demoScanJSON(t)
	policy := write("policy.json", `{"Version": "2012-10-17", "Statement": []}`)
	broken := write("broken.json", `{"account_id": "1", "findings": [`)
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"no --html", []string{"report", "--input", scan}, []string{"--html is required", "try: iamwarden report --html"}},
		{"json output", []string{"report", "--html", "-o", "json", "--input", scan}, []string{`report prints html only, not "json"`}},
		{"missing file", []string{"report", "--html", "--input", filepath.Join(dir, "nope.json")}, []string{"nope.json: no such file"}},
		{"other JSON", []string{"report", "--html", "--input", policy}, []string{"policy.json: not a JSON document of iamwarden scan -o json", "its fields are Statement, Version"}},
		{"malformed", []string{"report", "--html", "--input", scan, "--input", broken}, []string{"broken.json: malformed JSON"}},
		{"bad --since", []string{"report", "--html", "--input", scan, "--since", "soon"}, []string{`--since: invalid duration "soon"`}},
		{"--inline-findings 0", []string{"report", "--html", "--input", scan, "--inline-findings", "0"}, []string{"--inline-findings must be at least 1", "try: --inline-findings 2000"}},
		{"--history without --input", []string{"report", "--html", "--history", "--journal", filepath.Join(dir, "j.db")}, []string{"--history adds"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, stderr := run(t, cli.Env{}, c.args...)
			if code != report.ExitError || out != "" {
				t.Errorf("exit %d, stdout %d bytes", code, len(out))
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

func TestReportStdin(t *testing.T) {
	data, err := os.ReadFile(demoScanJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	code, page, stderr := run(t, cli.Env{Stdin: strings.NewReader(string(data))}, "report", "--html", "--input", "-")
	if code != 0 || !strings.Contains(page, "fatima.rahman") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// docs/report.md's demo commands run as written, and the sections it lists are the page's.
func TestReportDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/report.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "## Try it on the demo account")
	_, block, _ := strings.Cut(section, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	var commands int
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		line, redirect, _ := strings.Cut(line, " > ")
		args, ok := splitWords(line)
		if !ok || len(args) == 0 || args[0] != "iamwarden" {
			t.Fatalf("not a command: %q", line)
		}
		for i, a := range args {
			if strings.HasPrefix(a, "examples/") {
				args[i] = filepath.Join(examples, strings.TrimPrefix(a, "examples/"))
			}
		}
		code, out, stderr := run(t, cli.Env{}, args[1:]...)
		if code != 0 && !(args[1] == "scan" && code == report.ExitViolations) {
			t.Fatalf("%s: exit %d: %s", line, code, stderr)
		}
		if redirect != "" {
			if err := os.WriteFile(strings.TrimSpace(redirect), []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		commands++
	}
	page, err := os.ReadFile("report.html")
	if commands != 2 || err != nil {
		t.Fatalf("%d commands ran; report.html: %v", commands, err)
	}
	if !strings.Contains(string(page), "<title>acme-prod IAM users</title>") {
		t.Error("the page lacks the title given")
	}

	_, shows, _ := strings.Cut(string(doc), "## What the page shows")
	shows, _, _ = strings.Cut(shows, "\n## ")
	var sections int
	for _, line := range strings.Split(shows, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.TrimSpace(cells[1]) == "section" || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		name := strings.TrimSpace(cells[1])
		if !regexp.MustCompile(`<h2 id="[^"]+">` + regexp.QuoteMeta(name) + `</h2>`).Match(page) {
			t.Errorf("docs/report.md lists the section %q, the page has none", name)
		}
		sections++
	}
	if n := strings.Count(string(page), "<h2 "); n != sections {
		t.Errorf("docs/report.md lists %d sections, the page has %d", sections, n)
	}
}

// splitWords splits a command line at spaces, double quotes grouping words.
func splitWords(s string) ([]string, bool) {
	var out []string
	var cur strings.Builder
	quoted, in := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out, !quoted
}

// recordHistory keeps a week of daily demo scans, the last an enforce run, and a second
// account's scan, in a SQLite journal, and returns its path.
func recordHistory(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "journal.db")
	j, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	h, err := history.Of(j, func() time.Time { return fixedNow })
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(demoScanJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	demoRes := decode(t, string(data))
	for i := range 7 {
		r := demoRes
		r.Findings = demoRes.Findings[:len(demoRes.Findings)-6+i]
		r.Count(demoRes.Summary.Users)
		rec := history.Record{Kind: history.KindScan, Source: history.SourceCLI, RecordedAt: fixedNow.Add(-time.Duration(6-i) * 24 * time.Hour), Result: r}
		if i == 6 {
			rec.Kind, rec.Actions = history.KindEnforce, &history.Actions{Planned: 5, Done: 4, Skipped: 1}
		}
		if _, err := h.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	other := report.Result{AccountID: "210987654321", AccountAlias: "staging", Findings: []rules.Finding{{ID: "210987654321/password-unused/old.user",
		Rule: "password-unused", Severity: rules.SeverityMedium, State: rules.StateViolation, Principal: "old.user"}}}
	other.Count(4)
	if _, err := h.Put(ctx, history.Record{Kind: history.KindScan, Source: history.SourceLambda, RecordedAt: fixedNow.Add(-time.Hour), Result: other}); err != nil {
		t.Fatal(err)
	}
	return db
}

var chartRows = regexp.MustCompile(`<tr><th scope="row"><time datetime="[^"]+">`)

func TestReportFromHistory(t *testing.T) {
	db := recordHistory(t)
	code, page, stderr := run(t, cli.Env{}, "report", "--html", "--journal", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"123456789012 (acme-prod)", "210987654321 (staging)", "old.user", "applied: 5 planned, 4 done, 1 skipped",
		"8 recorded runs of 2 accounts", "<b class=\"st-violation\">33</b> violations"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := len(chartRows.FindAllString(page, -1)); n != 16 { // two charts' tables
		t.Errorf("%d rows in the charts' tables, want 2 × 8", n)
	}

	code, page, stderr = run(t, cli.Env{}, "report", "--html", "--journal", db, "--account", "210987654321")
	if code != 0 || strings.Contains(page, "acme-prod") || !strings.Contains(page, "1 recorded run of 1 account") {
		t.Errorf("--account: exit %d: %s", code, stderr)
	}
	code, page, stderr = run(t, cli.Env{}, "report", "--html", "--journal", db, "--since", "50h")
	if code != 0 || !strings.Contains(page, "4 recorded runs of 2 accounts") {
		t.Errorf("--since 50h: exit %d: %s", code, stderr)
	}
	code, _, stderr = run(t, cli.Env{}, "report", "--html", "--journal", db, "--account", "000000000000")
	if code != report.ExitError || !strings.Contains(stderr, "holds no scan of these accounts") {
		t.Errorf("an account without history: exit %d: %s", code, stderr)
	}

	// With --input, --history charts the inputs' accounts only.
	code, page, stderr = run(t, cli.Env{}, "report", "--html", "--input", demoScanJSON(t), "--history", "--journal", db)
	if code != 0 || !strings.Contains(page, "7 recorded runs of 1 account") || strings.Contains(page, "staging") {
		t.Errorf("--input --history: exit %d: %s", code, stderr)
	}
}
