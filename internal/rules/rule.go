// Package rules decides, principal by principal, what is wrong with an account's IAM users.
//
// Each rule lives in its own file and is listed once in Registry. A rule's Check is the single
// decision used both by the scan and by remediation: remediation re-reads a user live and calls
// the same Check, so detection and remediation cannot disagree.
package rules

import (
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/policy"
)

// Severity orders findings by urgency.
type Severity string

const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
)

// State says what a finding asks of the operator.
type State string

const (
	// StateViolation: the rule is broken now.
	StateViolation State = "violation"
	// StatePending: the rule will be broken at Deadline unless the user acts (grace period).
	StatePending State = "pending"
	// StateExempt: the rule is broken but an unexpired exemption covers it.
	StateExempt State = "exempt"
)

// Rule is one check. Check returns a Verdict per offending resource (the principal itself or one
// access key); no verdict means the principal passes.
type Rule struct {
	ID       string
	Title    string
	Severity Severity
	// Controls lists the AWS controls the rule maps to ("FSBP IAM.5", "CIS 1.10").
	Controls []string
	// Doc is the rule's page under docs/rules/.
	Doc string
	// Root says the rule judges only the root user; otherwise it judges only IAM users.
	Root bool
	// NeedsRootRow says the rule needs root's credential report row: it does not judge a root
	// known only from the account summary (inventory.User.RootSummary), and the scan lists it
	// as not judged.
	NeedsRootRow bool
	// NamesKeys says the rule's details name the user's access keys without a Verdict.Key: the
	// scan names the keys of the users it fires on, as it does for key rules.
	NamesKeys bool
	Check     func(env Env, p *inventory.User) []Verdict
}

// Env is what a check may know besides the principal: the instant it judges at and the
// configured thresholds. Time is never read from the system clock inside a rule.
type Env struct {
	AsOf       time.Time
	Thresholds Thresholds
	// Policies resolves the policies governing a user's requests; nil where they are not known
	// (then mfa-not-enforced does not judge).
	Policies PolicySets
	// SCPsNotEvaluated says why the organization's SCPs, which may govern the users, are not in
	// the policy sets Policies gives; empty when they are, or when none apply.
	SCPsNotEvaluated string
	// GraceGrants are the console-mfa-missing deadlines granted to users who removed their last
	// MFA device (Thresholds.MFARemovedGrace after the removal), by user ID; nil when none.
	GraceGrants map[string]GraceGrant
}

// GraceGrant is a deadline given to a console user after they removed their last MFA device.
type GraceGrant struct {
	RemovedAt time.Time
	Until     time.Time
}

// PolicySets gives the policies that govern a user's requests.
type PolicySets interface {
	PolicySet(u *inventory.User) (*policy.PolicySet, error)
}

// Thresholds are the configurable numbers the rules use.
type Thresholds struct {
	// ConsoleMFAGrace is how long after a console password is set the user may go without MFA.
	ConsoleMFAGrace time.Duration
	// MFARemovedGrace is how long a console user who removes their last MFA device has to
	// register another; 0 gives none (the grace from the password's setting applies alone). It
	// takes effect through Env.GraceGrants, recorded when the removal is seen.
	MFARemovedGrace time.Duration
	// RootRecentlyUsedDays: root use within this many days is reported.
	RootRecentlyUsedDays int
	// PasswordUnusedDays: a password unused for this many days is stale (FSBP IAM.8: 90; IAM.22/CIS: 45).
	PasswordUnusedDays int
	// AccessKeyUnusedDays: an active key unused for this many days is stale.
	AccessKeyUnusedDays int
	// AccessKeyMaxAgeDays: an active key older than this must be rotated.
	AccessKeyMaxAgeDays int
}

// DefaultThresholds are the documented defaults.
func DefaultThresholds() Thresholds {
	return Thresholds{
		ConsoleMFAGrace:      24 * time.Hour,
		RootRecentlyUsedDays: 1,
		PasswordUnusedDays:   90,
		AccessKeyUnusedDays:  90,
		AccessKeyMaxAgeDays:  90,
	}
}

// Verdict is a rule's decision about one resource of one principal.
type Verdict struct {
	// Resource is the access key (ID when known) for key rules; empty when the principal itself is
	// at fault.
	Resource string
	// Key is the offending access key for key rules, so remediation acts on that exact key.
	Key *inventory.AccessKey
	// State is StateViolation or StatePending (exemptions are applied later).
	State State
	// Deadline is when a pending verdict becomes a violation.
	Deadline time.Time
	// Detail explains the decision in a sentence, with the numbers that drove it.
	Detail string
	// Evidence holds the inputs of the decision, for the JSON report.
	Evidence map[string]any
}
