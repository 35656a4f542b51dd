package warden

import (
	"context"
	"time"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// graceGrants reads the grace periods granted to the account's users after they removed their
// last MFA device (rules.console-mfa-missing.mfa_removed_grace). Without a journal none can be
// read: the warning says so, since such users are then judged without their grace.
func (w *Warden) graceGrants(ctx context.Context, accountID string) (map[string]rules.GraceGrant, *inventory.Problem, error) {
	grace := w.Settings.Thresholds.MFARemovedGrace
	if grace <= 0 || !w.Settings.ruleOn("console-mfa-missing") {
		return nil, nil, nil
	}
	if w.Journal == nil {
		return nil, &inventory.Problem{Where: "journal", Message: "rules.console-mfa-missing.mfa_removed_grace is set but no journal was read: " +
			"users who removed their last MFA device are judged without the grace period granted to them"}, nil
	}
	g, err := remediate.GraceGrants(ctx, w.Journal, accountID, grace, w.now())
	return g, nil, err
}

// GrantMFARemovedGrace records that the user removed their last MFA device at removedAt, giving
// them the configured time to register another (nothing when none is configured). It reports
// whether a grace period applies.
func (w *Warden) GrantMFARemovedGrace(ctx context.Context, userName, userID string, removedAt time.Time) (bool, error) {
	grace := w.Settings.Thresholds.MFARemovedGrace
	if grace <= 0 || w.Journal == nil || removedAt.Add(grace).Before(w.now()) {
		return false, nil
	}
	caller, err := w.Caller(ctx)
	if err != nil {
		return false, err
	}
	_, err = remediate.GrantGrace(ctx, w.Journal, journal.NewIDGenerator(w.clock(), nil), awsapi.ARNAccount(caller), userName, userID, caller,
		removedAt, grace, w.now())
	return err == nil, err
}
