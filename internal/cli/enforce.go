package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// EnforceInput is what the enforce command was asked to do.
type EnforceInput struct {
	Apply       bool
	Yes         bool
	MaxActions  int
	Topic       string
	LockTimeout time.Duration
	Journal     journalFlags
	Org         orgFlags
	// MaxActionsTotal bounds the changes of an organization run over all its accounts.
	MaxActionsTotal int
	// Concurrency bounds the accounts of an organization run handled at once.
	Concurrency int
	// Record stores the scan, the plan's size and the outcome in the history of the journal.
	Record bool
}

// Exit codes of enforce beyond the scan's.
const exitActionsFailed = 4

func newEnforceCmd(g *globals) *cobra.Command {
	in := &EnforceInput{}
	cmd := &cobra.Command{
		Use:   "enforce",
		Short: "Disable what the rules condemn: console access and unused access keys (dry run unless --apply)",
		Long: `Scan the account, plan the remediations, and show them. With --apply, carry them out.

Before each action the user is read again from IAM and the same rule decision is made on that
fresh state; a user who registered MFA, used the key or was exempted since is skipped with the
reason. The identity running iamwarden is never acted on, accounts on the deny-list are refused,
and a plan larger than --max-actions is refused whole (and shown). The journal is checked first,
in a dry run too. With --apply the run holds the account's lease in the journal, so a second run
waits (--lock-timeout) or stops; every action is journaled before and after it is attempted, with
what is needed to undo it ('iamwarden undo'). An action AWS refuses is journaled as failed and
the run goes on with the others; expired credentials or a lost journal stop it.

Exit codes: 0 done (or nothing to do), 2 usage or runtime error, a refused plan, or another run
holding the account (nothing was changed), 3 the account data was partial, 4 some actions failed
or were refused.`,
		Example: `  iamwarden enforce                           # dry run: what would be done, re-checked live
  iamwarden enforce --apply                   # asks to type the account ID or alias first
  iamwarden enforce --apply --yes --sns-topic-arn arn:aws:sns:us-east-1:123456789012:iam-alerts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEnforce(cmd.Context(), g, in)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&in.Apply, "apply", false, "carry out the plan (default: dry run)")
	f.BoolVar(&in.Yes, "yes", false, "with --apply: do not ask for confirmation (automation)")
	f.IntVar(&in.MaxActions, "max-actions", 0, "refuse plans with more actions than this (default 25, or enforce.max_actions)")
	f.StringVar(&in.Topic, "sns-topic-arn", "", "SNS topic for notifications (or enforce.sns_topic_arn)")
	f.DurationVar(&in.LockTimeout, "lock-timeout", 0, "with --apply: wait this long for another run's lease on the account (default: do not wait)")
	addJournalFlags(f, &in.Journal)
	addOrgFlags(f, &in.Org, defaultEnforceRole)
	f.IntVar(&in.MaxActionsTotal, "max-actions-total", 100, "with --org: refuse the run when all accounts' plans add up to more changes")
	f.IntVar(&in.Concurrency, "concurrency", 8, "with --org: accounts handled at once")
	f.BoolVar(&in.Record, "record", false, "keep the scan and what the run planned and did in the history of the journal (docs/history.md), dry run or not")
	return cmd
}

// enforceReport is the JSON output of enforce.
type enforceReport struct {
	AccountID    string              `json:"account_id"`
	AccountAlias string              `json:"account_alias"`
	DryRun       bool                `json:"dry_run"`
	Partial      bool                `json:"partial"`
	Errors       []inventory.Problem `json:"errors"`
	Plan         remediate.Plan      `json:"plan"`
	Outcome      *remediate.Outcome  `json:"outcome"`
	Error        string              `json:"error,omitempty"`
}

func runEnforce(ctx context.Context, g *globals, in *EnforceInput) error {
	format, err := g.format("enforce")
	if err != nil {
		return err
	}
	settings, err := (&ScanInput{}).settings(g, warden.Overrides{MaxActions: in.MaxActions, Topic: in.Topic})
	if err != nil {
		return err
	}
	if err := in.Org.check(defaultEnforceRole); err != nil {
		return err
	}
	if in.Org.on {
		return runEnforceOrganization(ctx, g, in, settings, format)
	}
	j, err := openJournal(ctx, g, settings.Config, in.Journal)
	if err != nil {
		return err
	}
	defer j.Close()
	w, err := newWarden(ctx, g, settings, j)
	if err != nil {
		return err
	}
	opts := warden.EnforceOptions{Apply: in.Apply, LockTimeout: in.LockTimeout}
	if in.Apply && !in.Yes {
		opts.Confirm = func(p remediate.Plan) error {
			return confirm(g, p.AccountID, p.AccountAlias, fmt.Sprintf("apply %d actions", p.Changes()))
		}
	}
	res, runErr := w.Enforce(ctx, opts)
	if res == nil || res.Outcome == nil {
		return domainFailure(runErr)
	}
	rep := enforceReport{AccountID: res.Scan.AccountID, AccountAlias: res.Scan.AccountAlias, DryRun: !in.Apply, Partial: res.Partial(),
		Errors: res.Scan.Errors, Plan: res.Plan, Outcome: res.Outcome}
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	if err := writeEnforce(g.stdout, rep, format); err != nil {
		return err
	}
	var recordErr error
	if in.Record && res.Scan != nil {
		m, err := w.Record(ctx, history.SourceCLI, res.Scan, &res.Plan, res.Outcome)
		if err != nil {
			recordErr = recordFailure(g, settings.Config, in.Journal, err)
		} else {
			printRecorded(g.stderr, m)
		}
	}
	out := res.Outcome
	switch {
	case runErr != nil:
		return runFailure("enforcement", runErr)
	case recordErr != nil:
		return recordErr
	case out.Count(remediate.StatusFailed)+out.Count(remediate.StatusRefused) > 0:
		return exitError{code: exitActionsFailed}
	case res.Partial():
		return exitError{code: report.ExitPartial}
	}
	return nil
}

// runFailure is the exit of a run that changes an account and returned an error: a refusal
// (nothing was changed) is a usage error with its hint, anything else stopped the run.
func runFailure(what string, err error) error {
	switch {
	case errors.Is(err, remediate.ErrBlastRadius), errors.Is(err, remediate.ErrDeniedAccount),
		errors.Is(err, remediate.ErrWrongAccount), errors.Is(err, journal.ErrLeased):
		return usageError{err: err}
	case errors.Is(err, remediate.ErrJournal):
		return usageError{err: err, hint: "iamwarden journal init (with the same --journal or --journal-table)"}
	}
	return awsFailure(fmt.Errorf("%s stopped: %w", what, err))
}

// confirm asks the operator to type the account ID or alias, as a guard against applying to
// the wrong account. Without a terminal it refuses: automation passes --yes.
func confirm(g *globals, accountID, alias, what string) error {
	f, ok := g.stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return usageError{err: errors.New("--apply needs confirmation and stdin is not a terminal"), hint: "add --yes to apply without asking"}
	}
	name := accountID
	if alias != "" {
		name += " (" + alias + ")"
	}
	fmt.Fprintf(g.stderr, "About to %s in account %s.\nType the account ID or alias to continue: ", what, name)
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	answer := strings.TrimSpace(line)
	if answer == "" || (answer != accountID && answer != alias) {
		return usageError{err: errors.New("confirmation did not match the account; nothing was changed")}
	}
	return nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func writeEnforce(w io.Writer, r enforceReport, f report.Format) error {
	if f == report.FormatJSON || f == report.FormatCSV {
		return encodeJSON(w, r)
	}
	o := r.Outcome
	var mode string
	switch {
	case o != nil && o.Refused != "":
		mode = "REFUSED (nothing changed)"
	case r.DryRun:
		mode = "DRY RUN (nothing changed; re-run with --apply)"
	case o != nil && o.Changed():
		mode = "APPLIED"
	default:
		mode = "NOTHING CHANGED"
	}
	name := r.AccountID
	if r.AccountAlias != "" {
		name += " (" + report.SafeText(r.AccountAlias) + ")"
	}
	fmt.Fprintf(w, "Account %s: %s\n", name, mode)
	if r.Partial {
		fmt.Fprintln(w, "PARTIAL DATA: part of the account could not be read; see errors.")
	}
	if o != nil && o.Refused != "" {
		fmt.Fprintf(w, "REFUSED: %s\n", report.SafeText(o.Refused))
		return writeActions(w, "PLANNED", r.Plan.Actions, nil)
	}
	if o != nil {
		for _, e := range o.Reconciled {
			fmt.Fprintf(w, "reconciled interrupted action %s (%s %s): %s\n", e.ActionID, e.Kind, report.SafeText(e.Principal), e.Status)
		}
		if len(o.Results) > 0 {
			if err := writeActions(w, "", nil, o.Results); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(w, "No actions.")
		}
		for _, wn := range o.Warnings {
			fmt.Fprintf(w, "warning %s to %s (deadline %s): %s\n", wn.Kind, report.SafeText(wn.Principal), wn.Deadline.Format(time.RFC3339), wn.Status)
		}
		if !r.DryRun && len(o.Results) > 0 {
			fmt.Fprintf(w, "\nrun %s: %d done, %d skipped, %d refused, %d failed\n", o.RunID,
				o.Count(remediate.StatusDone), o.Count(remediate.StatusSkipped), o.Count(remediate.StatusRefused), o.Count(remediate.StatusFailed))
			if o.Changed() {
				fmt.Fprintf(w, "undo with: iamwarden undo --run %s\n", o.RunID)
			}
		}
	}
	if n := len(r.Plan.NotifyOnly); n > 0 {
		fmt.Fprintf(w, "%d other violations are reported, not remediated (see iamwarden scan).\n", n)
	}
	if o != nil && o.Stopped != "" {
		fmt.Fprintf(w, "STOPPED: %s\n", report.SafeText(o.Stopped))
	} else if r.Error != "" {
		fmt.Fprintf(w, "STOPPED: %s\n", report.SafeText(r.Error))
	}
	return nil
}

// writeActions prints planned actions (status fixed to planned) or results as a table.
func writeActions(w io.Writer, planned string, actions []remediate.Action, results []remediate.Result) error {
	if planned != "" {
		for _, a := range actions {
			results = append(results, remediate.Result{Action: a, Status: remediate.Status(strings.ToLower(planned)), Detail: a.Reason})
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSTATUS\tACTION\tUSER\tKEY\tRULE\tDETAIL")
	for _, res := range results {
		key := "-"
		if res.Action.Resource != "" {
			key = rules.MaskKeyID(res.Action.Resource)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", res.Status, res.Action.Kind, report.SafeText(res.Action.Principal), key, res.Action.Rule, report.SafeText(res.Detail))
	}
	return tw.Flush()
}
