package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/org"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// orgEnforceTotals add up an organization enforce run.
type orgEnforceTotals struct {
	Accounts int `json:"accounts"`
	Failed   int `json:"failed_accounts"`
	Partial  int `json:"partial_accounts"`
	Planned  int `json:"planned"`
	Done     int `json:"done"`
	Skipped  int `json:"skipped"`
	Refused  int `json:"refused"`
	// ActionsFailed counts failed actions.
	ActionsFailed int `json:"failed"`
}

func (t *orgEnforceTotals) add(a warden.AccountEnforcement) {
	t.Accounts++
	switch a.Status {
	case report.AccountFailed:
		t.Failed++
	case report.AccountPartial:
		t.Partial++
	}
	if a.Plan != nil {
		t.Planned += a.Plan.Changes()
	}
	if o := a.Outcome; o != nil {
		t.Done += o.Count(remediate.StatusDone)
		t.Skipped += o.Count(remediate.StatusSkipped)
		t.Refused += o.Count(remediate.StatusRefused)
		t.ActionsFailed += o.Count(remediate.StatusFailed)
	}
}

// runEnforceOrganization enforces over the organization's selected accounts.
func runEnforceOrganization(ctx context.Context, g *globals, in *EnforceInput, settings *warden.Settings, format report.Format) error {
	j, err := openJournal(ctx, g, settings.Config, in.Journal)
	if err != nil {
		return err
	}
	defer j.Close()
	session := "iamwarden-enforce"
	if !in.Apply {
		session = "iamwarden-enforce-dry-run"
	}
	o, accounts, err := in.Org.organization(ctx, g, settings, j, session)
	if err != nil {
		return err
	}
	if in.Record {
		o.History = &warden.Recorder{Source: history.SourceCLI}
	}
	opts := warden.OrgEnforceOptions{Apply: in.Apply, MaxActionsTotal: in.MaxActionsTotal, LockTimeout: in.LockTimeout, Concurrency: in.Concurrency}
	if in.Apply && !in.Yes {
		opts.Confirm = func(accounts, changes int) error { return confirmAccounts(g, accounts, changes) }
	}
	var totals orgEnforceTotals
	jsonOut := format == report.FormatJSON || format == report.FormatCSV
	if jsonOut {
		fmt.Fprint(g.stdout, "{\n  \"dry_run\": "+strconv.FormatBool(!in.Apply)+",\n  \"accounts\": [")
	}
	progress := org.NewProgressWriter(g.stderr, stderrIsTerminal(g), g.now)
	runErr := o.Enforce(ctx, accounts, opts, func(a warden.AccountEnforcement) error {
		if jsonOut {
			b, err := json.MarshalIndent(a, "    ", "  ")
			if err != nil {
				return err
			}
			sep := ","
			if totals.Accounts == 0 {
				sep = ""
			}
			fmt.Fprintf(g.stdout, "%s\n    %s", sep, b)
		} else if err := writeAccountEnforcement(g.stdout, a, !in.Apply); err != nil {
			return err
		}
		totals.add(a)
		return nil
	}, progress.Update)
	progress.Finish()
	if jsonOut {
		b, _ := json.MarshalIndent(totals, "  ", "  ")
		errText := ""
		if runErr != nil {
			e, _ := json.Marshal(runErr.Error())
			errText = ",\n  \"error\": " + string(e)
		}
		fmt.Fprintf(g.stdout, "\n  ],\n  \"totals\": %s%s\n}\n", b, errText)
	} else {
		fmt.Fprintf(g.stdout, "%d accounts (%d failed, %d partial): %d planned, %d done, %d skipped, %d refused, %d failed\n",
			totals.Accounts, totals.Failed, totals.Partial, totals.Planned, totals.Done, totals.Skipped, totals.Refused, totals.ActionsFailed)
		if runErr != nil {
			fmt.Fprintf(g.stdout, "STOPPED: %s\n", report.SafeText(runErr.Error()))
		}
	}
	recordErr := printRecorder(g, settings, in.Journal, o.History)
	switch {
	case errors.Is(runErr, warden.ErrOrgBlastRadius):
		return usageError{err: runErr}
	case runErr != nil:
		return runFailure("enforcement", runErr)
	case recordErr != nil:
		return recordErr
	case totals.Failed+totals.ActionsFailed+totals.Refused > 0:
		return exitError{code: exitActionsFailed}
	case totals.Partial > 0:
		return exitError{code: report.ExitPartial}
	}
	return nil
}

// writeAccountEnforcement prints one account's part of the run.
func writeAccountEnforcement(w io.Writer, a warden.AccountEnforcement, dry bool) error {
	name := a.AccountID
	if a.AccountName != "" {
		name += " (" + report.SafeText(a.AccountName) + ")"
	}
	switch {
	case a.Status == report.AccountFailed && a.Outcome == nil:
		fmt.Fprintf(w, "Account %s: FAILED: %s\n\n", name, report.SafeText(a.Error))
		return nil
	case a.Status == report.AccountPartial:
		fmt.Fprintf(w, "Account %s: NOT ENFORCED: %s\n\n", name, report.SafeText(a.Error))
		return nil
	}
	o := a.Outcome
	mode := "NOTHING CHANGED"
	switch {
	case o.Refused != "":
		mode = "REFUSED (nothing changed): " + report.SafeText(o.Refused)
	case dry:
		mode = "DRY RUN (nothing changed)"
	case o.Changed():
		mode = "APPLIED (undo with: iamwarden undo --run " + o.RunID + ")"
	}
	fmt.Fprintf(w, "Account %s: %s\n", name, mode)
	if len(o.Results) > 0 {
		if err := writeActions(w, "", nil, o.Results); err != nil {
			return err
		}
	}
	if a.Error != "" && o.Refused == "" {
		fmt.Fprintf(w, "STOPPED: %s\n", report.SafeText(a.Error))
	}
	fmt.Fprintln(w)
	return nil
}

// confirmAccounts asks the operator to type the number of accounts about to be changed.
func confirmAccounts(g *globals, accounts, changes int) error {
	f, ok := g.stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return usageError{err: errors.New("--apply needs confirmation and stdin is not a terminal"), hint: "add --yes to apply without asking"}
	}
	fmt.Fprintf(g.stderr, "About to apply %d changes in %d accounts of the organization.\nType the number of accounts (%d) to continue: ", changes, accounts, accounts)
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if strings.TrimSpace(line) != strconv.Itoa(accounts) {
		return usageError{err: errors.New("confirmation did not match the number of accounts; nothing was changed")}
	}
	return nil
}
