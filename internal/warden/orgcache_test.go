package warden

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
)

type countingOrg struct{ calls map[string]int }

func (c *countingOrg) DescribeOrganization(context.Context, *organizations.DescribeOrganizationInput, ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error) {
	c.calls["DescribeOrganization"]++
	return &organizations.DescribeOrganizationOutput{}, nil
}

func (c *countingOrg) ListParents(context.Context, *organizations.ListParentsInput, ...func(*organizations.Options)) (*organizations.ListParentsOutput, error) {
	c.calls["ListParents"]++
	return &organizations.ListParentsOutput{}, nil
}

func (c *countingOrg) ListPoliciesForTarget(_ context.Context, in *organizations.ListPoliciesForTargetInput, _ ...func(*organizations.Options)) (*organizations.ListPoliciesForTargetOutput, error) {
	c.calls["ListPoliciesForTarget "+aws.ToString(in.TargetId)]++
	return &organizations.ListPoliciesForTargetOutput{}, nil
}

func (c *countingOrg) DescribePolicy(_ context.Context, in *organizations.DescribePolicyInput, _ ...func(*organizations.Options)) (*organizations.DescribePolicyOutput, error) {
	c.calls["DescribePolicy "+aws.ToString(in.PolicyId)]++
	return &organizations.DescribePolicyOutput{}, nil
}

// Accounts share what is the same for all of them; each account's own place is asked each time.
func TestOrgReadsAskSharedAnswersOnce(t *testing.T) {
	api := &countingOrg{calls: map[string]int{}}
	c := newOrgReads(api)
	ctx := context.Background()
	for range 3 {
		c.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
		c.ListParents(ctx, &organizations.ListParentsInput{ChildId: aws.String("111111111111")})
		c.ListPoliciesForTarget(ctx, &organizations.ListPoliciesForTargetInput{TargetId: aws.String("r-root")})
		c.ListPoliciesForTarget(ctx, &organizations.ListPoliciesForTargetInput{TargetId: aws.String("ou-a")})
		c.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String("p-1")})
	}
	want := map[string]int{"DescribeOrganization": 1, "ListParents": 3, "ListPoliciesForTarget r-root": 1, "ListPoliciesForTarget ou-a": 1, "DescribePolicy p-1": 1}
	for k, n := range want {
		if api.calls[k] != n {
			t.Errorf("%s: %d calls, want %d", k, api.calls[k], n)
		}
	}
}
