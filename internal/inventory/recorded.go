package inventory

import (
	"context"
	"errors"
	"time"
)

// ErrNotRecorded is the answer of Recorded to a question the export holds no answer to.
var ErrNotRecorded = errors.New("not recorded in the export")

// Recorded answers the scan's per-user questions from an export's access-keys.json and
// login-profiles.json, so that an offline scan asks them exactly where a live scan asks AWS and
// judges the same: one naming path for access keys and one source for grace periods, live and
// offline.
type Recorded struct {
	keys     map[string][]AccessKeyMeta
	profiles map[string]time.Time
	lastUses map[string]KeyLastUseRecord
}

func newRecorded(keys []AccessKeyRecord, profiles []LoginProfileRecord, lastUses map[string]KeyLastUseRecord) *Recorded {
	if len(keys) == 0 && len(profiles) == 0 && len(lastUses) == 0 {
		return nil
	}
	r := &Recorded{keys: map[string][]AccessKeyMeta{}, profiles: map[string]time.Time{}, lastUses: lastUses}
	for _, k := range keys {
		r.keys[k.UserName] = append(r.keys[k.UserName], AccessKeyMeta{ID: k.AccessKeyId, Active: k.Status == "Active", Created: k.CreateDate.UTC()})
	}
	for _, p := range profiles {
		r.profiles[p.UserName] = p.CreateDate.UTC()
	}
	return r
}

// LoginProfileCreated is GetLoginProfile's CreateDate as recorded; ErrNotRecorded when the
// export holds none for user.
func (r *Recorded) LoginProfileCreated(_ context.Context, user string) (time.Time, bool, error) {
	if t, ok := r.profiles[user]; ok {
		return t, true, nil
	}
	return time.Time{}, false, ErrNotRecorded
}

// AccessKeys is ListAccessKeys' answer as recorded; ErrNotRecorded when the export holds none
// for user.
func (r *Recorded) AccessKeys(_ context.Context, user string) ([]AccessKeyMeta, error) {
	if keys, ok := r.keys[user]; ok {
		return keys, nil
	}
	return nil, ErrNotRecorded
}

// AccessKeyLastUsed is GetAccessKeyLastUsed's answer as recorded (an export records it only
// for keys only their last use tells apart); ErrNotRecorded when the export holds none for keyID.
func (r *Recorded) AccessKeyLastUsed(_ context.Context, keyID string) (AccessKeyLastUse, error) {
	lu, ok := r.lastUses[keyID]
	if !ok {
		return AccessKeyLastUse{}, ErrNotRecorded
	}
	if lu.LastUsedDate == nil {
		return AccessKeyLastUse{}, nil // never used
	}
	return AccessKeyLastUse{Used: lu.LastUsedDate.UTC(), Service: notApplicable(lu.ServiceName), Region: notApplicable(lu.Region)}, nil
}
