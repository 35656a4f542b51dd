package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/inventory"
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
	a, err := connect(ctx, g)
	if err != nil {
		return err
	}
	raw, err := a.loader(g).Load(ctx)
	if err != nil {
		return awsFailure(err)
	}
	if err := inventory.WriteExport(in.Dir, raw); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(g.stdout, "exported account %s to %s\n", raw.AccountID, in.Dir)
	for _, p := range raw.Problems {
		fmt.Fprintf(g.stderr, "warning: %s: %s\n", p.Where, p.Message)
	}
	if len(raw.Problems) > 0 {
		return exitError{code: 3}
	}
	return nil
}
