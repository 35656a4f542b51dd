package htmlreport_test

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/report/htmlreport"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func render(t *testing.T, in htmlreport.Input) string {
	t.Helper()
	var b bytes.Buffer
	if err := htmlreport.Write(&b, in); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestDeterministic(t *testing.T) {
	a := render(t, demoInput(t))
	in := demoInput(t)
	// The same findings, accounts and history in another order give the same page.
	in.Accounts[0], in.Accounts[1] = in.Accounts[1], in.Accounts[0]
	fs := in.Accounts[0].Result.Findings
	for i, j := 0, len(fs)-1; i < j; i, j = i+1, j-1 {
		fs[i], fs[j] = fs[j], fs[i]
	}
	h := in.History
	for i, j := 0, len(h)-1; i < j; i, j = i+1, j-1 {
		h[i], h[j] = h[j], h[i]
	}
	for range 3 {
		if b := render(t, in); b != a {
			t.Fatal("two renderings of the same input differ")
		}
	}
}

var (
	styleRe  = regexp.MustCompile(`(?s)<style>(.*?)</style>`)
	scriptRe = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	cspRe    = regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]+)">`)
)

func TestCSPHashesTheInlineBlocks(t *testing.T) {
	page := render(t, demoInput(t))
	m := cspRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no Content-Security-Policy meta tag")
	}
	csp := html.UnescapeString(m[1])
	styles, scripts := styleRe.FindAllStringSubmatch(page, -1), scriptRe.FindAllStringSubmatch(page, -1)
	if len(styles) != 1 || len(scripts) != 1 {
		t.Fatalf("want one style and one script block, got %d and %d", len(styles), len(scripts))
	}
	for _, want := range []string{"default-src 'none'", "style-src '" + htmlreport.Hash(styles[0][1]) + "'", "script-src '" + htmlreport.Hash(scripts[0][1]) + "'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("policy %q lacks %q", csp, want)
		}
	}
	// Nothing on the page would be fetched, were the policy absent.
	for _, bad := range []string{"<link", "<img", "<iframe", "src=", "url(", "@import", "http://", "//fonts."} {
		if i := strings.Index(page, bad); i >= 0 {
			t.Errorf("page holds %q: %s", bad, page[max(0, i-60):min(len(page), i+60)])
		}
	}
	if strings.Contains(page, " style=") {
		t.Error("page has a style attribute, which the policy forbids")
	}
}

func TestHostileNamesAreEscaped(t *testing.T) {
	deadline := generatedAt.Add(30 * time.Hour)
	evil := "<script>alert(1)</script>"
	ctl := "bob\x1b[31m\u202eevil\r\n"
	r := &report.Result{AccountID: "111122223333", AccountAlias: "<b>alias</b>", Findings: []rules.Finding{
		{ID: "111122223333/console-mfa-missing/" + evil, Rule: "console-mfa-missing", Severity: rules.SeverityHigh, State: rules.StatePending,
			Deadline: &deadline, Principal: evil, Detail: `"><img src=x onerror=alert(2)>`,
			Evidence: map[string]any{"note": "</dd><script>alert(3)</script>", "nested": map[string]any{"x": "</script><script>alert(4)</script>"}}},
		{ID: "111122223333/password-unused/" + ctl, Rule: "password-unused", Severity: rules.SeverityMedium, State: rules.StateExempt,
			Principal: ctl, Exemption: &rules.Exemption{Reason: "ok\x07 <i>", Source: "tag"}},
	}}
	page := render(t, htmlreport.Input{GeneratedAt: generatedAt, Title: "<t>", Accounts: []htmlreport.Account{{AccountID: r.AccountID, Result: r}}})
	for _, bad := range []string{"<script>alert", "<img src", "<b>alias", "<i>", "\x1b", "\u202e", "\x07", "\r", "<t>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q unescaped", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", `bob\x1b[31m\u202eevil\x0d\x0a`, "&lt;b&gt;alias&lt;/b&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, "<script>"); n != 1 {
		t.Errorf("%d script elements, want the page's own only", n)
	}
}

