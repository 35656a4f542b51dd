package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

// IAMAPI is the part of the IAM client that installs a policy and a group; *iam.Client
// satisfies it.
type IAMAPI interface {
	GetPolicy(ctx context.Context, in *iam.GetPolicyInput, optFns ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, optFns ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
	ListPolicyVersions(ctx context.Context, in *iam.ListPolicyVersionsInput, optFns ...func(*iam.Options)) (*iam.ListPolicyVersionsOutput, error)
	CreatePolicy(ctx context.Context, in *iam.CreatePolicyInput, optFns ...func(*iam.Options)) (*iam.CreatePolicyOutput, error)
	CreatePolicyVersion(ctx context.Context, in *iam.CreatePolicyVersionInput, optFns ...func(*iam.Options)) (*iam.CreatePolicyVersionOutput, error)
	DeletePolicyVersion(ctx context.Context, in *iam.DeletePolicyVersionInput, optFns ...func(*iam.Options)) (*iam.DeletePolicyVersionOutput, error)
	GetGroup(ctx context.Context, in *iam.GetGroupInput, optFns ...func(*iam.Options)) (*iam.GetGroupOutput, error)
	CreateGroup(ctx context.Context, in *iam.CreateGroupInput, optFns ...func(*iam.Options)) (*iam.CreateGroupOutput, error)
	ListAttachedGroupPolicies(ctx context.Context, in *iam.ListAttachedGroupPoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedGroupPoliciesOutput, error)
	AttachGroupPolicy(ctx context.Context, in *iam.AttachGroupPolicyInput, optFns ...func(*iam.Options)) (*iam.AttachGroupPolicyOutput, error)
	AddUserToGroup(ctx context.Context, in *iam.AddUserToGroupInput, optFns ...func(*iam.Options)) (*iam.AddUserToGroupOutput, error)
}

// maxPolicyVersions is how many versions IAM keeps of a managed policy.
const maxPolicyVersions = 5

// InstallSpec is what to install: a customer managed policy attached to a group, and users to
// add to the group.
type InstallSpec struct {
	AccountID  string
	PolicyName string
	Document   []byte // policy JSON
	Group      string
	Users      []string
}

// Step is one IAM call of an installation.
type Step struct {
	Call   string `json:"call"` // e.g. iam:CreatePolicy
	Target string `json:"target"`
	Detail string `json:"detail,omitempty"`
	Status string `json:"status"` // planned, done, failed
	Error  string `json:"error,omitempty"`
}

// Step statuses.
const (
	StepPlanned = "planned"
	StepDone    = "done"
	StepFailed  = "failed"
)

// InstallPlan is the list of calls that bring the account to the spec; empty when it is there
// already.
type InstallPlan struct {
	AccountID string   `json:"account_id"`
	PolicyARN string   `json:"policy_arn"`
	Group     string   `json:"group"`
	Steps     []Step   `json:"steps"`
	Members   []string `json:"already_members"`
	spec      InstallSpec
	oldest    string
}

// PolicyARN is the ARN of a customer managed policy at the root path.
func PolicyARN(account, name string) string {
	return "arn:aws:iam::" + account + ":policy/" + name
}

func isNoSuchEntity(err error) bool {
	var nse *types.NoSuchEntityException
	return errors.As(err, &nse)
}

// sameDocument compares two policy documents as JSON values (key order and spacing ignored).
func sameDocument(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// PlanInstall reads the account and returns the calls that would install spec. It changes
// nothing.
func PlanInstall(ctx context.Context, api IAMAPI, spec InstallSpec) (InstallPlan, error) {
	arn := PolicyARN(spec.AccountID, spec.PolicyName)
	p := InstallPlan{AccountID: spec.AccountID, PolicyARN: arn, Group: spec.Group, Steps: []Step{}, Members: []string{}, spec: spec}
	add := func(call, target, detail string) {
		p.Steps = append(p.Steps, Step{Call: call, Target: target, Detail: detail, Status: StepPlanned})
	}

	gp, err := api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	switch {
	case isNoSuchEntity(err):
		add("iam:CreatePolicy", spec.PolicyName, "customer managed policy "+arn)
	case err != nil:
		return p, fmt.Errorf("iam:GetPolicy %s: %w", arn, err)
	default:
		current, err := api.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: gp.Policy.DefaultVersionId})
		if err != nil {
			return p, fmt.Errorf("iam:GetPolicyVersion %s: %w", arn, err)
		}
		text, err := inventory.DecodePolicyDocument(aws.ToString(current.PolicyVersion.Document))
		if err != nil {
			return p, fmt.Errorf("policy %s: %w", arn, err)
		}
		if !sameDocument(text, string(spec.Document)) {
			versions, err := api.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
			if err != nil {
				return p, fmt.Errorf("iam:ListPolicyVersions %s: %w", arn, err)
			}
			if len(versions.Versions) >= maxPolicyVersions {
				p.oldest = oldestNonDefault(versions.Versions)
				add("iam:DeletePolicyVersion", arn, "version "+p.oldest+", the oldest of "+fmt.Sprint(len(versions.Versions))+" (IAM keeps 5)")
			}
			add("iam:CreatePolicyVersion", arn, "new default version: the current one ("+aws.ToString(gp.Policy.DefaultVersionId)+") differs")
		}
	}

	members := map[string]bool{}
	attached := false
	groupExists := true
	pg := iam.NewGetGroupPaginator(api, &iam.GetGroupInput{GroupName: aws.String(spec.Group)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if isNoSuchEntity(err) {
			groupExists = false
			break
		}
		if err != nil {
			return p, fmt.Errorf("iam:GetGroup %s: %w", spec.Group, err)
		}
		for _, u := range out.Users {
			members[aws.ToString(u.UserName)] = true
		}
	}
	if groupExists {
		pa := iam.NewListAttachedGroupPoliciesPaginator(api, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String(spec.Group)})
		for pa.HasMorePages() && !attached {
			out, err := pa.NextPage(ctx)
			if err != nil {
				return p, fmt.Errorf("iam:ListAttachedGroupPolicies %s: %w", spec.Group, err)
			}
			for _, ap := range out.AttachedPolicies {
				attached = attached || aws.ToString(ap.PolicyArn) == arn
			}
		}
	} else {
		add("iam:CreateGroup", spec.Group, "")
	}
	if !attached {
		add("iam:AttachGroupPolicy", spec.Group, arn)
	}
	users := append([]string(nil), spec.Users...)
	sort.Strings(users)
	for _, u := range users {
		if members[u] {
			p.Members = append(p.Members, u)
			continue
		}
		add("iam:AddUserToGroup", u, "to group "+spec.Group)
	}
	return p, nil
}

