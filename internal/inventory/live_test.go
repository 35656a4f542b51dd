package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/inventory"
)

// fakeIAM answers with its function fields; a nil field answers as an empty, healthy account.
type fakeIAM struct {
	generate       func(*iam.GenerateCredentialReportInput) (*iam.GenerateCredentialReportOutput, error)
	getReport      func(*iam.GetCredentialReportInput) (*iam.GetCredentialReportOutput, error)
	details        func(*iam.GetAccountAuthorizationDetailsInput) (*iam.GetAccountAuthorizationDetailsOutput, error)
	virtualMFA     func(*iam.ListVirtualMFADevicesInput) (*iam.ListVirtualMFADevicesOutput, error)
	passwordPolicy func(*iam.GetAccountPasswordPolicyInput) (*iam.GetAccountPasswordPolicyOutput, error)
	aliases        func(*iam.ListAccountAliasesInput) (*iam.ListAccountAliasesOutput, error)
	summary        func(*iam.GetAccountSummaryInput) (*iam.GetAccountSummaryOutput, error)
	loginProfile   func(*iam.GetLoginProfileInput) (*iam.GetLoginProfileOutput, error)
	accessKeys     func(*iam.ListAccessKeysInput) (*iam.ListAccessKeysOutput, error)
	keyLastUsed    func(*iam.GetAccessKeyLastUsedInput) (*iam.GetAccessKeyLastUsedOutput, error)
	getPolicy      func(*iam.GetPolicyInput) (*iam.GetPolicyOutput, error)
	policyVersion  func(*iam.GetPolicyVersionInput) (*iam.GetPolicyVersionOutput, error)

	calls []string
}

func (f *fakeIAM) GetPolicy(_ context.Context, in *iam.GetPolicyInput, _ ...func(*iam.Options)) (*iam.GetPolicyOutput, error) {
	f.calls = append(f.calls, "GetPolicy")
	return f.getPolicy(in)
}

func (f *fakeIAM) GetPolicyVersion(_ context.Context, in *iam.GetPolicyVersionInput, _ ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error) {
	f.calls = append(f.calls, "GetPolicyVersion")
	return f.policyVersion(in)
}

var _ inventory.IAMAPI = (*fakeIAM)(nil)

const fakeReport = "user,arn\nalice,arn:aws:iam::111122223333:user/alice\n"

var fakeGenerated = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

func (f *fakeIAM) GenerateCredentialReport(_ context.Context, in *iam.GenerateCredentialReportInput, _ ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error) {
	f.calls = append(f.calls, "GenerateCredentialReport")
	if f.generate != nil {
		return f.generate(in)
	}
	return &iam.GenerateCredentialReportOutput{State: types.ReportStateTypeComplete}, nil
}

func (f *fakeIAM) GetCredentialReport(_ context.Context, in *iam.GetCredentialReportInput, _ ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error) {
	f.calls = append(f.calls, "GetCredentialReport")
	if f.getReport != nil {
		return f.getReport(in)
	}
	return &iam.GetCredentialReportOutput{Content: []byte(fakeReport), GeneratedTime: aws.Time(fakeGenerated)}, nil
}

func (f *fakeIAM) GetAccountAuthorizationDetails(_ context.Context, in *iam.GetAccountAuthorizationDetailsInput, _ ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error) {
	f.calls = append(f.calls, "GetAccountAuthorizationDetails")
	if f.details != nil {
		return f.details(in)
	}
	return &iam.GetAccountAuthorizationDetailsOutput{}, nil
}

func (f *fakeIAM) ListVirtualMFADevices(_ context.Context, in *iam.ListVirtualMFADevicesInput, _ ...func(*iam.Options)) (*iam.ListVirtualMFADevicesOutput, error) {
	f.calls = append(f.calls, "ListVirtualMFADevices")
	if f.virtualMFA != nil {
		return f.virtualMFA(in)
	}
	return &iam.ListVirtualMFADevicesOutput{}, nil
}

func (f *fakeIAM) GetAccountPasswordPolicy(_ context.Context, in *iam.GetAccountPasswordPolicyInput, _ ...func(*iam.Options)) (*iam.GetAccountPasswordPolicyOutput, error) {
	f.calls = append(f.calls, "GetAccountPasswordPolicy")
	if f.passwordPolicy != nil {
		return f.passwordPolicy(in)
	}
	return nil, &types.NoSuchEntityException{Message: aws.String("The Password Policy with domain name 111122223333 cannot be found.")}
}

