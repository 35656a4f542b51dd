package inventory_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func readTestdata(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// valuesUsers is what testdata/credreport/values.csv holds.
func valuesUsers() (*inventory.User, []inventory.User) {
	root := &inventory.User{
		Name: inventory.RootName, ARN: "arn:aws:iam::111122223333:root", IsRoot: true,
		Created:  ts("2020-01-01T00:00:00Z"),
		Password: inventory.Password{Enabled: true, LastUsed: ts("2024-05-01T10:00:00Z")},
		MFA:      inventory.MFA{Active: true},
		AccessKeys: []inventory.AccessKey{{
			Slot: 1, Active: true, Created: ts("2020-01-02T00:00:00Z"), LastUsed: ts("2024-04-30T08:00:00Z"),
			LastUsedRegion: "us-east-1", LastUsedService: "s3",
		}},
	}
	users := []inventory.User{
		{
			Name: "alice", ARN: "arn:aws:iam::111122223333:user/alice", Created: ts("2021-02-03T04:05:06Z"),
			Password: inventory.Password{Enabled: true, LastUsed: ts("2024-05-02T11:12:13Z"), LastChanged: ts("2021-02-03T04:10:00Z")},
			MFA:      inventory.MFA{Active: true},
		},
		{
			// no_information: a password never used.
			Name: "bob", ARN: "arn:aws:iam::111122223333:user/staff/bob", Created: ts("2022-03-04T05:06:07Z"),
			Password: inventory.Password{Enabled: true, LastChanged: ts("2022-03-04T05:06:07Z")},
		},
		{
			// No password; an active used key and an inactive never used one.
			Name: "carol", ARN: "arn:aws:iam::111122223333:user/carol", Created: ts("2023-01-01T00:00:00Z"),
			AccessKeys: []inventory.AccessKey{
				{Slot: 1, Active: true, Created: ts("2023-01-02T00:00:00Z"), LastUsed: ts("2024-05-03T09:00:00Z"), LastUsedRegion: "eu-west-1", LastUsedService: "sts"},
				{Slot: 2, Active: false, Created: ts("2023-06-01T00:00:00Z")},
			},
		},
		{
			// A deleted password keeps its last use; key 1 inactive, key 2 active.
			Name: "dave", ARN: "arn:aws:iam::111122223333:user/dave", Created: ts("2023-02-01T00:00:00Z"),
			Password: inventory.Password{LastUsed: ts("2023-12-24T18:00:00Z")},
			AccessKeys: []inventory.AccessKey{
				{Slot: 1, Active: false, Created: ts("2023-02-01T00:00:00Z"), LastUsed: ts("2023-03-01T00:00:00Z")},
				{Slot: 2, Active: true, Created: ts("2024-01-01T00:00:00Z"), LastUsed: ts("2024-05-01T00:00:00Z"), LastUsedRegion: "us-west-2", LastUsedService: "ec2"},
			},
		},
	}
	return root, users
}

func TestParseCredentialReportValues(t *testing.T) {
	wantRoot, wantUsers := valuesUsers()
	tests := []struct {
		name string
		file string
	}{
		{"aws column order", "values.csv"},
		{"reordered columns, unknown column, BOM and CRLF", "reordered-bom-crlf.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, users, probs, err := inventory.ParseCredentialReport(readTestdata(t, "credreport", tt.file), tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(probs) != 0 {
				t.Errorf("problems: %+v", probs)
			}
			if !reflect.DeepEqual(root, wantRoot) {
				t.Errorf("root:\n got %+v\nwant %+v", root, wantRoot)
			}
			if len(users) != len(wantUsers) {
				t.Fatalf("got %d users, want %d", len(users), len(wantUsers))
			}
			for i := range wantUsers {
				if !reflect.DeepEqual(users[i], wantUsers[i]) {
					t.Errorf("user %d:\n got %+v\nwant %+v", i, users[i], wantUsers[i])
				}
			}
		})
	}
}

const reportHeader = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"

