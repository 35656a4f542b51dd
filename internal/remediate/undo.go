package remediate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"slices"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// Undone is the result of undoing one action.
type Undone struct {
	Of       journal.Entry `json:"of"`
	ActionID string        `json:"action_id,omitempty"`
	// Status is done, skipped (already undone, already restored, or nothing left to restore),
	// refused (another person or account; nothing was changed) or failed.
	Status Status `json:"status"`
	Detail string `json:"detail"`
	// Password is the new console password of a restored login profile. It is shown to the
	// operator once and never journaled or logged; the user must change it at first sign-in.
	Password string `json:"-"`
}

// UndoReport is one undo invocation: one action or every applied action of a run.
type UndoReport struct {
	// RunID identifies the undo run; its entries carry it.
	RunID string `json:"run_id"`
	// Reconciled are interrupted intents (of an earlier undo or enforce) settled first.
	Reconciled []journal.Entry `json:"reconciled"`
	Results    []*Undone       `json:"results"`
}

// Count returns how many results have the status.
func (r *UndoReport) Count(s Status) int {
	n := 0
	for _, u := range r.Results {
		if u.Status == s {
			n++
		}
	}
	return n
}

// Failed reports whether any undo failed or was refused.
func (r *UndoReport) Failed() bool { return r.Count(StatusFailed)+r.Count(StatusRefused) > 0 }

// ErrNotUndoable is returned (wrapped) for entries that cannot be undone.
var ErrNotUndoable = errors.New("action cannot be undone")

// Undo reverses one applied action; see UndoRun.
func (e *Executor) Undo(ctx context.Context, actionID string) (*UndoReport, error) {
	en, err := e.Journal.Get(ctx, actionID)
	if err != nil {
		return nil, err
	}
	if _, ok := journal.UndoKind(en.Kind); !ok {
		return nil, fmt.Errorf("%w: %s is a %s action", ErrNotUndoable, actionID, en.Kind)
	}
	if !en.Status.Applied() {
		return nil, fmt.Errorf("%w: %s is %s, not done", ErrNotUndoable, actionID, en.Status)
	}
	return e.undo(ctx, en.AccountID, []journal.Entry{en})
}

// UndoRun reverses every applied action of a run. Every entry is attempted: one that was already
// undone, or whose target is already back as it was, is skipped and reported; a failure is
// reported and the others go on. Run it again to finish what failed: it is idempotent.
func (e *Executor) UndoRun(ctx context.Context, runID string) (*UndoReport, error) {
	all, err := e.Journal.List(ctx, journal.Filter{RunID: runID})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var entries []journal.Entry
	for _, en := range all {
		if _, ok := journal.UndoKind(en.Kind); ok && en.Status.Applied() {
			entries = append(entries, en)
		}
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: run %s has no applied actions", ErrNotUndoable, runID)
	}
	slices.Reverse(entries) // oldest first, the order they were made in
	return e.undo(ctx, entries[0].AccountID, entries)
}