func (f *fakeIAM) ListAccountAliases(_ context.Context, in *iam.ListAccountAliasesInput, _ ...func(*iam.Options)) (*iam.ListAccountAliasesOutput, error) {
	f.calls = append(f.calls, "ListAccountAliases")
	if f.aliases != nil {
		return f.aliases(in)
	}
	return &iam.ListAccountAliasesOutput{AccountAliases: []string{"prod"}}, nil
}

func (f *fakeIAM) GetAccountSummary(_ context.Context, in *iam.GetAccountSummaryInput, _ ...func(*iam.Options)) (*iam.GetAccountSummaryOutput, error) {
	f.calls = append(f.calls, "GetAccountSummary")
	if f.summary != nil {
		return f.summary(in)
	}
	return &iam.GetAccountSummaryOutput{SummaryMap: map[string]int32{"Users": 1, "AccountMFAEnabled": 1}}, nil
}

func (f *fakeIAM) GetLoginProfile(_ context.Context, in *iam.GetLoginProfileInput, _ ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error) {
	f.calls = append(f.calls, "GetLoginProfile")
	if f.loginProfile != nil {
		return f.loginProfile(in)
	}
	return nil, &types.NoSuchEntityException{Message: aws.String("no login profile")}
}

func (f *fakeIAM) ListAccessKeys(_ context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	f.calls = append(f.calls, "ListAccessKeys")
	if f.accessKeys != nil {
		return f.accessKeys(in)
	}
	return &iam.ListAccessKeysOutput{}, nil
}

func (f *fakeIAM) GetAccessKeyLastUsed(_ context.Context, in *iam.GetAccessKeyLastUsedInput, _ ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	f.calls = append(f.calls, "GetAccessKeyLastUsed")
	if f.keyLastUsed != nil {
		return f.keyLastUsed(in)
	}
	return &iam.GetAccessKeyLastUsedOutput{AccessKeyLastUsed: &types.AccessKeyLastUsed{ServiceName: aws.String("N/A"), Region: aws.String("N/A")}}, nil
}

func (f *fakeIAM) count(op string) int {
	n := 0
	for _, c := range f.calls {
		if c == op {
			n++
		}
	}
	return n
}

type fakeSTS struct {
	identity func(*sts.GetCallerIdentityInput) (*sts.GetCallerIdentityOutput, error)
}

var _ inventory.STSAPI = (*fakeSTS)(nil)

func (f *fakeSTS) GetCallerIdentity(_ context.Context, in *sts.GetCallerIdentityInput, _ ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	if f.identity != nil {
		return f.identity(in)
	}
	return &sts.GetCallerIdentityOutput{Account: aws.String("111122223333"), Arn: aws.String("arn:aws:iam::111122223333:user/auditor")}, nil
}

// recordedSleep records the waits instead of waiting.
type recordedSleep struct {
	waits []time.Duration
	err   error
}

func (r *recordedSleep) sleep(_ context.Context, d time.Duration) error {
	r.waits = append(r.waits, d)
	return r.err
}

var liveNow = time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)

func newTestLoader(f *fakeIAM, s *fakeSTS, sl *recordedSleep, opts inventory.LoaderOptions) *inventory.Loader {
	if s == nil {
		s = &fakeSTS{}
	}
	opts.Now = func() time.Time { return liveNow }
	if sl != nil {
		opts.Sleep = sl.sleep
	}
	return inventory.NewLoader(f, s, opts)
}

func denied() error {
	return &smithy.GenericAPIError{Code: "AccessDenied", Message: "User: arn:aws:iam::111122223333:user/auditor is not authorized"}
}

func TestLoadHealthyAccount(t *testing.T) {
	f := &fakeIAM{}
	sl := &recordedSleep{}
	l := newTestLoader(f, nil, sl, inventory.LoaderOptions{})
	raw, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if raw.AccountID != "111122223333" || raw.Source != inventory.SourceLive || !raw.ReadAt.Equal(liveNow) {
		t.Errorf("account %q source %q read at %v", raw.AccountID, raw.Source, raw.ReadAt)
	}
	if string(raw.CredentialReport) != fakeReport || !raw.ReportGeneratedAt.Equal(fakeGenerated) {
		t.Errorf("report %q generated %v", raw.CredentialReport, raw.ReportGeneratedAt)
	}
	if raw.PasswordPolicy != nil || len(raw.Problems) != 0 {
		t.Errorf("password policy %+v problems %+v: an account without a policy is not a problem", raw.PasswordPolicy, raw.Problems)
	}
	if !reflect.DeepEqual(raw.Aliases, []string{"prod"}) || raw.Summary["Users"] != 1 {
		t.Errorf("aliases %v summary %v", raw.Aliases, raw.Summary)
	}
	if raw.Authorization == nil || raw.VirtualMFADevices == nil {
		t.Errorf("authorization %v devices %v: read but empty must not be nil", raw.Authorization, raw.VirtualMFADevices)
	}
	if l.CallerARN() != "arn:aws:iam::111122223333:user/auditor" {
		t.Errorf("CallerARN = %q", l.CallerARN())
	}
	if len(sl.waits) != 0 {
		t.Errorf("waited %v for a complete report", sl.waits)
	}
	if slices.Contains(f.calls, "GetLoginProfile") || slices.Contains(f.calls, "ListAccessKeys") {
		t.Errorf("Load made per-user calls: %v", f.calls)
	}
}

