package mfasession

import (
	"context"
	"fmt"
	"strings"

	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/policy/generate"
)

// CredentialKind is what kind of credentials signed the requests.
type CredentialKind string

// Credential kinds, from the access key ID's prefix.
const (
	LongTermKey CredentialKind = "long-term-access-key" // AKIA...
	Temporary   CredentialKind = "temporary"            // ASIA...: a session token
	UnknownKind CredentialKind = "unknown"
)

// MFAState says whether the current credentials are MFA-authenticated.
type MFAState string

// MFA states. Yes is never reported: AWS's credentials do not say whether a session was
// created with an MFA code.
const (
	MFANo      MFAState = "no"
	MFAUnknown MFAState = "unknown"
)

// ActionCheck is one representative action decided by the enforce-MFA policy for the caller
// signed in without MFA.
type ActionCheck struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Allowed  bool   `json:"allowed_without_mfa"`
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
}

// StatusReport is what Status found.
type StatusReport struct {
	Identity    Identity       `json:"identity"`
	Credentials CredentialKind `json:"credentials"`
	KeyID       string         `json:"access_key_id,omitempty"` // masked, AKIA…WXYZ
	MFA         MFAState       `json:"mfa_authenticated"`
	MFAReason   string         `json:"mfa_reason"`
	Devices     []Device       `json:"mfa_devices"`
	DevicesNote string         `json:"mfa_devices_note,omitempty"`
	WithoutMFA  []ActionCheck  `json:"enforce_mfa_policy_without_mfa"`
}

// Status reports the caller's identity, credentials, MFA devices, whether the credentials are
// MFA-authenticated as far as can be known, and what the enforce-MFA policy lets the caller do
// without MFA.
func Status(ctx context.Context, c Clients) (StatusReport, error) {
	id, err := callerIdentity(ctx, c.STS)
	if err != nil {
		return StatusReport{}, err
	}
	r := StatusReport{Identity: id, Credentials: UnknownKind, Devices: []Device{}, WithoutMFA: []ActionCheck{}}
	if c.Credentials != nil {
		if creds, err := c.Credentials.Retrieve(ctx); err == nil {
			r.Credentials = credentialKind(creds.AccessKeyID)
			r.KeyID = maskKeyID(creds.AccessKeyID)
		}
	}
	r.MFA, r.MFAReason = mfaState(id, r.Credentials)
	switch id.Type {
	case "User", "Account":
		if r.Devices, err = listDevices(ctx, c.IAM, id); err != nil {
			return StatusReport{}, err
		}
		if r.Devices == nil {
			r.Devices = []Device{}
			r.DevicesNote = "no MFA device registered: the enforce-MFA policy denies everything but registering one"
		}
	default:
		r.DevicesNote = "MFA devices belong to IAM users; a " + id.Type + " session has none"
	}
	if id.Type == "User" {
		r.WithoutMFA = checkWithoutMFA(id)
	}
	return r, nil
}

func credentialKind(keyID string) CredentialKind {
	switch {
	case strings.HasPrefix(keyID, "AKIA"):
		return LongTermKey
	case strings.HasPrefix(keyID, "ASIA"):
		return Temporary
	}
	return UnknownKind
}

func mfaState(id Identity, kind CredentialKind) (MFAState, string) {
	switch {
	case id.Type == "FederatedUser":
		return MFANo, "federated user session (sts:GetFederationToken): never MFA-authenticated"
	case kind == LongTermKey:
		return MFANo, "long-term access key: requests signed with it never carry MFA; get MFA session credentials with 'iamwarden mfa session'"
	case kind == Temporary && id.Type == "AssumedRole":
		return MFAUnknown, "role session: MFA-authenticated only if sts:AssumeRole was called with an MFA code, which the credentials do not show"
	case kind == Temporary:
		return MFAUnknown, "temporary credentials of the user (sts:GetSessionToken): MFA-authenticated only if requested with an MFA code, which the credentials do not show ('iamwarden mfa session' always sends one)"
	}
	return MFAUnknown, "the kind of credentials could not be read"
}

// probes are the representative actions Status decides; %s is the account, %u the user ARN.
var probes = []struct{ action, resource string }{
	{"iam:ListMFADevices", "%u"},
	{"iam:CreateVirtualMFADevice", "arn:aws:iam::%s:mfa/new-device"},
	{"iam:EnableMFADevice", "%u"},
	{"iam:ChangePassword", "%u"},
	{"sts:GetSessionToken", "*"},
	{"iam:CreateAccessKey", "%u"},
	{"ec2:DescribeInstances", "*"},
	{"s3:ListAllMyBuckets", "*"},
}

// checkWithoutMFA decides the probes against the enforce-MFA policy alone for the user signed
// with a long-term access key (no MFA keys in the request).
func checkWithoutMFA(id Identity) []ActionCheck {
	doc := generate.EnforceMFA()
	p, err := policy.Compile("enforce-mfa", &doc, policy.KindIdentity)
	if err != nil {
		return []ActionCheck{}
	}
	ctx, err := policy.ContextFor(id.ARN, policy.AuthAccessKey, policy.ContextOptions{UserID: id.UserID})
	if err != nil {
		return []ActionCheck{}
	}
	set := &policy.PolicySet{Identity: []*policy.Policy{p}}
	out := make([]ActionCheck, 0, len(probes))
	for _, pr := range probes {
		res := strings.ReplaceAll(strings.ReplaceAll(pr.resource, "%u", id.ARN), "%s", id.Account)
		d := policy.Evaluate(set, &policy.Request{Principal: id.ARN, Action: pr.action, Resource: res, Context: ctx})
		out = append(out, ActionCheck{Action: pr.action, Resource: res, Allowed: d.Allowed(), Decision: d.Result.String(), Reason: decisionReason(d)})
	}
	return out
}

func decisionReason(d policy.Decision) string {
	if d.Rule != "" {
		return d.Rule
	}
	var sids []string
	for _, s := range d.Deciding {
		sids = append(sids, s.Sid)
	}
	if len(sids) > 0 {
		return strings.Join(sids, ", ")
	}
	return fmt.Sprintf("no %s statement allows it", d.Missing)
}

// maskKeyID shows an access key ID as AKIA…WXYZ.
func maskKeyID(id string) string {
	if len(id) <= 8 {
		return "…"
	}
	return id[:4] + "…" + id[len(id)-4:]
}
