// Package inventory describes what an AWS account holds that matters to IAM user hygiene: users,
// their console passwords, access keys, MFA devices, groups and policies, and the root account.
//
// There is one snapshot type and two ways to fill it: live from the AWS APIs (Loader) or from the
// files the AWS CLI writes (ReadExport). Both produce a Raw set of API answers which Assemble turns
// into a Snapshot, so the two sources can never disagree on how the data is interpreted. The
// per-user answers an export records (listed keys, login profiles) are not applied by Assemble:
// the scan asks for them (Snapshot.Recorded) exactly where it asks AWS live.
package inventory

import "time"

// RootName is the principal name AWS uses for the root user in the credential report.
const RootName = "<root_account>"

// Source says where a snapshot was read from.
type Source string

const (
	SourceLive   Source = "live"
	SourceExport Source = "export"
)

// Snapshot is everything the rules judge, read at one moment.
type Snapshot struct {
	AccountID    string
	AccountAlias string
	Source       Source
	// ReadAt is when the data was read from AWS (for an export: when the export was taken).
	ReadAt time.Time
	// ReportGeneratedAt is when AWS generated the credential report the snapshot is built on; the
	// report can be up to four hours older than ReadAt.
	ReportGeneratedAt time.Time

	// Root is the account's root user: from the credential report's root row, or, when the report
	// has none (moto's reports never do), from the account summary (RootSummary set); nil when
	// neither says anything of root.
	Root  *User
	Users []User

	Groups   map[string]Group         // by group name
	Policies map[string]ManagedPolicy // managed policies by ARN
	Summary  map[string]int32         // GetAccountSummary's SummaryMap
	// PasswordPolicy is nil when the account has none (NoSuchEntity).
	PasswordPolicy *PasswordPolicy

	// SCPs says which service control policies govern the account's users; never nil after
	// Assemble (an export without scps.json reads as SCPs not read).
	SCPs *SCPs

	// Recorded answers the per-user questions from an export's listed access keys and login
	// profiles; nil when the data holds none (live reads ask AWS instead).
	Recorded *Recorded

	// Problems lists what could not be read; a snapshot with problems is partial.
	Problems []Problem
}

// Partial reports whether part of the account could not be read.
func (s *Snapshot) Partial() bool { return len(s.Problems) > 0 }

// Principals returns root (when known) followed by every user, in report order.
func (s *Snapshot) Principals() []*User {
	out := make([]*User, 0, len(s.Users)+1)
	if s.Root != nil {
		out = append(out, s.Root)
	}
	for i := range s.Users {
		out = append(out, &s.Users[i])
	}
	return out
}

// Problem is one piece of the account that could not be read or understood.
type Problem struct {
	// Where names the file and line ("credential-report.csv:17") or the API call
	// ("iam:GetAccountAuthorizationDetails").
	Where string `json:"where"`
	// Message says what went wrong.
	Message string `json:"message"`
	// Principal is set when the problem concerns one user only; the rules skip that user's
	// affected checks rather than judging on missing data.
	Principal string `json:"principal,omitempty"`
}

// User is an IAM user or, with IsRoot, the root user.
type User struct {
	Name    string
	ARN     string
	ID      string // AIDA..., empty for root
	Path    string
	IsRoot  bool
	Created time.Time

	Tags                map[string]string
	Groups              []string
	AttachedPolicies    []string // managed policy ARNs attached directly
	InlinePolicies      []InlinePolicy
	PermissionsBoundary string // policy ARN, empty when none

	Password   Password
	MFA        MFA
	AccessKeys []AccessKey

	// Incomplete is set when the report row or the authorization details for this user could not
	// be read completely; rules that need the missing part do not judge the user.
	Incomplete bool
	// RootSummary is set on a root known only from GetAccountSummary, because the credential
	// report has no root row: Password, MFA and AccessKeys are then unknown, and the summary says
	// whether root has MFA and an access key.
	RootSummary *RootSummary
}

// RootSummary is what GetAccountSummary says of the root user.
type RootSummary struct {
	// MFAEnabled is AccountMFAEnabled = 1: root has an MFA device.
	MFAEnabled bool
	// AccessKeysPresent is AccountAccessKeysPresent = 1: root has an access key (active or not).
	AccessKeysPresent bool
}

// GetAccountSummary's SummaryMap keys that describe the root user.
const (
	SummaryAccountMFAEnabled        = "AccountMFAEnabled"
	SummaryAccountAccessKeysPresent = "AccountAccessKeysPresent"
)

