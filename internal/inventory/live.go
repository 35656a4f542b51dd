package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/awsapi"
)

// IAMAPI is the part of the IAM client the Loader uses; *iam.Client satisfies it.
type IAMAPI interface {
	GenerateCredentialReport(ctx context.Context, in *iam.GenerateCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error)
	GetCredentialReport(ctx context.Context, in *iam.GetCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error)
	GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, optFns ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error)
	ListVirtualMFADevices(ctx context.Context, in *iam.ListVirtualMFADevicesInput, optFns ...func(*iam.Options)) (*iam.ListVirtualMFADevicesOutput, error)
	GetAccountPasswordPolicy(ctx context.Context, in *iam.GetAccountPasswordPolicyInput, optFns ...func(*iam.Options)) (*iam.GetAccountPasswordPolicyOutput, error)
	ListAccountAliases(ctx context.Context, in *iam.ListAccountAliasesInput, optFns ...func(*iam.Options)) (*iam.ListAccountAliasesOutput, error)
	GetAccountSummary(ctx context.Context, in *iam.GetAccountSummaryInput, optFns ...func(*iam.Options)) (*iam.GetAccountSummaryOutput, error)
	GetLoginProfile(ctx context.Context, in *iam.GetLoginProfileInput, optFns ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error)
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
	GetPolicy(ctx context.Context, in *iam.GetPolicyInput, optFns ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, optFns ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
}

// STSAPI is the part of the STS client the Loader uses; *sts.Client satisfies it.
type STSAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// Defaults of LoaderOptions.
const (
	DefaultMaxReportWait    = 3 * time.Minute
	DefaultReportPollDelay  = time.Second
	DefaultReportPollMaxGap = 15 * time.Second
	// PageSize is the MaxItems of the paginated calls: the largest IAM accepts.
	PageSize = 1000
	// maxRegenerations bounds how often an expired or missing report is generated again.
	maxRegenerations = 3
)

// LoaderOptions tunes a Loader. The zero value is usable.
type LoaderOptions struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Sleep waits between credential report polls; a context-aware timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxReportWait bounds the total time spent waiting for the credential report.
	MaxReportWait time.Duration
	// ReportPollDelay is the first wait between polls; it doubles up to ReportPollMaxGap.
	ReportPollDelay  time.Duration
	ReportPollMaxGap time.Duration
	Log              *slog.Logger
}

// Loader reads an account's IAM data live. Load makes a fixed number of calls whatever the
// number of users (pages of 1000); the per-user calls are separate methods the scan uses only
// when the credential report cannot decide.
type Loader struct {
	iam       IAMAPI
	sts       STSAPI
	opts      LoaderOptions
	callerARN string
}

