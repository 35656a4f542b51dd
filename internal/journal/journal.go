// Package journal records every remediation action iamwarden takes on an AWS account.
//
// An action is written twice: Begin stores an intent (with the prior state needed to undo it)
// before the change is attempted, and Finish stores the result afterwards. An intent that never
// received a result is a crash leftover: Open lists them so the next run can reconcile them
// against live state.
//
// Two mechanisms keep unattended, concurrent runs from acting twice. A run holds a lease on the
// account while it changes it (Acquire, Renew, Release), so a second run waits or stops. And
// every change carries a dedupe key naming what it changes (ChangeKey), held by one entry at a
// time, so even runs that bypass the lease record the same change once; a failed attempt
// releases its key, so that a notification that was not delivered is sent by a later run.
//
// The store is pluggable: internal/journal/sqlite keeps the journal in a local file for the CLI,
// internal/journal/dynamo in a DynamoDB table shared by a team and the Lambda. Both pass the
// conformance suite in internal/journal/journaltest.
package journal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind is what an action does.
type Kind string

// The kinds of action.
const (
	// KindDisableConsole deletes a user's console login profile.
	KindDisableConsole Kind = "disable-console"
	// KindDeactivateKey sets an access key to Inactive.
	KindDeactivateKey Kind = "deactivate-key"
	// KindRestoreConsole recreates a login profile deleted by KindDisableConsole.
	KindRestoreConsole Kind = "restore-console"
	// KindReactivateKey sets an access key deactivated by KindDeactivateKey back to Active.
	KindReactivateKey Kind = "reactivate-key"
	// KindNotify records a notification, deduplicated by its DedupeKey.
	KindNotify Kind = "notify"
	// KindAddToGroup adds a user to a group (policy apply).
	KindAddToGroup Kind = "add-to-group"
	// KindRemoveFromGroup removes a user added by KindAddToGroup.
	KindRemoveFromGroup Kind = "remove-from-group"
	// KindSetPolicyVersion makes a new version of a managed policy its default (policy apply);
	// Prior names the version it replaced.
	KindSetPolicyVersion Kind = "set-policy-version"
	// KindRestorePolicyVersion makes the version a KindSetPolicyVersion replaced the default again.
	KindRestorePolicyVersion Kind = "restore-policy-version"
	// KindGraceGranted records, changing nothing in IAM, that a console user removed their last
	// MFA device and was given a grace period to register another; Prior holds "removed_at" and
	// "until" (RFC 3339), and the rules read it back (rules.GraceGrant).
	KindGraceGranted Kind = "grace-granted"
)

// Kinds lists every kind, in the order above.
func Kinds() []Kind {
	return []Kind{KindDisableConsole, KindDeactivateKey, KindRestoreConsole, KindReactivateKey, KindNotify,
		KindAddToGroup, KindRemoveFromGroup, KindSetPolicyVersion, KindRestorePolicyVersion, KindGraceGranted}
}

// UndoKind returns the kind that reverses k, and false for kinds that cannot be undone.
func UndoKind(k Kind) (Kind, bool) {
	switch k {
	case KindDisableConsole:
		return KindRestoreConsole, true
	case KindDeactivateKey:
		return KindReactivateKey, true
	case KindAddToGroup:
		return KindRemoveFromGroup, true
	case KindSetPolicyVersion:
		return KindRestorePolicyVersion, true
	}
	return "", false
}

// IsUndo reports whether k reverses another action.
func (k Kind) IsUndo() bool {
	switch k {
	case KindRestoreConsole, KindReactivateKey, KindRemoveFromGroup, KindRestorePolicyVersion:
		return true
	}
	return false
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds(), k) }

// Status is where an action stands.
type Status string

