package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/iamwarden/iamwarden/internal/rules"
)

// AccountStatus is how one account of an organization run ended.
type AccountStatus string

const (
	AccountOK AccountStatus = "ok"
	// AccountPartial: the account was read, but not completely.
	AccountPartial AccountStatus = "partial"
	// AccountFailed: the account could not be read at all (the role could not be assumed, ...).
	AccountFailed AccountStatus = "failed"
)

// AccountResult is one account of an organization run.
type AccountResult struct {
	AccountID   string        `json:"account_id"`
	AccountName string        `json:"account_name"`
	Status      AccountStatus `json:"status"`
	// Error says why the account failed or is partial.
	Error  string  `json:"error,omitempty"`
	Result *Result `json:"result,omitempty"`
	// SecurityHub says what the import into the account's Security Hub did, when one was asked.
	SecurityHub *SecurityHubImport `json:"security_hub,omitempty"`
}

// SecurityHubImport counts one account's Security Hub import.
type SecurityHubImport struct {
	Imported int `json:"imported"`
	Created  int `json:"created"`
	Updated  int `json:"updated"`
	// Resolved are findings of the previous import no longer reported, archived as passed.
	Resolved int `json:"resolved"`
	Failed   int `json:"failed"`
}

// Totals add up an organization run.
type Totals struct {
	Accounts   int `json:"accounts"`
	OK         int `json:"ok"`
	Partial    int `json:"partial"`
	Failed     int `json:"failed"`
	Users      int `json:"users"`
	Violations int `json:"violations"`
	Pending    int `json:"pending"`
	Exempt     int `json:"exempt"`
}

// Add counts one account.
func (t *Totals) Add(a AccountResult) {
	t.Accounts++
	switch a.Status {
	case AccountOK:
		t.OK++
	case AccountPartial:
		t.Partial++
	default:
		t.Failed++
	}
	if r := a.Result; r != nil {
		t.Users += r.Summary.Users
		t.Violations += r.Summary.Violations
		t.Pending += r.Summary.Pending
		t.Exempt += r.Summary.Exempt
	}
}

// ExitCode is the worst of the accounts': partial (3) when any account is partial or failed,
// else violations (1) when any has one, else clean.
func (t Totals) ExitCode() int {
	switch {
	case t.Partial+t.Failed > 0:
		return ExitPartial
	case t.Violations > 0:
		return ExitViolations
	}
	return ExitClean
}

// OrgWriter writes an organization run as its accounts finish, so that the output of a
// thousand accounts is never held in memory: JSON is one document {"accounts": [...], "totals":
// {...}}, CSV one row per finding with its account, the table one block per account.
type OrgWriter struct {
	w      *bufio.Writer
	format Format
	n      int
	totals Totals
	failed []AccountResult
	csv    *csv.Writer
}

// NewOrgWriter starts the output.
func NewOrgWriter(w io.Writer, f Format) *OrgWriter {
	o := &OrgWriter{w: bufio.NewWriterSize(w, 64<<10), format: f}
	switch f {
	case FormatJSON:
		o.w.WriteString("{\n  \"accounts\": [")
	case FormatCSV:
		o.csv = csv.NewWriter(o.w)
		_ = o.csv.Write(csvHeader)
	}
	return o
}

// Add writes one account's result.
func (o *OrgWriter) Add(a AccountResult) error {
	o.totals.Add(a)
	defer func() { o.n++ }()
	switch o.format {
	case FormatJSON:
		var buf bytes.Buffer
		if a.Result != nil {
			// The account's document as scan writes it, findings streamed, indented into place.
			head := a
			head.Result = nil
			if err := encodeJSON(&buf, head, ""); err != nil {
				return err
			}
			var res bytes.Buffer
			if err := WriteJSON(&res, a.Result); err != nil {
				return err
			}
			doc := bytes.TrimSuffix(buf.Bytes(), []byte("\n}\n"))
			buf = *bytes.NewBuffer(append(doc, []byte(",\n  \"result\": ")...))
			buf.Write(bytes.ReplaceAll(bytes.TrimSuffix(res.Bytes(), []byte("\n")), []byte("\n"), []byte("\n  ")))
			buf.WriteString("\n}")
		} else if err := encodeJSON(&buf, a, ""); err != nil {
			return err
		}
		if o.n > 0 {
			o.w.WriteByte(',')
		}
		o.w.WriteString("\n    ")
		o.w.Write(bytes.ReplaceAll(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"), []byte("\n    ")))
	case FormatCSV:
		if a.Result != nil {
			if err := writeCSVRows(o.csv, a.Result); err != nil {
				return err
			}
		}
		if a.Status == AccountFailed {
			o.failed = append(o.failed, a)
		}
		o.csv.Flush()
		return o.csv.Error()
	default:
		return o.table(a)
	}
	return nil
}

func (o *OrgWriter) table(a AccountResult) error {
	name := a.AccountID
	if a.AccountName != "" {
		name += " (" + SafeText(a.AccountName) + ")"
	}
	if a.Result == nil {
		o.failed = append(o.failed, a)
		fmt.Fprintf(o.w, "Account %s: FAILED: %s\n\n", name, SafeText(a.Error))
		return nil
	}
	r := a.Result
	fmt.Fprintf(o.w, "Account %s: %d users: %d violations, %d pending, %d exempt", name, r.Summary.Users, r.Summary.Violations, r.Summary.Pending, r.Summary.Exempt)
	if a.Status == AccountPartial {
		fmt.Fprintf(o.w, " (PARTIAL: %s)", SafeText(a.Error))
	}
	fmt.Fprintln(o.w)
	if len(r.Findings) > 0 {
		tw := tabwriter.NewWriter(o.w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ACCOUNT\tSTATE\tSEVERITY\tRULE\tPRINCIPAL\tRESOURCE\tDETAIL")
		for _, f := range r.Findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.AccountID, f.State, f.Severity, f.Rule, SafeText(f.Principal),
				SafeText(dash(rules.MaskKeyID(f.Resource))), SafeText(f.Detail))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(o.w)
	return o.w.Flush()
}

// Close ends the output with the totals (and, in CSV, leaves failed accounts to the caller's
// log: Failed returns them) and returns them.
func (o *OrgWriter) Close() (Totals, error) {
	t := o.totals
	switch o.format {
	case FormatJSON:
		if o.n > 0 {
			o.w.WriteString("\n  ")
		}
		o.w.WriteString("],\n  \"totals\": ")
		var buf bytes.Buffer
		if err := encodeJSON(&buf, t, ""); err != nil {
			return t, err
		}
		o.w.Write(bytes.ReplaceAll(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"), []byte("\n  ")))
		o.w.WriteString("\n}\n")
	case FormatCSV:
	default:
		fmt.Fprintf(o.w, "%d accounts: %d ok, %d partial, %d failed; %d users: %d violations, %d pending, %d exempt\n",
			t.Accounts, t.OK, t.Partial, t.Failed, t.Users, t.Violations, t.Pending, t.Exempt)
		for _, a := range o.failed {
			fmt.Fprintf(o.w, "failed: %s: %s\n", a.AccountID, SafeText(strings.TrimSpace(a.Error)))
		}
	}
	return t, o.w.Flush()
}

// Failed returns the accounts that could not be read, in the order they finished.
func (o *OrgWriter) Failed() []AccountResult { return o.failed }
