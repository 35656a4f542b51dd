package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// UndoInput is what the undo command was asked to do.
type UndoInput struct {
	ActionID    string
	Run         string
	LockTimeout time.Duration
	Journal     journalFlags
}

func newUndoCmd(g *globals) *cobra.Command {
	in := &UndoInput{}
	cmd := &cobra.Command{
		Use:   "undo ACTION_ID | --run RUN_ID",
		Short: "Reverse enforcement actions: reactivate keys, restore console access",
		Long: `Reverse one journaled action, or every applied action of a run.

A deactivated access key is reactivated. Console access is restored by creating a new login
profile with a freshly generated password that must be changed at the next sign-in; the password
is shown once, on a terminal or in the one_time_password field of -o json, and is never logged or
journaled: hand it to the user through a safe channel.

Undo acts only in the account the action was taken in (the credentials must be for it) and only
on the same person: a user deleted and created again under the same name is refused. Every entry
of a run is attempted; entries already undone, or whose target is already back as it was, are
skipped and reported. Running it again finishes what failed, and settles an undo that was
interrupted. Undo actions are journaled too, and an action is never undone twice.

Exit codes: 0 nothing failed, 2 usage or runtime error (nothing was changed), 4 some entries
failed or were refused.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				in.ActionID = args[0]
			}
			if (in.ActionID == "") == (in.Run == "") {
				return usageError{err: errors.New("give an action ID or --run RUN_ID"), hint: "iamwarden journal list"}
			}
			return runUndo(cmd.Context(), g, in)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Run, "run", "", "undo every applied action of this run")
	f.DurationVar(&in.LockTimeout, "lock-timeout", 0, "wait this long for another run's lease on the account (default: do not wait)")
	addJournalFlags(f, &in.Journal)
	return cmd
}

// undoReport is the JSON output of undo.
type undoReport struct {
	RunID      string          `json:"run_id"`
	Reconciled []journal.Entry `json:"reconciled"`
	Results    []undoResult    `json:"results"`
	Error      string          `json:"error,omitempty"`
}

type undoResult struct {
	Of        string       `json:"of"`
	Kind      journal.Kind `json:"kind"`
	Principal string       `json:"principal"`
	UserID    string       `json:"user_id,omitempty"`
	Resource  string       `json:"resource,omitempty"`
	Status    string       `json:"status"`
	Detail    string       `json:"detail"`
	ActionID  string       `json:"action_id,omitempty"`
	// OneTimePassword is the restored login profile's password, in this field only.
	OneTimePassword string `json:"one_time_password,omitempty"`
}

func runUndo(ctx context.Context, g *globals, in *UndoInput) error {
	format, err := g.format("undo")
	if err != nil {
		return err
	}
	cfg, file, err := loadConfigFile(g)
	if err != nil {
		return err
	}
	j, err := openJournal(ctx, g, cfg, in.Journal)
	if err != nil {
		return err
	}
	defer j.Close()
	settings, err := warden.Resolve(cfg, file, warden.Overrides{})
	if err != nil {
		return domainFailure(err)
	}
	w, err := newWarden(ctx, g, settings, j)
	if err != nil {
		return err
	}
	rep, err := w.Undo(ctx, warden.UndoOptions{RunID: in.Run, ActionID: in.ActionID, LockTimeout: in.LockTimeout})
	if rep != nil {
		if werr := writeUndo(g, rep, err, format); werr != nil {
			return werr
		}
	}
	switch {
	case errors.Is(err, remediate.ErrNotUndoable) || errors.Is(err, journal.ErrNotFound):
		return usageError{err: err, hint: "iamwarden journal list"}
	case errors.Is(err, remediate.ErrWrongAccount), errors.Is(err, journal.ErrLeased):
		return usageError{err: err}
	case err != nil:
		return awsFailure(err)
	case rep.Failed():
		return exitError{code: exitActionsFailed}
	}
	return nil
}

func writeUndo(g *globals, rep *remediate.UndoReport, runErr error, f report.Format) error {
	if f != report.FormatTable {
		out := undoReport{RunID: rep.RunID, Reconciled: rep.Reconciled, Results: []undoResult{}}
		for _, u := range rep.Results {
			out.Results = append(out.Results, undoResult{Of: u.Of.ActionID, Kind: u.Of.Kind, Principal: u.Of.Principal, UserID: u.Of.UserID,
				Resource: u.Of.Resource, Status: string(u.Status), Detail: u.Detail, ActionID: u.ActionID, OneTimePassword: u.Password})
		}
		if runErr != nil {
			out.Error = runErr.Error()
		}
		return encodeJSON(g.stdout, out)
	}
	w := g.stdout
	onTerminal := false
	if f, ok := w.(*os.File); ok {
		onTerminal = isTerminal(f)
	}
	for _, e := range rep.Reconciled {
		fmt.Fprintf(w, "reconciled interrupted action %s (%s %s): %s\n", e.ActionID, e.Kind, report.SafeText(e.Principal), e.Status)
	}
	for _, u := range rep.Results {
		what := string(u.Of.Kind) + " " + report.SafeText(u.Of.Principal)
		if u.Of.Resource != "" {
			what += " " + rules.MaskKeyID(u.Of.Resource)
		}
		fmt.Fprintf(w, "%-8s %s (%s): %s\n", u.Status, u.Of.ActionID, what, report.SafeText(u.Detail))
		switch {
		case u.Password != "" && onTerminal:
			fmt.Fprintf(w, "  one-time console password for %s: %s\n", report.SafeText(u.Of.Principal), u.Password)
		case u.Password != "":
			fmt.Fprintf(w, "  one-time console password for %s not shown: stdout is not a terminal (use -o json to receive it in its own field)\n", report.SafeText(u.Of.Principal))
		}
	}
	if len(rep.Results) > 0 {
		fmt.Fprintf(w, "undo run %s: %d done, %d skipped, %d refused, %d failed\n", rep.RunID,
			rep.Count(remediate.StatusDone), rep.Count(remediate.StatusSkipped), rep.Count(remediate.StatusRefused), rep.Count(remediate.StatusFailed))
	}
	return nil
}
