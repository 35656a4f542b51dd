package inventory_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

// copyExport copies testdata/export/NAME to a fresh directory, so a test can change its files.
func copyExport(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", "export", name)
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func writeTestFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReadExportCLIFiles(t *testing.T) {
	raw, err := inventory.ReadExport(filepath.Join("testdata", "export", "cli"))
	if err != nil {
		t.Fatal(err)
	}
	if raw.Source != inventory.SourceExport || raw.ReportName != inventory.FileCredentialReportCSV {
		t.Errorf("source %q, report name %q", raw.Source, raw.ReportName)
	}
	// No manifest and no report JSON: nothing says when the data was read.
	if !raw.ReadAt.IsZero() || !raw.ReportGeneratedAt.IsZero() || raw.AccountID != "" {
		t.Errorf("read at %v, generated at %v, account %q: want all unknown", raw.ReadAt, raw.ReportGeneratedAt, raw.AccountID)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "export", "cli", inventory.FileCredentialReportCSV))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw.CredentialReport, want) {
		t.Error("credential report not read verbatim")
	}
	if raw.Authorization == nil || len(raw.Authorization.UserDetailList) != 3 || len(raw.Authorization.Policies) != 2 {
		t.Fatalf("authorization details %+v", raw.Authorization)
	}
	if got := raw.Authorization.UserDetailList[0].CreateDate; !got.Equal(ts("2021-02-03T04:05:06Z")) {
		t.Errorf("alice created %v", got)
	}
	if len(raw.VirtualMFADevices) != 2 || raw.VirtualMFADevices[0].User.Arn != "arn:aws:iam::111122223333:root" {
		t.Errorf("virtual MFA devices %+v", raw.VirtualMFADevices)
	}
	if raw.PasswordPolicy == nil || raw.PasswordPolicy.MinimumPasswordLength != 14 || raw.PasswordPolicy.PasswordReusePrevention != 24 {
		t.Errorf("password policy %+v", raw.PasswordPolicy)
	}
	if !reflect.DeepEqual(raw.Aliases, []string{"example-prod"}) || raw.Summary["UsersQuota"] != 5000 {
		t.Errorf("aliases %v, summary %v", raw.Aliases, raw.Summary)
	}
	if len(raw.Problems) != 0 {
		t.Errorf("problems %+v", raw.Problems)
	}
}

func TestReadExportReportJSON(t *testing.T) {
	raw, err := inventory.ReadExport(filepath.Join("testdata", "export", "api-json"))
	if err != nil {
		t.Fatal(err)
	}
	gen := ts("2024-05-06T07:08:09Z")
	if !raw.ReportGeneratedAt.Equal(gen) || !raw.ReadAt.Equal(gen) {
		t.Errorf("generated %v, read %v: want both %v", raw.ReportGeneratedAt, raw.ReadAt, gen)
	}
	if raw.ReportName != inventory.FileCredentialReportJSON || !bytes.HasPrefix(raw.CredentialReport, []byte("user,arn,")) {
		t.Errorf("report %q decoded to %.20q", raw.ReportName, raw.CredentialReport)
	}
	doc := string(raw.Authorization.UserDetailList[0].UserPolicyList[0].PolicyDocument)
	if !json.Valid([]byte(doc)) || !strings.Contains(doc, `"aws:MultiFactorAuthPresent":"false"`) {
		t.Errorf("URL-encoded inline policy decoded to %q", doc)
	}
	if got := raw.Authorization.UserDetailList[0].CreateDate; !got.Equal(ts("2024-05-06T09:00:00.123Z")) {
		t.Errorf("fractional seconds lost: %v", got)
	}
}

