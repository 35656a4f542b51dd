package warden

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

// orgReads shares, across an organization run's accounts, the Organizations answers that are
// the same for every account: the organization itself, the policies attached to a root or an
// OU, and the policies' documents. Only each account's place in the tree (ListParents) is asked
// per account. Errors are not kept: the next account asks again.
type orgReads struct {
	api inventory.OrganizationsAPI

	mu       sync.Mutex
	org      *organizations.DescribeOrganizationOutput
	targets  map[string]*organizations.ListPoliciesForTargetOutput
	policies map[string]*organizations.DescribePolicyOutput
}

var _ inventory.OrganizationsAPI = (*orgReads)(nil)

func newOrgReads(api inventory.OrganizationsAPI) *orgReads {
	return &orgReads{api: api, targets: map[string]*organizations.ListPoliciesForTargetOutput{},
		policies: map[string]*organizations.DescribePolicyOutput{}}
}

func (c *orgReads) DescribeOrganization(ctx context.Context, in *organizations.DescribeOrganizationInput, optFns ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error) {
	c.mu.Lock()
	got := c.org
	c.mu.Unlock()
	if got != nil {
		return got, nil
	}
	out, err := c.api.DescribeOrganization(ctx, in, optFns...)
	if err == nil {
		c.mu.Lock()
		c.org = out
		c.mu.Unlock()
	}
	return out, err
}

func (c *orgReads) ListParents(ctx context.Context, in *organizations.ListParentsInput, optFns ...func(*organizations.Options)) (*organizations.ListParentsOutput, error) {
	return c.api.ListParents(ctx, in, optFns...)
}

func (c *orgReads) ListPoliciesForTarget(ctx context.Context, in *organizations.ListPoliciesForTargetInput, optFns ...func(*organizations.Options)) (*organizations.ListPoliciesForTargetOutput, error) {
	key := aws.ToString(in.TargetId) + "\x00" + string(in.Filter) + "\x00" + aws.ToString(in.NextToken)
	c.mu.Lock()
	got := c.targets[key]
	c.mu.Unlock()
	if got != nil {
		return got, nil
	}
	out, err := c.api.ListPoliciesForTarget(ctx, in, optFns...)
	if err == nil {
		c.mu.Lock()
		c.targets[key] = out
		c.mu.Unlock()
	}
	return out, err
}

func (c *orgReads) DescribePolicy(ctx context.Context, in *organizations.DescribePolicyInput, optFns ...func(*organizations.Options)) (*organizations.DescribePolicyOutput, error) {
	key := aws.ToString(in.PolicyId)
	c.mu.Lock()
	got := c.policies[key]
	c.mu.Unlock()
	if got != nil {
		return got, nil
	}
	out, err := c.api.DescribePolicy(ctx, in, optFns...)
	if err == nil {
		c.mu.Lock()
		c.policies[key] = out
		c.mu.Unlock()
	}
	return out, err
}