func TestParseCredentialReportRoot(t *testing.T) {
	tests := []struct {
		name         string
		row          string
		wantLastUsed time.Time
		wantMFA      bool
		wantKeys     int
	}{
		{
			name:         "root used, MFA, a key",
			row:          "<root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,2024-05-01T10:00:00+00:00,not_supported,not_supported,true,true,2020-01-02T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
			wantLastUsed: ts("2024-05-01T10:00:00Z"),
			wantMFA:      true,
			wantKeys:     1,
		},
		{
			name: "root never used, no MFA, no keys",
			row:  "<root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,no_information,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, users, probs, err := inventory.ParseCredentialReport([]byte(reportHeader+"\n"+tt.row+"\n"), "r.csv")
			if err != nil || len(probs) != 0 {
				t.Fatalf("err %v, problems %+v", err, probs)
			}
			if len(users) != 0 {
				t.Errorf("root counted as a user: %+v", users)
			}
			if root == nil {
				t.Fatal("no root")
			}
			if !root.IsRoot || root.Name != inventory.RootName || root.ID != "" {
				t.Errorf("root identity: %+v", root)
			}
			if !root.Password.Enabled {
				t.Error("root password not enabled")
			}
			if !root.Password.LastUsed.Equal(tt.wantLastUsed) || !root.Password.LastChanged.IsZero() {
				t.Errorf("root password %+v, want last used %v", root.Password, tt.wantLastUsed)
			}
			if root.MFA.Active != tt.wantMFA || len(root.AccessKeys) != tt.wantKeys {
				t.Errorf("root MFA %v keys %d, want %v %d", root.MFA.Active, len(root.AccessKeys), tt.wantMFA, tt.wantKeys)
			}
		})
	}
}

func TestParseCredentialReportMalformedRows(t *testing.T) {
	root, users, probs, err := inventory.ParseCredentialReport(readTestdata(t, "credreport", "malformed.csv"), "malformed.csv")
	if err != nil {
		t.Fatal(err)
	}
	if root != nil {
		t.Errorf("root = %+v, want none", root)
	}
	var names []string
	byName := map[string]inventory.User{}
	for _, u := range users {
		names = append(names, u.Name)
		byName[u.Name] = u
	}
	if got, want := strings.Join(names, " "), "alice short badtime badbool zed"; got != want {
		t.Fatalf("users %q, want %q (the nameless row skipped)", got, want)
	}

	tests := []struct {
		user       string
		incomplete bool
		where      string
		msg        []string // substrings of the principal's problem
	}{
		{user: "alice"},
		{user: "short", incomplete: true, where: "malformed.csv:3", msg: []string{"4 fields", "22"}},
		{user: "badtime", incomplete: true, where: "malformed.csv:4", msg: []string{"password_last_used", `"yesterday"`}},
		{user: "badbool", incomplete: true, where: "malformed.csv:5", msg: []string{"mfa_active", `"yes"`}},
		{user: "zed"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			u := byName[tt.user]
			if u.Incomplete != tt.incomplete {
				t.Errorf("Incomplete = %v, want %v", u.Incomplete, tt.incomplete)
			}
			var mine []inventory.Problem
			for _, p := range probs {
				if p.Principal == tt.user {
					mine = append(mine, p)
				}
			}
			if tt.where == "" {
				if len(mine) != 0 {
					t.Errorf("unexpected problems %+v", mine)
				}
				return
			}
			if len(mine) != 1 {
				t.Fatalf("problems %+v, want one", mine)
			}
			if mine[0].Where != tt.where {
				t.Errorf("Where = %q, want %q", mine[0].Where, tt.where)
			}
			for _, s := range tt.msg {
				if !strings.Contains(mine[0].Message, s) {
					t.Errorf("message %q lacks %q", mine[0].Message, s)
				}
			}
		})
	}

	// What could be read of a broken row is kept.
	if b := byName["badtime"]; !b.Password.Enabled || !b.MFA.Active || !b.Password.LastUsed.IsZero() {
		t.Errorf("badtime kept %+v", b)
	}
	if b := byName["badbool"]; b.MFA.Active || len(b.AccessKeys) != 1 || !b.AccessKeys[0].Active {
		t.Errorf("badbool kept %+v", b)
	}
	if s := byName["short"]; s.ARN != "arn:aws:iam::111122223333:user/short" || s.Password.Enabled {
		t.Errorf("short kept %+v", s)
	}
	var nameless bool
	for _, p := range probs {
		if p.Where == "malformed.csv:6" && p.Principal == "" && strings.Contains(p.Message, "no user name") {
			nameless = true
		}
	}
	if !nameless {
		t.Errorf("no problem for the nameless row in %+v", probs)
	}
}

func TestParseCredentialReportErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"empty", "", []string{"r.csv", "empty"}},
		{"only a BOM and blanks", "\xef\xbb\xbf \r\n", []string{"r.csv", "empty"}},
		{"JSON answer saved as CSV", `{"Content": "dXNlcg==", "ReportFormat": "text/csv"}`, []string{"r.csv", "JSON", "base64"}},
		{"not CSV", "hello world\n", []string{"r.csv", "missing column", "user_creation_time", "access_key_2_last_used_service"}},
		{
			"missing columns",
			strings.Replace(strings.Replace(reportHeader, ",mfa_active", "", 1), ",access_key_1_last_rotated", "", 1) + "\n",
			[]string{"r.csv", "mfa_active, access_key_1_last_rotated"},
		},
		{"broken quoting in the header", "user,\"arn\nx\"y,z\n", []string{"r.csv", "header"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := inventory.ParseCredentialReport([]byte(tt.data), "r.csv")
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestParseCredentialReportOptionalColumns(t *testing.T) {
	// password_next_rotation and the certificate columns are not needed.
	header := "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service"
	row := "eve,arn:aws:iam::111122223333:user/eve,2021-02-03T04:05:06Z,true,2024-05-02T11:12:13.250Z,2021-02-03T04:10:00+02:00,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A"
	_, users, probs, err := inventory.ParseCredentialReport([]byte(header+"\n"+row), "r.csv")
	if err != nil || len(probs) != 0 {
		t.Fatalf("err %v, problems %+v", err, probs)
	}
	if len(users) != 1 {
		t.Fatalf("users %+v", users)
	}
	pw := users[0].Password
	if !pw.LastUsed.Equal(ts("2024-05-02T11:12:13.25Z")) || !pw.LastChanged.Equal(ts("2021-02-03T02:10:00Z")) {
		t.Errorf("password times %+v", pw)
	}
	if pw.LastChanged.Location() != time.UTC {
		t.Errorf("times not in UTC: %v", pw.LastChanged.Location())
	}
}

func TestParseCredentialReportBrokenQuoting(t *testing.T) {
	good := "zed,arn:aws:iam::111122223333:user/zed,2021-02-03T04:05:06+00:00,false,N/A,N/A,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
	data := reportHeader + "\n" + `bad"quote,arn:aws:iam::111122223333:user/x` + "\n" + good + "\n"
	_, users, probs, err := inventory.ParseCredentialReport([]byte(data), "r.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Name != "zed" || users[0].Incomplete {
		t.Errorf("users %+v, want zed read after the broken row", users)
	}
	if len(probs) != 1 || probs[0].Where != "r.csv:2" || !strings.Contains(probs[0].Message, "row skipped") {
		t.Errorf("problems %+v", probs)
	}
}

// AWS and the emulators write N/A, no_information or not_supported where a column has no value;
// each of them reads as "no time" in every time column, without a problem.
func TestParseCredentialReportNoValueWords(t *testing.T) {
	const row = "alice,arn:aws:iam::111122223333:user/alice,2021-02-03T04:05:06+00:00,true,2024-05-02T11:12:13+00:00,2021-02-03T04:10:00+00:00,N/A,false," +
		"true,2023-01-02T00:00:00+00:00,2024-05-03T09:00:00+00:00,eu-west-1,sts," +
		"true,2023-06-01T00:00:00+00:00,2024-05-04T09:00:00+00:00,us-east-1,s3,false,N/A,false,N/A"
	columns := strings.Split(reportHeader, ",")
	timeColumns := []string{"user_creation_time", "password_last_used", "password_last_changed",
		"access_key_1_last_used_date", "access_key_2_last_used_date", "password_next_rotation",
		"cert_1_last_rotated", "cert_2_last_rotated"}
	for _, word := range []string{"N/A", "no_information", "not_supported"} {
		for _, col := range timeColumns {
			t.Run(word+" in "+col, func(t *testing.T) {
				fields := strings.Split(row, ",")
				fields[slices.Index(columns, col)] = word
				_, users, probs, err := inventory.ParseCredentialReport([]byte(reportHeader+"\n"+strings.Join(fields, ",")+"\n"), "r.csv")
				if err != nil || len(probs) != 0 {
					t.Fatalf("err %v, problems %+v", err, probs)
				}
				u := users[0]
				if u.Incomplete {
					t.Fatalf("user incomplete: %+v", u)
				}
				got := map[string]time.Time{
					"user_creation_time":          u.Created,
					"password_last_used":          u.Password.LastUsed,
					"password_last_changed":       u.Password.LastChanged,
					"access_key_1_last_used_date": u.AccessKeys[0].LastUsed,
					"access_key_2_last_used_date": u.AccessKeys[1].LastUsed,
				}
				for c, v := range got {
					if (c == col) != v.IsZero() {
						t.Errorf("%s read as %v", c, v)
					}
				}
			})
		}
		// A key slot whose creation time has no value is no key.
		for _, slot := range []string{"1", "2"} {
			t.Run(word+" in access_key_"+slot+"_last_rotated", func(t *testing.T) {
				fields := strings.Split(row, ",")
				for _, c := range []string{"_active", "_last_rotated", "_last_used_date", "_last_used_region", "_last_used_service"} {
					fields[slices.Index(columns, "access_key_"+slot+c)] = word
				}
				fields[slices.Index(columns, "access_key_"+slot+"_active")] = "false"
				_, users, probs, err := inventory.ParseCredentialReport([]byte(reportHeader+"\n"+strings.Join(fields, ",")+"\n"), "r.csv")
				if err != nil || len(probs) != 0 {
					t.Fatalf("err %v, problems %+v", err, probs)
				}
				if len(users[0].AccessKeys) != 1 || users[0].AccessKeys[0].Slot == mustAtoi(slot) {
					t.Errorf("keys %+v", users[0].AccessKeys)
				}
			})
		}
	}
}

// testdata/credreport/moto-plain.csv is the report moto_server writes (moto/iam/models.py
// User.to_csv): not_supported for the password last use of users without a password and for
// every key's last used region and service, and no root row.
func TestParseCredentialReportPlainMoto(t *testing.T) {
	root, users, probs, err := inventory.ParseCredentialReport(readTestdata(t, "credreport", "moto-plain.csv"), "moto-plain.csv")
	if err != nil || len(probs) != 0 {
		t.Fatalf("err %v, problems %+v", err, probs)
	}
	if root != nil {
		t.Errorf("root %+v from a report without a root row", root)
	}
	if len(users) != 3 {
		t.Fatalf("users %+v", users)
	}
	for _, u := range users {
		if u.Incomplete {
			t.Errorf("%s incomplete", u.Name)
		}
		for _, k := range u.AccessKeys {
			if k.LastUsedRegion != "" || k.LastUsedService != "" {
				t.Errorf("%s key %d: region %q service %q", u.Name, k.Slot, k.LastUsedRegion, k.LastUsedService)
			}
		}
	}
	if keys := users[1].AccessKeys; len(keys) != 2 || !keys[0].Active || keys[1].Active || keys[0].LastUsed.IsZero() || !keys[1].LastUsed.IsZero() {
		t.Errorf("bob's keys %+v", keys)
	}
	if pw := users[0].Password; !pw.Enabled || !pw.LastUsed.IsZero() {
		t.Errorf("alice's password %+v", pw)
	}
	if pw := users[2].Password; pw.Enabled || !pw.LastUsed.IsZero() {
		t.Errorf("carol's password %+v", pw)
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}
