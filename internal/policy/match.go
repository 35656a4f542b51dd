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
	star   int // index of this star among the pattern's stars
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
	stars   int
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
			p.toks = append(p.toks, token{kind: tStar, cross: cross, star: p.stars})
			p.stars++
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
	m := matcher{p: p, r: r, ok: true, n: len(s)}
	if p.stars > 1 {
		// A star that failed from position pos fails from every later position it could reach
		// from there (up to the next colon when it cannot cross colons): remembering that keeps
		// patterns with many stars linear in the number of stars.
		if p.stars <= len(m.small) {
			m.fail = m.small[:p.stars]
		} else {
			m.fail = make([]failRange, p.stars)
		}
		for i := range m.fail {
			m.fail[i] = failRange{from: -1}
		}
	}
	res := m.match(0, s)
	return res && m.ok, m.ok
}

type failRange struct{ from, to int }

type matcher struct {
	p     *pattern
	r     *evalCtx
	ok    bool
	n     int // length of the whole input
	fail  []failRange
	small [4]failRange
}

func (m *matcher) match(ti int, s string) bool {
	p := m.p
	for ; ti < len(p.toks); ti++ {
		t := &p.toks[ti]
		switch t.kind {
		case tLit:
			if !hasPrefix(s, t.lit, p.fold) {
				return false
			}
			s = s[len(t.lit):]
		case tVar:
			v, found := m.r.variable(t.key)
			if !found {
				if !t.hasDef {
					m.ok = false
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
			if ti == len(p.toks)-1 {
				return t.cross || strings.IndexByte(s, ':') < 0
			}
			pos := m.n - len(s)
			var fr *failRange
			if m.fail != nil {
				fr = &m.fail[t.star]
				if fr.from >= 0 && pos >= fr.from && pos <= fr.to {
					return false
				}
			}
			next := &p.toks[ti+1]
			end := len(s)
			for i := 0; i <= len(s); i++ {
				if next.kind != tLit || hasPrefix(s[i:], next.lit, p.fold) {
					if m.match(ti+1, s[i:]) {
						return true
					}
					if !m.ok {
						return false
					}
				}
				if !t.cross && i < len(s) && s[i] == ':' {
					end = i
					break
				}
			}
			if fr != nil {
				*fr = failRange{from: pos, to: pos + end}
			}
			return false
		}
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
