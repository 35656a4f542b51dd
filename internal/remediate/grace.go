package remediate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// Grace grants are kept in the journal: a console user who removes their last MFA device gets
// Thresholds.MFARemovedGrace to register another, counted from the removal, instead of losing
// console access at once. The grant is a fact the door that saw the removal records; every
// judgment of the account (audit, one-user judgment, the executor's re-check) reads it back.

// Prior keys of a KindGraceGranted entry.
const (
	graceRemovedAt = "removed_at"
	graceUntil     = "until"
)

// GrantGrace records that the user removed their last MFA device at removedAt and has until
// removedAt+grace to register another. The same removal recorded twice (a duplicate event) is
// one grant. It returns the grant.
func GrantGrace(ctx context.Context, j journal.Journal, ids *journal.IDGenerator, accountID, userName, userID, actor string,
	removedAt time.Time, grace time.Duration, now time.Time) (rules.GraceGrant, error) {
	removedAt = removedAt.UTC().Truncate(time.Second)
	g := rules.GraceGrant{RemovedAt: removedAt, Until: removedAt.Add(grace)}
	id, err := ids.New()
	if err != nil {
		return g, err
	}
	e := journal.Entry{ActionID: id, AccountID: accountID, Kind: journal.KindGraceGranted, Principal: userName, UserID: userID,
		Rule: "console-mfa-missing", Reason: fmt.Sprintf("the last MFA device was removed at %s: %s to register another", removedAt.Format(time.RFC3339), grace),
		Prior:     map[string]string{graceRemovedAt: removedAt.Format(time.RFC3339), graceUntil: g.Until.Format(time.RFC3339)},
		DedupeKey: fmt.Sprintf("grace/%s/%s/%s", accountID, userID, removedAt.Format(time.RFC3339)), Actor: actor, CreatedAt: now}
	switch err := j.Begin(ctx, e); {
	case errors.Is(err, journal.ErrExists):
		return g, nil // this removal was granted already
	case err != nil:
		return g, fmt.Errorf("journal: %w", err)
	}
	if err := j.Finish(ctx, id, journal.StatusDone, "granted until "+g.Until.Format(time.RFC3339), now); err != nil {
		return g, fmt.Errorf("journal: %w", err)
	}
	return g, nil
}

// GraceGrants reads the grants of the account that can still matter at now (those recorded in
// the last grace period), by user ID: the latest removal of each user. None when grace is 0.
func GraceGrants(ctx context.Context, j journal.Journal, accountID string, grace time.Duration, now time.Time) (map[string]rules.GraceGrant, error) {
	if grace <= 0 || j == nil {
		return nil, nil
	}
	es, err := j.List(ctx, journal.Filter{AccountID: accountID, Kinds: []journal.Kind{journal.KindGraceGranted},
		Statuses: []journal.Status{journal.StatusDone}, Since: now.Add(-grace - time.Hour)})
	if err != nil {
		return nil, fmt.Errorf("journal: grace periods granted after MFA removal: %w", err)
	}
	out := map[string]rules.GraceGrant{}
	for _, e := range es {
		removed, err1 := time.Parse(time.RFC3339, e.Prior[graceRemovedAt])
		until, err2 := time.Parse(time.RFC3339, e.Prior[graceUntil])
		if err1 != nil || err2 != nil || e.UserID == "" {
			continue // not written by GrantGrace: no grant
		}
		if cur, ok := out[e.UserID]; !ok || removed.After(cur.RemovedAt) {
			out[e.UserID] = rules.GraceGrant{RemovedAt: removed, Until: until}
		}
	}
	return out, nil
}
