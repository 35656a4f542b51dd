package remediate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// Undone is the result of undoing one action.
type Undone struct {
	Of       journal.Entry `json:"of"`
	ActionID string        `json:"action_id"`
	Status   Status        `json:"status"`
	Detail   string        `json:"detail"`
	// Password is the new console password of a restored login profile. It is shown to the
	// operator once and never journaled or logged; the user must change it at first sign-in.
	Password string `json:"-"`
}

// ErrNotUndoable is returned (wrapped) for entries that cannot be undone.
var ErrNotUndoable = errors.New("action cannot be undone")

// Undo reverses one applied action: a deactivated key is reactivated; a deleted login profile is
// recreated with a fresh random password that must be changed at the next sign-in.
func (e *Executor) Undo(ctx context.Context, actionID string) (*Undone, error) {
	en, err := e.Journal.Get(ctx, actionID)
	if err != nil {
		return nil, err
	}
	if en.Status != journal.StatusDone && en.Status != journal.StatusReconciledDone {
		return nil, fmt.Errorf("%w: %s is %s, not done", ErrNotUndoable, actionID, en.Status)
	}
	var kind journal.Kind
	switch en.Kind {
	case journal.KindDisableConsole:
		kind = journal.KindRestoreConsole
	case journal.KindDeactivateKey:
		kind = journal.KindReactivateKey
	default:
		return nil, fmt.Errorf("%w: %s is a %s action", ErrNotUndoable, actionID, en.Kind)
	}
	prev, err := e.Journal.List(ctx, journal.Filter{AccountID: en.AccountID, Principal: en.Principal, Kinds: []journal.Kind{kind},
		Statuses: []journal.Status{journal.StatusDone, journal.StatusReconciledDone, journal.StatusIntent}})
	if err != nil {
		return nil, err
	}
	for _, p := range prev {
		if p.UndoOf == actionID {
			return nil, fmt.Errorf("%w: %s was already undone by %s (%s)", ErrNotUndoable, actionID, p.ActionID, p.Status)
		}
	}
	if strings.Contains(e.CallerARN, ":user/") && strings.HasSuffix(e.CallerARN, "/"+en.Principal) {
		return nil, fmt.Errorf("%w: refusing to act on the identity running iamwarden", ErrNotUndoable)
	}

	id, err := e.IDs.New()
	if err != nil {
		return nil, err
	}
	u := &Undone{Of: en, ActionID: id}
	entry := journal.Entry{ActionID: id, AccountID: en.AccountID, Kind: kind, Principal: en.Principal, Resource: en.Resource,
		Rule: en.Rule, FindingID: en.FindingID, Reason: "undo of " + actionID, UndoOf: actionID, Actor: e.CallerARN, CreatedAt: e.Now()}
	switch kind {
	case journal.KindReactivateKey:
		entry.Prior = map[string]string{"key_status": "Inactive"}
	case journal.KindRestoreConsole:
		entry.Prior = map[string]string{"login_profile": "absent"}
	}
	if err := e.Journal.Begin(ctx, entry); err != nil {
		return nil, fmt.Errorf("journal intent: %w", err)
	}
	var actErr error
	switch kind {
	case journal.KindReactivateKey:
		_, actErr = e.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(en.Principal),
			AccessKeyId: aws.String(en.Resource), Status: types.StatusTypeActive})
		u.Detail = "access key " + maskKey(en.Resource) + " reactivated"
	case journal.KindRestoreConsole:
		var pw string
		pw, actErr = e.newPassword(ctx)
		if actErr == nil {
			_, actErr = e.IAM.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(en.Principal),
				Password: aws.String(pw), PasswordResetRequired: true})
		}
		if actErr == nil {
			u.Password = pw
		}
		u.Detail = "console access restored with a one-time password (change required at sign-in)"
	}
	status := journal.StatusDone
	u.Status = StatusDone
	if actErr != nil {
		status, u.Status, u.Detail = journal.StatusFailed, StatusFailed, actErr.Error()
		u.Password = ""
	}
	if err := e.Journal.Finish(ctx, id, status, u.Detail, e.Now()); err != nil {
		return u, fmt.Errorf("journal result: %w", err)
	}
	if actErr != nil {
		return u, fmt.Errorf("undo %s: %w", actionID, actErr)
	}
	return u, nil
}

// UndoRun undoes every applied action of a run, stopping at the first failure.
func (e *Executor) UndoRun(ctx context.Context, runID string) ([]*Undone, error) {
	entries, err := e.Journal.List(ctx, journal.Filter{RunID: runID, Kinds: []journal.Kind{journal.KindDisableConsole, journal.KindDeactivateKey},
		Statuses: []journal.Status{journal.StatusDone, journal.StatusReconciledDone}})
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: run %s has no applied actions", ErrNotUndoable, runID)
	}
	var out []*Undone
	for _, en := range entries {
		u, err := e.Undo(ctx, en.ActionID)
		if u != nil {
			out = append(out, u)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
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
