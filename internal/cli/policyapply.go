package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/policy/generate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// ApplyInput is what 'policy apply' was asked to install.
type ApplyInput struct {
	Kind        string
	Group       string
	PolicyName  string
	AddUsers    string
	Apply       bool
	Yes         bool
	MaxActions  int
	LockTimeout time.Duration
	Journal     journalFlags
}

// Selections of --add-users.
const addConsoleUsersWithoutMFA = "console-users-without-mfa"

func newPolicyApplyCmd(g *globals) *cobra.Command {
	in := &ApplyInput{}
	cmd := &cobra.Command{
		Use:   "apply enforce-mfa --group NAME",
		Short: "Install the enforce-MFA policy on a group, and add users to it (dry run unless --apply)",
		Long: `Create or update the enforce-mfa customer managed policy, create the group if it is missing and
attach the policy to it. With --add-users console-users-without-mfa, every user with a console
password and no MFA device (from the credential report) is added to the group, except users
exempt from console-mfa-missing (tag, configuration file or SSM list, as for scan and enforce)
and the identity running iamwarden: those are listed with the reason.

Without --apply, prints the calls that would be made and changes nothing. A plan with more
changes than --max-actions is refused whole (and shown). With --apply the run holds the account's
lease in the journal; each user is read again before it is added, and each membership and
default-version change is journaled with its undo ('iamwarden undo --run RUN_ID' removes the
users and restores the previous default version). Creating the policy or the group and attaching
the policy are not undone. A second apply changes nothing: an equal policy document gets no new
version and members are skipped. When the policy already has 5 versions, the oldest non-default
one is deleted first; that cannot be undone.

Exit codes: 0 done (or nothing to do), 2 usage or runtime error, a refused plan, or another run
holding the account (nothing was changed), 4 some changes failed.`,
		Example: `  iamwarden policy apply enforce-mfa --group ForceMfaAccess --add-users console-users-without-mfa
  iamwarden policy apply enforce-mfa --group ForceMfaAccess --add-users console-users-without-mfa --apply --yes`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || args[0] != string(generate.KindEnforceMFA) {
				return usageError{err: errors.New("policy apply installs enforce-mfa only"), hint: "iamwarden policy apply enforce-mfa --group ForceMfaAccess"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Kind = args[0]
			return runPolicyApply(cmd.Context(), g, in)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Group, "group", "", "the group to attach the policy to, created if missing (required)")
	f.StringVar(&in.PolicyName, "policy-name", "EnforceMFA", "the customer managed policy's name")
	f.StringVar(&in.AddUsers, "add-users", "", "add users to the group: "+addConsoleUsersWithoutMFA)
	f.BoolVar(&in.Apply, "apply", false, "make the changes (default: dry run)")
	f.BoolVar(&in.Yes, "yes", false, "with --apply: do not ask for confirmation (automation)")
	f.IntVar(&in.MaxActions, "max-actions", 0, "refuse plans with more changes than this (default 25, or enforce.max_actions)")
	f.DurationVar(&in.LockTimeout, "lock-timeout", 0, "with --apply: wait this long for another run's lease on the account (default: do not wait)")
	addJournalFlags(f, &in.Journal)
	return cmd
}

// applyReport is the JSON output of 'policy apply'.
type applyReport struct {
	DryRun     bool                 `json:"dry_run"`
	RunID      string               `json:"run_id,omitempty"`
	Plan       generate.InstallPlan `json:"plan"`
	Reconciled []journal.Entry      `json:"reconciled"`
	Refused    string               `json:"refused,omitempty"`
	Error      string               `json:"error,omitempty"`
}

func runPolicyApply(ctx context.Context, g *globals, in *ApplyInput) error {
	format, err := g.format("policy apply")
	if err != nil {
		return err
	}
	if in.Group == "" {
		return usageError{err: errors.New("--group is required"), hint: "--group ForceMfaAccess"}
	}
	if in.PolicyName == "" {
		return usageError{err: errors.New("--policy-name must not be empty")}
	}
	if in.AddUsers != "" && in.AddUsers != addConsoleUsersWithoutMFA {
		return usageError{err: fmt.Errorf("--add-users: unknown selection %q", in.AddUsers), hint: "--add-users " + addConsoleUsersWithoutMFA}
	}
	if in.MaxActions < 0 {
		return usageError{err: errors.New("--max-actions must not be negative")}
	}
	cfg, file, err := loadConfigFile(g)
	if err != nil {
		return err
	}
	settings, err := warden.Resolve(cfg, file, warden.Overrides{MaxActions: in.MaxActions})
	if err != nil {
		return domainFailure(err)
	}
	j, err := openJournal(ctx, g, cfg, in.Journal)
	if err != nil {
		return err
	}
	defer j.Close()
	w, err := newWarden(ctx, g, settings, j)
	if err != nil {
		return err
	}
	opts := warden.InstallOptions{PolicyName: in.PolicyName, Group: in.Group, AddConsoleUsers: in.AddUsers != "",
		Apply: in.Apply, LockTimeout: in.LockTimeout}
	if in.Apply && !in.Yes {
		// The same typed confirmation as enforce: the account ID.
		opts.Confirm = func(p generate.InstallPlan) error {
			return confirm(g, p.AccountID, "", fmt.Sprintf("make %d IAM changes", len(p.Steps)))
		}
	}
	dry := !in.Apply
	out, runErr := w.InstallEnforceMFA(ctx, opts)
	if out == nil {
		return domainFailure(runErr)
	}
	rep := applyReport{DryRun: dry, Plan: out.Plan, Reconciled: out.Reconciled, Refused: out.Refused}
	if !dry {
		rep.RunID = out.RunID
	}
	if runErr != nil {
		rep.Error = runErr.Error()
	} else if out.Stopped != "" {
		rep.Error = out.Stopped
	}
	if err := writeApply(g.stdout, rep, format); err != nil {
		return err
	}
	switch {
	case runErr != nil:
		return runFailure("policy apply", runErr)
	case out.Count(generate.StepFailed) > 0:
		return exitError{code: exitActionsFailed}
	}
	return nil
}

func writeApply(w io.Writer, r applyReport, f report.Format) error {
	if f == report.FormatJSON || f == report.FormatCSV {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(r)
	}
	var mode string
	changed := false
	for _, s := range r.Plan.Steps {
		changed = changed || s.Status == generate.StepDone
	}
	switch {
	case r.Refused != "":
		mode = "REFUSED (nothing changed)"
	case r.DryRun:
		mode = "DRY RUN (nothing changed; re-run with --apply)"
	case changed:
		mode = "APPLIED"
	default:
		mode = "NOTHING CHANGED"
	}
	fmt.Fprintf(w, "Account %s, policy %s, group %s: %s\n", r.Plan.AccountID, r.Plan.PolicyARN, report.SafeText(r.Plan.Group), mode)
	if r.Refused != "" {
		fmt.Fprintf(w, "REFUSED: %s\n", report.SafeText(r.Refused))
	}
	for _, e := range r.Reconciled {
		fmt.Fprintf(w, "reconciled interrupted action %s (%s %s): %s\n", e.ActionID, e.Kind, report.SafeText(e.Principal), e.Status)
	}
	if len(r.Plan.Steps) == 0 {
		fmt.Fprintln(w, "Nothing to do: the policy, the group and its members are in place.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\nSTATUS\tCALL\tTARGET\tDETAIL")
		for _, s := range r.Plan.Steps {
			detail := s.Detail
			if s.Error != "" {
				detail = s.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Status, s.Call, report.SafeText(s.Target), dash(report.SafeText(detail)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Plan.Members) > 0 {
		fmt.Fprintf(w, "Already in the group: %d users\n", len(r.Plan.Members))
	}
	for _, s := range r.Plan.Skipped {
		fmt.Fprintf(w, "not added: %s: %s\n", report.SafeText(s.User), report.SafeText(s.Reason))
	}
	if changed && r.RunID != "" {
		fmt.Fprintf(w, "\nrun %s; undo the membership and default-version changes with: iamwarden undo --run %s\n", r.RunID, r.RunID)
		for _, s := range r.Plan.Steps {
			if s.Status == generate.StepDone && s.ActionID == "" {
				fmt.Fprintf(w, "not undoable: %s %s\n", s.Call, report.SafeText(s.Target))
			}
		}
	}
	if r.Error != "" && r.Refused == "" {
		fmt.Fprintf(w, "STOPPED: %s\n", report.SafeText(r.Error))
	}
	return nil
}