// states answers GenerateCredentialReport with the given states, then COMPLETE.
func states(ss ...types.ReportStateType) func(*iam.GenerateCredentialReportInput) (*iam.GenerateCredentialReportOutput, error) {
	i := 0
	return func(*iam.GenerateCredentialReportInput) (*iam.GenerateCredentialReportOutput, error) {
		st := types.ReportStateTypeComplete
		if i < len(ss) {
			st = ss[i]
		}
		i++
		return &iam.GenerateCredentialReportOutput{State: st}, nil
	}
}

// reportErrors answers GetCredentialReport with the given errors, then the report.
func reportErrors(errs ...error) func(*iam.GetCredentialReportInput) (*iam.GetCredentialReportOutput, error) {
	i := 0
	return func(*iam.GetCredentialReportInput) (*iam.GetCredentialReportOutput, error) {
		if i < len(errs) {
			i++
			return nil, errs[i-1]
		}
		return &iam.GetCredentialReportOutput{Content: []byte(fakeReport), GeneratedTime: aws.Time(fakeGenerated)}, nil
	}
}

func TestLoadWaitsForCredentialReport(t *testing.T) {
	notReady := &types.CredentialReportNotReadyException{Message: aws.String("in progress")}
	expired := &types.CredentialReportExpiredException{Message: aws.String("expired")}
	notPresent := &types.CredentialReportNotPresentException{Message: aws.String("not present")}
	s := time.Second
	tests := []struct {
		name          string
		generate      []types.ReportStateType
		getErrs       []error
		opts          inventory.LoaderOptions
		wantWaits     []time.Duration
		wantGenerates int
		wantGets      int
	}{
		{
			name:      "started then in progress",
			generate:  []types.ReportStateType{types.ReportStateTypeStarted, types.ReportStateTypeInprogress, types.ReportStateTypeInprogress},
			wantWaits: []time.Duration{1 * s, 2 * s, 4 * s}, wantGenerates: 4, wantGets: 1,
		},
		{
			name:      "backoff is capped",
			generate:  slices.Repeat([]types.ReportStateType{types.ReportStateTypeInprogress}, 6),
			opts:      inventory.LoaderOptions{ReportPollDelay: s, ReportPollMaxGap: 5 * s},
			wantWaits: []time.Duration{1 * s, 2 * s, 4 * s, 5 * s, 5 * s, 5 * s}, wantGenerates: 7, wantGets: 1,
		},
		{
			name:      "report in progress on get",
			getErrs:   []error{notReady, notReady},
			wantWaits: []time.Duration{1 * s, 2 * s}, wantGenerates: 3, wantGets: 3,
		},
		{
			name:      "expired report is generated again",
			generate:  []types.ReportStateType{types.ReportStateTypeComplete, types.ReportStateTypeStarted},
			getErrs:   []error{expired},
			wantWaits: []time.Duration{1 * s}, wantGenerates: 3, wantGets: 2,
		},
		{
			name:      "vanished report is generated again",
			getErrs:   []error{notPresent},
			wantWaits: nil, wantGenerates: 2, wantGets: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeIAM{generate: states(tt.generate...), getReport: reportErrors(tt.getErrs...)}
			sl := &recordedSleep{}
			raw, err := newTestLoader(f, nil, sl, tt.opts).Load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if string(raw.CredentialReport) != fakeReport {
				t.Errorf("report %q", raw.CredentialReport)
			}
			if !slices.Equal(sl.waits, tt.wantWaits) {
				t.Errorf("waits %v, want %v", sl.waits, tt.wantWaits)
			}
			if g, r := f.count("GenerateCredentialReport"), f.count("GetCredentialReport"); g != tt.wantGenerates || r != tt.wantGets {
				t.Errorf("%d generates and %d gets, want %d and %d", g, r, tt.wantGenerates, tt.wantGets)
			}
		})
	}
}

