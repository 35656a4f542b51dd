package report_test

import (
	"testing"

	"github.com/iamwarden/iamwarden/internal/report"
)

func TestSafeText(t *testing.T) {
	for in, want := range map[string]string{
		"alice":            "alice",
		"jürgen 例え":        "jürgen 例え",
		"evil\x1b[2J\rok":  `evil\x1b[2J\x0dok`,
		"line\nbreak\ttab": `line\x0abreak\x09tab`,
		"rtl\u202eexe.txt": `rtl\u202eexe.txt`,
		"c1\u009b31m":      `c1\x9b31m`,
		"a\u2028b\u2029c":  `a\u2028b\u2029c`,
		"":                 "",
	} {
		if got := report.SafeText(in); got != want {
			t.Errorf("SafeText(%q) = %q, want %q", in, got, want)
		}
	}
}