func TestReadExportReportSources(t *testing.T) {
	reportJSON := readTestdata(t, "export", "api-json", inventory.FileCredentialReportJSON)
	var cr struct{ Content string }
	if err := json.Unmarshal(reportJSON, &cr); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		csv           string // written as credential-report.csv when set
		manifest      string
		wantErr       string
		wantRead      string
		wantGenerated string
	}{
		{
			name:          "JSON only, no manifest",
			wantRead:      "2024-05-06T07:08:09Z",
			wantGenerated: "2024-05-06T07:08:09Z",
		},
		{
			name:          "manifest read time wins, JSON generated time wins",
			manifest:      `{"account_id":"444455556666","read_at":"2024-05-06T10:00:00Z","report_generated_at":"2024-05-06T06:00:00Z","source":"iamwarden export"}`,
			wantRead:      "2024-05-06T10:00:00Z",
			wantGenerated: "2024-05-06T07:08:09Z",
		},
		{
			name:          "CSV and JSON holding one report",
			csv:           "decoded",
			wantRead:      "2024-05-06T07:08:09Z",
			wantGenerated: "2024-05-06T07:08:09Z",
		},
		{
			name:    "CSV and JSON holding different reports",
			csv:     "user,arn\n",
			wantErr: "hold different credential reports",
		},
		{
			name:     "bad manifest time",
			manifest: `{"read_at":"yesterday"}`,
			wantErr:  "manifest.json: read_at",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyExport(t, "api-json")
			if tt.csv != "" {
				data := []byte(tt.csv)
				if tt.csv == "decoded" {
					raw, err := inventory.ReadExport(dir)
					if err != nil {
						t.Fatal(err)
					}
					// The same report saved with CRLF line ends.
					data = bytes.ReplaceAll(raw.CredentialReport, []byte("\n"), []byte("\r\n"))
				}
				writeTestFile(t, dir, inventory.FileCredentialReportCSV, data)
			}
			if tt.manifest != "" {
				writeTestFile(t, dir, inventory.FileManifest, []byte(tt.manifest))
			}
			raw, err := inventory.ReadExport(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !raw.ReadAt.Equal(ts(tt.wantRead)) || !raw.ReportGeneratedAt.Equal(ts(tt.wantGenerated)) {
				t.Errorf("read %v generated %v, want %s %s", raw.ReadAt, raw.ReportGeneratedAt, tt.wantRead, tt.wantGenerated)
			}
		})
	}
}

