package remediate

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// Prior state of a KindSetPolicyVersion entry.
const (
	// PriorDefaultVersion is the default version the change replaced: what undo restores.
	PriorDefaultVersion = "default_version"
	// PriorNewVersion is the version the change made the default; iamwarden created it, and undo
	// deletes it once the previous default is restored.
	PriorNewVersion = "new_version"
)

// memberHolds sees whether the entry's user is in the entry's group (in true) or not.
func memberHolds(in bool) func(context.Context, *Executor, journal.Entry) (bool, bool, string, error) {
	return func(ctx context.Context, e *Executor, en journal.Entry) (bool, bool, string, error) {
		member, err := isMember(ctx, e.IAM, en.Resource, en.Principal, en.UserID)
		if isNoSuchEntity(err) {
			return false, true, "group " + en.Resource + " no longer exists", nil
		}
		if err != nil {
			return false, false, "", err
		}
		seen := "user " + en.Principal + " not in group " + en.Resource
		if member {
			seen = "user " + en.Principal + " in group " + en.Resource
		}
		return member == in, false, seen, nil
	}
}

// isMember reads the group's members; userID, when set, must match too.
func isMember(ctx context.Context, api IAMAPI, group, user, userID string) (bool, error) {
	pages := iam.NewGetGroupPaginator(api, &iam.GetGroupInput{GroupName: aws.String(group)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return false, fmt.Errorf("iam:GetGroup %s: %w", group, err)
		}
		for _, u := range out.Users {
			if aws.ToString(u.UserName) == user && (userID == "" || aws.ToString(u.UserId) == userID) {
				return true, nil
			}
		}
	}
	return false, nil
}

func removeFromGroup(ctx context.Context, e *Executor, en journal.Entry) (string, string, error) {
	_, err := e.IAM.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String(en.Resource), UserName: aws.String(en.Principal)})
	if err != nil {
		return "", "", fmt.Errorf("iam:RemoveUserFromGroup %s %s: %w", en.Resource, en.Principal, err)
	}
	return "user " + en.Principal + " removed from group " + en.Resource, "", nil
}

// defaultVersion reads the policy's default version ID.
func defaultVersion(ctx context.Context, api IAMAPI, arn string) (string, error) {
	out, err := api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("iam:GetPolicy %s: %w", arn, err)
	}
	return aws.ToString(out.Policy.DefaultVersionId), nil
}

// versionHolds sees whether the policy's default version is want.
func versionHolds(ctx context.Context, e *Executor, arn, want string) (bool, bool, string, error) {
	got, err := defaultVersion(ctx, e.IAM, arn)
	if isNoSuchEntity(err) {
		return false, true, "policy " + arn + " no longer exists", nil
	}
	if err != nil {
		return false, false, "", err
	}
	return got == want, false, "default version " + got, nil
}

// policyVersionHolds sees whether the version the entry set is the default.
func policyVersionHolds(ctx context.Context, e *Executor, en journal.Entry) (bool, bool, string, error) {
	return versionHolds(ctx, e, en.Resource, en.Prior[PriorNewVersion])
}

// policyVersionRestored sees whether the default version is the one the undone entry replaced.
func policyVersionRestored(ctx context.Context, e *Executor, en journal.Entry) (bool, bool, string, error) {
	want := en.Prior[PriorDefaultVersion]
	if want == "" && en.UndoOf != "" {
		of, err := e.Journal.Get(ctx, en.UndoOf)
		if err != nil {
			return false, false, "", fmt.Errorf("journal: %w", err)
		}
		want = of.Prior[PriorDefaultVersion]
	}
	if want == "" {
		return false, false, "", fmt.Errorf("%s %s: the version to restore is not known", en.Kind, en.ActionID)
	}
	return versionHolds(ctx, e, en.Resource, want)
}

// restorePolicyVersion makes the replaced version the default again, unless the default was
// changed since by someone else, and deletes the version iamwarden created.
func restorePolicyVersion(ctx context.Context, e *Executor, en journal.Entry) (string, string, error) {
	prev, set := en.Prior[PriorDefaultVersion], en.Prior[PriorNewVersion]
	if prev == "" || set == "" {
		return "", "", fmt.Errorf("%s %s: prior state names no versions", en.Kind, en.ActionID)
	}
	got, err := defaultVersion(ctx, e.IAM, en.Resource)
	if err != nil {
		return "", "", err
	}
	if got != set {
		return "", "", fmt.Errorf("the default version of %s is %s, not %s as this action left it: it was changed since; nothing was changed", en.Resource, got, set)
	}
	if _, err := e.IAM.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(en.Resource), VersionId: aws.String(prev)}); err != nil {
		return "", "", fmt.Errorf("iam:SetDefaultPolicyVersion %s %s: %w", en.Resource, prev, err)
	}
	detail := "default version " + prev + " restored"
	if _, err := e.IAM.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(en.Resource), VersionId: aws.String(set)}); err != nil {
		detail += fmt.Sprintf("; version %s kept (iam:DeletePolicyVersion: %v)", set, err)
	} else {
		detail += "; version " + set + " deleted"
	}
	return detail, "", nil
}
