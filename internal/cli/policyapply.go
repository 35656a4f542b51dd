package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/policy/generate"
	"github.com/iamwarden/iamwarden/internal/report"
)

// ApplyInput is what 'policy apply' was asked to install.
type ApplyInput struct {
	Kind       string
	Group      string
	PolicyName string
	AddUsers   string
	Apply      bool
	Yes        bool
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
password and no MFA device (from the credential report) is added to the group.

Without --apply, prints the calls that would be made and changes nothing. A second apply changes
nothing: an equal policy document gets no new version and members are skipped. When the policy
already has 5 versions, the oldest non-default one is deleted first.

Exit codes: 0 done (or nothing to do), 2 usage or runtime error.`,
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
	return cmd
}

// applyReport is the JSON output of 'policy apply'.
type applyReport struct {
	DryRun bool                 `json:"dry_run"`
	Plan   generate.InstallPlan `json:"plan"`
	Error  string               `json:"error,omitempty"`
}

func runPolicyApply(ctx context.Context, g *globals, in *ApplyInput) error {
	format, err := g.format()
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
	doc, err := generate.MarshalDocument(generate.EnforceMFA())
	if err != nil {
		return err
	}
	a, err := connect(ctx, g)
	if err != nil {
		return err
	}
	spec := generate.InstallSpec{PolicyName: in.PolicyName, Document: doc, Group: in.Group}
	if in.AddUsers != "" {
		snap, err := readAccount(ctx, a.loader(g))
		if err != nil {
			return err
		}
		if snap.Partial() {
			return fmt.Errorf("the account could not be read completely (%s); refusing to pick users from partial data", snap.Problems[0].Message)
		}
		spec.AccountID = snap.AccountID
		spec.Users = generate.ConsoleUsersWithoutMFA(snap)
	} else {
		id, err := a.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return awsFailure(fmt.Errorf("sts:GetCallerIdentity: %w", err))
		}
		spec.AccountID = aws.ToString(id.Account)
	}
	plan, err := generate.PlanInstall(ctx, a.iam, spec)
	if err != nil {
		return awsFailure(err)
	}
	rep := applyReport{DryRun: !in.Apply, Plan: plan}
	if in.Apply && len(plan.Steps) > 0 {
		if !in.Yes {
			// The same typed confirmation as enforce: the account ID.
			if err := confirm(g, plan.AccountID, "", fmt.Sprintf("make %d IAM changes", len(plan.Steps))); err != nil {
				return err
			}
		}
		if err := rep.Plan.Execute(ctx, a.iam); err != nil {
			rep.Error = err.Error()
			if werr := writeApply(g.stdout, rep, format); werr != nil {
				return werr
			}
			return awsFailure(err)
		}
	}
	return writeApply(g.stdout, rep, format)
}

func writeApply(w io.Writer, r applyReport, f report.Format) error {
	if f == report.FormatJSON || f == report.FormatCSV {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(r)
	}
	mode := "APPLIED"
	if r.DryRun {
		mode = "DRY RUN (nothing changed; re-run with --apply)"
	}
	fmt.Fprintf(w, "Account %s, policy %s, group %s: %s\n", r.Plan.AccountID, r.Plan.PolicyARN, r.Plan.Group, mode)
	if len(r.Plan.Steps) == 0 {
		fmt.Fprintln(w, "Nothing to do: the policy, the group and its members are in place.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\nSTATUS\tCALL\tTARGET\tDETAIL")
		for _, s := range r.Plan.Steps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Status, s.Call, s.Target, dash(s.Detail))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Plan.Members) > 0 {
		fmt.Fprintf(w, "Already in the group: %d users\n", len(r.Plan.Members))
	}
	if r.Error != "" {
		fmt.Fprintf(w, "stopped: %s\n", r.Error)
	}
	return nil
}
