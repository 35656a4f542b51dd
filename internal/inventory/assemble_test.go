package inventory_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

func assembleFixture(t *testing.T, name string) *inventory.Snapshot {
	t.Helper()
	raw, err := inventory.ReadExport(filepath.Join("testdata", "export", name))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := inventory.Assemble(raw)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func userByName(t *testing.T, s *inventory.Snapshot, name string) *inventory.User {
	t.Helper()
	for _, p := range s.Principals() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no principal %q", name)
	return nil
}

func TestAssembleJoinsSources(t *testing.T) {
	s := assembleFixture(t, "cli")
	if s.AccountID != "111122223333" {
		t.Errorf("account %q, want it derived from the ARNs", s.AccountID)
	}
	if s.AccountAlias != "example-prod" || s.Source != inventory.SourceExport {
		t.Errorf("alias %q source %q", s.AccountAlias, s.Source)
	}
	if s.Partial() {
		t.Errorf("problems %+v", s.Problems)
	}
	var names []string
	for _, p := range s.Principals() {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, " "); got != "<root_account> alice bob deploy-bot" {
		t.Errorf("principals %q, want root then report order", got)
	}

	root := s.Root
	wantRootMFA := []inventory.MFADevice{{Serial: "arn:aws:iam::111122223333:mfa/root-account-mfa-device", Virtual: true, EnabledAt: ts("2020-01-01T00:05:00Z")}}
	if !root.MFA.Active || !reflect.DeepEqual(root.MFA.Devices, wantRootMFA) || root.MFA.HasNonVirtual() {
		t.Errorf("root MFA %+v, want its virtual device", root.MFA)
	}

	alice := userByName(t, s, "alice")
	if alice.ID != "AIDAQ3EGUNUSUALID01" || alice.Path != "/" || alice.Incomplete {
		t.Errorf("alice %+v", alice)
	}
	if want := map[string]string{"team": "platform", "iamwarden:exempt-reason": "On leave"}; !reflect.DeepEqual(alice.Tags, want) {
		t.Errorf("alice tags %v, want %v", alice.Tags, want)
	}
	if !reflect.DeepEqual(alice.Groups, []string{"Admins"}) || alice.AttachedPolicies != nil {
		t.Errorf("alice groups %v attached %v", alice.Groups, alice.AttachedPolicies)
	}
	if len(alice.InlinePolicies) != 1 || alice.InlinePolicies[0].Name != "self-service" ||
		alice.InlinePolicies[0].Document != `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ChangePassword","Resource":"arn:aws:iam::111122223333:user/alice"}]}` {
		t.Errorf("alice inline policies %+v", alice.InlinePolicies)
	}
	if len(alice.MFA.Devices) != 1 || alice.MFA.Devices[0].Serial != "arn:aws:iam::111122223333:mfa/alice-phone" {
		t.Errorf("alice MFA %+v", alice.MFA)
	}

	bob := userByName(t, s, "bob")
	if bob.Path != "/staff/" || bob.PermissionsBoundary != "arn:aws:iam::111122223333:policy/staff-boundary" ||
		!reflect.DeepEqual(bob.AttachedPolicies, []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}) || bob.Tags != nil {
		t.Errorf("bob %+v", bob)
	}
	// MFA active with no virtual device: a hardware or FIDO device.
	if !bob.MFA.HasNonVirtual() || bob.MFA.HasVirtual() {
		t.Errorf("bob MFA %+v", bob.MFA)
	}

	bot := userByName(t, s, "deploy-bot")
	if len(bot.AccessKeys) != 2 || !bot.AccessKeys[1].Active || !bot.AccessKeys[1].LastUsed.IsZero() || bot.Password.Enabled {
		t.Errorf("deploy-bot %+v", bot)
	}

	admins, ok := s.Groups["Admins"]
	if !ok || admins.ARN != "arn:aws:iam::111122223333:group/Admins" || !reflect.DeepEqual(admins.AttachedPolicies, []string{"arn:aws:iam::aws:policy/AdministratorAccess"}) {
		t.Errorf("Admins group %+v", admins)
	}
	if got := s.Policies["arn:aws:iam::111122223333:policy/deploy"].Document; !strings.Contains(got, "s3:PutObject") {
		t.Errorf("deploy policy document %q, want the default version v2", got)
	}
	if got := s.Policies["arn:aws:iam::aws:policy/AdministratorAccess"]; got.Name != "AdministratorAccess" || !json.Valid([]byte(got.Document)) {
		t.Errorf("AdministratorAccess %+v", got)
	}
	if s.Summary["Users"] != 3 || s.PasswordPolicy == nil || s.PasswordPolicy.MinimumPasswordLength != 14 {
		t.Errorf("summary %v password policy %+v", s.Summary, s.PasswordPolicy)
	}
}

