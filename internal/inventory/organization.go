package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// OrganizationsAPI is the part of the Organizations client ReadSCPs uses; *organizations.Client
// satisfies it.
type OrganizationsAPI interface {
	DescribeOrganization(ctx context.Context, in *organizations.DescribeOrganizationInput, optFns ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
	ListParents(ctx context.Context, in *organizations.ListParentsInput, optFns ...func(*organizations.Options)) (*organizations.ListParentsOutput, error)
	ListPoliciesForTarget(ctx context.Context, in *organizations.ListPoliciesForTargetInput, optFns ...func(*organizations.Options)) (*organizations.ListPoliciesForTargetOutput, error)
	DescribePolicy(ctx context.Context, in *organizations.DescribePolicyInput, optFns ...func(*organizations.Options)) (*organizations.DescribePolicyOutput, error)
}

// SCPState says what is known of the service control policies that govern the account.
type SCPState string

const (
	// SCPsNone: no SCP applies (not in an organization, its management account, or an
	// organization with consolidated billing only).
	SCPsNone SCPState = "none"
	// SCPsRead: the SCPs of every level, from the root to the account, are in Levels.
	SCPsRead SCPState = "read"
	// SCPsNotRead: SCPs may apply but could not be read; Reason says why.
	SCPsNotRead SCPState = "not-read"
)

// SCPs is what the scan knows of the account's service control policies. Its JSON form is the
// export's scps.json.
type SCPs struct {
	State SCPState `json:"state"`
	// Reason says why no SCP applies, or why they could not be read.
	Reason              string `json:"reason,omitempty"`
	OrganizationID      string `json:"organization_id,omitempty"`
	ManagementAccountID string `json:"management_account_id,omitempty"`
	// Levels lists the SCPs attached at each level, the root first, then each OU down to the
	// account; every level must allow a request. Set when State is read.
	Levels []SCPLevel `json:"levels,omitempty"`
}

// SCPLevel is one level of the organization tree and the SCPs attached to it.
type SCPLevel struct {
	// Target is the root, OU or account ID ("r-…", "ou-…", "111122223333"), or the flag that
	// gave the level ("--scp 1").
	Target   string      `json:"target"`
	Policies []SCPPolicy `json:"policies"`
}

// SCPPolicy is one service control policy.
type SCPPolicy struct {
	ID       string         `json:"id,omitempty"`
	Name     string         `json:"name"`
	Document PolicyDocument `json:"document"`
}

// ReadSCPs reads the SCPs that govern accountID: DescribeOrganization, then ListParents from the
// account up to the root, ListPoliciesForTarget on every level and DescribePolicy once per
// distinct policy. It fails only when ctx ends: an account outside any organization, its
// management account and an organization without SCPs have none; a call refused (a member
// account without delegated administration, a caller without the organizations: actions) leaves
// them not read, with the reason.
func ReadSCPs(ctx context.Context, org OrganizationsAPI, accountID string) (*SCPs, error) {
	notRead := func(op string, err error) (*SCPs, error) {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s: %w", op, ctxErr)
		}
		return &SCPs{State: SCPsNotRead, Reason: callError(op, err).Error()}, nil
	}
	out, err := org.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if errors.As(err, new(*orgtypes.AWSOrganizationsNotInUseException)) {
		return &SCPs{State: SCPsNone, Reason: "the account is not in an organization"}, nil
	}
	if err != nil {
		return notRead("organizations:DescribeOrganization", err)
	}
	o := out.Organization
	s := &SCPs{OrganizationID: aws.ToString(o.Id), ManagementAccountID: aws.ToString(o.MasterAccountId)}
	switch {
	case s.ManagementAccountID == accountID:
		s.State, s.Reason = SCPsNone, "SCPs do not apply to the organization's management account"
		return s, nil
	case o.FeatureSet == orgtypes.OrganizationFeatureSetConsolidatedBilling:
		s.State, s.Reason = SCPsNone, "the organization has consolidated billing only: no SCPs"
		return s, nil
	}

	// The account, then each parent up to the root; Levels lists them the other way round.
	targets := []string{accountID}
	for child := accountID; ; {
		p, err := org.ListParents(ctx, &organizations.ListParentsInput{ChildId: aws.String(child)})
		if err != nil {
			return notRead("organizations:ListParents", err)
		}
		if len(p.Parents) != 1 {
			return &SCPs{State: SCPsNotRead, Reason: fmt.Sprintf("organizations:ListParents: %s has %d parents, want 1", child, len(p.Parents))}, nil
		}
		child = aws.ToString(p.Parents[0].Id)
		targets = append(targets, child)
		if p.Parents[0].Type == orgtypes.ParentTypeRoot {
			break
		}
		if len(targets) > maxOrgDepth {
			return &SCPs{State: SCPsNotRead, Reason: fmt.Sprintf("organizations:ListParents: no root within %d levels", maxOrgDepth)}, nil
		}
	}
	slices.Reverse(targets)

	docs := map[string]SCPPolicy{} // by policy ID
	for _, target := range targets {
		level := SCPLevel{Target: target, Policies: []SCPPolicy{}}
		pages := organizations.NewListPoliciesForTargetPaginator(org, &organizations.ListPoliciesForTargetInput{
			TargetId: aws.String(target), Filter: orgtypes.PolicyTypeServiceControlPolicy,
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if errors.As(err, new(*orgtypes.PolicyTypeNotEnabledException)) {
				s.State, s.Reason = SCPsNone, "SCPs are not enabled in the organization"
				return s, nil
			}
			if err != nil {
				return notRead("organizations:ListPoliciesForTarget", err)
			}
			for _, sum := range page.Policies {
				id := aws.ToString(sum.Id)
				p, ok := docs[id]
				if !ok {
					d, err := org.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String(id)})
					if err != nil {
						return notRead("organizations:DescribePolicy", err)
					}
					if d.Policy == nil {
						return &SCPs{State: SCPsNotRead, Reason: "organizations:DescribePolicy: no policy in the answer for " + id}, nil
					}
					doc, err := DecodePolicyDocument(aws.ToString(d.Policy.Content))
					if err != nil {
						return &SCPs{State: SCPsNotRead, Reason: fmt.Sprintf("SCP %s (%s): %v", aws.ToString(sum.Name), id, err)}, nil
					}
					p = SCPPolicy{ID: id, Name: aws.ToString(sum.Name), Document: PolicyDocument(doc)}
					docs[id] = p
				}
				level.Policies = append(level.Policies, p)
			}
		}
		s.Levels = append(s.Levels, level)
	}
	s.State = SCPsRead
	return s, nil
}

// maxOrgDepth bounds the walk up the tree: an organization nests OUs five deep under its root.
const maxOrgDepth = 7
