package org

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/awsapi"
)

// The member roles' default names (deploy/cloudformation/member.yaml creates them): the audit
// role for what reads, the enforce role for what changes.
const (
	DefaultAuditRole   = "iamwarden-audit"
	DefaultEnforceRole = "iamwarden-enforce"
)

// Defaults and bounds of Roles.
const (
	// DefaultSessionName names the sessions in the member accounts' CloudTrail.
	DefaultSessionName = "iamwarden-scan"
	// SessionPrefix starts every session name, so that CloudTrail shows iamwarden's sessions.
	SessionPrefix = "iamwarden"
	// DefaultDuration is how long assumed credentials last; they are refreshed before expiry.
	DefaultDuration = 15 * time.Minute
	// MaxDuration is the longest session a role may allow; a hub whose own credentials come
	// from a role (a Lambda function) is limited to one hour by role chaining.
	MaxDuration = 12 * time.Hour
	// RefreshBefore is how long before expiry assumed credentials are renewed.
	RefreshBefore = 2 * time.Minute
)

var (
	// STS: RoleSessionName [\w+=,.@-]{2,64}; ExternalId [\w+=,.@:/-]{2,1224}.
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]+$`) // and 2 to 1224 characters
	// IAM role names: [\w+=,.@-]{1,64}.
	roleNamePattern = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
)

// AssumeRoleAPI is the STS call Roles makes; *sts.Client satisfies it.
type AssumeRoleAPI = stscreds.AssumeRoleAPIClient

// Roles gives an SDK configuration for each account of the organization: the caller's own
// account gets Base unchanged, any other one a copy of Base whose credentials come from
// AssumeRole into arn:<partition>:iam::<account>:role/<RoleName>.
//
// Credentials are fetched lazily, on the first call a client makes (or by Assume), and kept for
// the run: one provider per account behind an aws.CredentialsCache, which renews them
// RefreshBefore their expiry. AssumeRole calls go to the regional STS endpoint of Region, never
// the global one. Set the fields before the first call and do not copy a Roles in use; it is
// safe for concurrent use.
type Roles struct {
	// Base is the caller's configuration: its credentials call AssumeRole, and its other
	// settings (endpoint, retryer, HTTP client, API options) carry over to every account.
	Base aws.Config
	// NewSTS makes the client AssumeRole calls go through from cfg, a copy of Base whose Region
	// is the STS region. Nil: sts.NewFromConfig(cfg).
	NewSTS func(cfg aws.Config) AssumeRoleAPI
	// RoleName is the member role's name, e.g. iamwarden-audit.
	RoleName string
	// ExternalID is passed as AssumeRole's ExternalId; empty sends none.
	ExternalID string
	// SessionName is the RoleSessionName; it must start with "iamwarden". Empty:
	// DefaultSessionName.
	SessionName string
	// CallerAccount is the account of Base's credentials; it is never assumed into.
	CallerAccount string
	// Region picks the regional STS endpoint. Empty: Base.Region.
	Region string
	// Partition of the role ARNs. Empty: the region's (aws, aws-cn, aws-us-gov...).
	Partition string
	// Duration of the assumed sessions. Zero: DefaultDuration.
	Duration time.Duration

	once    sync.Once
	initErr error
	client  AssumeRoleAPI
	region  string

	mu    sync.Mutex
	creds map[string]*aws.CredentialsCache // by account ID
}

// AssumeError is a failed AssumeRole into one account's member role.
type AssumeError struct {
	Account string
	RoleARN string
	Kind    awsapi.Kind
	Err     error
}

func (e *AssumeError) Error() string {
	if e.Kind == awsapi.Other {
		return fmt.Sprintf("account %s: assume role %s: %v", e.Account, e.RoleARN, e.Err)
	}
	return fmt.Sprintf("account %s: assume role %s: %s: %v", e.Account, e.RoleARN, e.Kind, e.Err)
}

func (e *AssumeError) Unwrap() error { return e.Err }

// Hint is the advice for the failure. A refusal usually means the member stack is missing in
// the account, or its trust policy does not name the caller or expects another ExternalId.
func (e *AssumeError) Hint() string {
	switch e.Kind {
	case awsapi.AccessDenied, awsapi.Other, awsapi.NoSuchEntity:
		return fmt.Sprintf("try: deploy iamwarden's member stack in account %s: the role %s must exist, "+
			"trust the caller's role with an sts:ExternalId condition matching the external ID in use, "+
			"and the caller needs sts:AssumeRole on it", e.Account, e.RoleARN)
	default:
		return awsapi.KindHint(e.Kind)
	}
}

// Validate checks the settings; Config and Assume return its error.
func (r *Roles) Validate() error {
	if !ValidAccountID(r.CallerAccount) {
		return fmt.Errorf("caller account %q: not an account ID (12 digits)", r.CallerAccount)
	}
	if !roleNamePattern.MatchString(r.RoleName) {
		return fmt.Errorf("member role name %q: want 1 to 64 letters, digits or +=,.@_-", r.RoleName)
	}
	if name := r.sessionName(); !sessionNamePattern.MatchString(name) || !strings.HasPrefix(name, SessionPrefix) {
		return fmt.Errorf("role session name %q: want %q followed by up to %d letters, digits or +=,.@_-", name, SessionPrefix, 64-len(SessionPrefix))
	}
	if n := len(r.ExternalID); n > 0 && (n < 2 || n > 1224 || !externalIDPattern.MatchString(r.ExternalID)) {
		return errors.New("external ID: want 2 to 1224 letters, digits or +=,.@:/_-")
	}
	if d := r.duration(); d < DefaultDuration || d > MaxDuration {
		return fmt.Errorf("session duration %s: want %s to %s", d, DefaultDuration, MaxDuration)
	}
	switch region := r.stsRegion(); {
	case region == "":
		return errors.New("no region for STS: set one (AWS_REGION, --region) so that AssumeRole uses a regional endpoint")
	case region == "aws-global":
		return errors.New(`region "aws-global" is STS's global endpoint: pick a region so that AssumeRole uses a regional endpoint`)
	}
	return nil
}