func TestLoadGivesUpOnCredentialReport(t *testing.T) {
	notPresent := &types.CredentialReportNotPresentException{Message: aws.String("not present")}
	tests := []struct {
		name     string
		fake     *fakeIAM
		opts     inventory.LoaderOptions
		wantOp   string
		maxWaits time.Duration
	}{
		{
			name:     "never completes",
			fake:     &fakeIAM{generate: states(slices.Repeat([]types.ReportStateType{types.ReportStateTypeInprogress}, 1000)...)},
			opts:     inventory.LoaderOptions{MaxReportWait: 20 * time.Second},
			wantOp:   "iam:GenerateCredentialReport",
			maxWaits: 20 * time.Second,
		},
		{
			name:     "never in progress on get",
			fake:     &fakeIAM{getReport: reportErrors(slices.Repeat([]error{&types.CredentialReportNotReadyException{}}, 1000)...)},
			opts:     inventory.LoaderOptions{MaxReportWait: time.Minute},
			wantOp:   "iam:GetCredentialReport",
			maxWaits: time.Minute,
		},
		{
			name:   "never present",
			fake:   &fakeIAM{getReport: reportErrors(slices.Repeat([]error{notPresent}, 1000)...)},
			wantOp: "iam:GetCredentialReport",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sl := &recordedSleep{}
			_, err := newTestLoader(tt.fake, nil, sl, tt.opts).Load(context.Background())
			var ce *inventory.CallError
			if !errors.As(err, &ce) || ce.Op != tt.wantOp {
				t.Fatalf("err = %v, want a %s CallError", err, tt.wantOp)
			}
			var total time.Duration
			for _, w := range sl.waits {
				total += w
			}
			if total > tt.maxWaits {
				t.Errorf("waited %v in total, bound is %v", total, tt.maxWaits)
			}
			if tt.fake.count("GenerateCredentialReport") > 50 {
				t.Errorf("%d GenerateCredentialReport calls: polling is not bounded", tt.fake.count("GenerateCredentialReport"))
			}
		})
	}
}

func TestLoadStopsWhenContextEnds(t *testing.T) {
	f := &fakeIAM{generate: states(types.ReportStateTypeStarted)}
	sl := &recordedSleep{err: context.Canceled}
	_, err := newTestLoader(f, nil, sl, inventory.LoaderOptions{}).Load(context.Background())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestLoadRequiredCallFails(t *testing.T) {
	expired := &smithy.GenericAPIError{Code: "ExpiredToken", Message: "The security token included in the request is expired"}
	tests := []struct {
		name     string
		fake     *fakeIAM
		sts      *fakeSTS
		wantOp   string
		wantKind awsapi.Kind
		wantHint string
	}{
		{
			name:   "caller identity expired",
			fake:   &fakeIAM{},
			sts:    &fakeSTS{identity: func(*sts.GetCallerIdentityInput) (*sts.GetCallerIdentityOutput, error) { return nil, expired }},
			wantOp: "sts:GetCallerIdentity", wantKind: awsapi.ExpiredCredentials, wantHint: "aws sso login",
		},
		{
			name: "generate denied",
			fake: &fakeIAM{generate: func(*iam.GenerateCredentialReportInput) (*iam.GenerateCredentialReportOutput, error) {
				return nil, denied()
			}},
			wantOp: "iam:GenerateCredentialReport", wantKind: awsapi.AccessDenied, wantHint: "permissions",
		},
		{
			name:   "get report denied",
			fake:   &fakeIAM{getReport: reportErrors(denied())},
			wantOp: "iam:GetCredentialReport", wantKind: awsapi.AccessDenied, wantHint: "permissions",
		},
		{
			name: "authorization details denied",
			fake: &fakeIAM{details: func(*iam.GetAccountAuthorizationDetailsInput) (*iam.GetAccountAuthorizationDetailsOutput, error) {
				return nil, denied()
			}},
			wantOp: "iam:GetAccountAuthorizationDetails", wantKind: awsapi.AccessDenied, wantHint: "permissions",
		},
		{
			name: "authorization details throttled",
			fake: &fakeIAM{details: func(*iam.GetAccountAuthorizationDetailsInput) (*iam.GetAccountAuthorizationDetailsOutput, error) {
				return nil, &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
			}},
			wantOp: "iam:GetAccountAuthorizationDetails", wantKind: awsapi.Throttled, wantHint: "later",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newTestLoader(tt.fake, tt.sts, &recordedSleep{}, inventory.LoaderOptions{}).Load(context.Background())
			var ce *inventory.CallError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a CallError", err)
			}
			if ce.Op != tt.wantOp || ce.Kind != tt.wantKind {
				t.Errorf("CallError %s %v, want %s %v", ce.Op, ce.Kind, tt.wantOp, tt.wantKind)
			}
			if !strings.Contains(err.Error(), tt.wantOp) || !strings.Contains(err.Error(), tt.wantKind.String()) {
				t.Errorf("error %q names neither the call nor the cause", err)
			}
			if hint := awsapi.Hint(err); !strings.Contains(hint, tt.wantHint) || ce.Hint() != hint {
				t.Errorf("hint %q / %q, want one mentioning %q", hint, ce.Hint(), tt.wantHint)
			}
		})
	}
}

