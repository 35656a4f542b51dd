package warden

import (
	"context"
	"time"

	sdk "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/securityhub"
)

// ASFF are an audit's findings in the AWS Security Finding Format, for region.
func ASFF(res *report.Result, snap *inventory.Snapshot, region string) []types.AwsSecurityFinding {
	var principals []*inventory.User
	if snap != nil {
		principals = snap.Principals()
	}
	return securityhub.Findings(res, securityhub.Options{Region: region, Principals: principals})
}

// ImportToSecurityHub imports an audit's findings into the account's own Security Hub and
// archives, as passed, those of the previous import that are no longer reported or are now
// exempt (store keeps what was imported). Security Hub takes a product's findings only from their own account: the
// clients must be the account's.
func (w *Warden) ImportToSecurityHub(ctx context.Context, res *report.Result, snap *inventory.Snapshot, store securityhub.StateStore) (securityhub.SyncReport, error) {
	// An exempted finding leaves Security Hub like a fixed one: archived as passed. ASFF output
	// still carries it, with its state.
	var fs []types.AwsSecurityFinding
	for _, f := range ASFF(res, snap, w.Clients.Config.Region) {
		if f.ProductFields[securityhub.FieldState] != string(rules.StateExempt) {
			fs = append(fs, f)
		}
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	return securityhub.Sync(ctx, sdk.NewFromConfig(w.Clients.Config), store, res.AccountID, w.Clients.Config.Region, fs, now())
}

// ImportSummary counts what an import did, for a run's result.
func ImportSummary(r securityhub.SyncReport) *report.SecurityHubImport {
	return &report.SecurityHubImport{Imported: r.Imported, Created: r.Created, Updated: r.Updated, Resolved: r.Resolved, Failed: len(r.Failed)}
}
