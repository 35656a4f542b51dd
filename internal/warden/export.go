package warden

import (
	"context"
	"fmt"
	"slices"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// Export reads the account live, with the per-user answers an offline scan needs to judge as a
// live one, and writes it to dir in the format ReadExport reads. Problems reading part of the
// account are in the returned Raw, and the export is written anyway, marked with them.
func (w *Warden) Export(ctx context.Context, dir string) (inventory.Raw, error) {
	loader := w.loader()
	raw, err := loader.Load(ctx)
	if err != nil {
		return raw, err
	}
	if err := readPerUser(ctx, loader, &raw); err != nil {
		return raw, err
	}
	if w.Clients.Org != nil {
		if raw.SCPs, err = inventory.ReadSCPs(ctx, w.Clients.Org, raw.AccountID); err != nil {
			return raw, err
		}
	}
	if err := inventory.WriteExport(dir, raw); err != nil {
		return raw, fmt.Errorf("export: %w", err)
	}
	return raw, nil
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
