package inventory_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

// reportKey is one access key column group of a credential report row.
type reportKey struct {
	active          bool
	created         string // RFC 3339, to the second
	used            string // RFC 3339, or "" for N/A (never used)
	region, service string
}

// reportWithKeys is a credential report whose only row is user bot with the given keys.
func reportWithKeys(keys ...reportKey) []byte {
	var b strings.Builder
	b.WriteString("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active," +
		"access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service," +
		"access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service," +
		"cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n")
	b.WriteString("bot,arn:aws:iam::111122223333:user/bot,2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false")
	for i := range 2 {
		if i >= len(keys) {
			b.WriteString(",false,N/A,N/A,N/A,N/A")
			continue
		}
		k := keys[i]
		used, region, service := "N/A", "N/A", "N/A"
		if k.used != "" {
			used, region, service = k.used, k.region, k.service
		}
		fmt.Fprintf(&b, ",%t,%s,%s,%s,%s", k.active, k.created, used, region, service)
	}
	b.WriteString(",false,N/A,false,N/A\n")
	return []byte(b.String())
}

func listedKey(id, status, created string) inventory.AccessKeyRecord {
	return inventory.AccessKeyRecord{UserName: "bot", AccessKeyId: id, Status: status, CreateDate: ts(created)}
}

// TestAssembleKeysCreatedInTheSameSecond: the credential report gives keys by slot with their
// creation to the second; an export's ListAccessKeys answers give IDs. A listed key names at
// most one slot, and only a slot it matches in creation second and status, alone.
func TestAssembleKeysCreatedInTheSameSecond(t *testing.T) {
	const second = "2024-02-01T00:00:00+00:00"
	tests := []struct {
		name   string
		report []reportKey
		listed []inventory.AccessKeyRecord
		want   []string // key ID per slot, "" when unknown
		// unmatched is the Unmatched of each slot, nil for named slots.
		unmatched []*inventory.UnmatchedKey
	}{
		{
			name:   "one key per second",
			report: []reportKey{{active: true, created: second}, {active: true, created: "2024-03-01T00:00:00+00:00"}},
			listed: []inventory.AccessKeyRecord{listedKey("AKIALATER", "Active", "2024-03-01T00:00:00.4Z"), listedKey("AKIAEARLIER", "Active", second)},
			want:   []string{"AKIAEARLIER", "AKIALATER"},
		},
		{
			name:   "statuses tell them apart, listed in the other order",
			report: []reportKey{{active: true, created: second}, {active: false, created: second}},
			listed: []inventory.AccessKeyRecord{listedKey("AKIAINACTIVE", "Inactive", "2024-02-01T00:00:00.9Z"), listedKey("AKIAACTIVE", "Active", second)},
			want:   []string{"AKIAACTIVE", "AKIAINACTIVE"},
		},
		{
			name: "same second and status, last use not in the export",
			report: []reportKey{
				{active: true, created: second, used: "2024-05-01T10:00:00+00:00", region: "us-east-1", service: "s3"},
				{active: true, created: second, used: "2024-09-01T10:00:00+00:00", region: "eu-west-1", service: "sts"},
			},
			listed: []inventory.AccessKeyRecord{listedKey("AKIAONE", "Active", second), listedKey("AKIATWO", "Active", second)},
			want:   []string{"", ""},
			unmatched: []*inventory.UnmatchedKey{
				{Reason: inventory.UnmatchedLastUseUnknown, Candidates: []string{"AKIAONE", "AKIATWO"}},
				{Reason: inventory.UnmatchedLastUseUnknown, Candidates: []string{"AKIAONE", "AKIATWO"}},
			},
		},
		{
			name:   "one listed key matches both slots",
			report: []reportKey{{active: true, created: second}, {active: true, created: second}},
			listed: []inventory.AccessKeyRecord{listedKey("AKIAONLY", "Active", second)},
			want:   []string{"", ""},
			unmatched: []*inventory.UnmatchedKey{
				{Reason: inventory.UnmatchedLastUseUnknown, Candidates: []string{"AKIAONLY"}},
				{Reason: inventory.UnmatchedLastUseUnknown, Candidates: []string{"AKIAONLY"}},
			},
		},
		{
			name:      "the status differs from the report's",
			report:    []reportKey{{active: true, created: second}},
			listed:    []inventory.AccessKeyRecord{listedKey("AKIANOWINACTIVE", "Inactive", second)},
			want:      []string{""},
			unmatched: []*inventory.UnmatchedKey{{Reason: inventory.UnmatchedNotListed}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := inventory.Assemble(inventory.Raw{CredentialReport: reportWithKeys(tt.report...), AccessKeys: tt.listed})
			if err != nil {
				t.Fatal(err)
			}
			nameRecordedKeys(t, s)
			keys := s.Users[0].AccessKeys
			if len(keys) != len(tt.want) {
				t.Fatalf("%d keys, want %d", len(keys), len(tt.want))
			}
			for i, k := range keys {
				if k.ID != tt.want[i] {
					t.Errorf("slot %d named %q, want %q", k.Slot, k.ID, tt.want[i])
				}
				var want *inventory.UnmatchedKey
				if tt.unmatched != nil {
					want = tt.unmatched[i]
				}
				if !reflect.DeepEqual(k.Unmatched, want) {
					t.Errorf("slot %d unmatched %+v, want %+v", k.Slot, k.Unmatched, want)
				}
			}
			checkNamedOnce(t, keys)
		})
	}
}

