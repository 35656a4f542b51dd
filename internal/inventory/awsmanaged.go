package inventory

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// IsAWSManaged reports whether arn names an AWS managed policy (arn:<partition>:iam::aws:policy/...).
func IsAWSManaged(arn string) bool {
	parts := strings.SplitN(arn, ":", 6)
	return len(parts) == 6 && parts[2] == "iam" && parts[4] == "aws" && strings.HasPrefix(parts[5], "policy/")
}

// attachedAWSManaged lists the AWS managed policies attached to users and groups or used as
// permissions boundaries whose documents the authorization details do not carry.
func attachedAWSManaged(ad *AuthorizationDetails) []string {
	have := map[string]bool{}
	for _, p := range ad.Policies {
		have[p.Arn] = true
	}
	want := map[string]bool{}
	add := func(arn string) {
		if IsAWSManaged(arn) && !have[arn] {
			want[arn] = true
		}
	}
	for _, u := range ad.UserDetailList {
		for _, a := range u.AttachedManagedPolicies {
			add(a.PolicyArn)
		}
		if u.PermissionsBoundary != nil {
			add(u.PermissionsBoundary.PermissionsBoundaryArn)
		}
	}
	for _, g := range ad.GroupDetailList {
		for _, a := range g.AttachedManagedPolicies {
			add(a.PolicyArn)
		}
	}
	arns := make([]string, 0, len(want))
	for a := range want {
		arns = append(arns, a)
	}
	sort.Strings(arns)
	return arns
}

// awsManagedPolicies reads the default version of every AWS managed policy in use, two calls per
// distinct policy (whatever the number of users), and adds them to the authorization details as
// GetAccountAuthorizationDetails would with the AWSManagedPolicy filter. Policies that cannot be
// read are problems: the users holding them cannot have their permissions evaluated.
func (l *Loader) awsManagedPolicies(ctx context.Context, raw *Raw) error {
	for _, arn := range attachedAWSManaged(raw.Authorization) {
		d, err := l.awsManagedPolicy(ctx, arn)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			raw.Problems = append(raw.Problems, Problem{Where: "iam:GetPolicyVersion", Message: fmt.Sprintf("AWS managed policy %s not read: %v", arn, err)})
			continue
		}
		raw.Authorization.Policies = append(raw.Authorization.Policies, d)
	}
	return nil
}

func (l *Loader) awsManagedPolicy(ctx context.Context, arn string) (ManagedDetail, error) {
	gp, err := l.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return ManagedDetail{}, callError("iam:GetPolicy", err)
	}
	p := gp.Policy
	gv, err := l.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: p.DefaultVersionId})
	if err != nil {
		return ManagedDetail{}, callError("iam:GetPolicyVersion", err)
	}
	v := gv.PolicyVersion
	doc, probs := document(v.Document, "policy "+arn, "")
	if len(probs) > 0 {
		return ManagedDetail{}, fmt.Errorf("%s", probs[0].Message)
	}
	return ManagedDetail{
		PolicyName: aws.ToString(p.PolicyName), PolicyId: aws.ToString(p.PolicyId), Arn: arn, Path: aws.ToString(p.Path),
		DefaultVersionId: aws.ToString(p.DefaultVersionId), AttachmentCount: aws.ToInt32(p.AttachmentCount), IsAttachable: p.IsAttachable,
		CreateDate: aws.ToTime(p.CreateDate).UTC(), UpdateDate: aws.ToTime(p.UpdateDate).UTC(),
		PolicyVersionList: []PolicyVersion{{Document: doc, VersionId: aws.ToString(v.VersionId), IsDefaultVersion: true, CreateDate: aws.ToTime(v.CreateDate).UTC()}},
	}, nil
}
