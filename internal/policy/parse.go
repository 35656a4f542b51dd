package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

// Kind is where a policy is attached; it decides which elements are required or forbidden.
type Kind int

// Policy kinds.
const (
	KindIdentity Kind = iota // attached to a user, group or role
	KindBoundary             // permissions boundary
	KindSCP                  // AWS Organizations service control policy
	KindResource             // resource-based policy (bucket policy, trust policy...)
	KindSession              // session policy passed to AssumeRole* or GetFederationToken
)

func (k Kind) String() string {
	switch k {
	case KindIdentity:
		return "identity"
	case KindBoundary:
		return "boundary"
	case KindSCP:
		return "scp"
	case KindResource:
		return "resource"
	case KindSession:
		return "session"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Policy is a parsed, validated and compiled policy document.
type Policy struct {
	Name     string
	Kind     Kind
	Document Document
	compiled []cstatement
}

// Issue is one validation problem. Index is the 0-based statement index, or -1 for problems of the
// whole document; Line is 1-based, 0 when unknown.
type Issue struct {
	Policy  string
	Index   int
	Sid     string
	Field   string
	Line    int
	Column  int
	Message string
}

func (i Issue) Error() string {
	var b strings.Builder
	if i.Policy != "" {
		b.WriteString(i.Policy)
		if i.Line > 0 {
			fmt.Fprintf(&b, ":%d", i.Line)
			if i.Column > 0 {
				fmt.Fprintf(&b, ":%d", i.Column)
			}
		}
		b.WriteString(": ")
	} else if i.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", i.Line)
	}
	if i.Index >= 0 {
		fmt.Fprintf(&b, "Statement[%d]", i.Index)
		if i.Sid != "" {
			fmt.Fprintf(&b, " (Sid %q)", i.Sid)
		}
		b.WriteString(": ")
	}
	if i.Field != "" {
		b.WriteString(i.Field)
		b.WriteString(": ")
	}
	b.WriteString(i.Message)
	return b.String()
}

// ValidationError lists every problem found in a document (IAM's MalformedPolicyDocument).
type ValidationError struct {
	Issues []Issue
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		msgs[i] = is.Error()
	}
	return "malformed policy document: " + strings.Join(msgs, "; ")
}

// ErrMalformed is matched by errors.Is for every ValidationError.
var ErrMalformed = errors.New("malformed policy document")

// Is reports whether target is ErrMalformed.
func (e *ValidationError) Is(target error) bool { return target == ErrMalformed }

// ReadFile-style helper: Parse reads a policy document (JSON, or URL-encoded JSON as IAM's API
// returns it) named name, validates it for kind and compiles it. A *ValidationError lists every
// problem found.
func Parse(name string, data []byte, kind Kind) (*Policy, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	text := strings.TrimSpace(string(data))
	if text != "" && !strings.HasPrefix(text, "{") {
		dec, err := inventory.DecodePolicyDocument(text)
		if err != nil {
			return nil, &ValidationError{Issues: []Issue{{Policy: name, Index: -1, Message: err.Error()}}}
		}
		data = []byte(dec)
	}
	doc, issues := decodeDocument(name, data)
	if doc == nil {
		return nil, &ValidationError{Issues: issues}
	}
	issues = append(issues, Validate(name, doc, kind)...)
	if len(issues) > 0 {
		return nil, &ValidationError{Issues: issues}
	}
	return Compile(name, doc, kind)
}

// ParseReader is Parse on a reader.
func ParseReader(name string, r io.Reader, kind Kind) (*Policy, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", name, err)
	}
	return Parse(name, data, kind)
}

// MustParse is Parse for tests and constant policies; it panics on error.
func MustParse(name, text string, kind Kind) *Policy {
	p, err := Parse(name, []byte(text), kind)
	if err != nil {
		panic(err)
	}
	return p
}

// utf8BOM is the byte order mark some editors write at the start of UTF-8 files.
var utf8BOM = []byte("\xef\xbb\xbf")

var (
	topKeys       = map[string]bool{"Version": true, "Id": true, "Statement": true}
	statementKeys = map[string]bool{"Sid": true, "Effect": true, "Principal": true, "NotPrincipal": true,
		"Action": true, "NotAction": true, "Resource": true, "NotResource": true, "Condition": true}
)

