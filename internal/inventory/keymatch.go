package inventory

import (
	"slices"
	"time"
)

// AccessKeyLastUse is what GetAccessKeyLastUsed says of one key. Used is zero, and Service and
// Region empty, when the key was never used (AWS answers N/A).
type AccessKeyLastUse struct {
	Used    time.Time
	Service string
	Region  string
}

// UnmatchedReason says what kept a credential report key from being named after a listed key.
type UnmatchedReason string

const (
	// UnmatchedNotListed: no listed key can be the report key: none was created in its second
	// with its status, or those that were are other report keys' matches (the key was deleted,
	// or its status changed, after the report was generated).
	UnmatchedNotListed UnmatchedReason = "not-listed"
	// UnmatchedLastUseDiffers: the candidates match the report key's creation second and status,
	// but none its last use (a key used after the report was generated).
	UnmatchedLastUseDiffers UnmatchedReason = "last-use-differs"
	// UnmatchedLastUseUnknown: several pairings of report keys and candidates match in creation
	// second and status, and the last use that could tell them apart is not known (not in an
	// export, or GetAccessKeyLastUsed failed).
	UnmatchedLastUseUnknown UnmatchedReason = "last-use-unknown"
	// UnmatchedIndistinguishable: several pairings match in creation second, status and last use:
	// nothing the credential report and the key APIs say tells the keys apart.
	UnmatchedIndistinguishable UnmatchedReason = "indistinguishable"
)

// UnmatchedKey is why a credential report key has no ID although the user's keys were listed,
// and which listed keys it could be.
type UnmatchedKey struct {
	Reason UnmatchedReason `json:"reason"`
	// Candidates are the IDs of the listed keys the report key could be, in listing order: those
	// created in its second with its status and not the match of another report key. Empty for
	// UnmatchedNotListed.
	Candidates []string `json:"candidates"`
}

// NameAccessKeys gives a user's credential report keys the IDs of the keys ListAccessKeys lists
// for the user. The report has no key IDs, only each key's creation time (to the second), status
// and last use (to the second, with service and region), so a report key and a listed key match
// when they agree on the creation second, the status and, where the listed key's last use is
// known (LastUse), the last use. A report key is named after a listed key only when that key is
// the only one it matches and it matches no other report key: a listed key names at most one
// report key, and the evidence either pins a key down or leaves it unnamed. An unnamed report key
// gets Unmatched, saying why and which keys it could be.
//
// Keys created in different seconds are told apart by creation alone. For two keys created in
// the same second, status and then last use decide; LastUseWanted says whose last use to read.
func NameAccessKeys(keys []AccessKey, listed []AccessKeyMeta) {
	same := make([][]int, len(keys)) // listed keys matching creation second and status
	fits := make([][]int, len(keys)) // of those, the ones whose last use does not disagree
	fitCount := make([]int, len(listed))
	for i := range keys {
		k := &keys[i]
		k.ID, k.Unmatched = "", nil
		for j, m := range listed {
			if !sameSecond(m.Created, k.Created) || m.Active != k.Active {
				continue
			}
			same[i] = append(same[i], j)
			if m.LastUse == nil || lastUseAgrees(*k, *m.LastUse) {
				fits[i] = append(fits[i], j)
				fitCount[j]++
			}
		}
	}
	named := make([]bool, len(listed))
	for i := range keys {
		if len(fits[i]) == 1 && fitCount[fits[i][0]] == 1 {
			keys[i].ID = listed[fits[i][0]].ID
			named[fits[i][0]] = true
		}
	}
	for i := range keys {
		k := &keys[i]
		if k.ID != "" {
			continue
		}
		u := &UnmatchedKey{}
		switch {
		case len(same[i]) == 0:
			u.Reason = UnmatchedNotListed
		case len(fits[i]) == 0:
			u.Reason = UnmatchedLastUseDiffers
			for _, j := range same[i] {
				if !named[j] {
					u.Candidates = append(u.Candidates, listed[j].ID)
				}
			}
		default:
			u.Reason = UnmatchedIndistinguishable
			for _, j := range fits[i] {
				u.Candidates = append(u.Candidates, listed[j].ID)
				if listed[j].LastUse == nil {
					u.Reason = UnmatchedLastUseUnknown
				}
			}
		}
		if len(u.Candidates) == 0 && u.Reason == UnmatchedLastUseDiffers {
			// Every candidate is another report key's match: this one is not listed.
			u.Reason = UnmatchedNotListed
		}
		k.Unmatched = u
	}
}

// LastUseWanted returns the IDs of the listed keys whose last use would tell apart keys
// NameAccessKeys left unnamed because it was not known, in listing order.
func LastUseWanted(keys []AccessKey, listed []AccessKeyMeta) []string {
	var ids []string
	for _, k := range keys {
		if k.Unmatched == nil || k.Unmatched.Reason != UnmatchedLastUseUnknown {
			continue
		}
		for _, m := range listed {
			if m.LastUse == nil && slices.Contains(k.Unmatched.Candidates, m.ID) && !slices.Contains(ids, m.ID) {
				ids = append(ids, m.ID)
			}
		}
	}
	return ids
}

// lastUseAgrees reports whether a listed key's last use is the report key's: both never used,
// or used in the same second with the same service and region. The report prints the time to
// the second and N/A for a key never used.
func lastUseAgrees(k AccessKey, lu AccessKeyLastUse) bool {
	if k.LastUsed.IsZero() || lu.Used.IsZero() {
		return k.LastUsed.IsZero() && lu.Used.IsZero()
	}
	return sameSecond(k.LastUsed, lu.Used) && k.LastUsedService == lu.Service && k.LastUsedRegion == lu.Region
}