// NewLoader returns a Loader using the given clients.
func NewLoader(iamc IAMAPI, stsc STSAPI, opts LoaderOptions) *Loader {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.MaxReportWait <= 0 {
		opts.MaxReportWait = DefaultMaxReportWait
	}
	if opts.ReportPollDelay <= 0 {
		opts.ReportPollDelay = DefaultReportPollDelay
	}
	if opts.ReportPollMaxGap < opts.ReportPollDelay {
		opts.ReportPollMaxGap = max(DefaultReportPollMaxGap, opts.ReportPollDelay)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Loader{iam: iamc, sts: stsc, opts: opts}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// CallError is a failed AWS call: which one, and what kind of failure.
type CallError struct {
	Op   string // "iam:GetCredentialReport"
	Kind awsapi.Kind
	Err  error
}

func (e *CallError) Error() string {
	if e.Kind == awsapi.Other {
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Op, e.Kind, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// Hint is the advice for the failure, empty when there is none.
func (e *CallError) Hint() string { return awsapi.KindHint(e.Kind) }

func callError(op string, err error) error {
	return &CallError{Op: op, Kind: awsapi.ClassifyError(err), Err: err}
}

// CallerARN is the identity Load ran as; empty before Load.
func (l *Loader) CallerARN() string { return l.callerARN }

// Caller asks STS who is calling, for commands that act without loading the account.
func (l *Loader) Caller(ctx context.Context) (string, error) {
	id, err := l.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", callError("sts:GetCallerIdentity", err)
	}
	l.callerARN = aws.ToString(id.Arn)
	return l.callerARN, nil
}

// Log attribute keys.
const (
	logOp    = "op"
	logState = "state"
	logWait  = "wait"
	logPages = "pages"
	logItems = "items"
	logError = "error"
	logUser  = "user"
)

// Load reads the account: caller identity, credential report, authorization details (users,
// groups, customer managed policies), assigned virtual MFA devices, password policy, aliases
// and the account summary. The first three are required and their failure is an error; the
// others failing leave a Problem in the result, which is then partial.
func (l *Loader) Load(ctx context.Context) (Raw, error) {
	raw := Raw{Source: SourceLive, ReadAt: l.opts.Now().UTC(), ReportName: "iam:GetCredentialReport"}

	id, err := l.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Raw{}, callError("sts:GetCallerIdentity", err)
	}
	raw.AccountID = aws.ToString(id.Account)
	l.callerARN = aws.ToString(id.Arn)

	report, err := l.credentialReport(ctx)
	if err != nil {
		return Raw{}, err
	}
	raw.CredentialReport = report.Content
	if report.GeneratedTime != nil {
		raw.ReportGeneratedAt = report.GeneratedTime.UTC()
	}

	ad, probs, err := l.authorizationDetails(ctx)
	if err != nil {
		return Raw{}, err
	}
	raw.Authorization = ad
	raw.Problems = append(raw.Problems, probs...)
	if err := l.awsManagedPolicies(ctx, &raw); err != nil {
		return Raw{}, err
	}

	optional := []struct {
		op   string
		what string
		read func(context.Context, *Raw) error
	}{
		{"iam:ListVirtualMFADevices", "virtual MFA devices", l.virtualMFADevices},
		{"iam:GetAccountPasswordPolicy", "password policy", l.passwordPolicy},
		{"iam:ListAccountAliases", "account aliases", l.aliases},
		{"iam:GetAccountSummary", "account summary", l.summary},
	}
	for _, o := range optional {
		err := o.read(ctx, &raw)
		if err == nil {
			continue
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Raw{}, fmt.Errorf("%s: %w", o.op, ctxErr)
		}
		kind := awsapi.ClassifyError(err)
		msg := fmt.Sprintf("%s not read (%s): %v", o.what, kind, err)
		if hint := awsapi.KindHint(kind); hint != "" {
			msg += "; " + hint
		}
		l.opts.Log.Warn("optional IAM call failed; the result is partial", logOp, o.op, logError, err)
		raw.Problems = append(raw.Problems, Problem{Where: o.op, Message: msg})
	}
	return raw, nil
}

// credentialReport has the report generated and reads it, polling with exponential backoff
// while it is being generated and generating it again when it expired or vanished.
func (l *Loader) credentialReport(ctx context.Context) (*iam.GetCredentialReportOutput, error) {
	var waited time.Duration
	delay := l.opts.ReportPollDelay
	wait := func(op, state string) error {
		if waited+delay > l.opts.MaxReportWait {
			return &CallError{Op: op, Kind: awsapi.Other, Err: fmt.Errorf("credential report still %s after waiting %s", state, waited)}
		}
		l.opts.Log.Info("waiting for the credential report", logState, state, logWait, delay)
		if err := l.opts.Sleep(ctx, delay); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		waited += delay
		delay = min(2*delay, l.opts.ReportPollMaxGap)
		return nil
	}

	regenerations := 0
	for {
		gen, err := l.iam.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			return nil, callError("iam:GenerateCredentialReport", err)
		}
		l.opts.Log.Debug("credential report", logState, string(gen.State))
		if gen.State != types.ReportStateTypeComplete {
			if err := wait("iam:GenerateCredentialReport", string(gen.State)); err != nil {
				return nil, err
			}
			continue
		}
		out, err := l.iam.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		switch {
		case err == nil:
			if len(out.Content) == 0 {
				return nil, &CallError{Op: "iam:GetCredentialReport", Err: errors.New("empty credential report")}
			}
			return out, nil
		case errors.As(err, new(*types.CredentialReportNotReadyException)):
			if err := wait("iam:GetCredentialReport", "in progress"); err != nil {
				return nil, err
			}
		case errors.As(err, new(*types.CredentialReportExpiredException)),
			errors.As(err, new(*types.CredentialReportNotPresentException)):
			regenerations++
			if regenerations > maxRegenerations {
				return nil, callError("iam:GetCredentialReport", fmt.Errorf("report still unavailable after generating it %d times: %w", regenerations, err))
			}
			l.opts.Log.Info("credential report unavailable; generating it again", logError, err)
		default:
			return nil, callError("iam:GetCredentialReport", err)
		}
	}
}

// authorizationDetails reads users, groups and customer managed policies, all pages.
func (l *Loader) authorizationDetails(ctx context.Context) (*AuthorizationDetails, []Problem, error) {
	const op = "iam:GetAccountAuthorizationDetails"
	p := iam.NewGetAccountAuthorizationDetailsPaginator(l.iam, &iam.GetAccountAuthorizationDetailsInput{
		Filter:   []types.EntityType{types.EntityTypeUser, types.EntityTypeGroup, types.EntityTypeLocalManagedPolicy},
		MaxItems: aws.Int32(PageSize),
	})
	ad := &AuthorizationDetails{UserDetailList: []UserDetail{}, GroupDetailList: []GroupDetail{}, Policies: []ManagedDetail{}}
	var probs []Problem
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, callError(op, err)
		}
		pages++
		for _, u := range out.UserDetailList {
			d, pr := userDetail(u)
			ad.UserDetailList = append(ad.UserDetailList, d)
			probs = append(probs, pr...)
		}
		for _, g := range out.GroupDetailList {
			d, pr := groupDetail(g)
			ad.GroupDetailList = append(ad.GroupDetailList, d)
			probs = append(probs, pr...)
		}
		for _, r := range out.RoleDetailList {
			ad.RoleDetailList = append(ad.RoleDetailList, RoleDetail{RoleName: aws.ToString(r.RoleName), Arn: aws.ToString(r.Arn)})
		}
		for _, m := range out.Policies {
			d, pr := managedDetail(m)
			ad.Policies = append(ad.Policies, d)
			probs = append(probs, pr...)
		}
	}
	l.opts.Log.Debug("authorization details read", logOp, op, logPages, pages, logItems, len(ad.UserDetailList))
	return ad, probs, nil
}

