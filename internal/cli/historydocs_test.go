package cli_test

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/cli"
)

// docSection is the text of docs/history.md from the heading on to the next heading of the same
// or a higher level.
func docSection(t *testing.T, heading string) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/history.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("docs/history.md has no %q", heading)
	}
	level := strings.Index(heading, " ")
	stop := regexp.MustCompile(`(?m)^#{1,` + strconv.Itoa(level) + `} `)
	if i := stop.FindStringIndex(rest); i != nil {
		rest = rest[:i[0]]
	}
	return rest
}

// fieldTable is the field names of the first column of the section's "| field | meaning |" table.
func fieldTable(t *testing.T, section string) []string {
	t.Helper()
	_, table, ok := strings.Cut(section, "| field | meaning |")
	if !ok {
		t.Fatal("no field table")
	}
	var out []string
	for _, line := range strings.Split(table, "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		for _, f := range ticks(strings.Split(line, "|")[1]) {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(f, "changes[]."), "[]"))
		}
	}
	sort.Strings(out)
	return out
}

// columns are the names listed after "the columns" in the section.
func columns(t *testing.T, section string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(section, "the columns ")
	if !ok {
		t.Fatal("no column list")
	}
	list, _, _ := strings.Cut(rest[1:], "`")
	var out []string
	for _, c := range strings.Split(list, ",") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

func keysOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// docs/history.md documents the fields and columns the commands print.
func TestHistoryDocs(t *testing.T) {
	jf, _, _ := twoScans(t)
	out := func(args ...string) string {
		t.Helper()
		code, out, stderr := run(t, cli.Env{}, append(args, "--journal", jf)...)
		if code > 1 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		return out
	}

	list := docSection(t, "## `iamwarden history`")
	var metas []json.RawMessage
	if err := json.Unmarshal([]byte(out("history", "-o", "json")), &metas); err != nil {
		t.Fatal(err)
	}
	got := append(keysOf(t, metas[0]), "actions") // a scan has no actions
	sort.Strings(got)
	want := fieldTable(t, list)
	if !slices.Equal(got, want) {
		t.Errorf("history JSON fields %q, docs %q", got, want)
	}
	rows, err := csv.NewReader(strings.NewReader(out("history", "-o", "csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := columns(t, list); !slices.Equal(rows[0], want) {
		t.Errorf("history CSV columns %q, docs %q", rows[0], want)
	}
	header := strings.Fields(strings.Split(out("history", "-o", "table"), "\n")[0])
	_, example, _ := strings.Cut(list, "```\nID ")
	if docHeader := strings.Fields("ID " + strings.Split(example, "\n")[0]); !slices.Equal(header, docHeader) {
		t.Errorf("history table header %q, docs %q", header, docHeader)
	}

	raw := out("diff", "-o", "json")
	var doc struct {
		Changes []json.RawMessage `json:"changes"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	got = keysOf(t, json.RawMessage(raw))
	for _, c := range doc.Changes {
		for _, k := range keysOf(t, c) {
			if !slices.Contains(got, k) {
				got = append(got, k)
			}
		}
	}
	sort.Strings(got)
	if want := fieldTable(t, docSection(t, "### JSON")); !slices.Equal(got, want) {
		t.Errorf("diff JSON fields %q, docs %q", got, want)
	}
	rows, err = csv.NewReader(strings.NewReader(out("diff", "-o", "csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := columns(t, docSection(t, "### CSV")); !slices.Equal(rows[0], want) {
		t.Errorf("diff CSV columns %q, docs %q", rows[0], want)
	}
	// The table's example of a changed finding is what the demo's lapsed exemption prints.
	_, example, _ = strings.Cut(docSection(t, "### Table"), "after: `")
	example, _, _ = strings.Cut(example, "`")
	if table := out("diff", "-o", "table"); !strings.Contains(table, strings.Join(strings.Fields(example), " ")) {
		t.Errorf("diff table lacks the documented %q:\n%s", example, table)
	}
}
