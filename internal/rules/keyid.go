package rules

import (
	"fmt"
	"strings"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

// KeyIDNote says, for an access key the credential report gives by slot only, why its key ID is
// not known and which keys it could be, with their IDs masked. It is empty when the ID is known,
// or when the user's keys were not listed (then nothing more is known than the slot).
func KeyIDNote(k inventory.AccessKey) string {
	u := k.Unmatched
	if k.ID != "" || u == nil {
		return ""
	}
	ids := make([]string, len(u.Candidates))
	for i, id := range u.Candidates {
		ids[i] = MaskKeyID(id)
	}
	list := strings.Join(ids, " and ")
	all := "both"
	if len(ids) > 2 {
		all = "all"
	}
	switch u.Reason {
	case inventory.UnmatchedIndistinguishable, inventory.UnmatchedLastUseUnknown:
		what := "creation time, status and last use"
		if u.Reason == inventory.UnmatchedLastUseUnknown {
			what = "creation time and status"
		}
		var note string
		if len(ids) == 1 {
			note = fmt.Sprintf("key ID undecided: %s matches its %s in the credential report, and as well another of the user's keys there", list, what)
		} else {
			note = fmt.Sprintf("key ID undecided: %s %s match its %s in the credential report", list, all, what)
		}
		if u.Reason == inventory.UnmatchedLastUseUnknown {
			note += "; the last use that could tell them apart is not in the data"
		}
		return note
	case inventory.UnmatchedLastUseDiffers:
		if len(ids) == 1 {
			return fmt.Sprintf("key ID unknown: %s matches its creation time and status in the credential report but not its last use", list)
		}
		return fmt.Sprintf("key ID unknown: %s match its creation time and status in the credential report but none its last use", list)
	default:
		return "key ID unknown: none of the user's listed keys matches its creation time and status in the credential report"
	}
}