// decodeDocument turns JSON into a Document, reporting syntax errors with line:column, duplicate
// and unknown keys and badly typed elements. A nil document means nothing more can be checked.
// Its cost is linear in the size of the document.
func decodeDocument(name string, data []byte) (*Document, []Issue) {
	if !json.Valid(data) {
		var probe any
		err := json.Unmarshal(data, &probe) // words the syntax error
		is := Issue{Policy: name, Index: -1, Message: "invalid JSON: " + err.Error()}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			is.Line, is.Column = lineCol(data, int(se.Offset))
		}
		return nil, []Issue{is}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, []Issue{{Policy: name, Index: -1, Line: 1, Message: "a policy document must be a JSON object"}}
	}
	shape := scanShape(data)
	keyLine := func(k string) int { return shape.topLines[k] }
	var issues []Issue
	for _, d := range shape.dups {
		issues = append(issues, Issue{Policy: name, Index: d.index, Field: d.field, Line: d.line,
			Message: fmt.Sprintf("duplicate key %q: JSON parsers keep one of the values, and which one varies", d.key)})
	}
	doc := &Document{}
	for _, k := range sortedKeys(top) {
		if !topKeys[k] {
			issues = append(issues, Issue{Policy: name, Index: -1, Field: k, Line: keyLine(k), Message: "unknown element"})
		}
	}
	if v, ok := top["Version"]; ok {
		if err := json.Unmarshal(v, &doc.Version); err != nil {
			issues = append(issues, Issue{Policy: name, Index: -1, Field: "Version", Line: keyLine("Version"), Message: "must be a string"})
		}
	}
	if v, ok := top["Id"]; ok {
		if err := json.Unmarshal(v, &doc.ID); err != nil {
			issues = append(issues, Issue{Policy: name, Index: -1, Field: "Id", Line: keyLine("Id"), Message: "must be a string"})
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		issues = append(issues, Issue{Policy: name, Index: -1, Field: "Statement", Line: 1, Message: "missing required element"})
		return doc, issues
	}
	lines := shape.statementLines
	var elems []json.RawMessage
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '{':
		elems = []json.RawMessage{raw}
		doc.StatementIsObject = true
	case len(raw) > 0 && raw[0] == '[':
		_ = json.Unmarshal(raw, &elems)
	default:
		issues = append(issues, Issue{Policy: name, Index: -1, Field: "Statement", Line: keyLine("Statement"), Message: "must be an object or a list of objects"})
		return doc, issues
	}
	for i, e := range elems {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		st, sIssues := decodeStatement(name, i, line, e)
		issues = append(issues, sIssues...)
		doc.Statement = append(doc.Statement, st)
	}
	return doc, issues
}

func decodeStatement(name string, index, line int, raw json.RawMessage) (Statement, []Issue) {
	st := Statement{Line: line}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return st, []Issue{{Policy: name, Index: index, Line: line, Message: "a statement must be a JSON object"}}
	}
	if v, ok := m["Sid"]; ok {
		_ = json.Unmarshal(v, &st.Sid)
	}
	var issues []Issue
	bad := func(field, msg string) {
		issues = append(issues, Issue{Policy: name, Index: index, Sid: st.Sid, Field: field, Line: line, Message: msg})
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		v := m[k]
		var err error
		switch k {
		case "Sid":
			var s string
			if err = json.Unmarshal(v, &s); err != nil {
				err = errors.New("must be a string")
			}
		case "Effect":
			if err = json.Unmarshal(v, &st.Effect); err != nil {
				err = errors.New("must be a string")
			}
		case "Principal":
			st.Principal = &Principal{}
			err = json.Unmarshal(v, st.Principal)
		case "NotPrincipal":
			st.NotPrincipal = &Principal{}
			err = json.Unmarshal(v, st.NotPrincipal)
		case "Action":
			err = json.Unmarshal(v, &st.Action)
		case "NotAction":
			err = json.Unmarshal(v, &st.NotAction)
		case "Resource":
			err = json.Unmarshal(v, &st.Resource)
		case "NotResource":
			err = json.Unmarshal(v, &st.NotResource)
		case "Condition":
			err = json.Unmarshal(v, &st.Condition)
			if err != nil {
				err = fmt.Errorf("must be an object of operator -> key -> values: %w", err)
			}
		default:
			err = errors.New("unknown element")
		}
		if err != nil {
			bad(k, err.Error())
		}
	}
	return st, issues
}

