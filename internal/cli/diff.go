package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/securityhub"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// DiffInput is what the diff command was asked to compare.
type DiffInput struct {
	Journal journalFlags
	Account string
	IDs     []string
}

// exitWorse is diff's exit code when the later record has violations the earlier did not.
const exitWorse = 1

func newDiffCmd(g *globals) *cobra.Command {
	in := &DiffInput{}
	cmd := &cobra.Command{
		Use:   "diff [FROM_ID [TO_ID]]",
		Short: "Say what changed in an account between two recorded scans",
		Long: `Compare two records of one account kept with --record: the findings that are new, changed
(state, severity, deadline, exemption, or another person under the same user name), resolved,
and unseen (missing from a partial later record, which may not have read them).

Without an ID: the account's last two records (--account when the history holds several
accounts). With one: that record against the one recorded before it. With two: the first
against the second. IDs may be abbreviated to a unique prefix.

Exit codes: 0 no new violation, 1 the later record has violations the earlier did not (new
findings that are violations, findings that became violations), 2 usage or runtime error,
3 the later record is partial.`,
		Example: `  iamwarden diff                        # the last two records
  iamwarden diff 01JD3 01JD9 -o json
  iamwarden diff --account 123456789012 -o ocsf`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.IDs = args
			return runDiff(cmd.Context(), g, in)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Account, "account", "", "the account whose records to compare (needed when the history holds several)")
	addJournalFlags(f, &in.Journal)
	return cmd
}

func runDiff(ctx context.Context, g *globals, in *DiffInput) error {
	format, err := g.format("diff")
	if err != nil {
		return err
	}
	h, closeJournal, err := openHistory(ctx, g, in.Journal)
	if err != nil {
		return err
	}
	defer closeJournal()
	from, to, err := h.Pair(ctx, in.Account, in.IDs...)
	if err != nil {
		return historyFailure(err)
	}
	d, err := history.Compare(from, to)
	if err != nil {
		return usageError{err: err, hint: "iamwarden history --account ACCOUNT_ID, then two of its IDs"}
	}
	if err := writeDiff(g.stdout, d, from, to, format, g.region); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	switch {
	case d.To.Partial:
		// As for scan: a comparison with an incomplete later record must not pass as clean.
		return exitError{code: report.ExitPartial}
	case d.Worse() > 0:
		return exitError{code: exitWorse}
	}
	return nil
}

func writeDiff(w io.Writer, d *history.Diff, from, to *history.Record, format report.Format, region string) error {
	switch format {
	case report.FormatJSON:
		return encodeJSON(w, d)
	case report.FormatCSV:
		return writeDiffCSV(w, d)
	case report.FormatOCSF:
		return writeDiffOCSF(w, d, to)
	case report.FormatASFF:
		return writeDiffASFF(w, d, to, asffRegion(region))
	}
	return writeDiffTable(w, d)
}

// diffGroups are the table's sections, in order.
var diffGroups = []struct {
	kind  history.ChangeKind
	title string
}{
	{history.ChangeNew, "NEW"},
	{history.ChangeChanged, "CHANGED"},
	{history.ChangeResolved, "RESOLVED"},
	{history.ChangeUnseen, "UNSEEN (not in the later record, which is partial: not read, so not called resolved)"},
}