// Password is a user's console password (login profile).
type Password struct {
	Enabled bool
	// LastUsed is zero when the password was never used (or AWS has no record: "no_information").
	LastUsed time.Time
	// LastChanged is when the password was last set, from the credential report.
	LastChanged time.Time
	// ProfileCreated is when the login profile was created (GetLoginProfile); zero when not read.
	// The scan reads it only when the report cannot decide a grace period on its own.
	ProfileCreated time.Time
}

// SetAt is the best known time the console password came to exist: the login profile's creation
// when read, else the last change (never earlier than the profile's creation).
func (p Password) SetAt() time.Time {
	if !p.ProfileCreated.IsZero() {
		return p.ProfileCreated
	}
	return p.LastChanged
}

// MFA is what is known of a principal's MFA devices.
type MFA struct {
	// Active is the credential report's mfa_active: at least one device is assigned.
	Active bool
	// Devices lists the devices known by serial; virtual devices come from ListVirtualMFADevices,
	// so a user with Active and no virtual device has a hardware or FIDO device.
	Devices []MFADevice
}

// HasVirtual reports whether any known device is a virtual (authenticator app) device.
func (m MFA) HasVirtual() bool {
	for _, d := range m.Devices {
		if d.Virtual {
			return true
		}
	}
	return false
}

// HasNonVirtual reports whether the principal has an MFA device that is not virtual: Active with
// more devices assigned than the virtual ones found.
func (m MFA) HasNonVirtual() bool {
	if !m.Active {
		return false
	}
	for _, d := range m.Devices {
		if !d.Virtual {
			return true
		}
	}
	return !m.HasVirtual()
}

// MFADevice is one MFA device assigned to a principal.
type MFADevice struct {
	Serial    string
	Virtual   bool
	EnabledAt time.Time
}

// AccessKey is one of a principal's (at most two) access keys.
type AccessKey struct {
	// Slot is 1 or 2: the credential report's access_key_1 / access_key_2 column group.
	Slot int
	// ID is the access key ID (AKIA...); empty until resolved with ListAccessKeys, because the
	// credential report does not carry it.
	ID     string
	Active bool
	// Created is the credential report's access_key_N_last_rotated: the key's creation time.
	Created time.Time
	// LastUsed is zero when the key was never used.
	LastUsed        time.Time
	LastUsedService string
	LastUsedRegion  string
	// Unmatched is set when the user's keys were listed but none could be shown to be this one
	// (see NameAccessKeys): ID is then empty. Nil when ID is known or the keys were not listed.
	Unmatched *UnmatchedKey
}

// Ref names the key for people: its ID when known, else its report slot.
func (k AccessKey) Ref() string {
	if k.ID != "" {
		return k.ID
	}
	return "access_key_" + string(rune('0'+k.Slot))
}

// InlinePolicy is a policy embedded in a user or group.
type InlinePolicy struct {
	Name     string
	Document string // decoded JSON
}

// Group is an IAM group with its policies.
type Group struct {
	Name             string
	ARN              string
	AttachedPolicies []string
	InlinePolicies   []InlinePolicy
}

// ManagedPolicy is a customer or AWS managed policy with its default version's document.
type ManagedPolicy struct {
	Name     string
	ARN      string
	Document string // decoded JSON of the default version
}

// PasswordPolicy is the account password policy.
type PasswordPolicy struct {
	MinimumPasswordLength      int32 `json:"MinimumPasswordLength,omitempty"`
	RequireSymbols             bool  `json:"RequireSymbols"`
	RequireNumbers             bool  `json:"RequireNumbers"`
	RequireUppercaseCharacters bool  `json:"RequireUppercaseCharacters"`
	RequireLowercaseCharacters bool  `json:"RequireLowercaseCharacters"`
	AllowUsersToChangePassword bool  `json:"AllowUsersToChangePassword"`
	ExpirePasswords            bool  `json:"ExpirePasswords"`
	MaxPasswordAge             int32 `json:"MaxPasswordAge,omitempty"`
	PasswordReusePrevention    int32 `json:"PasswordReusePrevention,omitempty"`
	HardExpiry                 bool  `json:"HardExpiry,omitempty"`
}

// AccessKeyMeta is one entry of ListAccessKeys: what the credential report lacks (the key ID).
type AccessKeyMeta struct {
	ID      string
	Active  bool
	Created time.Time
	// LastUse is the key's GetAccessKeyLastUsed answer; nil when it was not read.
	LastUse *AccessKeyLastUse
}