// The statuses. StatusIntent is the only open one; every other status is a final result, and a
// final result is never overwritten.
const (
	// StatusIntent: the action is about to be attempted; its result is not known yet.
	StatusIntent Status = "intent"
	// StatusDone: the change was made.
	StatusDone Status = "done"
	// StatusFailed: the change was attempted and AWS refused it; Detail holds the error.
	StatusFailed Status = "failed"
	// StatusSkipped: nothing was changed because live state made the action unnecessary or
	// unsafe (e.g. the login profile was already gone); Detail says why.
	StatusSkipped Status = "skipped"
	// StatusReconciledDone: an intent left open by a crash, found applied in live state.
	StatusReconciledDone Status = "reconciled-done"
	// StatusReconciledNotDone: an intent left open by a crash, found not applied in live state.
	StatusReconciledNotDone Status = "reconciled-not-done"
)

// Statuses lists every status, in the order above.
func Statuses() []Status {
	return []Status{StatusIntent, StatusDone, StatusFailed, StatusSkipped, StatusReconciledDone, StatusReconciledNotDone}
}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses(), s) }

// Final reports whether s is a result, i.e. a valid status other than StatusIntent.
func (s Status) Final() bool { return s != StatusIntent && s.Valid() }

// Releases reports whether an entry with status s gives up its dedupe key: the attempt changed
// nothing (failed, skipped, or found not applied after a crash), so a later run may try the same
// change or send the same notification again under the same key.
func (s Status) Releases() bool {
	return s == StatusFailed || s == StatusSkipped || s == StatusReconciledNotDone
}

// Applied reports whether s records a change that was made: what undo reverses.
func (s Status) Applied() bool { return s == StatusDone || s == StatusReconciledDone }

// Entry is one journaled action. Its JSON form (journal list and show, undo, enforce) has
// snake_case field names.
type Entry struct {
	// ActionID identifies the action; see NewIDGenerator. Unique in a journal.
	ActionID string `json:"action_id"`
	// RunID identifies the run (one plan applied) the action belongs to.
	RunID string `json:"run_id"`
	// AccountID is the 12-digit AWS account acted on. Required.
	AccountID string `json:"account_id"`
	// Kind is what the action does. Required.
	Kind Kind `json:"kind"`
	// Principal is the IAM user name acted on.
	Principal string `json:"principal"`
	// UserID is the acted-on user's unique ID (AIDA…): a user deleted and created again under
	// the same name is another person, and undo refuses to act on them.
	UserID string `json:"user_id"`
	// Resource is the access key ID for key actions, empty otherwise.
	Resource string `json:"resource"`
	// Rule is the ID of the rule whose finding caused the action.
	Rule string `json:"rule"`
	// FindingID identifies that finding.
	FindingID string `json:"finding_id"`
	// Reason says why, in words (the finding's detail).
	Reason string `json:"reason"`
	// Prior is the state needed to undo the action, e.g. "login_profile": "present",
	// "password_reset_required": "true", or "key_status": "Active". Names are not empty. Never
	// a secret.
	Prior map[string]string `json:"prior"`
	// Status is where the action stands. Begin always stores StatusIntent.
	Status Status `json:"status"`
	// Detail is the result detail or error message. Never a secret.
	Detail string `json:"detail"`
	// UndoOf is the ActionID this action undoes, for restore and reactivate actions.
	UndoOf string `json:"undo_of"`
	// DedupeKey, when set, is held by at most one entry: a Begin with a key another entry holds
	// fails with ErrExists. An entry holds its key from Begin on, and gives it up when it ends
	// with a status that Releases. Changes use ChangeKey; notifications a key of their own, e.g.
	// "grace-start/<finding>/<deadline>".
	DedupeKey string `json:"dedupe_key"`
	// Actor is the ARN of the identity that ran the tool.
	Actor string `json:"actor"`
	// CreatedAt is when the intent was written. Required; stored in UTC to the nanosecond.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when the entry last changed: CreatedAt for an intent, the Finish time after.
	UpdatedAt time.Time `json:"updated_at"`
}

