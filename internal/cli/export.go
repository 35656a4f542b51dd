package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/report"
)

// ExportInput is what the export command was asked to do.
type ExportInput struct {
	Dir   string
	Stats bool
}

func newExportCmd(g *globals) *cobra.Command {
	in := &ExportInput{}
	return &cobra.Command{
		Use:   "export DIR",
		Short: "Save the account's IAM data to DIR for offline scans (scan --from DIR)",
		Long: `Read the same data a live scan reads and write it to DIR in the formats the AWS CLI prints,
with a manifest recording the account and the read time. 'iamwarden scan --from DIR' then judges
it exactly as the live scan would have at that time.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Dir = args[0]
			return runExport(cmd.Context(), g, in)
		},
	}
}

func runExport(ctx context.Context, g *globals, in *ExportInput) error {
	if _, err := g.format("export"); err != nil {
		return err
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

// problemText is a problem's message, with the user it concerns when there is one.
func problemText(p inventory.Problem) string {
	if p.Principal != "" && !strings.Contains(p.Message, p.Principal) {
		return p.Principal + ": " + p.Message
	}
	return p.Message
}
