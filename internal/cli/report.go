package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/report/htmlreport"
)

// formatHTML is the format of the report command: one HTML page.
const formatHTML report.Format = "html"

// ReportInput is what the report command was asked to do.
type ReportInput struct {
	HTML bool
	// Inputs are JSON files of scan, scan --org or enforce (-o json); none reads the history.
	Inputs []string
	// Out is the file the page is written to; empty for stdout.
	Out string
	// Accounts narrows the page to these accounts.
	Accounts []string
	// History draws the charts from the journal store's history when Inputs are given.
	History bool
	// Since bounds the history the charts draw, back from now (e.g. 90d); empty draws it all.
	Since string
	Title string
	// InlineFindings is the most findings written out as HTML; past it they are shown on demand.
	InlineFindings int
	Journal        journalFlags
}

func newReportCmd(g *globals) *cobra.Command {
	in := &ReportInput{}
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write one self-contained HTML page of scan results for the people who read them",
		Long: `Write one HTML page of scan results: a summary by rule, severity, state and account, open
findings over time, who loses access when, and every user's findings with their evidence.

The page is self-contained and loads nothing: its style, script and charts are inline, and its
Content-Security-Policy forbids the browser any request. Access key IDs are masked.

With --input it is made from JSON files written by 'iamwarden scan -o json', 'scan --org -o json'
or 'enforce -o json' (add --history for charts from the journal store); without, from the scan
history in the journal store: the newest record of each account, and its series for the charts.
See docs/report.md.`,
		Example: `  iamwarden scan --from examples/demo-account -o json > scan.json
  iamwarden report --html --input scan.json --out report.html
  iamwarden report --html --account 123456789012 --since 90d > report.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReport(cmd.Context(), g, in)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&in.HTML, "html", false, "write an HTML page (required: the only format for now)")
	f.StringArrayVarP(&in.Inputs, "input", "i", nil, "JSON file of scan, scan --org or enforce -o json, - for stdin (repeatable; default: the journal store's history)")
	f.StringVar(&in.Out, "out", "", "write the page to FILE, replaced atomically (default: stdout)")
	f.StringSliceVar(&in.Accounts, "account", nil, "only these account IDs (repeatable or comma-separated)")
	f.BoolVar(&in.History, "history", false, "with --input: draw the charts from the journal store's history of the inputs' accounts")
	f.StringVar(&in.Since, "since", "", "chart the history of this long back from now, e.g. 90d (default: all of it)")
	f.StringVar(&in.Title, "title", "", "the page's title (default: iamwarden report)")
	f.IntVar(&in.InlineFindings, "inline-findings", htmlreport.DefaultInlineFindings, "write at most N findings out as HTML (printable, readable without JavaScript); past that, each user's findings are shown on demand")
	addJournalFlags(f, &in.Journal)
	return cmd
}

func runReport(ctx context.Context, g *globals, in *ReportInput) error {
	if _, err := g.format("report"); err != nil {
		return err
	}
	if !in.HTML {
		return usageError{err: errors.New("report writes HTML only for now, and --html is required"), hint: "iamwarden report --html --out report.html"}
	}
	if in.InlineFindings < 1 {
		return usageError{err: fmt.Errorf("--inline-findings must be at least 1, got %d", in.InlineFindings), hint: fmt.Sprintf("--inline-findings %d", htmlreport.DefaultInlineFindings)}
	}
	now := g.now()
	var since time.Time
	if in.Since != "" {
		d, err := config.ParseDuration(in.Since)
		if err != nil || d <= 0 {
			return usageError{err: fmt.Errorf("--since: invalid duration %q", in.Since), hint: "--since 90d"}
		}
		since = now.Add(-d)
	}
	page := htmlreport.Input{Title: in.Title, GeneratedAt: now, Version: currentVersion().Version, InlineFindings: in.InlineFindings}
	if len(in.Inputs) > 0 {
		accounts, err := readReportInputs(g, in.Inputs)
		if err != nil {
			return err
		}
		if len(in.Accounts) > 0 {
			accounts = slices.DeleteFunc(accounts, func(a htmlreport.Account) bool { return !slices.Contains(in.Accounts, a.AccountID) })
			if len(accounts) == 0 {
				return usageError{err: fmt.Errorf("no input holds the accounts %v", in.Accounts), hint: "drop --account"}
			}
		}
		page.Accounts = accounts
		if in.History {
			h, closeJournal, err := openHistory(ctx, g, in.Journal)
			if err != nil {
				return err
			}
			defer closeJournal()
			ids := make([]string, len(accounts))
			for i, a := range accounts {
				ids[i] = a.AccountID
			}
			if page.History, err = htmlreport.Series(ctx, h, ids, since); err != nil {
				return err
			}
		}
	} else {
		if in.History {
			return usageError{err: errors.New("--history adds the journal store's history to --input files; without --input the page is made from the history alone"), hint: "drop --history"}
		}
		h, closeJournal, err := openHistory(ctx, g, in.Journal)
		if err != nil {
			return err
		}
		defer closeJournal()
		if page.Accounts, page.History, err = htmlreport.Latest(ctx, h, in.Accounts, since); err != nil {
			return err
		}
		if len(page.Accounts) == 0 {
			return usageError{err: errors.New("the journal store's history holds no scan of these accounts"), hint: "iamwarden report --html --input scan.json (from iamwarden scan -o json)"}
		}
	}
	if in.Out == "" {
		w := bufio.NewWriter(g.stdout)
		if err := htmlreport.Write(w, page); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		return w.Flush()
	}
	return writeFileAtomic(in.Out, func(w io.Writer) error { return htmlreport.Write(w, page) })
}

// readReportInputs decodes the --input files and joins their accounts.
func readReportInputs(g *globals, names []string) ([]htmlreport.Account, error) {
	var docs [][]htmlreport.Account
	for _, name := range names {
		var data []byte
		var err error
		if name == "-" {
			if g.stdin == nil {
				return nil, usageError{err: errors.New("--input -: no standard input")}
			}
			data, err = io.ReadAll(g.stdin)
			name = "standard input"
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			return nil, usageError{err: fmt.Errorf("--input: %w", err), hint: "iamwarden scan -o json > scan.json"}
		}
		accounts, err := htmlreport.Decode(name, data)
		if err != nil {
			return nil, usageError{err: err, hint: "--input takes the output of iamwarden scan -o json, scan --org -o json or enforce -o json"}
		}
		docs = append(docs, accounts)
	}
	return htmlreport.Merge(docs...), nil
}

// writeFileAtomic replaces path with what write writes: a temporary file in the same directory,
// synced, then renamed over path, so a reader never sees half a page.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename there is nothing to remove
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