// Validate checks a document for the problems IAM rejects. Issues carry the statement index, Sid
// and line.
func Validate(name string, doc *Document, kind Kind) []Issue {
	var issues []Issue
	if doc.Version != "" && doc.Version != Version2012 && doc.Version != Version2008 {
		issues = append(issues, Issue{Policy: name, Index: -1, Field: "Version", Message: fmt.Sprintf("must be %q or %q, got %q", Version2012, Version2008, doc.Version)})
	}
	if len(doc.Statement) == 0 {
		issues = append(issues, Issue{Policy: name, Index: -1, Field: "Statement", Message: "a policy needs at least one statement"})
	}
	sids := map[string]int{}
	for i := range doc.Statement {
		st := &doc.Statement[i]
		bad := func(field, format string, args ...any) {
			issues = append(issues, Issue{Policy: name, Index: i, Sid: st.Sid, Field: field, Line: st.Line, Message: fmt.Sprintf(format, args...)})
		}
		if st.Sid != "" {
			if prev, dup := sids[st.Sid]; dup {
				bad("Sid", "duplicate Sid, also used by Statement[%d]", prev)
			} else {
				sids[st.Sid] = i
			}
		}
		switch st.Effect {
		case EffectAllow, EffectDeny:
		case "":
			bad("Effect", "missing required element (Allow or Deny)")
		default:
			bad("Effect", "must be \"Allow\" or \"Deny\", got %q", st.Effect)
		}
		switch {
		case st.Action != nil && st.NotAction != nil:
			bad("Action", "a statement cannot have both Action and NotAction")
		case len(st.Action) == 0 && len(st.NotAction) == 0:
			bad("Action", "a statement needs Action or NotAction")
		}
		for _, f := range []struct {
			field string
			vals  StringOrSlice
		}{{"Action", st.Action}, {"NotAction", st.NotAction}} {
			for _, a := range f.vals {
				if err := checkAction(a); err != nil {
					bad(f.field, "%v", err)
				}
			}
		}
		switch {
		case st.Resource != nil && st.NotResource != nil:
			bad("Resource", "a statement cannot have both Resource and NotResource")
		case len(st.Resource) == 0 && len(st.NotResource) == 0 && kind != KindResource:
			bad("Resource", "a statement needs Resource or NotResource")
		}
		for _, f := range []struct {
			field string
			vals  StringOrSlice
		}{{"Resource", st.Resource}, {"NotResource", st.NotResource}} {
			for _, r := range f.vals {
				if r != "*" && !strings.HasPrefix(r, "arn:") && !strings.HasPrefix(r, "${") {
					bad(f.field, "%q must be an ARN or \"*\"", r)
				}
			}
		}
		hasPrincipal := st.Principal != nil || st.NotPrincipal != nil
		switch {
		case st.Principal != nil && st.NotPrincipal != nil:
			bad("Principal", "a statement cannot have both Principal and NotPrincipal")
		case kind == KindResource && !hasPrincipal:
			bad("Principal", "a resource-based policy statement needs Principal or NotPrincipal")
		case kind != KindResource && hasPrincipal:
			bad("Principal", "%s policies cannot name a principal", kind)
		}
		for _, op := range st.Condition.Operators() {
			spec, err := parseOperator(op)
			if err != nil {
				bad("Condition", "%v", err)
				continue
			}
			for key, vals := range st.Condition[op] {
				if key == "" {
					bad("Condition", "%s: empty condition key", op)
				}
				if len(vals) == 0 && spec.base != opNull {
					bad("Condition", "%s %s: no values", op, key)
				}
				for _, v := range vals {
					if err := spec.checkValue(v); err != nil {
						bad("Condition", "%s %s: %v", op, key, err)
					}
				}
			}
		}
	}
	return issues
}