func writeDiffTable(w io.Writer, d *history.Diff) error {
	name := d.AccountID
	if d.To.AccountAlias != "" {
		name += " (" + report.SafeText(d.To.AccountAlias) + ")"
	}
	fmt.Fprintf(w, "Account %s\n  from %s  %s %s, as of %s\n  to   %s  %s %s, as of %s\n", name,
		d.From.ID, d.From.Kind, d.From.RecordedAt.UTC().Format(time.RFC3339), d.From.AsOf.UTC().Format(time.RFC3339),
		d.To.ID, d.To.Kind, d.To.RecordedAt.UTC().Format(time.RFC3339), d.To.AsOf.UTC().Format(time.RFC3339))
	if d.From.Partial || d.To.Partial {
		fmt.Fprintln(w, "PARTIAL: a record could not read the account completely; findings it lacks are unseen, not resolved.")
	}
	fmt.Fprintf(w, "%d new, %d changed, %d resolved, %d unseen, %d unchanged; %d new violations\n",
		d.Count(history.ChangeNew), d.Count(history.ChangeChanged), d.Count(history.ChangeResolved), d.Count(history.ChangeUnseen), d.Unchanged, d.Worse())
	if d.Empty() {
		fmt.Fprintln(w, "\nNo changes.")
		return nil
	}
	for _, grp := range diffGroups {
		if d.Count(grp.kind) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", grp.title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		last := "DETAIL"
		if grp.kind == history.ChangeChanged {
			last = "CHANGE"
		}
		fmt.Fprintf(tw, "STATE\tSEVERITY\tRULE\tPRINCIPAL\tRESOURCE\t%s\n", last)
		for _, c := range d.Changes {
			if c.Kind != grp.kind {
				continue
			}
			f := c.Finding
			text := f.Detail
			if c.Kind == history.ChangeChanged {
				text = changeText(c)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.State, f.Severity, f.Rule, report.SafeText(f.Principal),
				report.SafeText(dash(rules.MaskKeyID(f.Resource))), report.SafeText(text))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// changeText says before → after for each changed field.
func changeText(c history.Change) string {
	if c.Before == nil {
		return strings.Join(c.Fields, ", ")
	}
	b, a := *c.Before, c.Finding
	parts := make([]string, 0, len(c.Fields))
	for _, field := range c.Fields {
		var was, now string
		switch field {
		case "state":
			was, now = string(b.State), string(a.State)
		case "severity":
			was, now = string(b.Severity), string(a.Severity)
		case "deadline":
			was, now = timeText(b.Deadline), timeText(a.Deadline)
		case "exemption":
			was, now = exemptionText(b.Exemption), exemptionText(a.Exemption)
		case "user":
			was, now = b.UserID, a.UserID
		default:
			parts = append(parts, field)
			continue
		}
		parts = append(parts, field+": "+was+" → "+now)
	}
	return strings.Join(parts, "; ")
}

func timeText(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return t.UTC().Format(time.RFC3339)
}

func exemptionText(e *rules.Exemption) string {
	if e == nil {
		return "none"
	}
	s := e.Source + ": " + e.Reason
	if e.Until != nil {
		s += " until " + e.Until.UTC().Format("2006-01-02")
	}
	if e.Expired {
		s += " (expired)"
	}
	return s
}

var diffCSVHeader = []string{"change", "fields", "account_id", "id", "rule", "severity", "state", "before_severity", "before_state",
	"deadline", "before_deadline", "principal", "principal_arn", "user_id", "before_user_id", "resource", "exemption_reason", "detail"}

// writeDiffCSV writes one row per change; key IDs are whole, as in the scan's CSV.
func writeDiffCSV(w io.Writer, d *history.Diff) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(diffCSVHeader); err != nil {
		return err
	}
	for _, c := range d.Changes {
		f := c.Finding
		var bSev, bState, bDeadline, bUser string
		if b := c.Before; b != nil {
			bSev, bState, bDeadline, bUser = string(b.Severity), string(b.State), csvTime(b.Deadline), b.UserID
		}
		var reason string
		if f.Exemption != nil {
			reason = f.Exemption.Reason
		}
		row := []string{string(c.Kind), strings.Join(c.Fields, ";"), f.AccountID, f.ID, f.Rule, string(f.Severity), string(f.State), bSev, bState,
			csvTime(f.Deadline), bDeadline, f.Principal, f.PrincipalARN, f.UserID, bUser, f.Resource, reason, f.Detail}
		for i := range row {
			row[i] = report.SafeCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// diffActivities are the OCSF activities of the changes that have one: an unseen finding is
// neither closed nor updated.
var diffActivities = []struct {
	kind history.ChangeKind
	id   int
	name string
}{
	{history.ChangeNew, 1, "Create"},
	{history.ChangeChanged, 2, "Update"},
	{history.ChangeResolved, 3, "Close"},
}

// writeDiffOCSF writes the changes as OCSF events, mapped as the scan's are (report.WriteOCSF)
// and dated by the later record: Create for new findings, Update for changed ones, Close for
// resolved ones, whose finding status is Resolved and compliance status Pass.
func writeDiffOCSF(w io.Writer, d *history.Diff, to *history.Record) error {
	bw := bufio.NewWriter(w)
	for _, act := range diffActivities {
		res := to.Result
		res.Findings = nil
		for _, c := range d.Changes {
			if c.Kind == act.kind {
				res.Findings = append(res.Findings, c.Finding)
			}
		}
		if len(res.Findings) == 0 {
			continue
		}
		var buf bytes.Buffer
		if err := report.WriteOCSF(&buf, &res, report.OCSFOptions{ProductVersion: currentVersion().Version}); err != nil {
			return err
		}
		for line := range bytes.Lines(buf.Bytes()) {
			out, err := ocsfActivity(line, act.id, act.name)
			if err != nil {
				return err
			}
			bw.Write(out)
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

// ocsfActivity turns a scan's Create event into the event of another activity.
func ocsfActivity(line []byte, id int, name string) ([]byte, error) {
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(line, &ev); err != nil {
		return nil, fmt.Errorf("ocsf event: %w", err)
	}
	var class struct {
		UID  int    `json:"class_uid"`
		Name string `json:"class_name"`
	}
	if err := json.Unmarshal(line, &class); err != nil {
		return nil, fmt.Errorf("ocsf event: %w", err)
	}
	set := func(key string, v any) {
		b, _ := json.Marshal(v)
		ev[key] = b
	}
	set("activity_id", id)
	set("activity_name", name)
	set("type_uid", class.UID*100+id)
	set("type_name", class.Name+": "+name)
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(ev["metadata"], &meta); err != nil {
		return nil, fmt.Errorf("ocsf event metadata: %w", err)
	}
	meta["log_name"] = json.RawMessage(`"diff"`)
	ev["metadata"], _ = json.Marshal(meta)
	if name == "Close" {
		set("status_id", 4)
		set("status", "Resolved")
		set("status_detail", "no longer reported: the rule passes, or the user or access key is gone")
		if raw, ok := ev["compliance"]; ok {
			var comp map[string]json.RawMessage
			if err := json.Unmarshal(raw, &comp); err != nil {
				return nil, fmt.Errorf("ocsf event compliance: %w", err)
			}
			comp["status_id"], comp["status"] = json.RawMessage(`1`), json.RawMessage(`"Pass"`)
			delete(comp, "status_detail")
			ev["compliance"], _ = json.Marshal(comp)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// writeDiffASFF writes the changes as ASFF findings, mapped as the scan's are without the
// account's snapshot (as an organization scan's): new and changed findings ACTIVE, resolved
// ones ARCHIVED with Compliance PASSED, as Security Hub archives fixed findings. Unseen ones are
// left out.
func writeDiffASFF(w io.Writer, d *history.Diff, to *history.Record, region string) error {
	res := to.Result
	res.Findings = nil
	var resolved []bool
	for _, c := range d.Changes {
		if c.Kind == history.ChangeUnseen {
			continue
		}
		res.Findings = append(res.Findings, c.Finding)
		resolved = append(resolved, c.Kind == history.ChangeResolved)
	}
	fs := warden.ASFF(&res, nil, region) // one finding each, in order
	for i := range fs {
		if resolved[i] {
			fs[i].RecordState = types.RecordStateArchived
			if fs[i].Compliance == nil {
				fs[i].Compliance = &types.Compliance{}
			}
			fs[i].Compliance.Status = types.ComplianceStatusPassed
			fs[i].ProductFields[securityhub.FieldState] = securityhub.StateResolved
		}
	}
	return securityhub.WriteASFF(w, fs)
}
