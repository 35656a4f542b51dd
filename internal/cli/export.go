package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
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
	a, err := connect(ctx, g)
	if err != nil {
		return err
	}
	loader := a.loader(g)
	raw, err := loader.Load(ctx)
	if err != nil {
		return awsFailure(err)
	}
	if err := readPerUser(ctx, loader, &raw); err != nil {
		return err
	}
	if raw.SCPs, err = inventory.ReadSCPs(ctx, a.org, raw.AccountID); err != nil {
		return err
	}
	if err := inventory.WriteExport(in.Dir, raw); err != nil {
		return fmt.Errorf("export: %w", err)
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

// readPerUser adds what the credential report lacks to raw, so that an offline scan judges
// as a live one: the IDs of every access key (one ListAccessKeys call per user with keys) and
// the login profile creation of console users without MFA (one GetLoginProfile call each; the
// report only says when the password last changed), and the last use of keys only it tells
// apart (two keys of a user created in the same second with the same status), which a live scan
// reads for them.
func readPerUser(ctx context.Context, loader *inventory.Loader, raw *inventory.Raw) error {
	_, users, _, err := inventory.ParseCredentialReport(raw.CredentialReport, raw.ReportName)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, u := range users {
		if u.Password.Enabled && !u.MFA.Active {
			created, ok, err := loader.LoginProfileCreated(ctx, u.Name)
			switch {
			case err != nil:
				raw.Problems = append(raw.Problems, inventory.Problem{Where: "iam:GetLoginProfile", Principal: u.Name, Message: err.Error()})
			case ok:
				raw.LoginProfiles = append(raw.LoginProfiles, inventory.LoginProfileRecord{UserName: u.Name, CreateDate: created.UTC()})
			}
		}
		if len(u.AccessKeys) == 0 {
			continue
		}
		metas, err := loader.AccessKeys(ctx, u.Name)
		if err != nil {
			raw.Problems = append(raw.Problems, inventory.Problem{Where: "iam:ListAccessKeys", Principal: u.Name, Message: err.Error()})
			continue
		}
		if err := readLastUses(ctx, loader, u, metas, raw); err != nil {
			return err
		}
		for _, m := range metas {
			status := "Inactive"
			if m.Active {
				status = "Active"
			}
			raw.AccessKeys = append(raw.AccessKeys, inventory.AccessKeyRecord{UserName: u.Name, AccessKeyId: m.ID, Status: status, CreateDate: m.Created.UTC()})
		}
	}
	return nil
}

// readLastUses records the last use of the keys of u that only it tells apart (two keys created in
// the same second with the same status), as a live scan reads it for them.
func readLastUses(ctx context.Context, loader *inventory.Loader, u inventory.User, metas []inventory.AccessKeyMeta, raw *inventory.Raw) error {
	keys := slices.Clone(u.AccessKeys)
	inventory.NameAccessKeys(keys, metas)
	for _, id := range inventory.LastUseWanted(keys, metas) {
		lu, err := loader.AccessKeyLastUsed(ctx, id)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			raw.Problems = append(raw.Problems, inventory.Problem{Where: "iam:GetAccessKeyLastUsed", Principal: u.Name,
				Message: fmt.Sprintf("access key %s: %v", rules.MaskKeyID(id), err)})
			continue
		}
		rec := inventory.KeyLastUseRecord{ServiceName: lu.Service, Region: lu.Region}
		if !lu.Used.IsZero() {
			t := lu.Used.UTC()
			rec.LastUsedDate = &t
		}
		if raw.KeyLastUses == nil {
			raw.KeyLastUses = map[string]inventory.KeyLastUseRecord{}
		}
		raw.KeyLastUses[id] = rec
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
