package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/remediate"
)

// UndoInput is what the undo command was asked to do.
type UndoInput struct {
	ActionID string
	Run      string
	Journal  journalFlags
}

func newUndoCmd(g *globals) *cobra.Command {
	in := &UndoInput{}
	cmd := &cobra.Command{
		Use:   "undo ACTION_ID | --run RUN_ID",
		Short: "Reverse enforcement actions: reactivate keys, restore console access",
		Long: `Reverse one journaled action, or every applied action of a run.

A deactivated access key is reactivated. Console access is restored by creating a new login
profile with a freshly generated password that must be changed at the next sign-in; the password
is printed here, on stdout, once, and is never logged or journaled: hand it to the user through
a safe channel. Undo actions are journaled too, and an action is never undone twice.`,
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
	addJournalFlags(f, &in.Journal)
	return cmd
}

func runUndo(ctx context.Context, g *globals, in *UndoInput) error {
	j, err := openConfiguredJournal(ctx, g, in.Journal)
	if err != nil {
		return err
	}
	defer j.Close()
	a, err := connect(ctx, g)
	if err != nil {
		return err
	}
	loader := a.loader(g)
	caller, err := loader.Caller(ctx)
	if err != nil {
		return awsFailure(err)
	}
	ex := &remediate.Executor{IAM: a.iam, Journal: j, CallerARN: caller, Now: g.now, IDs: journal.NewIDGenerator(g.now, nil), Log: g.log}
	var done []*remediate.Undone
	if in.Run != "" {
		done, err = ex.UndoRun(ctx, in.Run)
	} else {
		var u *remediate.Undone
		u, err = ex.Undo(ctx, in.ActionID)
		if u != nil {
			done = append(done, u)
		}
	}
	for _, u := range done {
		fmt.Fprintf(g.stdout, "%s %s: %s (%s)\n", u.Status, u.Of.Principal, u.Detail, u.ActionID)
		if u.Password != "" {
			fmt.Fprintf(g.stdout, "  one-time console password for %s: %s\n", u.Of.Principal, u.Password)
		}
	}
	if errors.Is(err, remediate.ErrNotUndoable) || errors.Is(err, journal.ErrNotFound) {
		return usageError{err: err, hint: "iamwarden journal list"}
	}
	return err
}
