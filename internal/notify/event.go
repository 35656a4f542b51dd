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
	// Lines are the actions of the run; with Changes of a sweep that had a previous one, only
	// those new since it (and, of an enforce run, those done).
	Lines []SummaryLine
	// Changes, when set, says what changed since the previous sweep (sweep summaries).
	Changes *ChangeSummary
}

// ChangeSummary is what changed in an account since its previous sweep, so that a sweep's
// summary tells what is new instead of repeating everything.
type ChangeSummary struct {
	// Since is when the previous sweep was recorded; zero on the first one.
	Since time.Time
	// First: no previous sweep was recorded, so nothing is compared and every action is listed.
	First bool
	// Partial: this sweep read the account incompletely. The changes may be incomplete, and a
	// finding it did not see is Unseen, never Resolved.
	Partial bool
	// New, Changed, Resolved and Unseen are the findings of each kind of change.
	New, Changed, Resolved, Unseen []ChangeLine
	// UnchangedActions counts the planned actions the previous sweep planned too: they are
	// counted, not listed again.
	UnchangedActions int
}

// ChangeLine is one finding that changed.
type ChangeLine struct {
	Principal string
	Rule      string
	Severity  string
	// Resource is the access key ID of key findings; it is masked in every output.
	Resource string
	// Before and After are the finding's states in the previous sweep and in this one; empty
	// where the finding is absent.
	Before, After string
	// Deadline is the end of the finding's grace period, if any.
	Deadline time.Time
}

// Empty reports whether no finding changed.
func (c *ChangeSummary) Empty() bool {
	return len(c.New)+len(c.Changed)+len(c.Resolved)+len(c.Unseen) == 0
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
		} else if c := e.Summary.Changes; c != nil {
			switch {
			case c.First && (!c.Empty() || c.UnchangedActions > 0 || !c.Since.IsZero()):
				errs = append(errs, errors.New("changes of a first sweep compare with nothing"))
			case !c.First && c.Since.IsZero():
				errs = append(errs, errors.New("changes without the time of the previous sweep"))
			case c.UnchangedActions < 0:
				errs = append(errs, errors.New("negative count of unchanged actions"))
			}
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