func (r *Roles) sessionName() string {
	if r.SessionName == "" {
		return DefaultSessionName
	}
	return r.SessionName
}

func (r *Roles) duration() time.Duration {
	if r.Duration == 0 {
		return DefaultDuration
	}
	return r.Duration
}

func (r *Roles) stsRegion() string {
	if r.Region != "" {
		return r.Region
	}
	return r.Base.Region
}

func (r *Roles) init() error {
	r.once.Do(func() {
		if r.initErr = r.Validate(); r.initErr != nil {
			return
		}
		r.region = r.stsRegion()
		cfg := r.Base.Copy()
		cfg.Region = r.region
		if r.NewSTS != nil {
			r.client = r.NewSTS(cfg)
		} else {
			r.client = sts.NewFromConfig(cfg)
		}
		r.creds = map[string]*aws.CredentialsCache{}
	})
	return r.initErr
}

// RoleARN is the member role's ARN in accountID.
func (r *Roles) RoleARN(accountID string) string {
	partition := r.Partition
	if partition == "" {
		partition = PartitionOf(r.stsRegion())
	}
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, accountID, r.RoleName)
}

// Config returns the configuration for accountID: Base itself for the caller's account, else a
// copy of Base with the account's cached AssumeRole credentials. It makes no call: the first
// client call (or Assume) fetches the credentials.
func (r *Roles) Config(ctx context.Context, accountID string) (aws.Config, error) {
	_ = ctx
	if err := r.init(); err != nil {
		return aws.Config{}, err
	}
	if !ValidAccountID(accountID) {
		return aws.Config{}, fmt.Errorf("account %q: not an account ID (12 digits)", accountID)
	}
	if accountID == r.CallerAccount {
		return r.Base, nil
	}
	cfg := r.Base.Copy()
	cfg.Credentials = r.cache(accountID)
	return cfg, nil
}

// Assume is Config, and fetches the account's credentials now unless it is the caller's: an
// account whose role cannot be assumed fails here with an *AssumeError, before any work.
func (r *Roles) Assume(ctx context.Context, accountID string) (aws.Config, error) {
	cfg, err := r.Config(ctx, accountID)
	if err != nil || accountID == r.CallerAccount {
		return cfg, err
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		var ae *AssumeError
		if errors.As(err, &ae) {
			return aws.Config{}, ae
		}
		return aws.Config{}, err
	}
	return cfg, nil
}

func (r *Roles) cache(accountID string) *aws.CredentialsCache {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.creds[accountID]; ok {
		return c
	}
	arn := r.RoleARN(accountID)
	p := stscreds.NewAssumeRoleProvider(r.client, arn, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = r.sessionName()
		o.Duration = r.duration()
		if r.ExternalID != "" {
			o.ExternalID = aws.String(r.ExternalID)
		}
	})
	c := aws.NewCredentialsCache(assumeProvider{account: accountID, arn: arn, next: p}, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = RefreshBefore
	})
	r.creds[accountID] = c
	return c
}

// assumeProvider names the account and the role in AssumeRole's failures, wherever they
// surface (Assume, or the first call of any client).
type assumeProvider struct {
	account, arn string
	next         aws.CredentialsProvider
}

func (p assumeProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := p.next.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, &AssumeError{Account: p.account, RoleARN: p.arn, Kind: awsapi.ClassifyError(err), Err: err}
	}
	return creds, nil
}

// PartitionOf is the partition of region: aws-cn for cn-…, aws-us-gov for us-gov-…, the ISO
// partitions for us-iso…/eu-iso…, aws otherwise.
func PartitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso-e"
	case strings.HasPrefix(region, "us-isof-"):
		return "aws-iso-f"
	default:
		return "aws"
	}
}

// CallerIdentityAPI is the STS call CallerAccount makes; *sts.Client satisfies it.
type CallerIdentityAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// CallerAccount returns the account of the client's credentials, for Roles.CallerAccount.
func CallerAccount(ctx context.Context, api CallerIdentityAPI) (string, error) {
	out, err := api.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("sts:GetCallerIdentity: %w", err)
	}
	return aws.ToString(out.Account), nil
}
