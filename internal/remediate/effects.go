package remediate

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// effect is what iamwarden knows about one kind of change: how to see in live state whether it
// holds, and, for kinds that can be undone, how to reverse it. Reconcile and undo both read
// live state through it, so they agree on what "applied" means.
type effect struct {
	// holds reports whether the change of an entry of this kind is visible in live state, with
	// words for what was seen. gone is true when the target (key, user) no longer exists.
	holds func(ctx context.Context, e *Executor, en journal.Entry) (ok, gone bool, seen string, err error)
	// reverse makes the change an undo of en makes, and returns its detail and a one-time secret
	// for the operator (a new console password), if any.
	reverse func(ctx context.Context, e *Executor, en journal.Entry) (detail, secret string, err error)
}

// effects lists every kind of change, explicitly. Notifications are not changes.
func effects() map[journal.Kind]effect {
	return map[journal.Kind]effect{
		journal.KindDisableConsole: {holds: consoleHolds(false), reverse: restoreConsole},
		journal.KindRestoreConsole: {holds: consoleHolds(true)},
		journal.KindDeactivateKey:  {holds: keyHolds(types.StatusTypeInactive), reverse: reactivateKey},
		journal.KindReactivateKey:  {holds: keyHolds(types.StatusTypeActive)},

		journal.KindAddToGroup:           {holds: memberHolds(true), reverse: removeFromGroup},
		journal.KindRemoveFromGroup:      {holds: memberHolds(false)},
		journal.KindSetPolicyVersion:     {holds: policyVersionHolds, reverse: restorePolicyVersion},
		journal.KindRestorePolicyVersion: {holds: policyVersionRestored},
	}
}

// consoleHolds sees whether the user has a login profile (present true) or not.
func consoleHolds(present bool) func(context.Context, *Executor, journal.Entry) (bool, bool, string, error) {
	return func(ctx context.Context, e *Executor, en journal.Entry) (bool, bool, string, error) {
		_, err := e.IAM.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(en.Principal)})
		if err != nil && !isNoSuchEntity(err) {
			return false, false, "", fmt.Errorf("iam:GetLoginProfile %s: %w", en.Principal, err)
		}
		has := err == nil
		seen := "login profile absent"
		if has {
			seen = "login profile present"
		}
		return has == present, false, seen, nil
	}
}

// keyHolds sees whether the entry's access key has the status.
func keyHolds(want types.StatusType) func(context.Context, *Executor, journal.Entry) (bool, bool, string, error) {
	return func(ctx context.Context, e *Executor, en journal.Entry) (bool, bool, string, error) {
		keys, err := e.IAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(en.Principal)})
		if isNoSuchEntity(err) {
			return false, true, "the user no longer exists", nil
		}
		if err != nil {
			return false, false, "", fmt.Errorf("iam:ListAccessKeys %s: %w", en.Principal, err)
		}
		for _, k := range keys.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == en.Resource {
				return k.Status == want, false, fmt.Sprintf("access key %s %s", maskKey(en.Resource), k.Status), nil
			}
		}
		return false, true, "access key " + maskKey(en.Resource) + " no longer exists", nil
	}
}

// restoreConsole creates a login profile with a fresh one-time password that must be changed
// at the next sign-in: AWS cannot give the old password back.
func restoreConsole(ctx context.Context, e *Executor, en journal.Entry) (string, string, error) {
	pw, err := e.newPassword(ctx)
	if err != nil {
		return "", "", err
	}
	_, err = e.IAM.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(en.Principal),
		Password: aws.String(pw), PasswordResetRequired: true})
	if err != nil {
		return "", "", fmt.Errorf("iam:CreateLoginProfile %s: %w", en.Principal, err)
	}
	return "console access restored with a one-time password (change required at sign-in)", pw, nil
}

func reactivateKey(ctx context.Context, e *Executor, en journal.Entry) (string, string, error) {
	_, err := e.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(en.Principal),
		AccessKeyId: aws.String(en.Resource), Status: types.StatusTypeActive})
	if err != nil {
		return "", "", fmt.Errorf("iam:UpdateAccessKey %s: %w", maskKey(en.Resource), err)
	}
	return "access key " + maskKey(en.Resource) + " reactivated", "", nil
}

// isAlreadyExists reports an EntityAlreadyExists answer (e.g. a login profile recreated by an
// administrator, or by our own retried call whose first answer was lost).
func isAlreadyExists(err error) bool {
	var ae *types.EntityAlreadyExistsException
	return errors.As(err, &ae)
}
