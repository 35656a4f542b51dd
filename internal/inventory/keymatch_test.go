package inventory_test

import (
	"fmt"
	"strings"
	"testing"

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
		},
		{
			name:   "one listed key matches both slots",
			report: []reportKey{{active: true, created: second}, {active: true, created: second}},
			listed: []inventory.AccessKeyRecord{listedKey("AKIAONLY", "Active", second)},
			want:   []string{"", ""},
		},
		{
			name:   "the status differs from the report's",
			report: []reportKey{{active: true, created: second}},
			listed: []inventory.AccessKeyRecord{listedKey("AKIANOWINACTIVE", "Inactive", second)},
			want:   []string{""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := inventory.Assemble(inventory.Raw{CredentialReport: reportWithKeys(tt.report...), AccessKeys: tt.listed})
			if err != nil {
				t.Fatal(err)
			}
			keys := s.Users[0].AccessKeys
			if len(keys) != len(tt.want) {
				t.Fatalf("%d keys, want %d", len(keys), len(tt.want))
			}
			for i, k := range keys {
				if k.ID != tt.want[i] {
					t.Errorf("slot %d named %q, want %q", k.Slot, k.ID, tt.want[i])
				}
			}
		})
	}
}