// checkNamedOnce fails t when two report keys carry the same ID.
func checkNamedOnce(t *testing.T, keys []inventory.AccessKey) {
	t.Helper()
	seen := map[string]int{}
	for _, k := range keys {
		if k.ID == "" {
			continue
		}
		if slot, ok := seen[k.ID]; ok {
			t.Errorf("%s names slots %d and %d", k.ID, slot, k.Slot)
		}
		seen[k.ID] = k.Slot
	}
}

func TestNameAccessKeys(t *testing.T) {
	second := ts("2024-02-01T00:00:00Z")
	early, late, later := ts("2024-05-01T10:00:00Z"), ts("2024-09-01T10:00:00Z"), ts("2024-09-02T08:00:00Z")
	slot := func(n int, active bool, used time.Time, service, region string) inventory.AccessKey {
		return inventory.AccessKey{Slot: n, Active: active, Created: second, LastUsed: used, LastUsedService: service, LastUsedRegion: region}
	}
	use := func(used time.Time, service, region string) *inventory.AccessKeyLastUse {
		return &inventory.AccessKeyLastUse{Used: used, Service: service, Region: region}
	}
	meta := func(id string, lu *inventory.AccessKeyLastUse) inventory.AccessKeyMeta {
		return inventory.AccessKeyMeta{ID: id, Active: true, Created: second.Add(250 * time.Millisecond), LastUse: lu}
	}
	tests := []struct {
		name      string
		keys      []inventory.AccessKey
		listed    []inventory.AccessKeyMeta
		want      []string
		unmatched []*inventory.UnmatchedKey
		lastUse   []string // LastUseWanted
	}{
		{
			name:   "last use tells them apart, to the second",
			keys:   []inventory.AccessKey{slot(1, true, early, "s3", "us-east-1"), slot(2, true, late, "sts", "eu-west-1")},
			listed: []inventory.AccessKeyMeta{meta("AKIALATE", use(late.Add(400*time.Millisecond), "sts", "eu-west-1")), meta("AKIAEARLY", use(early, "s3", "us-east-1"))},
			want:   []string{"AKIAEARLY", "AKIALATE"},
		},
		{
			name:   "never used and used",
			keys:   []inventory.AccessKey{slot(1, true, time.Time{}, "", ""), slot(2, true, late, "s3", "us-east-1")},
			listed: []inventory.AccessKeyMeta{meta("AKIAUSED", use(late, "s3", "us-east-1")), meta("AKIANEVER", use(time.Time{}, "", ""))},
			want:   []string{"AKIANEVER", "AKIAUSED"},
		},
		{
			name:   "same instant, another service",
			keys:   []inventory.AccessKey{slot(1, true, late, "s3", "us-east-1"), slot(2, true, late, "sts", "us-east-1")},
			listed: []inventory.AccessKeyMeta{meta("AKIASTS", use(late, "sts", "us-east-1")), meta("AKIAS3", use(late, "s3", "us-east-1"))},
			want:   []string{"AKIAS3", "AKIASTS"},
		},
		{
			name:   "same instant and service, another region",
			keys:   []inventory.AccessKey{slot(1, true, late, "s3", "us-east-1"), slot(2, true, late, "s3", "eu-west-1")},
			listed: []inventory.AccessKeyMeta{meta("AKIAEU", use(late, "s3", "eu-west-1")), meta("AKIAUS", use(late, "s3", "us-east-1"))},
			want:   []string{"AKIAUS", "AKIAEU"},
		},
		{
			name:   "alike in every respect",
			keys:   []inventory.AccessKey{slot(1, true, late, "s3", "us-east-1"), slot(2, true, late, "s3", "us-east-1")},
			listed: []inventory.AccessKeyMeta{meta("AKIAONE", use(late, "s3", "us-east-1")), meta("AKIATWO", use(late, "s3", "us-east-1"))},
			want:   []string{"", ""},
			unmatched: []*inventory.UnmatchedKey{
				{Reason: inventory.UnmatchedIndistinguishable, Candidates: []string{"AKIAONE", "AKIATWO"}},
				{Reason: inventory.UnmatchedIndistinguishable, Candidates: []string{"AKIAONE", "AKIATWO"}},
			},
		},
		{
			name:   "last use not read",
			keys:   []inventory.AccessKey{slot(1, true, early, "s3", "us-east-1"), slot(2, true, late, "s3", "us-east-1")},
			listed: []inventory.AccessKeyMeta{meta("AKIAONE", nil), meta("AKIATWO", nil)},
			want:   []string{"", ""},
			unmatched: []*inventory.UnmatchedKey{
				{Reason: inventory.UnmatchedLastUseUnknown, Candidates: []string{"AKIAONE", "AKIATWO"}},
				{Reason: inventory.UnmatchedLastUseUnknown, Candidates: []string{"AKIAONE", "AKIATWO"}},
			},
			lastUse: []string{"AKIAONE", "AKIATWO"},
		},
		{
			name:   "one last use read: the other key stays undecided",
			keys:   []inventory.AccessKey{slot(1, true, early, "s3", "us-east-1"), slot(2, true, late, "s3", "us-east-1")},
			listed: []inventory.AccessKeyMeta{meta("AKIAONE", use(early, "s3", "us-east-1")), meta("AKIATWO", nil)},
			want:   []string{"", ""},
			unmatched: []*inventory.UnmatchedKey{
				{Reason: inventory.UnmatchedLastUseUnknown, Candidates: []string{"AKIAONE", "AKIATWO"}},
				{Reason: inventory.UnmatchedLastUseUnknown, Candidates: []string{"AKIATWO"}},
			},
			lastUse: []string{"AKIATWO"},
		},
		{
			name:   "a key used after the report was generated",
			keys:   []inventory.AccessKey{slot(1, true, early, "s3", "us-east-1"), slot(2, true, late, "s3", "us-east-1")},
			listed: []inventory.AccessKeyMeta{meta("AKIAONE", use(early, "s3", "us-east-1")), meta("AKIATWO", use(later, "s3", "us-east-1"))},
			want:   []string{"AKIAONE", ""},
			unmatched: []*inventory.UnmatchedKey{
				nil,
				{Reason: inventory.UnmatchedLastUseDiffers, Candidates: []string{"AKIATWO"}},
			},
		},
		{
			name:   "one key left, its last use names its slot",
			keys:   []inventory.AccessKey{slot(1, true, early, "s3", "us-east-1"), slot(2, true, late, "s3", "us-east-1")},
			listed: []inventory.AccessKeyMeta{meta("AKIATWO", use(late, "s3", "us-east-1"))},
			want:   []string{"", "AKIATWO"},
			unmatched: []*inventory.UnmatchedKey{
				{Reason: inventory.UnmatchedNotListed},
				nil,
			},
		},
		{
			name:   "one key left, alike both slots",
			keys:   []inventory.AccessKey{slot(1, true, late, "s3", "us-east-1"), slot(2, true, late, "s3", "us-east-1")},
			listed: []inventory.AccessKeyMeta{meta("AKIAONLY", use(late, "s3", "us-east-1"))},
			want:   []string{"", ""},
			unmatched: []*inventory.UnmatchedKey{
				{Reason: inventory.UnmatchedIndistinguishable, Candidates: []string{"AKIAONLY"}},
				{Reason: inventory.UnmatchedIndistinguishable, Candidates: []string{"AKIAONLY"}},
			},
		},
		{
			name:   "the status decides before the last use is needed",
			keys:   []inventory.AccessKey{slot(1, true, late, "s3", "us-east-1"), slot(2, false, late, "s3", "us-east-1")},
			listed: []inventory.AccessKeyMeta{{ID: "AKIAOFF", Created: second}, meta("AKIAON", nil)},
			want:   []string{"AKIAON", "AKIAOFF"},
		},
		{
			name:   "a stale name is replaced",
			keys:   []inventory.AccessKey{{Slot: 1, ID: "AKIAGONE", Active: true, Created: second}},
			listed: []inventory.AccessKeyMeta{meta("AKIANEW", nil)},
			want:   []string{"AKIANEW"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := slices.Clone(tt.keys)
			inventory.NameAccessKeys(keys, tt.listed)
			for i, k := range keys {
				if k.ID != tt.want[i] {
					t.Errorf("slot %d named %q, want %q", k.Slot, k.ID, tt.want[i])
				}
				var want *inventory.UnmatchedKey
				if tt.unmatched != nil {
					want = tt.unmatched[i]
				}
				if !reflect.DeepEqual(k.Unmatched, want) {
					t.Errorf("slot %d unmatched %+v, want %+v", k.Slot, k.Unmatched, want)
				}
			}
			checkNamedOnce(t, keys)
			if got := inventory.LastUseWanted(keys, tt.listed); !slices.Equal(got, tt.lastUse) {
				t.Errorf("last use wanted of %v, want %v", got, tt.lastUse)
			}
		})
	}
}
