package remediate

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

// IAMAPI is the part of the IAM client enforcement and policy apply need: reads to re-check a
// user, writes to act and undo.
type IAMAPI interface {
	GetUser(ctx context.Context, in *iam.GetUserInput, optFns ...func(*iam.Options)) (*iam.GetUserOutput, error)
	GetLoginProfile(ctx context.Context, in *iam.GetLoginProfileInput, optFns ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error)
	ListMFADevices(ctx context.Context, in *iam.ListMFADevicesInput, optFns ...func(*iam.Options)) (*iam.ListMFADevicesOutput, error)
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
	DeleteLoginProfile(ctx context.Context, in *iam.DeleteLoginProfileInput, optFns ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error)
	UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	CreateLoginProfile(ctx context.Context, in *iam.CreateLoginProfileInput, optFns ...func(*iam.Options)) (*iam.CreateLoginProfileOutput, error)
	GetAccountPasswordPolicy(ctx context.Context, in *iam.GetAccountPasswordPolicyInput, optFns ...func(*iam.Options)) (*iam.GetAccountPasswordPolicyOutput, error)

	// Policy apply: the group, its members and the policy's default version.
	GetGroup(ctx context.Context, in *iam.GetGroupInput, optFns ...func(*iam.Options)) (*iam.GetGroupOutput, error)
	CreateGroup(ctx context.Context, in *iam.CreateGroupInput, optFns ...func(*iam.Options)) (*iam.CreateGroupOutput, error)
	AttachGroupPolicy(ctx context.Context, in *iam.AttachGroupPolicyInput, optFns ...func(*iam.Options)) (*iam.AttachGroupPolicyOutput, error)
	AddUserToGroup(ctx context.Context, in *iam.AddUserToGroupInput, optFns ...func(*iam.Options)) (*iam.AddUserToGroupOutput, error)
	RemoveUserFromGroup(ctx context.Context, in *iam.RemoveUserFromGroupInput, optFns ...func(*iam.Options)) (*iam.RemoveUserFromGroupOutput, error)
	GetPolicy(ctx context.Context, in *iam.GetPolicyInput, optFns ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	CreatePolicy(ctx context.Context, in *iam.CreatePolicyInput, optFns ...func(*iam.Options)) (*iam.CreatePolicyOutput, error)
	CreatePolicyVersion(ctx context.Context, in *iam.CreatePolicyVersionInput, optFns ...func(*iam.Options)) (*iam.CreatePolicyVersionOutput, error)
	SetDefaultPolicyVersion(ctx context.Context, in *iam.SetDefaultPolicyVersionInput, optFns ...func(*iam.Options)) (*iam.SetDefaultPolicyVersionOutput, error)
	DeletePolicyVersion(ctx context.Context, in *iam.DeletePolicyVersionInput, optFns ...func(*iam.Options)) (*iam.DeletePolicyVersionOutput, error)
}

// ErrUserGone is returned (wrapped) when the user no longer exists.
var ErrUserGone = errors.New("user no longer exists")

func isNoSuchEntity(err error) bool {
	var nse *types.NoSuchEntityException
	return errors.As(err, &nse)
}

// ReadUser reads one user's current state from IAM: what the rules need, exactly, without the
// credential report (which can be four hours old). Never-used credentials have a zero last use.
func ReadUser(ctx context.Context, api IAMAPI, name string) (*inventory.User, error) {
	gu, err := api.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
	if err != nil {
		if isNoSuchEntity(err) {
			return nil, fmt.Errorf("iam:GetUser %s: %w", name, ErrUserGone)
		}
		return nil, fmt.Errorf("iam:GetUser %s: %w", name, err)
	}
	u := &inventory.User{
		Name:    name,
		ARN:     aws.ToString(gu.User.Arn),
		ID:      aws.ToString(gu.User.UserId),
		Path:    aws.ToString(gu.User.Path),
		Created: aws.ToTime(gu.User.CreateDate).UTC(),
		Tags:    map[string]string{},
	}
	for _, t := range gu.User.Tags {
		u.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	lp, err := api.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(name)})
	switch {
	case err == nil:
		u.Password.Enabled = true
		u.Password.ProfileCreated = aws.ToTime(lp.LoginProfile.CreateDate).UTC()
		u.Password.LastChanged = u.Password.ProfileCreated
		if gu.User.PasswordLastUsed != nil {
			u.Password.LastUsed = gu.User.PasswordLastUsed.UTC()
		}
	case isNoSuchEntity(err):
	default:
		return nil, fmt.Errorf("iam:GetLoginProfile %s: %w", name, err)
	}
	mfaPages := iam.NewListMFADevicesPaginator(api, &iam.ListMFADevicesInput{UserName: aws.String(name)})
	for mfaPages.HasMorePages() {
		page, err := mfaPages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("iam:ListMFADevices %s: %w", name, err)
		}
		for _, d := range page.MFADevices {
			u.MFA.Active = true
			u.MFA.Devices = append(u.MFA.Devices, inventory.MFADevice{Serial: aws.ToString(d.SerialNumber), EnabledAt: aws.ToTime(d.EnableDate).UTC()})
		}
	}
	keys, err := api.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("iam:ListAccessKeys %s: %w", name, err)
	}
	for i, k := range keys.AccessKeyMetadata {
		key := inventory.AccessKey{Slot: i + 1, ID: aws.ToString(k.AccessKeyId), Active: k.Status == types.StatusTypeActive, Created: aws.ToTime(k.CreateDate).UTC()}
		lu, err := api.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
		if err != nil {
			return nil, fmt.Errorf("iam:GetAccessKeyLastUsed %s: %w", maskKey(key.ID), err)
		}
		if l := lu.AccessKeyLastUsed; l != nil && l.LastUsedDate != nil {
			key.LastUsed = l.LastUsedDate.UTC()
			key.LastUsedService = aws.ToString(l.ServiceName)
			key.LastUsedRegion = aws.ToString(l.Region)
		}
		u.AccessKeys = append(u.AccessKeys, key)
	}
	return u, nil
}