func TestLoadOptionalCallFails(t *testing.T) {
	tests := []struct {
		name   string
		fake   *fakeIAM
		where  string
		intact func(raw inventory.Raw) bool
	}{
		{
			name: "virtual MFA devices",
			fake: &fakeIAM{virtualMFA: func(*iam.ListVirtualMFADevicesInput) (*iam.ListVirtualMFADevicesOutput, error) {
				return nil, denied()
			}},
			where:  "iam:ListVirtualMFADevices",
			intact: func(raw inventory.Raw) bool { return raw.VirtualMFADevices == nil && len(raw.Aliases) == 1 },
		},
		{
			name: "password policy",
			fake: &fakeIAM{passwordPolicy: func(*iam.GetAccountPasswordPolicyInput) (*iam.GetAccountPasswordPolicyOutput, error) {
				return nil, denied()
			}},
			where:  "iam:GetAccountPasswordPolicy",
			intact: func(raw inventory.Raw) bool { return raw.PasswordPolicy == nil && raw.VirtualMFADevices != nil },
		},
		{
			name: "aliases",
			fake: &fakeIAM{aliases: func(*iam.ListAccountAliasesInput) (*iam.ListAccountAliasesOutput, error) {
				return nil, denied()
			}},
			where:  "iam:ListAccountAliases",
			intact: func(raw inventory.Raw) bool { return raw.Aliases == nil && raw.Summary != nil },
		},
		{
			name: "summary",
			fake: &fakeIAM{summary: func(*iam.GetAccountSummaryInput) (*iam.GetAccountSummaryOutput, error) {
				return nil, denied()
			}},
			where:  "iam:GetAccountSummary",
			intact: func(raw inventory.Raw) bool { return raw.Summary == nil && len(raw.Aliases) == 1 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := newTestLoader(tt.fake, nil, &recordedSleep{}, inventory.LoaderOptions{}).Load(context.Background())
			if err != nil {
				t.Fatalf("an optional call failing must not fail Load: %v", err)
			}
			if len(raw.Problems) != 1 || raw.Problems[0].Where != tt.where {
				t.Fatalf("problems %+v, want one at %s", raw.Problems, tt.where)
			}
			if msg := raw.Problems[0].Message; !strings.Contains(msg, "access denied") || !strings.Contains(msg, "try: ") {
				t.Errorf("problem message %q lacks the cause or the hint", msg)
			}
			if len(raw.CredentialReport) == 0 || raw.Authorization == nil || !tt.intact(raw) {
				t.Errorf("the rest of the account was not read: %+v", raw)
			}
		})
	}
}

func TestLoadPasswordPolicy(t *testing.T) {
	f := &fakeIAM{passwordPolicy: func(*iam.GetAccountPasswordPolicyInput) (*iam.GetAccountPasswordPolicyOutput, error) {
		return &iam.GetAccountPasswordPolicyOutput{PasswordPolicy: &types.PasswordPolicy{
			MinimumPasswordLength: aws.Int32(14), RequireSymbols: true, ExpirePasswords: true,
			MaxPasswordAge: aws.Int32(90), PasswordReusePrevention: aws.Int32(24), HardExpiry: aws.Bool(true),
		}}, nil
	}}
	raw, err := newTestLoader(f, nil, nil, inventory.LoaderOptions{}).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &inventory.PasswordPolicy{MinimumPasswordLength: 14, RequireSymbols: true, ExpirePasswords: true, MaxPasswordAge: 90, PasswordReusePrevention: 24, HardExpiry: true}
	if !reflect.DeepEqual(raw.PasswordPolicy, want) {
		t.Errorf("password policy %+v, want %+v", raw.PasswordPolicy, want)
	}
}