// Filter selects entries for List. Zero fields match everything; the fields that are set must
// all match.
type Filter struct {
	AccountID string
	RunID     string
	Principal string
	// DedupeKey matches entries with this key, whether they hold it or released it.
	DedupeKey string
	// Kinds matches entries of any of these kinds.
	Kinds []Kind
	// Statuses matches entries with any of these statuses.
	Statuses []Status
	// Since matches entries created at or after it.
	Since time.Time
	// Until matches entries created strictly before it.
	Until time.Time
	// Limit caps the number of entries returned (the newest ones); 0 means no limit.
	Limit int
}

// Match reports whether e passes f, ignoring Limit. Stores use it to filter in memory where
// their query cannot.
func (f Filter) Match(e Entry) bool {
	switch {
	case f.AccountID != "" && e.AccountID != f.AccountID,
		f.RunID != "" && e.RunID != f.RunID,
		f.Principal != "" && e.Principal != f.Principal,
		f.DedupeKey != "" && e.DedupeKey != f.DedupeKey,
		len(f.Kinds) > 0 && !slices.Contains(f.Kinds, e.Kind),
		len(f.Statuses) > 0 && !slices.Contains(f.Statuses, e.Status),
		!f.Since.IsZero() && e.CreatedAt.Before(f.Since),
		!f.Until.IsZero() && !e.CreatedAt.Before(f.Until):
		return false
	}
	return true
}

