package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/org"
	"github.com/iamwarden/iamwarden/internal/report"
)

// ExportInput is what the export command was asked to do.
type ExportInput struct {
	Dir         string
	Stats       bool
	Org         orgFlags
	Concurrency int
}

func newExportCmd(g *globals) *cobra.Command {
	in := &ExportInput{}
	cmd := &cobra.Command{
		Use:   "export DIR",
		Short: "Save the account's IAM data to DIR for offline scans (scan --from DIR)",
		Long: `Read the same data a live scan reads and write it to DIR in the formats the AWS CLI prints,
with a manifest recording the account and the read time. 'iamwarden scan --from DIR' then judges
it exactly as the live scan would have at that time. With --org, every selected account of the
organization goes to DIR/<account ID>.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Dir = args[0]
			return runExport(cmd.Context(), g, in)
		},
	}
	addOrgFlags(cmd.Flags(), &in.Org, defaultAuditRole)
	cmd.Flags().IntVar(&in.Concurrency, "concurrency", 8, "with --org: accounts exported at once")
	return cmd
}

func runExport(ctx context.Context, g *globals, in *ExportInput) error {
	if _, err := g.format("export"); err != nil {
		return err
	}
	if err := in.Org.check(defaultAuditRole); err != nil {
		return err
	}
	if in.Org.on {
		return exportOrganization(ctx, g, in)
	}
	w, err := newWarden(ctx, g, nil, nil)
	if err != nil {
		return err
	}
	raw, err := w.Export(ctx, in.Dir)
	if err != nil {
		return domainFailure(err)
	}
	fmt.Fprintf(g.stdout, "exported account %s to %s\n", raw.AccountID, report.SafeText(in.Dir))
	for _, p := range raw.Problems {
		fmt.Fprintf(g.stderr, "warning: %s: %s\n", report.SafeText(p.Where), report.SafeText(problemText(p)))
	}
	if len(raw.Problems) > 0 {
		return exitError{code: 3}
	}
	return nil
}

// exportOrganization exports every selected account to its own directory under in.Dir.
func exportOrganization(ctx context.Context, g *globals, in *ExportInput) error {
	o, accounts, err := in.Org.organization(ctx, g, nil, nil, "iamwarden-export")
	if err != nil {
		return err
	}
	partial := 0
	progress := org.NewProgressWriter(g.stderr, stderrIsTerminal(g), g.now)
	failures := o.Export(ctx, accounts, in.Dir, in.Concurrency, func(a org.Account, dir string, raw inventory.Raw) {
		fmt.Fprintf(g.stdout, "exported account %s to %s\n", a.ID, report.SafeText(dir))
		for _, p := range raw.Problems {
			fmt.Fprintf(g.stderr, "warning: account %s: %s: %s\n", a.ID, report.SafeText(p.Where), report.SafeText(problemText(p)))
		}
		if len(raw.Problems) > 0 {
			partial++
		}
	}, progress.Update)
	progress.Finish()
	for _, f := range failures {
		fmt.Fprintf(g.stderr, "failed: account %s: %s\n", f.Account.ID, report.SafeText(f.Err.Error()))
	}
	fmt.Fprintf(g.stdout, "%d accounts: %d exported, %d partial, %d failed\n", len(accounts), len(accounts)-len(failures), partial, len(failures))
	if partial+len(failures) > 0 {
		return exitError{code: report.ExitPartial}
	}
	return nil
}

// problemText is a problem's message, with the user it concerns when there is one.
func problemText(p inventory.Problem) string {
	if p.Principal != "" && !strings.Contains(p.Message, p.Principal) {
		return p.Principal + ": " + p.Message
	}
	return p.Message
}