func TestReadExportMissingFiles(t *testing.T) {
	tests := []struct {
		name   string
		remove []string
		want   []string
	}{
		{
			name:   "no credential report",
			remove: []string{inventory.FileCredentialReportCSV},
			want:   []string{inventory.FileCredentialReportCSV, inventory.FileCredentialReportJSON, "aws iam get-credential-report"},
		},
		{
			name:   "no authorization details",
			remove: []string{inventory.FileAuthorizationDetails},
			want:   []string{inventory.FileAuthorizationDetails, "aws iam get-account-authorization-details"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyExport(t, "cli")
			for _, f := range tt.remove {
				if err := os.Remove(filepath.Join(dir, f)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := inventory.ReadExport(dir)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v is not fs.ErrNotExist", err)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}

	t.Run("no directory", func(t *testing.T) {
		_, err := inventory.ReadExport(filepath.Join(t.TempDir(), "nope"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v, want fs.ErrNotExist", err)
		}
	})
}

func TestReadExportOptionalFiles(t *testing.T) {
	dir := copyExport(t, "cli")
	for _, f := range []string{inventory.FileVirtualMFADevices, inventory.FilePasswordPolicy, inventory.FileAccountAliases, inventory.FileAccountSummary} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := inventory.ReadExport(dir)
	if err != nil {
		t.Fatal(err)
	}
	if raw.VirtualMFADevices != nil || raw.PasswordPolicy != nil || raw.Aliases != nil || raw.Summary != nil {
		t.Errorf("optional answers not empty: %+v", raw)
	}
	// Root has MFA: without the virtual device list its kind is unknown.
	if len(raw.Problems) != 1 || raw.Problems[0].Principal != inventory.RootName || raw.Problems[0].Where != inventory.FileVirtualMFADevices {
		t.Errorf("problems %+v, want one about root's MFA device", raw.Problems)
	}

	// "{}" says the account has no password policy.
	writeTestFile(t, dir, inventory.FilePasswordPolicy, []byte("{}\n"))
	if raw, err = inventory.ReadExport(dir); err != nil || raw.PasswordPolicy != nil {
		t.Errorf("password policy %+v, err %v", raw.PasswordPolicy, err)
	}
}

func TestReadExportBrokenFiles(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{inventory.FileVirtualMFADevices, []string{"virtual-mfa-devices.json:7:9:", "invalid character '{'"}},
		{inventory.FileAccountSummary, []string{"account-summary.json:4:23:", "SummaryMap", "int32"}},
		{inventory.FilePasswordPolicy, []string{"password-policy.json:3:", "unexpected end of JSON input"}},
		{inventory.FileManifest, []string{"manifest.json: read_at", `"20 November 2026"`}},
		{inventory.FileAuthorizationDetails, []string{"authorization-details.json", "one page", "--max-items"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := copyExport(t, "cli")
			writeTestFile(t, dir, tt.file, readTestdata(t, "broken", tt.file))
			_, err := inventory.ReadExport(dir)
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

func TestReadExportUTF16(t *testing.T) {
	// Windows PowerShell 5's > writes UTF-16LE with a byte order mark.
	dir := copyExport(t, "cli")
	src := readTestdata(t, "export", "cli", inventory.FileAuthorizationDetails)
	u := utf16.Encode([]rune(string(src)))
	b := []byte{0xFF, 0xFE}
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	writeTestFile(t, dir, inventory.FileAuthorizationDetails, b)
	raw, err := inventory.ReadExport(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(raw.Authorization.UserDetailList); n != 3 {
		t.Errorf("%d users, want 3", n)
	}
}

func TestWriteExportRoundTrip(t *testing.T) {
	for _, fixture := range []string{"cli", "api-json"} {
		t.Run(fixture, func(t *testing.T) {
			raw, err := inventory.ReadExport(filepath.Join("testdata", "export", fixture))
			if err != nil {
				t.Fatal(err)
			}
			raw.AccountID = "111122223333"
			raw.ReadAt = ts("2024-05-06T10:11:12.345678901Z")
			raw.ReportGeneratedAt = ts("2024-05-06T07:08:09Z")
			raw.Problems = append(raw.Problems, inventory.Problem{Where: "iam:ListAccountAliases", Message: "access denied"})
			raw.LoginProfiles = []inventory.LoginProfileRecord{{UserName: "alice", CreateDate: ts("2023-01-02T03:04:05Z")}}
			raw.AccessKeys = []inventory.AccessKeyRecord{{UserName: "alice", AccessKeyId: "AKIAEXAMPLEALICE0001", Status: "Active", CreateDate: ts("2024-01-02T03:04:05.5Z")}}

			dir := filepath.Join(t.TempDir(), "export")
			if err := inventory.WriteExport(dir, raw); err != nil {
				t.Fatal(err)
			}
			got, err := inventory.ReadExport(dir)
			if err != nil {
				t.Fatal(err)
			}
			// The report is always written as CSV.
			raw.ReportName = inventory.FileCredentialReportCSV
			if !reflect.DeepEqual(got.Authorization, raw.Authorization) {
				a, _ := json.Marshal(got.Authorization)
				b, _ := json.Marshal(raw.Authorization)
				t.Errorf("authorization details changed:\n got %s\nwant %s", a, b)
			}
			if !reflect.DeepEqual(got, raw) {
				t.Errorf("round trip changed the answers:\n got %+v\nwant %+v", got, raw)
			}

			// Writing what was read gives the same files.
			again := filepath.Join(t.TempDir(), "again")
			if err := inventory.WriteExport(again, got); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 10 {
				t.Errorf("wrote %d files, want 10", len(entries))
			}
			for _, e := range entries {
				a, _ := os.ReadFile(filepath.Join(dir, e.Name()))
				b, _ := os.ReadFile(filepath.Join(again, e.Name()))
				if !bytes.Equal(a, b) {
					t.Errorf("%s differs between two writes", e.Name())
				}
			}
		})
	}
}

func TestWriteExportFiles(t *testing.T) {
	raw, err := inventory.ReadExport(filepath.Join("testdata", "export", "cli"))
	if err != nil {
		t.Fatal(err)
	}
	raw.AccountID = "111122223333"
	raw.ReadAt = ts("2024-05-06T10:00:00Z")
	raw.PasswordPolicy = nil
	dir := copyExport(t, "api-json") // an earlier export with a report JSON
	if err := inventory.WriteExport(dir, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, inventory.FileCredentialReportJSON)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale %s kept: %v", inventory.FileCredentialReportJSON, err)
	}
	var man map[string]any
	if err := json.Unmarshal(readFile(t, dir, inventory.FileManifest), &man); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"account_id": "111122223333", "read_at": "2024-05-06T10:00:00Z", "source": "iamwarden export"}
	if !reflect.DeepEqual(man, want) {
		t.Errorf("manifest %v, want %v", man, want)
	}
	if got := string(readFile(t, dir, inventory.FilePasswordPolicy)); got != "{}\n" {
		t.Errorf("no password policy written as %q, want {}", got)
	}
	// Indented as the AWS CLI indents, policy documents as objects.
	ad := string(readFile(t, dir, inventory.FileAuthorizationDetails))
	if !strings.HasPrefix(ad, "{\n    \"UserDetailList\": [\n") || !strings.Contains(ad, `"Action": "iam:ChangePassword"`) {
		t.Errorf("authorization-details.json:\n%.400s", ad)
	}

	for name, bad := range map[string]inventory.Raw{
		"credential report":     {Authorization: raw.Authorization},
		"authorization details": {CredentialReport: raw.CredentialReport},
	} {
		if err := inventory.WriteExport(t.TempDir(), bad); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("export without %s: error %v", name, err)
		}
	}
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