// document decodes an API policy document. A document that cannot be decoded is left empty and
// reported, so that one odd policy does not fail the whole read.
func document(s *string, what, principal string) (PolicyDocument, []Problem) {
	if s == nil || *s == "" {
		return "", nil
	}
	doc, err := DecodePolicyDocument(*s)
	if err != nil {
		return "", []Problem{{Where: "iam:GetAccountAuthorizationDetails", Principal: principal, Message: fmt.Sprintf("%s: %v", what, err)}}
	}
	return PolicyDocument(doc), nil
}

func policyDetails(ps []types.PolicyDetail, owner, principal string) ([]PolicyDetail, []Problem) {
	if len(ps) == 0 {
		return nil, nil
	}
	var probs []Problem
	out := make([]PolicyDetail, len(ps))
	for i, p := range ps {
		name := aws.ToString(p.PolicyName)
		doc, pr := document(p.PolicyDocument, fmt.Sprintf("inline policy %s of %s", name, owner), principal)
		out[i] = PolicyDetail{PolicyName: name, PolicyDocument: doc}
		probs = append(probs, pr...)
	}
	return out, probs
}

func attachedPolicies(ps []types.AttachedPolicy) []AttachedPolicy {
	out := make([]AttachedPolicy, len(ps))
	for i, p := range ps {
		out[i] = AttachedPolicy{PolicyName: aws.ToString(p.PolicyName), PolicyArn: aws.ToString(p.PolicyArn)}
	}
	return out
}

