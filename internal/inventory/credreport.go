package inventory

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Credential report column names. The report is looked up by header name, so column order does
// not matter and columns AWS may add later are ignored.
const (
	colUser                = "user"
	colARN                 = "arn"
	colUserCreationTime    = "user_creation_time"
	colPasswordEnabled     = "password_enabled"
	colPasswordLastUsed    = "password_last_used"
	colPasswordLastChanged = "password_last_changed"
	colMFAActive           = "mfa_active"
)

// keyColumns are the column names of access key slot n (1 or 2).
type keyColumns struct {
	active, lastRotated, lastUsedDate, lastUsedRegion, lastUsedService string
}

func keyCols(n int) keyColumns {
	p := "access_key_" + strconv.Itoa(n) + "_"
	return keyColumns{
		active:          p + "active",
		lastRotated:     p + "last_rotated",
		lastUsedDate:    p + "last_used_date",
		lastUsedRegion:  p + "last_used_region",
		lastUsedService: p + "last_used_service",
	}
}

// requiredColumns are the columns the parser reads; a report without one of them is rejected.
// password_next_rotation and the signing certificate columns are not needed and not required.
func requiredColumns() []string {
	cols := []string{colUser, colARN, colUserCreationTime, colPasswordEnabled, colPasswordLastUsed,
		colPasswordLastChanged, colMFAActive}
	for n := 1; n <= 2; n++ {
		k := keyCols(n)
		cols = append(cols, k.active, k.lastRotated, k.lastUsedDate, k.lastUsedRegion, k.lastUsedService)
	}
	return cols
}

// Special values of the credential report: the words it writes where a column has no value. AWS
// writes N/A (no password, no key, a key never used), no_information (a password never used, or
// not since October 2014) and not_supported (root's password columns); emulators write them in
// other columns too (moto: not_supported for the last use of a user without a password and for
// every key's region and service). Each reads as "no value" in every time and text column.
const (
	valueNA            = "N/A"
	valueNoInformation = "no_information"
	valueNotSupported  = "not_supported"
)

// noValue reports whether v is one of the report's "no value" words.
func noValue(v string) bool {
	return v == valueNA || v == valueNoInformation || v == valueNotSupported
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ParseCredentialReport reads the CSV of an IAM credential report. name (a file name or an API
// call) prefixes error messages and problem locations.
//
// A report that cannot be read at all (empty, not CSV, missing a required column) is an error. A
// row that cannot be read completely is not: its principal is kept with what could be read, marked
// Incomplete, and a Problem says which column held which value; a row whose principal cannot be
// named is skipped with a Problem.
func ParseCredentialReport(data []byte, name string) (root *User, users []User, problems []Problem, err error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, nil, nil, fmt.Errorf("%s: credential report is empty", name)
	}
	if trimmed[0] == '{' {
		return nil, nil, nil, fmt.Errorf("%s: credential report is JSON, not CSV: decode its base64 Content (aws iam get-credential-report --query Content --output text | base64 --decode)", name)
	}

	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: credential report header: %w", name, err)
	}
	col := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := col[h]; dup {
			return nil, nil, nil, fmt.Errorf("%s: credential report header names column %q twice", name, h)
		}
		col[h] = i
	}
	var missing []string
	for _, c := range requiredColumns() {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, nil, nil, fmt.Errorf("%s: not a credential report: missing column(s) %s", name, strings.Join(missing, ", "))
	}

	p := &rowParser{name: name, col: col, width: len(header)}
	seen := map[string]bool{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// Broken quoting: the reader resumes at the next line.
			where := name
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				where = fmt.Sprintf("%s:%d", name, pe.StartLine)
			}
			problems = append(problems, Problem{
				Where:   where,
				Message: fmt.Sprintf("row skipped: %v", err),
			})
			continue
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		u, probs, ok := p.row(rec, line)
		problems = append(problems, probs...)
		if !ok {
			continue
		}
		if seen[u.Name] {
			problems = append(problems, Problem{
				Where:     fmt.Sprintf("%s:%d", name, line),
				Principal: u.Name,
				Message:   fmt.Sprintf("principal %q appears twice; the later row is ignored", u.Name),
			})
			continue
		}
		seen[u.Name] = true
		if u.IsRoot {
			root = &u
			continue
		}
		users = append(users, u)
	}
	return root, users, problems, nil
}