// undo reverses entries of one account under the account's lease.
func (e *Executor) undo(ctx context.Context, accountID string, entries []journal.Entry) (*UndoReport, error) {
	for _, en := range entries {
		if err := e.checkAccount(en.AccountID, "action "+en.ActionID); err != nil {
			return nil, err
		}
	}
	runID, err := e.IDs.New()
	if err != nil {
		return nil, err
	}
	rep := &UndoReport{RunID: runID, Reconciled: []journal.Entry{}, Results: []*Undone{}}
	if err := e.preflight(ctx, nil); err != nil {
		return rep, err
	}
	h, err := e.acquire(ctx, accountID, runID)
	if err != nil {
		return rep, err
	}
	defer e.release(h)
	// An undo interrupted earlier left its intents open: settle them first, so that what it did
	// counts as undone and what it did not is tried again.
	if rep.Reconciled, err = e.Reconcile(ctx, accountID); err != nil {
		return rep, err
	}
	for _, en := range entries {
		u, err := e.undoOne(ctx, h, runID, en)
		rep.Results = append(rep.Results, u)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// undoOne reverses one entry. The returned error is systemic: the undo run stops.
func (e *Executor) undoOne(ctx context.Context, h *journal.Lease, runID string, en journal.Entry) (*Undone, error) {
	u := &Undone{Of: en}
	kind, _ := journal.UndoKind(en.Kind)
	eff, ok := effects()[en.Kind]
	if !ok || eff.reverse == nil {
		u.Status, u.Detail = StatusFailed, fmt.Sprintf("%s actions cannot be undone", en.Kind)
		return u, nil
	}
	fail := func(err error) (*Undone, error) {
		u.Status, u.Detail = StatusFailed, err.Error()
		if systemic(ctx, err) {
			return u, err
		}
		return u, nil
	}
	if by, err := e.undoneBy(ctx, en, kind); err != nil {
		return u, err
	} else if by != nil {
		u.Status, u.Detail = StatusSkipped, fmt.Sprintf("already undone by %s (%s)", by.ActionID, by.Status)
		return u, nil
	}
	// The history is read before live state (see Executor.apply): a racing run that restored it
	// first is then seen either in the change key or in live state.
	target := journal.Entry{AccountID: en.AccountID, Kind: kind, Principal: en.Principal, UserID: en.UserID, Resource: en.Resource,
		UndoOf: en.ActionID}
	prev, _, err := journal.LastApplied(ctx, e.Journal, target)
	if err != nil {
		return u, err
	}
	if strings.Contains(e.CallerARN, ":user/") && strings.HasSuffix(e.CallerARN, "/"+en.Principal) {
		u.Status, u.Detail = StatusRefused, "refusing to act on the identity running iamwarden"
		return u, nil
	}
	refusal, gone, err := e.samePerson(ctx, en)
	switch {
	case err != nil:
		return fail(err)
	case gone:
		u.Status, u.Detail = StatusSkipped, "user "+en.Principal+" no longer exists; nothing to restore"
		return u, nil
	case refusal != "":
		u.Status, u.Detail = StatusRefused, refusal
		return u, nil
	}
	// Live state that already is what the undo would make it needs no change.
	holds, targetGone, seen, err := effects()[kind].holds(ctx, e, target)
	switch {
	case err != nil:
		return fail(err)
	case targetGone:
		u.Status, u.Detail = StatusSkipped, seen+"; nothing to restore"
		return u, nil
	case holds:
		u.Status, u.Detail = StatusSkipped, "already restored ("+seen+")"
		return u, nil
	}

	actx, cancel, err := e.renew(ctx, h)
	if err != nil {
		return fail(err)
	}
	defer cancel()
	id, err := e.IDs.New()
	if err != nil {
		return u, err
	}
	entry := journal.Entry{ActionID: id, RunID: runID, AccountID: en.AccountID, Kind: kind, Principal: en.Principal, UserID: en.UserID,
		Resource: en.Resource, Rule: en.Rule, FindingID: en.FindingID, Reason: "undo of " + en.ActionID, UndoOf: en.ActionID,
		Prior: undoPrior(kind), Actor: e.CallerARN, CreatedAt: e.Now()}
	entry.DedupeKey = journal.ChangeKey(entry, prev.ActionID)
	if err := e.Journal.Begin(ctx, entry); err != nil {
		if errors.Is(err, journal.ErrExists) {
			u.Status, u.Detail = StatusSkipped, "another run is changing or changed it meanwhile"
			return u, nil
		}
		return u, fmt.Errorf("journal intent: %w", err)
	}
	u.ActionID = id
	detail, secret, actErr := eff.reverse(actx, e, en)
	status := journal.StatusDone
	switch {
	case actErr == nil:
		u.Status, u.Detail, u.Password = StatusDone, detail, secret
	case isAlreadyExists(actErr) || isNoSuchEntity(actErr):
		// Someone restored it (or deleted the key) between the check and the call, or our own
		// retried call found its first attempt done: look again.
		holds, _, seen, err := effects()[kind].holds(ctx, e, target)
		if err != nil {
			status, u.Status, u.Detail = journal.StatusFailed, StatusFailed, actErr.Error()
			break
		}
		status, u.Status, u.Detail = journal.StatusSkipped, StatusSkipped, "already restored ("+seen+")"
		if !holds {
			u.Detail = seen + "; nothing to restore"
		}
	default:
		status, u.Status, u.Detail = journal.StatusFailed, StatusFailed, actErr.Error()
	}
	if err := e.Journal.Finish(ctx, id, status, u.Detail, e.Now()); err != nil {
		u.Password = "" // a password whose profile is not journaled is not handed out
		return u, fmt.Errorf("journal result: %w", err)
	}
	if actErr != nil && status == journal.StatusFailed && systemic(ctx, actErr) {
		return u, actErr
	}
	return u, nil
}

// undoneBy returns the undo entry of en that is applied or in flight, if any.
func (e *Executor) undoneBy(ctx context.Context, en journal.Entry, kind journal.Kind) (*journal.Entry, error) {
	prev, err := e.Journal.List(ctx, journal.Filter{AccountID: en.AccountID, Principal: en.Principal, Kinds: []journal.Kind{kind}})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	for _, p := range prev {
		if p.UndoOf == en.ActionID && (p.Status.Applied() || p.Status == journal.StatusIntent) {
			return &p, nil
		}
	}
	return nil, nil
}

// undoPrior is the state an undo of the undo would need.
func undoPrior(kind journal.Kind) map[string]string {
	switch kind {
	case journal.KindReactivateKey:
		return map[string]string{"key_status": "Inactive"}
	case journal.KindRestoreConsole:
		return map[string]string{"login_profile": "absent"}
	}
	return map[string]string{}
}

// newPassword generates a password satisfying the account's password policy (or IAM's
// defaults): at least 20 characters with every character class.
func (e *Executor) newPassword(ctx context.Context) (string, error) {
	length := 20
	pp, err := e.IAM.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	switch {
	case err == nil && pp.PasswordPolicy != nil && pp.PasswordPolicy.MinimumPasswordLength != nil:
		length = max(length, int(*pp.PasswordPolicy.MinimumPasswordLength))
	case err != nil && !isNoSuchEntity(err):
		return "", fmt.Errorf("iam:GetAccountPasswordPolicy: %w", err)
	}
	return GeneratePassword(length)
}

// GeneratePassword returns a random password of n characters (n >= 4) with upper and lower
// case letters, digits and symbols.
func GeneratePassword(n int) (string, error) {
	classes := []string{"ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "!@#$%^&*()-_=+[]{}"}
	all := strings.Join(classes, "")
	pick := func(set string) (byte, error) {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, err
		}
		return set[i.Int64()], nil
	}
	b := make([]byte, n)
	for i := range b {
		set := all
		if i < len(classes) {
			set = classes[i]
		}
		c, err := pick(set)
		if err != nil {
			return "", err
		}
		b[i] = c
	}
	// Shuffle so the guaranteed classes are not always first.
	for i := len(b) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", err
		}
		b[i], b[j.Int64()] = b[j.Int64()], b[i]
	}
	return string(b), nil
}
