package report

import (
	"fmt"
	"strings"
	"unicode"
)

// SafeText returns s fit for a terminal: control characters (including ESC, CR, the C1 range,
// the line and paragraph separators U+2028 and U+2029, and the bidirectional overrides, which
// can rewrite what a terminal shows) are written as \x1b or \u202e escapes instead of being
// passed through. Names, tags and reasons come from accounts and
// configuration that others write.
func SafeText(s string) string {
	if strings.IndexFunc(s, unsafeRune) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !unsafeRune(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r)
}

// SafeCell returns s fit for a spreadsheet cell: a value that starts with =, +, -, @, a tab or a
// carriage return, which spreadsheet applications would evaluate as a formula, gets a leading
// single quote (OWASP's guidance on CSV injection). Other values are returned unchanged.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