func TestLoadPaginatesAuthorizationDetails(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	enc := url.QueryEscape(doc)
	created := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	pages := []*iam.GetAccountAuthorizationDetailsOutput{
		{
			UserDetailList: []types.UserDetail{{
				UserName: aws.String("alice"), UserId: aws.String("AIDAALICE"), Path: aws.String("/"),
				Arn: aws.String("arn:aws:iam::111122223333:user/alice"), CreateDate: aws.Time(created),
				GroupList:               []string{"admins"},
				AttachedManagedPolicies: []types.AttachedPolicy{{PolicyName: aws.String("ro"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}},
				UserPolicyList:          []types.PolicyDetail{{PolicyName: aws.String("inline"), PolicyDocument: aws.String(enc)}},
				PermissionsBoundary:     &types.AttachedPermissionsBoundary{PermissionsBoundaryType: types.PermissionsBoundaryAttachmentTypePolicy, PermissionsBoundaryArn: aws.String("arn:aws:iam::111122223333:policy/boundary")},
				Tags:                    []types.Tag{{Key: aws.String("iamwarden:exempt"), Value: aws.String("x")}},
			}},
			IsTruncated: true, Marker: aws.String("m1"),
		},
		{
			UserDetailList:  []types.UserDetail{{UserName: aws.String("bob"), Arn: aws.String("arn:aws:iam::111122223333:user/bob")}},
			GroupDetailList: []types.GroupDetail{{GroupName: aws.String("admins"), Arn: aws.String("arn:aws:iam::111122223333:group/admins"), GroupPolicyList: []types.PolicyDetail{{PolicyName: aws.String("g"), PolicyDocument: aws.String(enc)}}}},
			IsTruncated:     true, Marker: aws.String("m2"),
		},
		{
			Policies: []types.ManagedPolicyDetail{{
				PolicyName: aws.String("boundary"), Arn: aws.String("arn:aws:iam::111122223333:policy/boundary"), DefaultVersionId: aws.String("v2"),
				PolicyVersionList: []types.PolicyVersion{
					{VersionId: aws.String("v2"), IsDefaultVersion: true, Document: aws.String(enc)},
					{VersionId: aws.String("v1"), Document: aws.String("%zz not a document")},
				},
			}},
		},
	}
	var markers []string
	f := &fakeIAM{details: func(in *iam.GetAccountAuthorizationDetailsInput) (*iam.GetAccountAuthorizationDetailsOutput, error) {
		if aws.ToInt32(in.MaxItems) != inventory.PageSize {
			t.Errorf("MaxItems %d, want %d", aws.ToInt32(in.MaxItems), inventory.PageSize)
		}
		wantFilter := []types.EntityType{types.EntityTypeUser, types.EntityTypeGroup, types.EntityTypeLocalManagedPolicy}
		if !slices.Equal(in.Filter, wantFilter) {
			t.Errorf("Filter %v, want %v", in.Filter, wantFilter)
		}
		markers = append(markers, aws.ToString(in.Marker))
		return pages[len(markers)-1], nil
	}}
	// The attached AWS managed policy is read with GetPolicy and GetPolicyVersion.
	f.getPolicy = func(in *iam.GetPolicyInput) (*iam.GetPolicyOutput, error) {
		return &iam.GetPolicyOutput{Policy: &types.Policy{Arn: in.PolicyArn, PolicyName: aws.String("ReadOnlyAccess"), DefaultVersionId: aws.String("v7")}}, nil
	}
	f.policyVersion = func(in *iam.GetPolicyVersionInput) (*iam.GetPolicyVersionOutput, error) {
		if aws.ToString(in.VersionId) != "v7" {
			t.Errorf("read version %s, want the default v7", aws.ToString(in.VersionId))
		}
		return &iam.GetPolicyVersionOutput{PolicyVersion: &types.PolicyVersion{VersionId: in.VersionId, IsDefaultVersion: true, Document: aws.String(url.QueryEscape(doc))}}, nil
	}
	raw, err := newTestLoader(f, nil, nil, inventory.LoaderOptions{}).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ro := raw.Authorization.Policies[len(raw.Authorization.Policies)-1]; ro.Arn != "arn:aws:iam::aws:policy/ReadOnlyAccess" || ro.DefaultVersionId != "v7" ||
		len(ro.PolicyVersionList) != 1 || string(ro.PolicyVersionList[0].Document) != doc {
		t.Errorf("AWS managed policy %+v", ro)
	}
	raw.Authorization.Policies = raw.Authorization.Policies[:len(raw.Authorization.Policies)-1]
	if !slices.Equal(markers, []string{"", "m1", "m2"}) {
		t.Errorf("markers %q, want the pages followed", markers)
	}
	ad := raw.Authorization
	if len(ad.UserDetailList) != 2 || len(ad.GroupDetailList) != 1 || len(ad.Policies) != 1 {
		t.Fatalf("details %+v", ad)
	}
	alice := ad.UserDetailList[0]
	wantAlice := inventory.UserDetail{
		Path: "/", UserName: "alice", UserId: "AIDAALICE", Arn: "arn:aws:iam::111122223333:user/alice", CreateDate: created,
		UserPolicyList:          []inventory.PolicyDetail{{PolicyName: "inline", PolicyDocument: inventory.PolicyDocument(doc)}},
		GroupList:               []string{"admins"},
		AttachedManagedPolicies: []inventory.AttachedPolicy{{PolicyName: "ro", PolicyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess"}},
		PermissionsBoundary:     &inventory.BoundaryDetail{PermissionsBoundaryType: "PermissionsBoundaryPolicy", PermissionsBoundaryArn: "arn:aws:iam::111122223333:policy/boundary"},
		Tags:                    []inventory.Tag{{Key: "iamwarden:exempt", Value: "x"}},
	}
	if !reflect.DeepEqual(alice, wantAlice) {
		t.Errorf("alice\n got %+v\nwant %+v", alice, wantAlice)
	}
	if got := ad.GroupDetailList[0].GroupPolicyList[0].PolicyDocument; string(got) != doc {
		t.Errorf("group policy document %q not decoded", got)
	}
	vs := ad.Policies[0].PolicyVersionList
	if len(vs) != 2 || string(vs[0].Document) != doc || vs[1].Document != "" {
		t.Errorf("policy versions %+v", vs)
	}
	if len(raw.Problems) != 1 || !strings.Contains(raw.Problems[0].Message, "version v1") {
		t.Errorf("problems %+v, want the undecodable version reported", raw.Problems)
	}
}

func TestLoadPaginatesVirtualMFADevices(t *testing.T) {
	enabled := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var seen []*iam.ListVirtualMFADevicesInput
	f := &fakeIAM{virtualMFA: func(in *iam.ListVirtualMFADevicesInput) (*iam.ListVirtualMFADevicesOutput, error) {
		seen = append(seen, in)
		n := len(seen)
		out := &iam.ListVirtualMFADevicesOutput{VirtualMFADevices: []types.VirtualMFADevice{{
			SerialNumber: aws.String(fmt.Sprintf("arn:aws:iam::111122223333:mfa/u%d", n)),
			EnableDate:   aws.Time(enabled),
			User:         &types.User{UserName: aws.String(fmt.Sprintf("u%d", n)), Arn: aws.String(fmt.Sprintf("arn:aws:iam::111122223333:user/u%d", n))},
		}}}
		if n < 3 {
			out.IsTruncated, out.Marker = true, aws.String(fmt.Sprint(n))
		}
		return out, nil
	}}
	raw, err := newTestLoader(f, nil, nil, inventory.LoaderOptions{}).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 {
		t.Fatalf("%d pages read, want 3", len(seen))
	}
	for _, in := range seen {
		if in.AssignmentStatus != types.AssignmentStatusTypeAssigned || aws.ToInt32(in.MaxItems) != inventory.PageSize {
			t.Errorf("request %+v, want assigned devices, %d per page", in, inventory.PageSize)
		}
	}
	if len(raw.VirtualMFADevices) != 3 {
		t.Fatalf("devices %+v", raw.VirtualMFADevices)
	}
	d := raw.VirtualMFADevices[2]
	if d.SerialNumber != "arn:aws:iam::111122223333:mfa/u3" || d.User == nil || d.User.UserName != "u3" || !d.EnableDate.Equal(enabled) {
		t.Errorf("device %+v", d)
	}
}

func TestLoginProfileCreated(t *testing.T) {
	created := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	tests := []struct {
		name     string
		answer   func(*iam.GetLoginProfileInput) (*iam.GetLoginProfileOutput, error)
		want     time.Time
		wantOK   bool
		wantKind awsapi.Kind
		wantErr  bool
	}{
		{
			name: "profile",
			answer: func(in *iam.GetLoginProfileInput) (*iam.GetLoginProfileOutput, error) {
				return &iam.GetLoginProfileOutput{LoginProfile: &types.LoginProfile{UserName: in.UserName, CreateDate: aws.Time(created)}}, nil
			},
			want: created, wantOK: true,
		},
		{
			name: "no profile",
			answer: func(*iam.GetLoginProfileInput) (*iam.GetLoginProfileOutput, error) {
				return nil, &types.NoSuchEntityException{Message: aws.String("Login Profile for User alice cannot be found.")}
			},
		},
		{
			name:    "denied",
			answer:  func(*iam.GetLoginProfileInput) (*iam.GetLoginProfileOutput, error) { return nil, denied() },
			wantErr: true, wantKind: awsapi.AccessDenied,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeIAM{loginProfile: tt.answer}
			got, ok, err := newTestLoader(f, nil, nil, inventory.LoaderOptions{}).LoginProfileCreated(context.Background(), "alice")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			var ce *inventory.CallError
			if tt.wantErr && (!errors.As(err, &ce) || ce.Op != "iam:GetLoginProfile" || ce.Kind != tt.wantKind) {
				t.Errorf("err = %v, want an iam:GetLoginProfile %v CallError", err, tt.wantKind)
			}
			if !got.Equal(tt.want) || ok != tt.wantOK {
				t.Errorf("got %v %v, want %v %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestAccessKeys(t *testing.T) {
	c1 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	c2 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &fakeIAM{accessKeys: func(in *iam.ListAccessKeysInput) (*iam.ListAccessKeysOutput, error) {
		if aws.ToString(in.UserName) != "alice" {
			t.Errorf("asked for %q", aws.ToString(in.UserName))
		}
		return &iam.ListAccessKeysOutput{AccessKeyMetadata: []types.AccessKeyMetadata{
			{AccessKeyId: aws.String("AKIAOLD"), Status: types.StatusTypeInactive, CreateDate: aws.Time(c1)},
			{AccessKeyId: aws.String("AKIANEW"), Status: types.StatusTypeActive, CreateDate: aws.Time(c2)},
		}}, nil
	}}
	l := newTestLoader(f, nil, nil, inventory.LoaderOptions{})
	got, err := l.AccessKeys(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.AccessKeyMeta{{ID: "AKIAOLD", Active: false, Created: c1}, {ID: "AKIANEW", Active: true, Created: c2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AccessKeys = %+v, want %+v", got, want)
	}

	f.accessKeys = func(*iam.ListAccessKeysInput) (*iam.ListAccessKeysOutput, error) { return nil, denied() }
	_, err = l.AccessKeys(context.Background(), "alice")
	var ce *inventory.CallError
	if !errors.As(err, &ce) || ce.Op != "iam:ListAccessKeys" || ce.Kind != awsapi.AccessDenied {
		t.Errorf("err = %v, want an iam:ListAccessKeys access denied CallError", err)
	}
}

func TestAccessKeyLastUsed(t *testing.T) {
	used := time.Date(2026, 11, 19, 5, 40, 18, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name     string
		answer   *types.AccessKeyLastUsed
		err      error
		want     inventory.AccessKeyLastUse
		wantKind awsapi.Kind
	}{
		{
			name:   "used",
			answer: &types.AccessKeyLastUsed{LastUsedDate: aws.Time(used), ServiceName: aws.String("s3"), Region: aws.String("us-west-2")},
			want:   inventory.AccessKeyLastUse{Used: used.UTC(), Service: "s3", Region: "us-west-2"},
		},
		{
			name:   "never used",
			answer: &types.AccessKeyLastUsed{ServiceName: aws.String("N/A"), Region: aws.String("N/A")},
		},
		{
			name:   "used, by a service without a region",
			answer: &types.AccessKeyLastUsed{LastUsedDate: aws.Time(used), ServiceName: aws.String("iam"), Region: aws.String("N/A")},
			want:   inventory.AccessKeyLastUse{Used: used.UTC(), Service: "iam"},
		},
		{name: "denied", err: denied(), wantKind: awsapi.AccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeIAM{keyLastUsed: func(in *iam.GetAccessKeyLastUsedInput) (*iam.GetAccessKeyLastUsedOutput, error) {
				if aws.ToString(in.AccessKeyId) != "AKIAEXAMPLE" {
					t.Errorf("asked for %q", aws.ToString(in.AccessKeyId))
				}
				if tt.err != nil {
					return nil, tt.err
				}
				return &iam.GetAccessKeyLastUsedOutput{UserName: aws.String("alice"), AccessKeyLastUsed: tt.answer}, nil
			}}
			got, err := newTestLoader(f, nil, nil, inventory.LoaderOptions{}).AccessKeyLastUsed(context.Background(), "AKIAEXAMPLE")
			var ce *inventory.CallError
			if tt.err != nil {
				if !errors.As(err, &ce) || ce.Op != "iam:GetAccessKeyLastUsed" || ce.Kind != tt.wantKind {
					t.Errorf("err = %v, want an iam:GetAccessKeyLastUsed %v CallError", err, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || got.Used.Location() != time.UTC {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