func TestKeyIDsMasked(t *testing.T) {
	in := demoInput(t)
	key := "AKIAIOSFODNN7EXAMPLE"
	r := in.Accounts[1].Result
	r.Findings = append(r.Findings, rules.Finding{ID: r.AccountID + "/access-key-unused/zed/" + key, Rule: "access-key-unused", Severity: rules.SeverityMedium,
		State: rules.StateViolation, Principal: "zed", Resource: key, Detail: "key " + key + " unused",
		Evidence: map[string]any{"candidates": []string{key, "ASIAY34FZKBOKMUTVV7A"}, "key_id": key}},
		rules.Finding{ID: r.AccountID + "/access-key-not-rotated/zed/access_key_2", Rule: "access-key-not-rotated", Severity: rules.SeverityMedium,
			State: rules.StateViolation, Principal: "zed", Resource: "access_key_2",
			KeyIDUnknown: &inventory.UnmatchedKey{Reason: inventory.UnmatchedLastUseDiffers, Candidates: []string{"AKIAJJJJJJJJJJJJ7777", "AKIAKKKKKKKKKKKK8888"}}},
		// An ID that is not the finding's account, rule, user and key is shown, masked.
		rules.Finding{ID: r.AccountID + "/access-key-inactive/zed/" + key, Rule: "access-key-inactive", Severity: rules.SeverityLow,
			State: rules.StateViolation, Principal: "zed", Resource: "access_key_1"})
	in.Accounts[1].Enforce.Actions = append(in.Accounts[1].Enforce.Actions, htmlreport.Action{Kind: "deactivate-key", Principal: "zed", Resource: key})
	page := render(t, in)
	for _, whole := range []string{key, "ASIAY34FZKBOKMUTVV7A", "AKIAJJJJJJJJJJJJ7777", "AKIAKKKKKKKKKKKK8888", "AKIALTT72SV5NISCXPSV", "AKIAMU4MMMKKFPQJJE5P"} {
		if strings.Contains(page, whole) {
			t.Errorf("page holds the whole key ID %s", whole)
		}
	}
	for _, masked := range []string{"AKIA…MPLE", "ASIA…VV7A", "AKIA…XPSV", "/zed/AKIA…MPLE", "key ID unknown: AKIA…7777 and AKIA…8888 match"} {
		if !strings.Contains(page, masked) {
			t.Errorf("page lacks the masked key ID %s", masked)
		}
	}
}

var deadlineRow = regexp.MustCompile(`<tr><td><time datetime="([^"]+)">[^<]*</time></td><td[^>]*>([^<]*)</td><th scope="row"><a href="#u\d+">([^<]*)</a>`)

func TestDeadlinesSoonestFirst(t *testing.T) {
	at := func(h int) *time.Time { x := generatedAt.Add(time.Duration(h) * time.Hour); return &x }
	f := func(who string, h int) rules.Finding {
		return rules.Finding{ID: "1/console-mfa-missing/" + who, Rule: "console-mfa-missing", Severity: rules.SeverityHigh, State: rules.StatePending, Principal: who, Deadline: at(h)}
	}
	r := &report.Result{AccountID: "111122223333", Findings: []rules.Finding{f("late", 24*9), f("soon", 5), f("gone", -3), f("mid", 50),
		{ID: "x", Rule: "password-unused", Severity: rules.SeverityMedium, State: rules.StateViolation, Principal: "none"}}}
	page := render(t, htmlreport.Input{GeneratedAt: generatedAt, Accounts: []htmlreport.Account{{AccountID: r.AccountID, Result: r}}})
	var got []string
	for _, m := range deadlineRow.FindAllStringSubmatch(page, -1) {
		got = append(got, m[3]+": "+m[2])
	}
	want := []string{"gone: 3 hours ago (overdue)", "soon: in 5 hours", "mid: in 2 days", "late: in 9 days"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("deadlines:\n got %q\nwant %q", got, want)
	}
}

func TestSummaryAndSections(t *testing.T) {
	page := render(t, demoInput(t))
	for _, want := range []string{
		`<b class="st-violation">32</b> violations`, `<b class="st-pending">1</b> pending`, `<b class="st-exempt">3</b> exempt`,
		`<span class="acct-failed">1 failed</span>`, "assume role OrganizationAccountAccessRole: access denied",
		`href="https://github.com/iamwarden/iamwarden/blob/main/docs/rules/console-mfa-missing.md"`,
		"Exemption expired: Nightly reporting job", `<title id="chart-severity-t">Open findings by severity</title>`,
		`dry run: 3 planned`, `<a class="skip" href="#main">`, `<th scope="col"><button type="button" data-col="1">User</button></th>`,
		`<label for="f-text">`, `<meta name="viewport"`, `fatima.rahman</a></th><td>123456789012 (acme-prod)</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	t.Logf("page: %d bytes", len(page))
}

// What a finding shows already is not repeated in its evidence: its ID when made of its
// account, rule, user and key, its deadline, its grace period in seconds. A violation's past
// deadline is only in its evidence, and stays.
func TestEvidenceLeavesOutWhatTheFindingShows(t *testing.T) {
	page := render(t, demoInput(t))
	if n := strings.Count(page, "<dt>deadline</dt>"); n != 3 {
		t.Errorf("%d deadlines in evidence, want the 3 violations'", n)
	}
	for _, gone := range []string{"<dt>finding</dt>", "<dd>2026-11-21T03:00:00Z</dd>", "<dt>grace_seconds</dt>"} {
		if strings.Contains(page, gone) {
			t.Errorf("page holds %s", gone)
		}
	}
	for _, kept := range []string{"<dt>grace</dt><dd>24h</dd>", "<dt>controls</dt><dd>FSBP IAM.5, CIS v5.0.0 1.9, CIS v3.0.0 1.10</dd>",
		`<p>Deadline: <time datetime="2026-11-21T03:00:00Z">`} {
		if !strings.Contains(page, kept) {
			t.Errorf("page lacks %s", kept)
		}
	}
}