// Journal stores entries. Implementations are safe for concurrent use, also by several
// processes sharing one store.
type Journal interface {
	// Begin writes e as an intent (its Status is ignored). It fails with ErrExists, writing
	// nothing, if an entry with the same ActionID exists or (when set) another entry holds the
	// DedupeKey; the check and the write are atomic. Invalid entries fail with ErrInvalid.
	Begin(ctx context.Context, e Entry) error
	// Finish records the result of an intent: status must be final. A status that Releases
	// gives up the entry's dedupe key. It fails with ErrNotFound for an unknown action and
	// ErrNotOpen if the action already has a result, which is never overwritten.
	Finish(ctx context.Context, actionID string, status Status, detail string, at time.Time) error
	// Get returns one entry, or ErrNotFound.
	Get(ctx context.Context, actionID string) (Entry, error)
	// List returns the entries matching f, newest first (ties broken by ActionID, descending).
	List(ctx context.Context, f Filter) ([]Entry, error)
	// Open returns the intents without a result of one account (of all accounts if accountID is
	// empty), oldest first: the crash leftovers to reconcile.
	Open(ctx context.Context, accountID string) ([]Entry, error)
	// HasDedupe reports whether an entry holds the dedupe key.
	HasDedupe(ctx context.Context, key string) (bool, error)

	Leaser

	// Check verifies that the store is reachable, writable and has the schema this program
	// needs, writing nothing. Its error says what is wrong and what to try.
	Check(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// Errors callers branch on, matched with errors.Is.
var (
	// ErrExists: Begin found an entry with the same ActionID or DedupeKey.
	ErrExists = errors.New("journal entry already exists")
	// ErrNotFound: no entry has the action ID.
	ErrNotFound = errors.New("journal entry not found")
	// ErrNotOpen: Finish found the action already finished.
	ErrNotOpen = errors.New("journal entry already has a result")
	// ErrInvalid: an entry or argument breaks the rules documented on Entry and Journal.
	ErrInvalid = errors.New("invalid journal entry")
)

// ReservedPrefix starts no ActionID: stores may use it for their own items.
const ReservedPrefix = "DEDUPE#"

// LeasePrefix starts no ActionID either: stores may key lease items with it.
const LeasePrefix = "LEASE#"

// SecurityHubPrefix keys the Security Hub import state kept in a DynamoDB journal's table
// (internal/securityhub); no ActionID starts with it either.
const SecurityHubPrefix = "SECURITYHUB#"

// Reserved reports whether id starts with a prefix stores keep for themselves.
func Reserved(id string) bool {
	return strings.HasPrefix(id, ReservedPrefix) || strings.HasPrefix(id, LeasePrefix) || strings.HasPrefix(id, SecurityHubPrefix) ||
		strings.HasPrefix(id, RunPrefix)
}

// maxField bounds every string field, well below DynamoDB's 400 KB item limit.
const maxField = 16 << 10

// Prepare validates e for Begin and returns it as it must be stored: status intent, times in
// UTC without monotonic reading, UpdatedAt defaulting to CreatedAt, and a nil Prior made empty.
func Prepare(e Entry) (Entry, error) {
	var problems []string
	switch {
	case e.ActionID == "":
		problems = append(problems, "action ID is empty")
	case Reserved(e.ActionID):
		problems = append(problems, fmt.Sprintf("action ID %q starts with a reserved prefix (%q, %q, %q, %q)", e.ActionID, ReservedPrefix, LeasePrefix, SecurityHubPrefix, RunPrefix))
	}
	if e.AccountID == "" {
		problems = append(problems, "account ID is empty")
	}
	if !e.Kind.Valid() {
		problems = append(problems, fmt.Sprintf("kind %q is not one of %v", e.Kind, Kinds()))
	}
	if e.CreatedAt.IsZero() {
		problems = append(problems, "created time is zero")
	}
	for name, v := range map[string]string{
		"action ID": e.ActionID, "run ID": e.RunID, "account ID": e.AccountID, "principal": e.Principal, "user ID": e.UserID,
		"resource": e.Resource, "rule": e.Rule, "finding ID": e.FindingID, "reason": e.Reason,
		"detail": e.Detail, "undo-of": e.UndoOf, "dedupe key": e.DedupeKey, "actor": e.Actor,
	} {
		if len(v) > maxField {
			problems = append(problems, fmt.Sprintf("%s is longer than %d bytes", name, maxField))
		}
	}
	for k, v := range e.Prior {
		if k == "" {
			problems = append(problems, "prior state has an empty name")
		}
		if len(k)+len(v) > maxField {
			problems = append(problems, fmt.Sprintf("prior state %q is longer than %d bytes", k, maxField))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return Entry{}, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	e.Status = StatusIntent
	e.CreatedAt = UTC(e.CreatedAt)
	if e.UpdatedAt.IsZero() {
		e.UpdatedAt = e.CreatedAt
	}
	e.UpdatedAt = UTC(e.UpdatedAt)
	if e.Prior == nil {
		e.Prior = map[string]string{}
	}
	return e, nil
}

// CheckFinish validates the arguments of Finish.
func CheckFinish(actionID string, status Status, detail string, at time.Time) error {
	switch {
	case actionID == "":
		return fmt.Errorf("%w: action ID is empty", ErrInvalid)
	case !status.Final():
		return fmt.Errorf("%w: status %q is not a result", ErrInvalid, status)
	case at.IsZero():
		return fmt.Errorf("%w: finish time is zero", ErrInvalid)
	case len(detail) > maxField:
		return fmt.Errorf("%w: detail is longer than %d bytes", ErrInvalid, maxField)
	}
	return nil
}

// TimeLayout is how stores write times: UTC with exactly nine fractional digits, so that the
// text sorts in time order.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// UTC returns t in UTC without its monotonic clock reading.
func UTC(t time.Time) time.Time { return t.UTC().Round(0) }

// FormatTime writes t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime reads a time written by FormatTime.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse journal time: %w", err)
	}
	return t.UTC(), nil
}

// SortNewestFirst orders entries as List returns them.
func SortNewestFirst(entries []Entry) {
	slices.SortFunc(entries, func(a, b Entry) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ActionID, a.ActionID)
	})
}

// SortOldestFirst orders entries as Open returns them.
func SortOldestFirst(entries []Entry) {
	slices.SortFunc(entries, func(a, b Entry) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ActionID, b.ActionID)
	})
}
