package rules_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

const (
	keyA = "AKIAIOSFODNN7EXAMPLE"
	keyB = "AKIAI44QH8DHBEXAMPL2"
)

// unmatched is an active key in a slot, created 200 days ago and last used 150 days ago, whose ID
// is not known.
func unmatched(slot int, reason inventory.UnmatchedReason, candidates ...string) inventory.AccessKey {
	k := key(slot, "", true, daysAgo(200), daysAgo(150))
	k.LastUsedService, k.LastUsedRegion = "s3", "us-east-1"
	k.Unmatched = &inventory.UnmatchedKey{Reason: reason, Candidates: candidates}
	return k
}

func TestKeyIDNote(t *testing.T) {
	tests := []struct {
		name string
		key  inventory.AccessKey
		want string
	}{
		{name: "named", key: key(1, keyA, true, daysAgo(200), daysAgo(1))},
		{name: "keys not listed", key: key(1, "", true, daysAgo(200), daysAgo(1))},
		{
			name: "alike in every respect",
			key:  unmatched(1, inventory.UnmatchedIndistinguishable, keyA, keyB),
			want: "key ID undecided: AKIA…MPLE and AKIA…MPL2 both match its creation time, status and last use in the credential report",
		},
		{
			name: "one key alike both slots",
			key:  unmatched(2, inventory.UnmatchedIndistinguishable, keyA),
			want: "key ID undecided: AKIA…MPLE matches its creation time, status and last use in the credential report, and as well another of the user's keys there",
		},
		{
			name: "last use not known",
			key:  unmatched(1, inventory.UnmatchedLastUseUnknown, keyA, keyB),
			want: "key ID undecided: AKIA…MPLE and AKIA…MPL2 both match its creation time and status in the credential report; the last use that could tell them apart is not in the data",
		},
		{
			name: "last use differs",
			key:  unmatched(2, inventory.UnmatchedLastUseDiffers, keyB),
			want: "key ID unknown: AKIA…MPL2 matches its creation time and status in the credential report but not its last use",
		},
		{
			name: "last use of both differs",
			key:  unmatched(2, inventory.UnmatchedLastUseDiffers, keyA, keyB),
			want: "key ID unknown: AKIA…MPLE and AKIA…MPL2 match its creation time and status in the credential report but none its last use",
		},
		{
			name: "not listed",
			key:  unmatched(1, inventory.UnmatchedNotListed),
			want: "key ID unknown: none of the user's listed keys matches its creation time and status in the credential report",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rules.KeyIDNote(tt.key); got != tt.want {
				t.Errorf("note\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// A key finding whose key ID is undecided says so in its detail and carries the candidates in
// key_id_unknown; a named key's finding has neither.
func TestKeyFindingsWithUndecidedKeyID(t *testing.T) {
	env := defaultEnv()
	u := &inventory.User{Name: "clones", ARN: "arn:aws:iam::1:user/clones", Created: daysAgo(400), MFA: inventory.MFA{Active: true}, AccessKeys: []inventory.AccessKey{
		unmatched(1, inventory.UnmatchedIndistinguishable, keyA, keyB),
		unmatched(2, inventory.UnmatchedIndistinguishable, keyA, keyB),
	}}
	note := "key ID undecided: AKIA…MPLE and AKIA…MPL2 both match its creation time, status and last use in the credential report"
	want := map[string]string{
		"access-key-unused/access_key_1":      "access_key_1 was last used 150 days ago (2026-06-23), threshold 90 days; " + note,
		"access-key-unused/access_key_2":      "access_key_2 was last used 150 days ago (2026-06-23), threshold 90 days; " + note,
		"access-key-not-rotated/access_key_1": "access_key_1 was created 200 days ago (2026-05-04) and not rotated since, threshold 90 days; " + note,
		"access-key-not-rotated/access_key_2": "access_key_2 was created 200 days ago (2026-05-04) and not rotated since, threshold 90 days; " + note,
		"access-keys-multiple-active/":        "user has 2 active access keys: access_key_1 (created 2026-05-04; " + note + "), access_key_2 (created 2026-05-04; " + note + ")",
	}
	fs := rules.Evaluate(env, "1", u, rules.Registry(), nil)
	got := map[string]rules.Finding{}
	for _, f := range fs {
		got[f.Rule+"/"+f.Resource] = f
	}
	if len(got) != len(want) {
		t.Fatalf("findings %v, want %v", got, want)
	}
	for id, detail := range want {
		f, ok := got[id]
		if !ok {
			t.Errorf("no finding %s", id)
			continue
		}
		if f.Detail != detail {
			t.Errorf("%s detail\n got %q\nwant %q", id, f.Detail, detail)
		}
		raw, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		hasField := strings.Contains(string(raw), `"key_id_unknown":{"reason":"indistinguishable","candidates":["`+keyA+`","`+keyB+`"]}`)
		if isKeyFinding := f.Key != nil; hasField != isKeyFinding {
			t.Errorf("%s JSON %s: key_id_unknown present %v, want %v", id, raw, hasField, isKeyFinding)
		}
		if strings.Contains(f.Detail, keyA) || strings.Contains(f.Detail, keyB) {
			t.Errorf("%s detail shows an unmasked key ID: %q", id, f.Detail)
		}
	}

	// The finding holds its own copy of the candidates.
	f := got["access-key-unused/access_key_1"]
	u.AccessKeys[0].Unmatched.Candidates[0] = "AKIACHANGED"
	if f.KeyIDUnknown.Candidates[0] != keyA {
		t.Errorf("finding candidates alias the snapshot's: %v", f.KeyIDUnknown.Candidates)
	}

	named := &inventory.User{Name: "bot", Created: daysAgo(400), MFA: inventory.MFA{Active: true},
		AccessKeys: []inventory.AccessKey{key(1, keyA, true, daysAgo(200), daysAgo(150))}}
	for _, f := range rules.Evaluate(env, "1", named, rules.Registry(), nil) {
		if f.KeyIDUnknown != nil || strings.Contains(f.Detail, "key ID") {
			t.Errorf("named key's finding %s says its ID is unknown: %q", f.ID, f.Detail)
		}
	}
}