func userDetail(u types.UserDetail) (UserDetail, []Problem) {
	name := aws.ToString(u.UserName)
	d := UserDetail{
		Path:                    aws.ToString(u.Path),
		UserName:                name,
		UserId:                  aws.ToString(u.UserId),
		Arn:                     aws.ToString(u.Arn),
		CreateDate:              aws.ToTime(u.CreateDate).UTC(),
		GroupList:               append([]string{}, u.GroupList...),
		AttachedManagedPolicies: attachedPolicies(u.AttachedManagedPolicies),
	}
	if u.PermissionsBoundary != nil {
		d.PermissionsBoundary = &BoundaryDetail{
			PermissionsBoundaryType: string(u.PermissionsBoundary.PermissionsBoundaryType),
			PermissionsBoundaryArn:  aws.ToString(u.PermissionsBoundary.PermissionsBoundaryArn),
		}
	}
	for _, t := range u.Tags {
		d.Tags = append(d.Tags, Tag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
	}
	var probs []Problem
	d.UserPolicyList, probs = policyDetails(u.UserPolicyList, "user "+name, name)
	return d, probs
}

func groupDetail(g types.GroupDetail) (GroupDetail, []Problem) {
	name := aws.ToString(g.GroupName)
	d := GroupDetail{
		Path:                    aws.ToString(g.Path),
		GroupName:               name,
		GroupId:                 aws.ToString(g.GroupId),
		Arn:                     aws.ToString(g.Arn),
		CreateDate:              aws.ToTime(g.CreateDate).UTC(),
		AttachedManagedPolicies: attachedPolicies(g.AttachedManagedPolicies),
	}
	var probs []Problem
	d.GroupPolicyList, probs = policyDetails(g.GroupPolicyList, "group "+name, "")
	if d.GroupPolicyList == nil {
		d.GroupPolicyList = []PolicyDetail{}
	}
	return d, probs
}

func managedDetail(m types.ManagedPolicyDetail) (ManagedDetail, []Problem) {
	arn := aws.ToString(m.Arn)
	d := ManagedDetail{
		PolicyName:       aws.ToString(m.PolicyName),
		PolicyId:         aws.ToString(m.PolicyId),
		Arn:              arn,
		Path:             aws.ToString(m.Path),
		DefaultVersionId: aws.ToString(m.DefaultVersionId),
		AttachmentCount:  aws.ToInt32(m.AttachmentCount),
		IsAttachable:     m.IsAttachable,
		CreateDate:       aws.ToTime(m.CreateDate).UTC(),
		UpdateDate:       aws.ToTime(m.UpdateDate).UTC(),
	}
	var probs []Problem
	for _, v := range m.PolicyVersionList {
		id := aws.ToString(v.VersionId)
		doc, pr := document(v.Document, fmt.Sprintf("policy %s version %s", arn, id), "")
		probs = append(probs, pr...)
		d.PolicyVersionList = append(d.PolicyVersionList, PolicyVersion{
			Document:         doc,
			VersionId:        id,
			IsDefaultVersion: v.IsDefaultVersion,
			CreateDate:       aws.ToTime(v.CreateDate).UTC(),
		})
	}
	return d, probs
}

// virtualMFADevices lists the assigned virtual MFA devices. On failure none are kept: a partial
// list would make users with an unlisted virtual device look like hardware MFA users.
func (l *Loader) virtualMFADevices(ctx context.Context, raw *Raw) error {
	p := iam.NewListVirtualMFADevicesPaginator(l.iam, &iam.ListVirtualMFADevicesInput{
		AssignmentStatus: types.AssignmentStatusTypeAssigned,
		MaxItems:         aws.Int32(PageSize),
	})
	devs := []VirtualMFADevice{}
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, d := range out.VirtualMFADevices {
			v := VirtualMFADevice{SerialNumber: aws.ToString(d.SerialNumber)}
			if d.EnableDate != nil {
				t := d.EnableDate.UTC()
				v.EnableDate = &t
			}
			if d.User != nil {
				v.User = &MFAUser{UserName: aws.ToString(d.User.UserName), UserId: aws.ToString(d.User.UserId), Arn: aws.ToString(d.User.Arn)}
			}
			devs = append(devs, v)
		}
	}
	raw.VirtualMFADevices = devs
	return nil
}

