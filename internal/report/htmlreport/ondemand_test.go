package htmlreport_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/report/htmlreport"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// dataRe is the page's findings data block, up to the first end tag: the whole block, unless a
// string in it could end it.
var dataRe = regexp.MustCompile(`(?s)<script type="application/json" id="findings-data">(.*?)</script>`)

// onDemand is the demo input with a threshold its 36 findings exceed.
func onDemand(t *testing.T) htmlreport.Input {
	in := demoInput(t)
	in.InlineFindings = 10
	return in
}

func TestFindingsOnDemandPastTheThreshold(t *testing.T) {
	for _, c := range []struct {
		name     string
		inline   int
		onDemand bool
	}{
		{"default", 0, false},
		{"at the threshold", 36, false},
		{"past it", 35, true},
		{"far past it", 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := demoInput(t)
			in.InlineFindings = c.inline
			page := render(t, in)
			data := dataRe.FindStringSubmatch(page)
			articles := strings.Count(page, `<article class="user"`)
			if !c.onDemand {
				if data != nil || articles != 18 || strings.Contains(page, `class="note"`) {
					t.Errorf("inline page: data block %v, %d user sections (want 18)", data != nil, articles)
				}
				return
			}
			if data == nil || articles != 0 {
				t.Fatalf("page on demand: data block %v, %d user sections (want none)", data != nil, articles)
			}
			for _, want := range []string{
				"This page does not write out the 36 findings of its 18 users",
				"In a browser with JavaScript, the Findings button in a user's row",
				"<code>iamwarden scan -o csv</code>", "<code>iamwarden scan -o json</code>",
				// Links to a user lead to the user's row.
				`<tr id="u9" data-index="8"`, `<th scope="row">fatima.rahman</th>`, `<a href="#u9">fatima.rahman</a>`,
			} {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			var d struct {
				Users []struct {
					ARN      string            `json:"a"`
					Findings []json.RawMessage `json:"f"`
				}
			}
			if err := json.Unmarshal([]byte(data[1]), &d); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, u := range d.Users {
				n += len(u.Findings)
			}
			if len(d.Users) != 18 || n != 36 {
				t.Errorf("data holds %d users and %d findings, want 18 and 36", len(d.Users), n)
			}
		})
	}
}

func TestFindingsDataIsSafeToEmbed(t *testing.T) {
	evil := "</script><script>alert(1)</script>"
	ctl := "bob\x1b[31m\u202eevil"
	r := &report.Result{AccountID: "111122223333", Findings: []rules.Finding{
		{ID: "111122223333/password-unused/" + evil, Rule: "password-unused", Severity: rules.SeverityMedium, State: rules.StateViolation,
			Principal: evil, PrincipalARN: "arn:aws:iam::111122223333:user/" + evil, Detail: "<!-- & -->\u2028\u2029 </SCRIPT >",
			Evidence: map[string]any{"note": "</script ><!--<script>", "list": []string{"</script>", "\u2028"}}},
		{ID: "111122223333/password-unused/" + ctl, Rule: "password-unused", Severity: rules.SeverityMedium, State: rules.StateExempt,
			Principal: ctl, Detail: "<!-- & -->\u2028\u2029 </SCRIPT >", Exemption: &rules.Exemption{Reason: "</script>", Source: "tag"}},
	}}
	page := render(t, htmlreport.Input{GeneratedAt: generatedAt, InlineFindings: 1, Accounts: []htmlreport.Account{{AccountID: r.AccountID, Result: r}}})
	m := dataRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no data block")
	}
	block := m[1]
	if !json.Valid([]byte(block)) {
		t.Fatalf("the block ends early or is not JSON: %.200s", block)
	}
	for _, bad := range []string{"<", ">", "&", "\u2028", "\u2029", "\x1b", "\u202e"} {
		if strings.Contains(block, bad) {
			t.Errorf("data block holds %q", bad)
		}
	}
	if n := strings.Count(strings.ToLower(page), "<script"); n != 2 {
		t.Errorf("%d script elements, want the page's script and its data", n)
	}
	// The strings are the page's: control characters shown, not passed through.
	var d struct {
		Strings []string `json:"s"`
		Users   []struct {
			ARN string `json:"a"`
		} `json:"users"`
	}
	if err := json.Unmarshal([]byte(block), &d); err != nil {
		t.Fatal(err)
	}
	strs := decoded(t, block)
	for _, want := range []string{"arn:aws:iam::111122223333:user/" + evil, `<!-- & -->\u2028\u2029 </SCRIPT >`, `["</script>","\u2028"]`, "</script ><!--<script>"} {
		if !strings.Contains(strs, want) {
			t.Errorf("data lacks %q", want)
		}
	}
	// The names are in the users' rows, escaped as the rest of the page is.
	for _, want := range []string{`<th scope="row">&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</th>`, `<th scope="row">bob\x1b[31m\u202eevil</th>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// decoded is every string in a JSON document, one a line.
func decoded(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				out = append(out, k)
				walk(e)
			}
		}
	}
	walk(v)
	return strings.Join(out, "\n")
}

func TestFindingsDataMasksKeyIDs(t *testing.T) {
	in := onDemand(t)
	key := "AKIAIOSFODNN7EXAMPLE"
	r := in.Accounts[1].Result
	r.Findings = append(r.Findings, rules.Finding{ID: r.AccountID + "/access-key-unused/zed/" + key, Rule: "access-key-unused", Severity: rules.SeverityMedium,
		State: rules.StateViolation, Principal: "zed", Resource: key, Detail: "key " + key + " unused",
		Evidence: map[string]any{"candidates": []string{key, "ASIAY34FZKBOKMUTVV7A"}, "key_id": key}},
		rules.Finding{ID: r.AccountID + "/access-key-inactive/zed/" + key, Rule: "access-key-inactive", Severity: rules.SeverityLow,
			State: rules.StateViolation, Principal: "zed", Resource: "access_key_1"})
	page := render(t, in)
	m := dataRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no data block")
	}
	for _, whole := range []string{key, "ASIAY34FZKBOKMUTVV7A", "AKIALTT72SV5NISCXPSV", "AKIAMU4MMMKKFPQJJE5P"} {
		if strings.Contains(page, whole) {
			t.Errorf("page holds the whole key ID %s", whole)
		}
	}
	strs := decoded(t, m[1])
	for _, masked := range []string{"AKIA…MPLE", "key AKIA…MPLE unused", `["AKIA…MPLE","ASIA…VV7A"]`, "AKIA…XPSV", "/zed/AKIA…MPLE"} {
		if !strings.Contains(strs, masked) {
			t.Errorf("data lacks the masked key ID %s", masked)
		}
	}
}

func TestOnDemandDeterministic(t *testing.T) {
	a := render(t, onDemand(t))
	in := onDemand(t)
	in.Accounts[0], in.Accounts[1] = in.Accounts[1], in.Accounts[0]
	fs := in.Accounts[0].Result.Findings
	for i, j := 0, len(fs)-1; i < j; i, j = i+1, j-1 {
		fs[i], fs[j] = fs[j], fs[i]
	}
	for range 3 {
		if b := render(t, in); b != a {
			t.Fatal("two renderings of the same input differ")
		}
	}
}
