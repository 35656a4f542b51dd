package cli

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/report"
)

// HistoryInput selects history records.
type HistoryInput struct {
	Journal journalFlags
	Account string
	Kind    string
	Since   string
	Limit   int
}

func newHistoryCmd(g *globals) *cobra.Command {
	in := &HistoryInput{}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the scans and enforce runs recorded with --record, newest first",
		Long: `List the records 'iamwarden scan --record' and 'iamwarden enforce --record' kept in the
journal store, newest first, with their counts. 'iamwarden history show ID' prints one record as
the scan printed it; 'iamwarden diff' says what changed between two (docs/history.md).`,
		Example: `  iamwarden history
  iamwarden history --account 123456789012 --kind scan --since 30d -o json
  iamwarden history show 01JD3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHistory(cmd.Context(), g, in)
		},
	}
	addJournalFlags(cmd.PersistentFlags(), &in.Journal)
	f := cmd.Flags()
	f.StringVar(&in.Account, "account", "", "only this account ID")
	f.StringVar(&in.Kind, "kind", "", "only records of this kind: scan or enforce")
	f.StringVar(&in.Since, "since", "", "only records since TIME (RFC 3339 or YYYY-MM-DD) or DURATION ago (e.g. 30d)")
	f.IntVar(&in.Limit, "limit", 20, "at most this many records, the newest (0: all)")
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedCompletion(string(history.KindScan), string(history.KindEnforce)))
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Print one record's scan as 'iamwarden scan' prints it (ID or a unique prefix)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHistoryShow(cmd.Context(), g, in, args[0])
		},
	}
	cmd.AddCommand(show)
	return cmd
}

// filter turns the flags into the history's filter.
func (in *HistoryInput) filter(now time.Time) (history.Filter, error) {
	f := history.Filter{AccountID: in.Account, Limit: in.Limit}
	if in.Limit < 0 {
		return f, usageError{err: fmt.Errorf("--limit must be 0 or more, got %d", in.Limit), hint: "--limit 20"}
	}
	switch k := history.Kind(in.Kind); k {
	case "":
	case history.KindScan, history.KindEnforce:
		f.Kinds = []history.Kind{k}
	default:
		return f, usageError{err: fmt.Errorf("--kind: unknown kind %q", in.Kind), hint: "--kind scan or --kind enforce"}
	}
	if in.Since != "" {
		since, err := parseSince(in.Since, now)
		if err != nil {
			return f, usageError{err: err, hint: "--since 30d or --since 2026-11-01"}
		}
		f.Since = since
	}
	return f, nil
}

// parseSince reads an instant, or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	d, err := config.ParseDuration(strings.TrimPrefix(s, "-"))
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("--since: %q is neither a time nor a duration", s)
	}
	return now.Add(-d), nil
}

// openHistory opens the history of the journal store the configuration and flags name.
func openHistory(ctx context.Context, g *globals, jf journalFlags) (*history.Store, func() error, error) {
	cfg, err := loadConfig(g)
	if err != nil {
		return nil, nil, err
	}
	j, err := openJournal(ctx, g, cfg, jf)
	if err != nil {
		return nil, nil, err
	}
	h, err := history.Of(j, g.now)
	if err != nil {
		j.Close()
		return nil, nil, err
	}
	return h, j.Close, nil
}

func runHistory(ctx context.Context, g *globals, in *HistoryInput) error {
	format, err := g.format("history")
	if err != nil {
		return err
	}
	f, err := in.filter(g.now())
	if err != nil {
		return err
	}
	h, closeJournal, err := openHistory(ctx, g, in.Journal)
	if err != nil {
		return err
	}
	defer closeJournal()
	metas, err := h.List(ctx, f)
	if err != nil {
		return err
	}
	switch format {
	case report.FormatJSON:
		return writeJSON(g, metas)
	case report.FormatCSV:
		return writeHistoryCSV(g, metas)
	}
	if len(metas) == 0 {
		fmt.Fprintln(g.stdout, "No records. Record scans with: iamwarden scan --record")
		return nil
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECORDED\tACCOUNT\tKIND\tSOURCE\tVIOLATIONS\tPENDING\tEXEMPT\tPARTIAL\tDONE")
	for _, m := range metas {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", m.ID, m.RecordedAt.UTC().Format(time.RFC3339), accountName(m),
			m.Kind, report.SafeText(m.Source), m.Summary.Violations, m.Summary.Pending, m.Summary.Exempt, yesNo(m.Partial), actionsDone(m.Actions))
	}
	return tw.Flush()
}

// accountName is the account ID with its alias.
func accountName(m history.Meta) string {
	if m.AccountAlias == "" {
		return m.AccountID
	}
	return m.AccountID + " (" + report.SafeText(m.AccountAlias) + ")"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// actionsDone is what an enforce run did: "-" for a scan, "dry run (N planned)" for a dry run.
func actionsDone(a *history.Actions) string {
	switch {
	case a == nil:
		return "-"
	case a.DryRun:
		return fmt.Sprintf("dry run (%d planned)", a.Planned)
	}
	s := fmt.Sprintf("%d of %d", a.Done, a.Planned)
	if a.Failed > 0 {
		s += fmt.Sprintf(", %d failed", a.Failed)
	}
	return s
}

var historyCSVHeader = []string{"id", "recorded_at", "account_id", "account_alias", "kind", "source", "actor", "as_of", "partial",
	"users", "violations", "pending", "exempt", "dry_run", "planned", "done", "skipped", "failed"}

func writeHistoryCSV(g *globals, metas []history.Meta) error {
	cw := csv.NewWriter(g.stdout)
	if err := cw.Write(historyCSVHeader); err != nil {
		return err
	}
	for _, m := range metas {
		var dry, planned, done, skipped, failed string
		if a := m.Actions; a != nil {
			dry, planned, done = strconv.FormatBool(a.DryRun), strconv.Itoa(a.Planned), strconv.Itoa(a.Done)
			skipped, failed = strconv.Itoa(a.Skipped), strconv.Itoa(a.Failed)
		}
		row := []string{m.ID, m.RecordedAt.UTC().Format(time.RFC3339Nano), m.AccountID, m.AccountAlias, string(m.Kind), m.Source, m.Actor,
			m.AsOf.UTC().Format(time.RFC3339), strconv.FormatBool(m.Partial), strconv.Itoa(m.Summary.Users),
			strconv.Itoa(m.Summary.Violations), strconv.Itoa(m.Summary.Pending), strconv.Itoa(m.Summary.Exempt), dry, planned, done, skipped, failed}
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

func runHistoryShow(ctx context.Context, g *globals, in *HistoryInput, id string) error {
	format, err := g.format("history show")
	if err != nil {
		return err
	}
	h, closeJournal, err := openHistory(ctx, g, in.Journal)
	if err != nil {
		return err
	}
	defer closeJournal()
	r, err := h.Resolve(ctx, id)
	if err != nil {
		return historyFailure(err)
	}
	return report.Write(g.stdout, &r.Result, format)
}

// historyFailure gives the history's refusals their hints.
func historyFailure(err error) error {
	var several *history.SeveralAccountsError
	switch {
	case errors.As(err, &several):
		return usageError{err: err, hint: "--account " + several.Accounts[0]}
	case errors.Is(err, history.ErrAmbiguous):
		return usageError{err: err, hint: "iamwarden history, then a longer ID"}
	case errors.Is(err, journal.ErrNotFound):
		return usageError{err: err, hint: "iamwarden history"}
	case errors.Is(err, history.ErrTooFew):
		return usageError{err: err, hint: "record scans with: iamwarden scan --record"}
	}
	return err
}