func TestAssembleDisagreeingSources(t *testing.T) {
	s := assembleFixture(t, "api-json")
	if s.AccountID != "444455556666" || !s.ReadAt.Equal(ts("2024-05-06T07:08:09Z")) {
		t.Errorf("account %q read at %v", s.AccountID, s.ReadAt)
	}
	var names []string
	for _, u := range s.Users {
		names = append(names, u.Name)
	}
	if got := strings.Join(names, " "); got != "alice gone newbie" {
		t.Errorf("users %q: want report order, then users only in the authorization details", got)
	}

	tests := []struct {
		principal string
		where     string
		msg       string
	}{
		{inventory.RootName, inventory.FileVirtualMFADevices, "virtual from hardware"},
		{"alice", inventory.FileAuthorizationDetails, "re-created"},
		{"gone", inventory.FileAuthorizationDetails, "in the credential report but not in the authorization details"},
		{"newbie", inventory.FileAuthorizationDetails, "in the authorization details but not in the credential report"},
	}
	if len(s.Problems) != len(tests) {
		t.Errorf("problems %+v, want %d", s.Problems, len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.principal, func(t *testing.T) {
			var found bool
			for _, p := range s.Problems {
				if p.Principal == tt.principal && p.Where == tt.where && strings.Contains(p.Message, tt.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem %q at %s in %+v", tt.msg, tt.where, s.Problems)
			}
			// A user missing from the report has no known credentials and must not be judged
			// on them; one missing from the details keeps its report credentials.
			u := userByName(t, s, tt.principal)
			if wantIncomplete := tt.principal != "gone"; !u.IsRoot && u.Incomplete != wantIncomplete {
				t.Errorf("%s: incomplete %v, want %v", tt.principal, u.Incomplete, wantIncomplete)
			}
		})
	}

	// Kept with what is known.
	newbie := userByName(t, s, "newbie")
	if newbie.ARN != "arn:aws:iam::444455556666:user/newbie" || newbie.ID != "AIDAQ3EGNEWBIE00001" ||
		!newbie.Created.Equal(ts("2024-05-06T08:30:00Z")) || newbie.Tags["team"] != "data" || newbie.Password.Enabled {
		t.Errorf("newbie %+v", newbie)
	}
	gone := userByName(t, s, "gone")
	if !gone.Password.Enabled || gone.ARN != "arn:aws:iam::444455556666:user/gone" {
		t.Errorf("gone %+v", gone)
	}
	alice := userByName(t, s, "alice")
	if !alice.Created.Equal(ts("2021-02-03T04:05:06Z")) || !alice.Password.Enabled {
		t.Errorf("alice %+v: want the report's view", alice)
	}
	// URL-encoded documents are decoded; a default version found by DefaultVersionId.
	if len(alice.InlinePolicies) != 1 || !strings.Contains(alice.InlinePolicies[0].Document, `"aws:MultiFactorAuthPresent":"false"`) {
		t.Errorf("alice inline %+v", alice.InlinePolicies)
	}
	if g := s.Groups["ForceMfa"]; len(g.InlinePolicies) != 1 || !strings.HasPrefix(g.InlinePolicies[0].Document, `{"Version":"2012-10-17"`) {
		t.Errorf("ForceMfa group %+v", g)
	}
	if got := s.Policies["arn:aws:iam::444455556666:policy/s3-read"].Document; !strings.Contains(got, "s3:GetObject") {
		t.Errorf("s3-read document %q, want v2", got)
	}
}

func TestAssembleRaw(t *testing.T) {
	report := readTestdata(t, "credreport", "values.csv")
	urlEncoded := inventory.PolicyDocument("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D")
	details := &inventory.AuthorizationDetails{
		UserDetailList: []inventory.UserDetail{
			{UserName: "alice", UserId: "AIDAALICE", Arn: "arn:aws:iam::111122223333:user/alice", CreateDate: ts("2021-02-03T04:05:06Z"),
				UserPolicyList: []inventory.PolicyDetail{{PolicyName: "p", PolicyDocument: urlEncoded}}},
			{UserName: "bob", Arn: "arn:aws:iam::111122223333:user/staff/bob", CreateDate: ts("2022-03-04T05:06:07Z")},
			{UserName: "carol", Arn: "arn:aws:iam::111122223333:user/carol", CreateDate: ts("2023-01-01T00:00:00Z")},
			{UserName: "dave", Arn: "arn:aws:iam::111122223333:user/dave", CreateDate: ts("2023-02-01T00:00:00Z")},
		},
	}
	carried := inventory.Problem{Where: "iam:GetAccountSummary", Message: "throttled"}

	tests := []struct {
		name    string
		raw     inventory.Raw
		wantErr string
		check   func(t *testing.T, s *inventory.Snapshot)
	}{
		{
			name:    "no credential report",
			raw:     inventory.Raw{Authorization: details, ReportName: "iam:GetCredentialReport"},
			wantErr: "iam:GetCredentialReport: no credential report",
		},
		{
			name:    "unreadable credential report",
			raw:     inventory.Raw{CredentialReport: []byte("user,arn\nx,y\n"), ReportName: "r.csv", Authorization: details},
			wantErr: "r.csv: not a credential report",
		},
		{
			name:    "two accounts",
			raw:     inventory.Raw{AccountID: "999999999999", CredentialReport: report, Authorization: details},
			wantErr: "999999999999",
		},
		{
			name: "live answers: URL-encoded documents, problems carried",
			raw: inventory.Raw{
				AccountID: "111122223333", Source: inventory.SourceLive, CredentialReport: report, ReportName: "iam:GetCredentialReport",
				Authorization: details, Problems: []inventory.Problem{carried},
				VirtualMFADevices: []inventory.VirtualMFADevice{
					{SerialNumber: "arn:aws:iam::111122223333:mfa/a", User: &inventory.MFAUser{UserName: "alice"}}, // matched by name
					{SerialNumber: "arn:aws:iam::111122223333:mfa/unassigned"},
				},
				Aliases: []string{"first", "second"},
			},
			check: func(t *testing.T, s *inventory.Snapshot) {
				if !reflect.DeepEqual(s.Problems, []inventory.Problem{carried}) {
					t.Errorf("problems %+v", s.Problems)
				}
				a := userByName(t, s, "alice")
				if a.InlinePolicies[0].Document != `{"Version":"2012-10-17","Statement":[]}` {
					t.Errorf("document %q", a.InlinePolicies[0].Document)
				}
				if len(a.MFA.Devices) != 1 || s.Root.MFA.Devices != nil {
					t.Errorf("devices: alice %+v root %+v", a.MFA, s.Root.MFA)
				}
				if s.AccountAlias != "first" {
					t.Errorf("alias %q", s.AccountAlias)
				}
			},
		},
		{
			name: "authorization details not read",
			raw:  inventory.Raw{Source: inventory.SourceLive, CredentialReport: report},
			check: func(t *testing.T, s *inventory.Snapshot) {
				if len(s.Problems) != 1 || s.Problems[0].Where != "iam:GetAccountAuthorizationDetails" {
					t.Errorf("problems %+v", s.Problems)
				}
				// Credentials from the report are still judged.
				for _, u := range s.Users {
					if u.Incomplete {
						t.Errorf("%s incomplete", u.Name)
					}
				}
				if s.Root.Incomplete || s.AccountID != "111122223333" {
					t.Errorf("root %+v account %q", s.Root, s.AccountID)
				}
			},
		},
		{
			name: "authorization details not read, already reported",
			raw: inventory.Raw{Source: inventory.SourceLive, CredentialReport: report, Problems: []inventory.Problem{
				{Where: "iam:GetAccountAuthorizationDetails", Message: "AccessDenied"},
			}},
			check: func(t *testing.T, s *inventory.Snapshot) {
				if len(s.Problems) != 1 || s.Problems[0].Message != "AccessDenied" {
					t.Errorf("problems %+v", s.Problems)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := inventory.Assemble(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

// nameRecordedKeys names each user's report keys from the export's listed keys, as the scan does
// (scan.nameKeys, through Snapshot.Recorded).
func nameRecordedKeys(t *testing.T, s *inventory.Snapshot) {
	t.Helper()
	if s.Recorded == nil {
		t.Fatal("no recorded answers")
	}
	for i := range s.Users {
		u := &s.Users[i]
		metas, err := s.Recorded.AccessKeys(context.Background(), u.Name)
		if errors.Is(err, inventory.ErrNotRecorded) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		inventory.NameAccessKeys(u.AccessKeys, metas)
	}
}

// Assemble leaves report keys named by slot; the export's listed keys name them when asked.
func TestAssembleNamesAccessKeys(t *testing.T) {
	report := []byte("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n" +
		"bot,arn:aws:iam::111122223333:user/bot,2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2024-02-01T00:00:00+00:00,N/A,N/A,N/A,false,2024-03-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n")
	s, err := inventory.Assemble(inventory.Raw{CredentialReport: report, AccessKeys: []inventory.AccessKeyRecord{
		{UserName: "bot", AccessKeyId: "AKIASECOND", Status: "Inactive", CreateDate: ts("2024-03-01T00:00:00.25Z")},
		{UserName: "bot", AccessKeyId: "AKIAFIRST", Status: "Active", CreateDate: ts("2024-02-01T00:00:00Z")},
		{UserName: "other", AccessKeyId: "AKIAOTHER", Status: "Active", CreateDate: ts("2024-03-01T00:00:00Z")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if keys := s.Users[0].AccessKeys; keys[0].ID != "" || keys[1].ID != "" {
		t.Errorf("Assemble named keys itself: %+v", keys)
	}
	if _, err := s.Recorded.AccessKeyLastUsed(context.Background(), "AKIAFIRST"); !errors.Is(err, inventory.ErrNotRecorded) {
		t.Errorf("last use answered from an export: %v", err)
	}
	nameRecordedKeys(t, s)
	keys := s.Users[0].AccessKeys
	if len(keys) != 2 || keys[0].ID != "AKIAFIRST" || keys[1].ID != "AKIASECOND" {
		t.Errorf("keys %+v", keys)
	}
}

// moto's authorization details leave PolicyName out of the Policies list: the name comes from
// the ARN, so findings can name the policy.
func TestAssembleNamesPoliciesWithoutPolicyName(t *testing.T) {
	raw := inventory.Raw{
		CredentialReport: readTestdata(t, "credreport", "moto-plain.csv"),
		Authorization: &inventory.AuthorizationDetails{Policies: []inventory.ManagedDetail{{
			Arn: "arn:aws:iam::123456789012:policy/team/Admins", DefaultVersionId: "v1",
			PolicyVersionList: []inventory.PolicyVersion{{VersionId: "v1", IsDefaultVersion: true, Document: `{"Statement":[]}`}},
		}}},
	}
	s, err := inventory.Assemble(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Policies["arn:aws:iam::123456789012:policy/team/Admins"].Name; got != "Admins" {
		t.Errorf("policy name %q, want Admins", got)
	}
}
