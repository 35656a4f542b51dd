package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// IAMAPI is the part of the IAM client that plans an installation (reads only; the changes are
// made by remediate.Executor.ApplyInstall); *iam.Client satisfies it.
type IAMAPI interface {
	GetPolicy(ctx context.Context, in *iam.GetPolicyInput, optFns ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, optFns ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
	ListPolicyVersions(ctx context.Context, in *iam.ListPolicyVersionsInput, optFns ...func(*iam.Options)) (*iam.ListPolicyVersionsOutput, error)
	GetGroup(ctx context.Context, in *iam.GetGroupInput, optFns ...func(*iam.Options)) (*iam.GetGroupOutput, error)
	ListAttachedGroupPolicies(ctx context.Context, in *iam.ListAttachedGroupPoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedGroupPoliciesOutput, error)
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
	Users      []Member
	// Skipped are users the selection left out, with the reason; the plan lists them.
	Skipped []SkippedUser
}

// Member is a user to add to the group.
type Member struct {
	Name string
	// UserID is the user's unique ID (AIDA…) as read: a user replaced since is not added.
	UserID string
}

// SkippedUser is a user a selection left out, and why.
type SkippedUser struct {
	User   string `json:"user"`
	Reason string `json:"reason"`
}

// Step is one IAM call of an installation.
type Step struct {
	Call   string `json:"call"` // e.g. iam:CreatePolicy
	Target string `json:"target"`
	Detail string `json:"detail,omitempty"`
	// UserID is the unique ID of the user an iam:AddUserToGroup adds.
	UserID string `json:"user_id,omitempty"`
	// Version is the version an iam:DeletePolicyVersion deletes, and the default version an
	// iam:CreatePolicyVersion replaces.
	Version string `json:"version,omitempty"`
	Status  string `json:"status"` // planned, done, skipped, failed
	// ActionID is the journal entry of a journaled step.
	ActionID string `json:"action_id,omitempty"`
	Error    string `json:"error,omitempty"`
}

// IAM calls of an installation, in the order they are made.
const (
	CallCreatePolicy        = "iam:CreatePolicy"
	CallDeletePolicyVersion = "iam:DeletePolicyVersion"
	CallCreatePolicyVersion = "iam:CreatePolicyVersion"
	CallCreateGroup         = "iam:CreateGroup"
	CallAttachGroupPolicy   = "iam:AttachGroupPolicy"
	CallAddUserToGroup      = "iam:AddUserToGroup"
)

// Step statuses.
const (
	StepPlanned = "planned"
	StepDone    = "done"
	StepSkipped = "skipped"
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
	// Skipped are the users left out of the group, with the reason.
	Skipped []SkippedUser `json:"skipped_users"`
	spec    InstallSpec
}

// CreatePolicyInput is the call that creates the plan's policy.
func (p *InstallPlan) CreatePolicyInput() *iam.CreatePolicyInput {
	return &iam.CreatePolicyInput{PolicyName: aws.String(p.spec.PolicyName), PolicyDocument: aws.String(string(p.spec.Document)),
		Description: aws.String(description(KindInfo{Kind: KindEnforceMFA}))}
}

// CreatePolicyVersionInput is the call that adds the plan's document as a new version of the
// policy; setAsDefault makes it the default at once.
func (p *InstallPlan) CreatePolicyVersionInput(setAsDefault bool) *iam.CreatePolicyVersionInput {
	return &iam.CreatePolicyVersionInput{PolicyArn: aws.String(p.PolicyARN), PolicyDocument: aws.String(string(p.spec.Document)),
		SetAsDefault: setAsDefault}
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
	p := InstallPlan{AccountID: spec.AccountID, PolicyARN: arn, Group: spec.Group, Steps: []Step{}, Members: []string{},
		Skipped: append([]SkippedUser{}, spec.Skipped...), spec: spec}
	add := func(call, target, detail string) *Step {
		p.Steps = append(p.Steps, Step{Call: call, Target: target, Detail: detail, Status: StepPlanned})
		return &p.Steps[len(p.Steps)-1]
	}

	gp, err := api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	switch {
	case isNoSuchEntity(err):
		add(CallCreatePolicy, spec.PolicyName, "customer managed policy "+arn)
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
				oldest := oldestNonDefault(versions.Versions)
				add(CallDeletePolicyVersion, arn, "version "+oldest+", the oldest of "+fmt.Sprint(len(versions.Versions))+
					" (IAM keeps 5); cannot be undone").Version = oldest
			}
			current := aws.ToString(gp.Policy.DefaultVersionId)
			add(CallCreatePolicyVersion, arn, "new default version: the current one ("+current+") differs").Version = current
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
		add(CallCreateGroup, spec.Group, "")
	}
	if !attached {
		add(CallAttachGroupPolicy, spec.Group, arn)
	}
	users := append([]Member(nil), spec.Users...)
	sort.Slice(users, func(i, j int) bool { return users[i].Name < users[j].Name })
	for _, u := range users {
		if members[u.Name] {
			p.Members = append(p.Members, u.Name)
			continue
		}
		add(CallAddUserToGroup, u.Name, "to group "+spec.Group).UserID = u.UserID
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

// MemberRule is the rule whose exemptions keep a user out of the enforce-MFA group: a user
// exempt from console-mfa-missing may keep using the console without MFA.
const MemberRule = "console-mfa-missing"

// SelectOptions are what a selection of users needs besides the snapshot.
type SelectOptions struct {
	// Exempter gives the exemptions scan and enforce apply (tags, configuration, SSM list).
	Exempter rules.Exempter
	// CallerARN is the identity running iamwarden: never added.
	CallerARN string
	AsOf      time.Time
}

// MemberRefusal says why u must not be added to the enforce-MFA group, or "" when it may be: the
// caller, the root user, a user exempt from MemberRule, and a user who is no longer a console
// user without MFA are left out.
func MemberRefusal(u *inventory.User, opts SelectOptions) string {
	switch {
	case u.IsRoot:
		return "the root user is never acted on"
	case opts.CallerARN != "" && u.ARN == opts.CallerARN:
		return "the identity running iamwarden is never added"
	case !u.Password.Enabled:
		return "no console password"
	case u.MFA.Active:
		return "has an MFA device"
	}
	if opts.Exempter != nil {
		if ex, ok := opts.Exempter.Exemption(u, MemberRule, opts.AsOf); ok && !ex.Expired {
			until := ""
			if ex.Until != nil {
				until = " until " + ex.Until.UTC().Format("2006-01-02")
			}
			return fmt.Sprintf("exempt from %s (%s%s): %s", MemberRule, ex.Source, until, ex.Reason)
		}
	}
	return ""
}

// ConsoleUsersWithoutMFA selects the users of a snapshot who have a console password and no MFA
// device, leaving out (and listing, with the reason) exempt users and the caller.
func ConsoleUsersWithoutMFA(snap *inventory.Snapshot, opts SelectOptions) ([]Member, []SkippedUser) {
	users, skipped := []Member{}, []SkippedUser{}
	for i := range snap.Users {
		u := &snap.Users[i]
		if u.IsRoot || !u.Password.Enabled || u.MFA.Active {
			continue
		}
		if why := MemberRefusal(u, opts); why != "" {
			skipped = append(skipped, SkippedUser{User: u.Name, Reason: why})
			continue
		}
		users = append(users, Member{Name: u.Name, UserID: u.ID})
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Name < users[j].Name })
	sort.Slice(skipped, func(i, j int) bool { return skipped[i].User < skipped[j].User })
	return users, skipped
}
