package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iamwarden/iamwarden/internal/rules"
)

// Format is an output format.
type Format string

const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatCSV   Format = "csv"
	// FormatText is the human format of commands whose output is not a table (policy lint).
	FormatText  Format = "text"
	FormatSARIF Format = "sarif"
	// FormatOCSF is OCSF Compliance Finding events, JSON lines (docs/ocsf.md).
	FormatOCSF Format = "ocsf"
	// FormatASFF is AWS Security Finding Format findings, a JSON array (docs/security-hub.md).
	FormatASFF Format = "asff"
)

// ParseFormat validates a --output value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatTable, FormatJSON, FormatCSV:
		return f, nil
	}
	return "", fmt.Errorf("unknown output format %q (want table, json or csv)", s)
}

// Write renders r in format f.
func Write(w io.Writer, r *Result, f Format) error {
	switch f {
	case FormatJSON:
		return WriteJSON(w, r)
	case FormatCSV:
		return WriteCSV(w, r)
	default:
		return WriteTable(w, r)
	}
}

// WriteJSON writes the documented JSON document. The findings are encoded one at a time, so a
// large account's document is never held in memory whole.
func WriteJSON(w io.Writer, r *Result) error {
	if len(r.Findings) == 0 {
		return encodeJSON(w, r, "")
	}
	// The document without findings, split where they go: at the top level, so the key is
	// indented once and unescaped (quotes inside values are escaped).
	head := *r
	head.Findings = []rules.Finding{}
	var doc bytes.Buffer
	if err := encodeJSON(&doc, &head, ""); err != nil {
		return err
	}
	const slot = "\n  \"findings\": []"
	before, after, ok := bytes.Cut(doc.Bytes(), []byte(slot))
	if !ok {
		return fmt.Errorf("json document has no findings slot")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(before)
	bw.WriteString("\n  \"findings\": [")
	var buf bytes.Buffer
	for i := range r.Findings {
		buf.Reset()
		if err := encodeJSON(&buf, &r.Findings[i], "    "); err != nil {
			return fmt.Errorf("finding %s: %w", r.Findings[i].ID, err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	bw.WriteString("\n  ]")
	bw.Write(after)
	return bw.Flush()
}

// encodeJSON writes v indented by two spaces under prefix, followed by a newline.
func encodeJSON(w io.Writer, v any, prefix string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent(prefix, "  ")
	enc.SetEscapeHTML(false) // "<root_account>" stays readable
	return enc.Encode(v)
}

// csvHeader is the CSV column set; evidence is one JSON column so the set never varies by rule.
var csvHeader = []string{"account_id", "id", "rule", "severity", "state", "deadline", "principal", "principal_arn", "resource", "controls", "title", "detail", "exemption_reason", "exemption_until", "evidence"}

// WriteCSV writes one row per finding. Cells a spreadsheet would evaluate as a formula are
// neutralised with SafeCell; access key IDs are written whole.
func WriteCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	if err := writeCSVRows(cw, r); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// writeCSVRows writes the rows of r's findings.
func writeCSVRows(cw *csv.Writer, r *Result) error {
	for _, f := range r.Findings {
		ev, err := json.Marshal(f.Evidence)
		if err != nil {
			return fmt.Errorf("finding %s: %w", f.ID, err)
		}
		var reason, until string
		if f.Exemption != nil {
			reason = f.Exemption.Reason
			if f.Exemption.Until != nil {
				until = stamp(*f.Exemption.Until)
			}
		}
		var deadline string
		if f.Deadline != nil {
			deadline = stamp(*f.Deadline)
		}
		row := []string{f.AccountID, f.ID, f.Rule, string(f.Severity), string(f.State), deadline, f.Principal, f.PrincipalARN, f.Resource,
			strings.Join(f.Controls, "; "), f.Title, f.Detail, reason, until, string(ev)}
		for i := range row {
			row[i] = SafeCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	return nil
}

// WriteTable writes a human summary: a header, the findings grouped by state, and errors.
func WriteTable(w io.Writer, r *Result) error {
	name := r.AccountID
	if r.AccountAlias != "" {
		name += " (" + SafeText(r.AccountAlias) + ")"
	}
	fmt.Fprintf(w, "Account %s, %s data read %s, judged as of %s\n", name, r.Source, stamp(r.DataReadAt), stamp(r.AsOf))
	if r.Partial {
		fmt.Fprintln(w, "PARTIAL RESULT: part of the account could not be read; see errors below.")
	}
	fmt.Fprintf(w, "%d users: %d violations, %d pending, %d exempt\n\n", r.Summary.Users, r.Summary.Violations, r.Summary.Pending, r.Summary.Exempt)

	findings := append(r.Findings[:0:0], r.Findings...)
	order := map[string]int{"violation": 0, "pending": 1, "exempt": 2}
	sevOrder := map[string]int{"critical": 0, "high": 1, "medium": 2, "low": 3}
	sort.SliceStable(findings, func(i, j int) bool {
		a, b := findings[i], findings[j]
		if order[string(a.State)] != order[string(b.State)] {
			return order[string(a.State)] < order[string(b.State)]
		}
		return sevOrder[string(a.Severity)] < sevOrder[string(b.Severity)]
	})
	if len(findings) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STATE\tSEVERITY\tRULE\tPRINCIPAL\tRESOURCE\tDETAIL")
		for _, f := range findings {
			detail := f.Detail
			if f.State == "exempt" && f.Exemption != nil {
				detail = "exempt: " + f.Exemption.Reason
				if f.Exemption.Until != nil {
					detail += " (until " + f.Exemption.Until.UTC().Format("2006-01-02") + ")"
				}
			}
			// Key IDs are masked in tables, as everywhere people read them; JSON and CSV carry
			// them whole for tools.
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.State, f.Severity, f.Rule, SafeText(f.Principal),
				SafeText(dash(rules.MaskKeyID(f.Resource))), SafeText(detail))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(w, "No findings.")
	}
	for _, p := range r.Errors {
		fmt.Fprintf(w, "\nerror: %s: %s", SafeText(p.Where), SafeText(p.Message))
	}
	for _, p := range r.Warnings {
		fmt.Fprintf(w, "\nwarning: %s: %s", SafeText(p.Where), SafeText(p.Message))
	}
	if len(r.Errors)+len(r.Warnings) > 0 {
		fmt.Fprintln(w)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}