func checkAction(a string) error {
	if a == "*" {
		return nil
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" || strings.Contains(name, ":") {
		return fmt.Errorf("%q must be \"service:action\" or \"*\"", a)
	}
	for _, r := range svc {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("%q: the service prefix may not contain %q", a, r)
		}
	}
	return nil
}

// shape is what a single pass over the JSON tokens finds: the line of each statement's opening
// brace, the line of each top-level key, and duplicate keys in any object.
type shape struct {
	statementLines []int
	topLines       map[string]int
	dups           []duplicate
}

// duplicate is a key that occurs twice in one object: index is the statement (-1 outside
// statements), field the top-level or statement element it lies in.
type duplicate struct {
	index int
	field string
	key   string
	line  int
}

// Where a value lies in a policy document.
const (
	inTop = iota
	inStatementList
	inStatement
	inElement // inside an element of a statement (Condition, Principal...) or of the document
)

type shapeCtx struct {
	where int
	index int
	field string
}

// shapeScanner walks the tokens once; lines are counted incrementally, since every offset it asks
// about lies after the previous one.
type shapeScanner struct {
	data []byte
	dec  *json.Decoder
	off  int
	line int
	out  *shape
}

// scanShape returns what it found before the first syntax error, if any (decodeDocument reports
// syntax errors).
func scanShape(data []byte) *shape {
	out := &shape{topLines: map[string]int{}}
	sc := &shapeScanner{data: data, dec: json.NewDecoder(bytes.NewReader(data)), line: 1, out: out}
	_ = sc.value(shapeCtx{where: inTop, index: -1})
	return out
}

func (sc *shapeScanner) lineAt(off int) int {
	if off < sc.off {
		return lineOf(sc.data, off)
	}
	if off > len(sc.data) {
		off = len(sc.data)
	}
	sc.line += bytes.Count(sc.data[sc.off:off], []byte("\n"))
	sc.off = off
	return sc.line
}

func (sc *shapeScanner) next() int { return skipSpace(sc.data, int(sc.dec.InputOffset()), true) }

func (sc *shapeScanner) value(c shapeCtx) error {
	start := sc.next()
	t, err := sc.dec.Token()
	if err != nil {
		return err
	}
	switch t {
	case json.Delim('{'):
		if c.where == inStatementList { // "Statement": {...}
			sc.out.statementLines = append(sc.out.statementLines, sc.lineAt(start))
			c = shapeCtx{where: inStatement, index: 0}
		}
		return sc.object(c)
	case json.Delim('['):
		for i := 0; sc.dec.More(); i++ {
			elem := c
			if c.where == inStatementList {
				sc.out.statementLines = append(sc.out.statementLines, sc.lineAt(sc.next()))
				elem = shapeCtx{where: inStatement, index: i}
			}
			if err := sc.value(elem); err != nil {
				return err
			}
		}
		_, err = sc.dec.Token()
		return err
	}
	return nil
}

func (sc *shapeScanner) object(c shapeCtx) error {
	seen := map[string]bool{}
	for sc.dec.More() {
		at := sc.next()
		t, err := sc.dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		child := shapeCtx{where: inElement, index: c.index, field: c.field}
		switch c.where {
		case inTop:
			child.field = key
			if _, ok := sc.out.topLines[key]; !ok {
				sc.out.topLines[key] = sc.lineAt(at)
			}
			if key == "Statement" {
				child.where = inStatementList
				if seen[key] {
					sc.out.statementLines = sc.out.statementLines[:0]
				}
			}
		case inStatement:
			child.field = key
		}
		if seen[key] {
			sc.out.dups = append(sc.out.dups, duplicate{index: c.index, field: child.field, key: key, line: sc.lineAt(at)})
		}
		seen[key] = true
		if err := sc.value(child); err != nil {
			return err
		}
	}
	_, err := sc.dec.Token()
	return err
}

func skipSpace(data []byte, i int, commas bool) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r', ':':
		case ',':
			if !commas {
				return i
			}
		default:
			return i
		}
		i++
	}
	return i
}

func lineOf(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	line := bytes.Count(data[:off], []byte("\n")) + 1
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