func oldestNonDefault(vs []types.PolicyVersion) string {
	var oldest *types.PolicyVersion
	for i := range vs {
		v := &vs[i]
		if v.IsDefaultVersion {
			continue
		}
		if oldest == nil || aws.ToTime(v.CreateDate).Before(aws.ToTime(oldest.CreateDate)) {
			oldest = v
		}
	}
	if oldest == nil {
		return ""
	}
	return aws.ToString(oldest.VersionId)
}

// Execute makes the plan's calls in order and records each outcome in the plan; it stops at the
// first failure.
func (p *InstallPlan) Execute(ctx context.Context, api IAMAPI) error {
	for i := range p.Steps {
		s := &p.Steps[i]
		var err error
		switch s.Call {
		case "iam:CreatePolicy":
			_, err = api.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(p.spec.PolicyName), PolicyDocument: aws.String(string(p.spec.Document)),
				Description: aws.String(description(KindInfo{Kind: KindEnforceMFA}))})
		case "iam:DeletePolicyVersion":
			_, err = api.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(p.PolicyARN), VersionId: aws.String(p.oldest)})
		case "iam:CreatePolicyVersion":
			_, err = api.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(p.PolicyARN),
				PolicyDocument: aws.String(string(p.spec.Document)), SetAsDefault: true})
		case "iam:CreateGroup":
			_, err = api.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(p.Group)})
		case "iam:AttachGroupPolicy":
			_, err = api.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String(p.Group), PolicyArn: aws.String(p.PolicyARN)})
		case "iam:AddUserToGroup":
			_, err = api.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(p.Group), UserName: aws.String(s.Target)})
		default:
			err = fmt.Errorf("unknown step %s", s.Call)
		}
		if err != nil {
			s.Status, s.Error = StepFailed, err.Error()
			return fmt.Errorf("%s %s: %w", s.Call, s.Target, err)
		}
		s.Status = StepDone
	}
	return nil
}

// ConsoleUsersWithoutMFA returns the users of a snapshot who have a console password and no MFA
// device.
func ConsoleUsersWithoutMFA(snap *inventory.Snapshot) []string {
	var out []string
	for _, u := range snap.Users {
		if !u.IsRoot && u.Password.Enabled && !u.MFA.Active {
			out = append(out, u.Name)
		}
	}
	sort.Strings(out)
	return out
}
