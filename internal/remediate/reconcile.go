package remediate

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// Reconcile settles the intents an interrupted run left open in the account: it looks at live
// state and records whether each change was in fact made. Notification intents are closed as
// failed (delivery cannot be checked).
func (e *Executor) Reconcile(ctx context.Context, accountID string) ([]journal.Entry, error) {
	open, err := e.Journal.Open(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("journal: open intents: %w", err)
	}
	var settled []journal.Entry
	for _, en := range open {
		applied, detail, err := e.applied(ctx, en)
		if err != nil {
			return settled, fmt.Errorf("reconcile %s: %w", en.ActionID, err)
		}
		status := journal.StatusReconciledNotDone
		if applied {
			status = journal.StatusReconciledDone
		}
		if err := e.Journal.Finish(ctx, en.ActionID, status, detail, e.Now()); err != nil {
			return settled, fmt.Errorf("reconcile %s: %w", en.ActionID, err)
		}
		en.Status, en.Detail = status, detail
		e.log().Warn("reconciled an interrupted action", "action_id", en.ActionID, "user", en.Principal, "status", string(status))
		settled = append(settled, en)
	}
	return settled, nil
}

// applied reports whether the change of an open intent is visible in live state.
func (e *Executor) applied(ctx context.Context, en journal.Entry) (bool, string, error) {
	switch en.Kind {
	case journal.KindDisableConsole, journal.KindRestoreConsole:
		_, err := e.IAM.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(en.Principal)})
		present := err == nil
		if err != nil && !isNoSuchEntity(err) {
			return false, "", err
		}
		if en.Kind == journal.KindDisableConsole {
			return !present, map[bool]string{true: "login profile found absent after an interrupted run", false: "login profile still present after an interrupted run"}[!present], nil
		}
		return present, map[bool]string{true: "login profile found present after an interrupted run", false: "login profile still absent after an interrupted run"}[present], nil
	case journal.KindDeactivateKey, journal.KindReactivateKey:
		keys, err := e.IAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(en.Principal)})
		if err != nil && !isNoSuchEntity(err) {
			return false, "", err
		}
		want := types.StatusTypeInactive
		if en.Kind == journal.KindReactivateKey {
			want = types.StatusTypeActive
		}
		if keys != nil {
			for _, k := range keys.AccessKeyMetadata {
				if aws.ToString(k.AccessKeyId) == en.Resource {
					ok := k.Status == want
					return ok, fmt.Sprintf("access key %s found %s after an interrupted run", maskKey(en.Resource), k.Status), nil
				}
			}
		}
		return false, "access key " + maskKey(en.Resource) + " no longer exists", nil
	default:
		return false, "notification delivery unknown after an interrupted run", nil
	}
}
