package cli_test

import (
	"encoding/csv"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/rules"
)

var backticked = regexp.MustCompile("`([^`]+)`")

func ticks(s string) []string {
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

var numberWords = map[string]int{"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15}

// The walkthrough of the demo account (docs/export.md and examples/demo-account/README.md) says
// what a scan of it finds: every principal's rules, and which users are clean.
func TestDemoWalkthrough(t *testing.T) {
	code, out, stderr := run(t, cli.Env{}, "scan", "--from", demo, "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	found := map[string][]string{} // principal -> sorted rules
	fired := map[string]bool{}
	for _, f := range decode(t, out).Findings {
		if !slices.Contains(found[f.Principal], f.Rule) {
			found[f.Principal] = append(found[f.Principal], f.Rule)
		}
		fired[f.Rule] = true
	}
	for _, rs := range found {
		sort.Strings(rs)
	}
	f, err := os.Open(demo + "/credential-report.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var clean []string
	for _, r := range rows[1:] {
		if _, ok := found[r[0]]; !ok && r[0] != "<root_account>" {
			clean = append(clean, r[0])
		}
	}
	sort.Strings(clean)

	doc, err := os.ReadFile("../../docs/export.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "## The demo account")
	said := map[string][]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "principal" {
			continue
		}
		who := ticks(cells[1])
		if strings.HasPrefix(strings.TrimSpace(cells[1]), "root") {
			who = append(who, "<root_account>")
		}
		for _, r := range ticks(cells[3]) {
			if _, ok := rules.Lookup(r); !ok {
				continue
			}
			for _, p := range who {
				if !slices.Contains(said[p], r) {
					said[p] = append(said[p], r)
				}
			}
		}
	}
	for _, rs := range said {
		sort.Strings(rs)
	}
	for p, rs := range found {
		if !slices.Equal(said[p], rs) {
			t.Errorf("docs/export.md: %s has %q, the scan finds %q", p, said[p], rs)
		}
	}
	for p, rs := range said {
		if _, ok := found[p]; !ok {
			t.Errorf("docs/export.md: %s has %q, the scan finds nothing", p, rs)
		}
	}

	i := strings.Index(section, "users are clean:")
	if i < 0 {
		t.Fatal("docs/export.md does not list the clean users")
	}
	para, _, _ := strings.Cut(section[i:], "\n\n")
	var named []string
	for _, n := range ticks(para) {
		if _, isRule := rules.Lookup(n); !isRule && !slices.Contains(named, n) {
			named = append(named, n)
		}
	}
	sort.Strings(named)
	if !slices.Equal(named, clean) {
		t.Errorf("docs/export.md names %q as clean, the clean users are %q", named, clean)
	}
	words := strings.Fields(section[:i])
	if n := numberWords[words[len(words)-1]]; n != len(clean) {
		t.Errorf("docs/export.md counts %q clean users, there are %d", words[len(words)-1], len(clean))
	}

	readme, err := os.ReadFile(demo + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(readme)), " ")
	var notFired []string
	for _, r := range rules.Registry() {
		if !fired[r.ID] {
			notFired = append(notFired, "`"+r.ID+"`")
		}
	}
	if want := "triggers every iamwarden rule but " + strings.Join(notFired, ", "); !strings.Contains(text, want) {
		t.Errorf("examples/demo-account/README.md does not say %q", want)
	}
	m := regexp.MustCompile(`(\w+) clean ones`).FindStringSubmatch(text)
	if m == nil || numberWords[m[1]] != len(clean) {
		t.Errorf("examples/demo-account/README.md counts %v clean users, there are %d", m, len(clean))
	}
}