// passwordPolicy reads the account password policy; an account without one has none.
func (l *Loader) passwordPolicy(ctx context.Context, raw *Raw) error {
	out, err := l.iam.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	if awsapi.ClassifyError(err) == awsapi.NoSuchEntity {
		raw.PasswordPolicy = nil
		return nil
	}
	if err != nil {
		return err
	}
	if pp := out.PasswordPolicy; pp != nil {
		raw.PasswordPolicy = &PasswordPolicy{
			MinimumPasswordLength:      aws.ToInt32(pp.MinimumPasswordLength),
			RequireSymbols:             pp.RequireSymbols,
			RequireNumbers:             pp.RequireNumbers,
			RequireUppercaseCharacters: pp.RequireUppercaseCharacters,
			RequireLowercaseCharacters: pp.RequireLowercaseCharacters,
			AllowUsersToChangePassword: pp.AllowUsersToChangePassword,
			ExpirePasswords:            pp.ExpirePasswords,
			MaxPasswordAge:             aws.ToInt32(pp.MaxPasswordAge),
			PasswordReusePrevention:    aws.ToInt32(pp.PasswordReusePrevention),
			HardExpiry:                 aws.ToBool(pp.HardExpiry),
		}
	}
	return nil
}

// aliases reads the account alias (an account has at most one, so one page).
func (l *Loader) aliases(ctx context.Context, raw *Raw) error {
	out, err := l.iam.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	if err != nil {
		return err
	}
	raw.Aliases = append([]string{}, out.AccountAliases...)
	return nil
}

func (l *Loader) summary(ctx context.Context, raw *Raw) error {
	out, err := l.iam.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		return err
	}
	raw.Summary = make(map[string]int32, len(out.SummaryMap))
	for k, v := range out.SummaryMap {
		raw.Summary[k] = v
	}
	return nil
}

// LoginProfileCreated returns when the user's console password (login profile) was created;
// false when the user has none.
func (l *Loader) LoginProfileCreated(ctx context.Context, user string) (time.Time, bool, error) {
	out, err := l.iam.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(user)})
	if err != nil {
		if awsapi.ClassifyError(err) == awsapi.NoSuchEntity {
			return time.Time{}, false, nil
		}
		return time.Time{}, false, callError("iam:GetLoginProfile", err)
	}
	if out.LoginProfile == nil || out.LoginProfile.CreateDate == nil {
		return time.Time{}, false, &CallError{Op: "iam:GetLoginProfile", Err: fmt.Errorf("login profile of %s has no creation date", user)}
	}
	return out.LoginProfile.CreateDate.UTC(), true, nil
}

// AccessKeys lists the user's access keys with their IDs, which the credential report lacks.
func (l *Loader) AccessKeys(ctx context.Context, user string) ([]AccessKeyMeta, error) {
	p := iam.NewListAccessKeysPaginator(l.iam, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	var keys []AccessKeyMeta
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, callError("iam:ListAccessKeys", err)
		}
		for _, k := range out.AccessKeyMetadata {
			keys = append(keys, AccessKeyMeta{
				ID:      aws.ToString(k.AccessKeyId),
				Active:  k.Status == types.StatusTypeActive,
				Created: aws.ToTime(k.CreateDate).UTC(),
			})
		}
	}
	l.opts.Log.Debug("access keys listed", logUser, user, logItems, len(keys))
	return keys, nil
}

// AccessKeyLastUsed returns when, where and with which service the key was last used, which
// tells apart two keys of a user created in the same second.
func (l *Loader) AccessKeyLastUsed(ctx context.Context, keyID string) (AccessKeyLastUse, error) {
	out, err := l.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(keyID)})
	if err != nil {
		return AccessKeyLastUse{}, callError("iam:GetAccessKeyLastUsed", err)
	}
	lu := out.AccessKeyLastUsed
	if lu == nil || lu.LastUsedDate == nil {
		return AccessKeyLastUse{}, nil // never used: AWS answers N/A for service and region
	}
	return AccessKeyLastUse{Used: lu.LastUsedDate.UTC(), Service: notApplicable(aws.ToString(lu.ServiceName)), Region: notApplicable(aws.ToString(lu.Region))}, nil
}

// notApplicable reads AWS's N/A as empty, as the credential report parser does.
func notApplicable(s string) string {
	if s == valueNA {
		return ""
	}
	return s
}