// rowParser reads one data row of a credential report.
type rowParser struct {
	name  string
	col   map[string]int
	width int

	// per-row state
	rec   []string
	where string
	who   string
	probs []Problem
}

// row turns rec into a principal. ok is false when the row names no principal.
func (p *rowParser) row(rec []string, line int) (u User, probs []Problem, ok bool) {
	p.rec, p.probs = rec, nil
	p.where = fmt.Sprintf("%s:%d", p.name, line)

	name := p.raw(colUser)
	arn := p.raw(colARN)
	if name == "" {
		return User{}, []Problem{{Where: p.where, Message: "row skipped: no user name"}}, false
	}
	p.who = name
	u = User{Name: name, IsRoot: name == RootName}
	if len(rec) != p.width {
		// Fields are matched to columns by position; with a field missing or added, nothing
		// but the principal's name (and its ARN, when it names the same principal) can be trusted.
		p.fail("row has %d fields, the header %d; only the principal's name is kept", len(rec), p.width)
		u.Incomplete = true
		if arnNames(arn, name) {
			u.ARN = arn
		}
		return u, p.probs, true
	}
	if strings.HasPrefix(arn, "arn:") {
		u.ARN = arn
	} else {
		p.fail("column %s: invalid ARN %q", colARN, arn)
	}

	u.Created = p.time(colUserCreationTime)
	u.MFA.Active = p.bool(colMFAActive)
	if u.IsRoot {
		// Root always has a password; the report says not_supported for its password columns.
		u.Password.Enabled = true
	} else {
		u.Password.Enabled = p.bool(colPasswordEnabled)
	}
	u.Password.LastUsed = p.time(colPasswordLastUsed)
	u.Password.LastChanged = p.time(colPasswordLastChanged)
	for n := 1; n <= 2; n++ {
		k := keyCols(n)
		if noValue(p.raw(k.lastRotated)) {
			continue // no key in this slot
		}
		key := AccessKey{
			Slot:            n,
			Active:          p.bool(k.active),
			Created:         p.time(k.lastRotated),
			LastUsed:        p.time(k.lastUsedDate),
			LastUsedRegion:  p.text(k.lastUsedRegion),
			LastUsedService: p.text(k.lastUsedService),
		}
		u.AccessKeys = append(u.AccessKeys, key)
	}
	if len(p.probs) > 0 {
		u.Incomplete = true
	}
	return u, p.probs, true
}

func (p *rowParser) raw(column string) string {
	i := p.col[column]
	if i >= len(p.rec) {
		return ""
	}
	return strings.TrimSpace(p.rec[i])
}

func (p *rowParser) fail(format string, args ...any) {
	p.probs = append(p.probs, Problem{Where: p.where, Principal: p.who, Message: fmt.Sprintf(format, args...)})
}

// time reads a timestamp column; the "no value" words read as the zero time.
func (p *rowParser) time(column string) time.Time {
	v := p.raw(column)
	if noValue(v) {
		return time.Time{}
	}
	t, err := ParseTime(v)
	if err != nil {
		p.fail("column %s: invalid time %q", column, v)
		return time.Time{}
	}
	return t
}

func (p *rowParser) bool(column string) bool {
	switch v := p.raw(column); v {
	case "true":
		return true
	case "false":
		return false
	default:
		p.fail("column %s: invalid boolean %q (want true or false)", column, v)
		return false
	}
}

// text reads a free-text column; the "no value" words read as empty.
func (p *rowParser) text(column string) string {
	if v := p.raw(column); !noValue(v) {
		return v
	}
	return ""
}

// arnNames reports whether arn is the ARN of the principal called name.
func arnNames(arn, name string) bool {
	if !strings.HasPrefix(arn, "arn:") {
		return false
	}
	if name == RootName {
		return strings.HasSuffix(arn, ":root")
	}
	return strings.HasSuffix(arn, "/"+name)
}

// ParseTime reads a timestamp as AWS and the AWS CLI print them: RFC 3339 with a Z or numeric
// offset and optional fractional seconds ("2024-01-02T03:04:05+00:00",
// "2024-01-02T03:04:05.123Z"). The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q: want RFC 3339, e.g. 2024-01-02T03:04:05+00:00", s)
	}
	return t.UTC(), nil
}
