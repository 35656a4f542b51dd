package rules

import (
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

// Finding is a verdict placed in context: which account, principal and rule, and whether an
// exemption covers it. Its JSON form is the documented report format.
type Finding struct {
	ID           string     `json:"id"`
	AccountID    string     `json:"account_id,omitempty"`
	Rule         string     `json:"rule"`
	Severity     Severity   `json:"severity"`
	State        State      `json:"state"`
	Deadline     *time.Time `json:"deadline,omitempty"`
	Principal    string     `json:"principal"`
	PrincipalARN string     `json:"principal_arn"`
	// UserID is the principal's unique ID (AIDA…), when the data holds it.
	UserID    string         `json:"user_id,omitempty"`
	Resource  string         `json:"resource,omitempty"`
	Controls  []string       `json:"controls"`
	Title     string         `json:"title"`
	Detail    string         `json:"detail"`
	Evidence  map[string]any `json:"evidence,omitempty"`
	Exemption *Exemption     `json:"exemption,omitempty"`
	// KeyIDUnknown is set on a key finding whose key the credential report gives by slot only and
	// none of the user's listed keys can be shown to be: why, and which keys it could be. Resource
	// is then the slot.
	KeyIDUnknown *inventory.UnmatchedKey `json:"key_id_unknown,omitempty"`

	// Key is the offending access key of key rules (not serialised: Resource names it).
	Key *inventory.AccessKey `json:"-"`
}

// Exemption is the exemption that matched a finding. An expired one does not change the state;
// it is attached so the report says the exemption lapsed.
type Exemption struct {
	Reason  string     `json:"reason"`
	Source  string     `json:"source"` // "tag", "config", "ssm:/param/name"
	Until   *time.Time `json:"until,omitempty"`
	Expired bool       `json:"expired,omitempty"`
}

// Exempter finds the exemption, if any, that covers a rule for a principal at an instant. It
// returns expired exemptions too (with Expired set) so they can be reported.
type Exempter interface {
	Exemption(p *inventory.User, ruleID string, asOf time.Time) (Exemption, bool)
}

// FindingID is the stable identifier of a finding: the same account, rule, principal and resource
// give the same ID on every run.
func FindingID(accountID, ruleID, principal, resource string) string {
	id := accountID + "/" + ruleID + "/" + principal
	if resource != "" {
		id += "/" + resource
	}
	return id
}
