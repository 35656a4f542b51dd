package inventory

import "time"

// Raw holds the answers of the read-only IAM calls a scan makes, in the shapes the AWS CLI prints
// them (so an export directory is just these answers saved as files). Assemble interprets them.
type Raw struct {
	AccountID string
	// ReadAt is when the answers were read.
	ReadAt time.Time
	Source Source

	// CredentialReport is the decoded CSV of GetCredentialReport; ReportGeneratedAt its
	// GeneratedTime (zero when unknown, e.g. a CSV saved without it).
	CredentialReport  []byte
	ReportName        string // file name or API call, for error messages
	ReportGeneratedAt time.Time

	Authorization     *AuthorizationDetails
	VirtualMFADevices []VirtualMFADevice
	PasswordPolicy    *PasswordPolicy
	Aliases           []string
	Summary           map[string]int32
	// AccessKeys lists access keys with their IDs (ListAccessKeys), for the users whose keys were
	// listed; the credential report numbers keys 1 and 2 but does not name them.
	AccessKeys []AccessKeyRecord
	// LoginProfiles holds GetLoginProfile answers for the users whose login profiles were read:
	// when console access was granted, which the report's password_last_changed does not say.
	LoginProfiles []LoginProfileRecord
	// KeyLastUses holds GetAccessKeyLastUsed answers by access key ID, for the keys whose last use
	// tells apart two keys created in the same second with the same status (see LastUseWanted).
	KeyLastUses map[string]KeyLastUseRecord

	// SCPs are the organization's service control policies that govern the account (ReadSCPs;
	// scps.json in an export); nil when not read (an export without scps.json).
	SCPs *SCPs

	// Problems collects what could not be read while gathering the answers.
	Problems []Problem
}

// AuthorizationDetails is the answer of GetAccountAuthorizationDetails, all pages merged, as the
// AWS CLI prints it. Policy documents may be URL-encoded strings (the API) or JSON objects (the
// CLI decodes them); PolicyDocument accepts both.
type AuthorizationDetails struct {
	UserDetailList  []UserDetail    `json:"UserDetailList"`
	GroupDetailList []GroupDetail   `json:"GroupDetailList"`
	RoleDetailList  []RoleDetail    `json:"RoleDetailList,omitempty"`
	Policies        []ManagedDetail `json:"Policies"`
}

// UserDetail is one entry of UserDetailList.
type UserDetail struct {
	Path                    string           `json:"Path"`
	UserName                string           `json:"UserName"`
	UserId                  string           `json:"UserId"`
	Arn                     string           `json:"Arn"`
	CreateDate              time.Time        `json:"CreateDate"`
	UserPolicyList          []PolicyDetail   `json:"UserPolicyList,omitempty"`
	GroupList               []string         `json:"GroupList"`
	AttachedManagedPolicies []AttachedPolicy `json:"AttachedManagedPolicies"`
	PermissionsBoundary     *BoundaryDetail  `json:"PermissionsBoundary,omitempty"`
	Tags                    []Tag            `json:"Tags,omitempty"`
}

// GroupDetail is one entry of GroupDetailList.
type GroupDetail struct {
	Path                    string           `json:"Path"`
	GroupName               string           `json:"GroupName"`
	GroupId                 string           `json:"GroupId"`
	Arn                     string           `json:"Arn"`
	CreateDate              time.Time        `json:"CreateDate"`
	GroupPolicyList         []PolicyDetail   `json:"GroupPolicyList"`
	AttachedManagedPolicies []AttachedPolicy `json:"AttachedManagedPolicies"`
}

// RoleDetail keeps only what identifies a role; roles are not judged by the scan.
type RoleDetail struct {
	RoleName string `json:"RoleName"`
	Arn      string `json:"Arn"`
}

// ManagedDetail is one entry of Policies.
type ManagedDetail struct {
	PolicyName        string          `json:"PolicyName"`
	PolicyId          string          `json:"PolicyId"`
	Arn               string          `json:"Arn"`
	Path              string          `json:"Path"`
	DefaultVersionId  string          `json:"DefaultVersionId"`
	AttachmentCount   int32           `json:"AttachmentCount"`
	IsAttachable      bool            `json:"IsAttachable"`
	CreateDate        time.Time       `json:"CreateDate"`
	UpdateDate        time.Time       `json:"UpdateDate"`
	PolicyVersionList []PolicyVersion `json:"PolicyVersionList"`
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	Document         PolicyDocument `json:"Document"`
	VersionId        string         `json:"VersionId"`
	IsDefaultVersion bool           `json:"IsDefaultVersion"`
	CreateDate       time.Time      `json:"CreateDate"`
}

// PolicyDetail is an inline policy.
type PolicyDetail struct {
	PolicyName     string         `json:"PolicyName"`
	PolicyDocument PolicyDocument `json:"PolicyDocument"`
}

// AttachedPolicy names an attached managed policy.
type AttachedPolicy struct {
	PolicyName string `json:"PolicyName"`
	PolicyArn  string `json:"PolicyArn"`
}

// BoundaryDetail is a user's permissions boundary.
type BoundaryDetail struct {
	PermissionsBoundaryType string `json:"PermissionsBoundaryType"`
	PermissionsBoundaryArn  string `json:"PermissionsBoundaryArn"`
}

// Tag is an IAM tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// VirtualMFADevice is one entry of ListVirtualMFADevices (assigned devices only).
type VirtualMFADevice struct {
	SerialNumber string     `json:"SerialNumber"`
	User         *MFAUser   `json:"User,omitempty"`
	EnableDate   *time.Time `json:"EnableDate,omitempty"`
}

// MFAUser is the user a virtual MFA device is assigned to.
type MFAUser struct {
	UserName string `json:"UserName,omitempty"`
	UserId   string `json:"UserId,omitempty"`
	Arn      string `json:"Arn"`
}

// AccessKeyRecord is one entry of ListAccessKeys' AccessKeyMetadata.
type AccessKeyRecord struct {
	UserName    string    `json:"UserName"`
	AccessKeyId string    `json:"AccessKeyId"`
	Status      string    `json:"Status"`
	CreateDate  time.Time `json:"CreateDate"`
}

// LoginProfileRecord is the LoginProfile of one GetLoginProfile answer.
type LoginProfileRecord struct {
	UserName   string    `json:"UserName"`
	CreateDate time.Time `json:"CreateDate"`
}

// KeyLastUseRecord is the AccessKeyLastUsed of one GetAccessKeyLastUsed answer. LastUsedDate is
// nil for a key never used.
type KeyLastUseRecord struct {
	LastUsedDate *time.Time `json:"LastUsedDate,omitempty"`
	ServiceName  string     `json:"ServiceName"`
	Region       string     `json:"Region"`
}
