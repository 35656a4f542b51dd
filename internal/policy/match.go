package policy

import (
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tLit   tokKind = iota // literal text
	tStar                 // * : any run of characters
	tQuest                // ? : one character
	tVar                  // ${key} or ${key, 'default'}
)

type token struct {
	kind   tokKind
	cross  bool   // in ARN mode, a * that ends a segment may match across ':'
	lit    string // literal text, lower-cased when the pattern folds case
	key    string // variable key as written
	def    string // variable default
	hasDef bool
}

// pattern is a compiled Action, Resource or condition value.
type pattern struct {
	raw     string
	toks    []token
	any     bool // "*" alone (or "*" in ARN mode): matches everything
	literal bool // no wildcard and no variable: compare lit directly
	lit     string
	fold    bool // ASCII case-insensitive
	arn     bool // wildcards do not cross ':' unless at the end of a segment
	hasVar  bool
}

type patternOpts struct {
	wild bool // * and ? are wildcards
	vars bool // ${...} are policy variables
	fold bool
	arn  bool
}

func compilePattern(s string, o patternOpts) pattern {
	p := pattern{raw: s, fold: o.fold, arn: o.arn}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t := lit.String()
			if o.fold {
				t = strings.ToLower(t)
			}
			p.toks = append(p.toks, token{kind: tLit, lit: t})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case o.vars && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				lit.WriteString(s[i:])
				i = len(s)
				continue
			}
			body := s[i+2 : i+2+end]
			i += end + 3
			switch strings.TrimSpace(body) {
			case "*", "?", "$":
				lit.WriteString(strings.TrimSpace(body))
				continue
			}
			flush()
			t := token{kind: tVar}
			key, def, hasDef := strings.Cut(body, ",")
			t.key = strings.TrimSpace(key)
			if hasDef {
				def = strings.TrimSpace(def)
				if len(def) >= 2 && def[0] == '\'' && def[len(def)-1] == '\'' {
					def = def[1 : len(def)-1]
				}
				t.def, t.hasDef = def, true
			}
			p.toks = append(p.toks, t)
			p.hasVar = true
		case o.wild && c == '*':
			flush()
			cross := !o.arn || i+1 == len(s) || s[i+1] == ':'
			p.toks = append(p.toks, token{kind: tStar, cross: cross})
			i++
		case o.wild && c == '?':
			flush()
			p.toks = append(p.toks, token{kind: tQuest})
			i++
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	switch {
	case len(p.toks) == 1 && p.toks[0].kind == tStar:
		p.any = true
	case len(p.toks) == 0:
		p.literal = true
	case len(p.toks) == 1 && p.toks[0].kind == tLit:
		p.literal, p.lit = true, p.toks[0].lit
	}
	return p
}

// match reports whether s matches the pattern; variables are resolved through r (their values are
// literal text). A variable without a value has no equal or like value: the pattern does not
// match, and ok is false when matching reached such a variable (so the mismatch proves nothing
// about s, which matters for NotResource and negated operators).
func (p *pattern) match(s string, r *evalCtx) (matched, ok bool) {
	if p.any {
		return true, true
	}
	if p.literal {
		if p.fold {
			return equalFoldLower(s, p.lit), true
		}
		return s == p.lit, true
	}
	ok = true
	m := matchToks(p.toks, s, p, r, &ok)
	return m && ok, ok
}

func matchToks(toks []token, s string, p *pattern, r *evalCtx, ok *bool) bool {
	for len(toks) > 0 {
		t := &toks[0]
		switch t.kind {
		case tLit:
			if !hasPrefix(s, t.lit, p.fold) {
				return false
			}
			s = s[len(t.lit):]
		case tVar:
			v, found := r.variable(t.key)
			if !found {
				if !t.hasDef {
					*ok = false
					return false
				}
				v = t.def
			}
			if !hasPrefix(s, v, p.fold) {
				return false
			}
			s = s[len(v):]
		case tQuest:
			if s == "" || (p.arn && s[0] == ':') {
				return false
			}
			_, n := utf8.DecodeRuneInString(s)
			s = s[n:]
		case tStar:
			rest := toks[1:]
			if len(rest) == 0 {
				return t.cross || strings.IndexByte(s, ':') < 0
			}
			for i := 0; i <= len(s); i++ {
				if rest[0].kind == tLit && !hasPrefix(s[i:], rest[0].lit, p.fold) {
					if !t.cross && i < len(s) && s[i] == ':' {
						return false
					}
					continue
				}
				if matchToks(rest, s[i:], p, r, ok) {
					return true
				}
				if !*ok {
					return false
				}
				if !t.cross && i < len(s) && s[i] == ':' {
					return false
				}
			}
			return false
		}
		toks = toks[1:]
	}
	return s == ""
}

// hasPrefix is strings.HasPrefix, ASCII case-insensitive when fold is set and prefix is lower case
// (variable values are not lower-cased, so both sides fold).
func hasPrefix(s, prefix string, fold bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if !fold {
		return s[:len(prefix)] == prefix
	}
	for i := 0; i < len(prefix); i++ {
		if lowerByte(s[i]) != lowerByte(prefix[i]) {
			return false
		}
	}
	return true
}

func equalFoldLower(s, lower string) bool {
	return len(s) == len(lower) && hasPrefix(s, lower, true)
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
