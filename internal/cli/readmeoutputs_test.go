package cli

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/report"
)

// The README's Output table lists every command's formats as the commands print them.
func TestReadmeOutputTableMatchesCommands(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(data), "| command | formats |\n|---|---|\n")
	if !ok {
		t.Fatal("README.md has no Output table")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	code := regexp.MustCompile("`([^`]+)`")
	human := func(fs []string) []string {
		out := []string{}
		for _, f := range fs {
			if isHuman(report.Format(f)) {
				f = string(report.FormatTable)
			}
			if !strings.HasPrefix(f, "-") && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
		slices.Sort(out)
		return out
	}
	listed := map[string][]string{}
	for _, row := range strings.Split(table, "\n") {
		cells := strings.Split(strings.Trim(strings.ReplaceAll(row, `\|`, "/"), "|"), "|")
		if len(cells) != 2 {
			t.Fatalf("README Output row %q has %d cells", row, len(cells))
		}
		var formats []string
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			formats = append(formats, m[1])
		}
		for _, m := range code.FindAllStringSubmatch(cells[0], -1) {
			listed[m[1]] = human(formats)
		}
	}
	for cmd, fs := range outputs {
		want := make([]string, len(fs))
		for i, f := range fs {
			want[i] = string(f)
		}
		got, ok := listed[cmd]
		if !ok {
			t.Errorf("README Output table does not list %q", cmd)
			continue
		}
		if !slices.Equal(got, human(want)) {
			t.Errorf("README Output table: %q prints %v, the table says %v", cmd, human(want), got)
		}
	}
}
