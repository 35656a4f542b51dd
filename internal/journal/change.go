package journal

import (
	"context"
	"fmt"
	"strings"
)

// Target names what an entry changes, for one user: "console" (the login profile), "key/<id>",
// "group/<name>", or "policy/<arn>" for a managed policy's default version. Notifications change
// nothing and have no target.
func (e Entry) Target() string {
	switch e.Kind {
	case KindDisableConsole, KindRestoreConsole:
		return "console"
	case KindDeactivateKey, KindReactivateKey:
		return "key/" + e.Resource
	case KindAddToGroup, KindRemoveFromGroup:
		return "group/" + e.Resource
	case KindSetPolicyVersion, KindRestorePolicyVersion:
		return "policy/" + e.Resource
	}
	return ""
}

// ChangeKey is the dedupe key of a change to e's target that follows prev, the last change
// applied to that target ("" when there was none). Runs that read the same history of a target
// claim the same key, so only one of them makes the change; once it is applied it becomes the
// new prev, so the target can be changed again later (after an undo, or after an administrator
// put it back). The key names the account and the user's unique ID, never only a name.
func ChangeKey(e Entry, prev string) string {
	if prev == "" {
		prev = "none"
	}
	who := e.UserID
	if who == "" {
		who = "-"
	}
	return strings.Join([]string{"change", e.AccountID, who, e.Target(), "after", prev}, "/")
}

// LastApplied returns the newest entry that changed e's target (same account, user and target)
// and was applied, or ok false when there is none. Entries of other users of the same name
// (another UserID) are not the same target.
func LastApplied(ctx context.Context, j Journal, e Entry) (Entry, bool, error) {
	entries, err := j.List(ctx, Filter{AccountID: e.AccountID, Principal: e.Principal})
	if err != nil {
		return Entry{}, false, fmt.Errorf("journal: history of %s: %w", e.Principal, err)
	}
	target := e.Target()
	for _, p := range entries { // newest first
		if p.Kind == KindNotify || p.Target() != target || p.UserID != e.UserID || !p.Status.Applied() {
			continue
		}
		return p, true, nil
	}
	return Entry{}, false, nil
}
