package report

import (
	"fmt"
	"strings"
	"unicode"
)

// SafeText returns s fit for a terminal: control characters (including ESC, CR, and the C1 and
// bidirectional-override ranges, which can rewrite what a terminal shows) are written as \x1b or
// \u202e escapes instead of being passed through. Names, tags and reasons come from accounts and
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
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}
