// Package notify turns enforcement events into notifications (a subject, a plain-text body and
// SNS message attributes) and publishes them to an SNS topic, or writes them to an io.Writer
// for dry runs. Access key IDs are masked in every output; no secret ever enters a message.
package notify

import (
	"errors"
	"fmt"
	"time"
)

// EventKind says what happened.
type EventKind string

const (
	// KindActionDone: an action was applied (console access disabled, access key deactivated).
	KindActionDone EventKind = "action-done"
	// KindActionFailed: an action was attempted and failed.
	KindActionFailed EventKind = "action-failed"
	// KindActionSkipped: an action was planned but not applied (exemption, already compliant...).
	KindActionSkipped EventKind = "action-skipped"
	// KindGraceStarted: a user entered the grace period and must register MFA before Deadline.
	KindGraceStarted EventKind = "grace-started"
	// KindGraceEnding: the grace period ends soon; last reminder before the action.
	KindGraceEnding EventKind = "grace-ending"
	// KindRunSummary: the outcome of one enforcement run.
	KindRunSummary EventKind = "run-summary"
)

// Kinds lists every event kind in a stable order.
func Kinds() []EventKind {
	return []EventKind{KindActionDone, KindActionFailed, KindActionSkipped, KindGraceStarted, KindGraceEnding, KindRunSummary}
}

// Actions the enforce engine takes.
const (
	ActionDisableConsole = "disable-console"
	ActionDeactivateKey  = "deactivate-key"
)

// Rules whose messages carry specific instructions to regain access.
const (
	RuleConsoleMFAMissing = "console-mfa-missing"
	RulePasswordUnused    = "password-unused"
	RuleAccessKeyUnused   = "access-key-unused"
)

// Event is one thing the enforce engine reports.
type Event struct {
	Kind         EventKind
	AccountID    string
	AccountAlias string
	// Principal is the IAM user name.
	Principal string
	// Resource is the access key ID of key actions; it is masked in every output.
	Resource string
	// Action is ActionDisableConsole or ActionDeactivateKey.
	Action string
	// Rule is the ID of the rule that condemned the principal.
	Rule     string
	Severity string
	// Reason is the finding's detail, or why an action failed or was skipped.
	Reason string
	// Deadline is the end of the grace period (grace events).
	Deadline time.Time
	At       time.Time
	RunID    string
	ActionID string
	DryRun   bool
	// Summary is the outcome of the run (run-summary events).
	Summary *RunSummary
}

// RunSummary counts the outcomes of one enforcement run.
type RunSummary struct {
	Done, Skipped, Failed, Pending int
	Lines                          []SummaryLine
}

// SummaryLine is the outcome of one action of a run.
type SummaryLine struct {
	Principal string
	Action    string
	// Resource is the access key ID of key actions; it is masked in every output.
	Resource string
	Rule     string
	// Status is "done", "skipped", "failed" or "pending".
	Status string
}

// ErrInvalidEvent is returned (wrapped) for an event that cannot be rendered meaningfully.
var ErrInvalidEvent = errors.New("invalid notification event")

// Validate checks that the event has what its kind needs.
func (e Event) Validate() error {
	var errs []error
	known := false
	for _, k := range Kinds() {
		if e.Kind == k {
			known = true
		}
	}
	if !known {
		errs = append(errs, fmt.Errorf("unknown kind %q", e.Kind))
	}
	if e.AccountID == "" {
		errs = append(errs, errors.New("account ID is empty"))
	}
	if e.At.IsZero() {
		errs = append(errs, errors.New("time is zero"))
	}
	switch e.Kind {
	case KindRunSummary:
		if e.Summary == nil {
			errs = append(errs, errors.New("run-summary without a summary"))
		}
	case KindActionDone, KindActionFailed, KindActionSkipped, KindGraceStarted, KindGraceEnding:
		if e.Principal == "" {
			errs = append(errs, errors.New("principal is empty"))
		}
		if e.Action == "" {
			errs = append(errs, errors.New("action is empty"))
		}
		if (e.Kind == KindGraceStarted || e.Kind == KindGraceEnding) && e.Deadline.IsZero() {
			errs = append(errs, errors.New("grace event without a deadline"))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidEvent, errors.Join(errs...))
	}
	return nil
}
