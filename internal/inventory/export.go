package inventory

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf16"
)

// The files of an export directory. Each holds exactly what the AWS CLI prints for one read-only
// IAM call (see docs/export.md), so an export can be made with the AWS CLI alone.
const (
	FileCredentialReportCSV  = "credential-report.csv"
	FileCredentialReportJSON = "credential-report.json"
	FileAuthorizationDetails = "authorization-details.json"
	FileVirtualMFADevices    = "virtual-mfa-devices.json"
	FilePasswordPolicy       = "password-policy.json"
	FileAccountAliases       = "account-aliases.json"
	FileAccountSummary       = "account-summary.json"
	FileAccessKeys           = "access-keys.json"
	FileLoginProfiles        = "login-profiles.json"
	FileManifest             = "manifest.json"
	FileSCPs                 = "scps.json"
	FileKeyLastUses          = "access-key-last-used.json"
)

// ManifestSource is the manifest's source when iamwarden wrote the export.
const ManifestSource = "iamwarden export"

// The AWS CLI commands that produce each file, for error messages.
const (
	cmdCredentialReportCSV  = "aws iam generate-credential-report && aws iam get-credential-report --query Content --output text | base64 --decode > " + FileCredentialReportCSV
	cmdCredentialReportJSON = "aws iam generate-credential-report && aws iam get-credential-report --output json > " + FileCredentialReportJSON
	cmdAuthorizationDetails = "aws iam get-account-authorization-details --output json > " + FileAuthorizationDetails
)

// Manifest is manifest.json: what the export files themselves do not say.
type Manifest struct {
	AccountID string `json:"account_id,omitempty"`
	// ReadAt and ReportGeneratedAt are RFC 3339 times, empty when unknown.
	ReadAt            string `json:"read_at,omitempty"`
	ReportGeneratedAt string `json:"report_generated_at,omitempty"`
	Source            string `json:"source,omitempty"`
	// Problems are the parts of the account that could not be read when the export was taken;
	// they keep a scan of the export as partial as a live scan would have been.
	Problems []Problem `json:"problems,omitempty"`
}

// credentialReportJSON is what `aws iam get-credential-report` prints.
type credentialReportJSON struct {
	Content       string `json:"Content"`
	ReportFormat  string `json:"ReportFormat"`
	GeneratedTime string `json:"GeneratedTime"`
}

// pagination catches a paginated answer saved one page at a time (--max-items, --no-paginate).
type pagination struct {
	IsTruncated bool   `json:"IsTruncated"`
	NextToken   string `json:"NextToken"`
	Marker      string `json:"Marker"`
}

type virtualMFAFile struct {
	VirtualMFADevices []VirtualMFADevice `json:"VirtualMFADevices"`
}

type passwordPolicyFile struct {
	PasswordPolicy *PasswordPolicy `json:"PasswordPolicy,omitempty"`
}

type aliasesFile struct {
	AccountAliases []string `json:"AccountAliases"`
}

type accessKeysFile struct {
	AccessKeyMetadata []AccessKeyRecord `json:"AccessKeyMetadata"`
}

// keyLastUsesFile is access-key-last-used.json: GetAccessKeyLastUsed answers by key ID.
type keyLastUsesFile struct {
	AccessKeyLastUsed map[string]KeyLastUseRecord `json:"AccessKeyLastUsed"`
}

type loginProfilesFile struct {
	LoginProfiles []LoginProfileRecord `json:"LoginProfiles"`
}

type summaryFile struct {
	SummaryMap map[string]int32 `json:"SummaryMap"`
}

// ReadExport reads an export directory: the credential report (CSV, or the JSON answer of
// get-credential-report) and authorization-details.json are required, the other files optional.
// The read time comes from manifest.json, else from the credential report JSON's GeneratedTime,
// else it is zero and the caller decides.
func ReadExport(dir string) (Raw, error) {
	raw := Raw{Source: SourceExport}
	st, err := os.Stat(dir)
	if err != nil {
		return raw, fmt.Errorf("export directory: %w", err)
	}
	if !st.IsDir() {
		return raw, fmt.Errorf("export directory %s is not a directory", dir)
	}

	var man Manifest
	manFound, err := readJSON(dir, FileManifest, &man)
	if err != nil {
		return raw, err
	}
	if manFound {
		raw.AccountID = man.AccountID
		raw.Problems = man.Problems
		if raw.ReadAt, err = manifestTime(man.ReadAt, "read_at"); err != nil {
			return raw, err
		}
		if raw.ReportGeneratedAt, err = manifestTime(man.ReportGeneratedAt, "report_generated_at"); err != nil {
			return raw, err
		}
	}

	if err := readCredentialReport(dir, &raw); err != nil {
		return raw, err
	}

	var ad AuthorizationDetails
	found, err := readPaginatedJSON(dir, FileAuthorizationDetails, &ad)
	if err != nil {
		return raw, err
	}
	if !found {
		return raw, fmt.Errorf("export %s has no %s: %w; produce it with: %s", dir, FileAuthorizationDetails, fs.ErrNotExist, cmdAuthorizationDetails)
	}
	normalizeDetails(&ad)
	raw.Authorization = &ad

	var mfa virtualMFAFile
	found, err = readPaginatedJSON(dir, FileVirtualMFADevices, &mfa)
	if err != nil {
		return raw, err
	}
	if found {
		for _, d := range mfa.VirtualMFADevices {
			if d.EnableDate != nil {
				t := d.EnableDate.UTC()
				d.EnableDate = &t
			}
			raw.VirtualMFADevices = append(raw.VirtualMFADevices, d)
		}
	} else if rootHasMFA(raw.CredentialReport) {
		raw.Problems = append(raw.Problems, Problem{
			Where:     FileVirtualMFADevices,
			Principal: RootName,
			Message:   "file absent: root's MFA device cannot be told virtual from hardware; produce it with: aws iam list-virtual-mfa-devices --assignment-status Assigned --output json > " + FileVirtualMFADevices,
		})
	}

	var pp passwordPolicyFile
	if _, err := readJSON(dir, FilePasswordPolicy, &pp); err != nil {
		return raw, err
	}
	raw.PasswordPolicy = pp.PasswordPolicy

	var al aliasesFile
	if _, err := readPaginatedJSON(dir, FileAccountAliases, &al); err != nil {
		return raw, err
	}
	if len(al.AccountAliases) > 0 {
		raw.Aliases = al.AccountAliases
	}

	var sum summaryFile
	if _, err := readJSON(dir, FileAccountSummary, &sum); err != nil {
		return raw, err
	}
	if len(sum.SummaryMap) > 0 {
		raw.Summary = sum.SummaryMap
	}

	var scps SCPs
	found, err = readJSON(dir, FileSCPs, &scps)
	if err != nil {
		return raw, err
	}
	if found {
		switch scps.State {
		case SCPsNone, SCPsRead, SCPsNotRead:
		default:
			return raw, fmt.Errorf("%s: state %q, want %s, %s or %s", FileSCPs, scps.State, SCPsNone, SCPsRead, SCPsNotRead)
		}
		raw.SCPs = &scps
	}

	var keys accessKeysFile
	if _, err := readPaginatedJSON(dir, FileAccessKeys, &keys); err != nil {
		return raw, err
	}
	for _, k := range keys.AccessKeyMetadata {
		k.CreateDate = k.CreateDate.UTC()
		raw.AccessKeys = append(raw.AccessKeys, k)
	}

	var lastUses keyLastUsesFile
	if _, err := readJSON(dir, FileKeyLastUses, &lastUses); err != nil {
		return raw, err
	}
	if len(lastUses.AccessKeyLastUsed) > 0 {
		raw.KeyLastUses = lastUses.AccessKeyLastUsed
	}

	var profiles loginProfilesFile
	if _, err := readJSON(dir, FileLoginProfiles, &profiles); err != nil {
		return raw, err
	}
	for _, p := range profiles.LoginProfiles {
		p.CreateDate = p.CreateDate.UTC()
		raw.LoginProfiles = append(raw.LoginProfiles, p)
	}
	return raw, nil
}

// readCredentialReport reads credential-report.csv and/or credential-report.json. When both are
// present they must hold the same report. The JSON's GeneratedTime wins over the manifest's
// report_generated_at, and is the read time when the manifest gives none.
func readCredentialReport(dir string, raw *Raw) error {
	csvData, csvFound, err := readFile(dir, FileCredentialReportCSV)
	if err != nil {
		return err
	}
	if csvFound {
		raw.CredentialReport = csvData
		raw.ReportName = FileCredentialReportCSV
	}
	var cr credentialReportJSON
	jsonFound, err := readJSON(dir, FileCredentialReportJSON, &cr)
	if err != nil {
		return err
	}
	if !csvFound && !jsonFound {
		return fmt.Errorf("export %s has no credential report (%s or %s): %w; produce it with: %s; or: %s",
			dir, FileCredentialReportCSV, FileCredentialReportJSON, fs.ErrNotExist, cmdCredentialReportCSV, cmdCredentialReportJSON)
	}
	if !jsonFound {
		return nil
	}
	if cr.ReportFormat != "" && cr.ReportFormat != "text/csv" {
		return fmt.Errorf("%s: report format %q, want text/csv", FileCredentialReportJSON, cr.ReportFormat)
	}
	content, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(cr.Content), ""))
	if err != nil {
		return fmt.Errorf("%s: Content is not base64: %w", FileCredentialReportJSON, err)
	}
	if cr.GeneratedTime != "" {
		t, err := ParseTime(cr.GeneratedTime)
		if err != nil {
			return fmt.Errorf("%s: GeneratedTime: %w", FileCredentialReportJSON, err)
		}
		raw.ReportGeneratedAt = t
		if raw.ReadAt.IsZero() {
			raw.ReadAt = t
		}
	}
	if csvFound {
		if !bytes.Equal(canonicalCSV(csvData), canonicalCSV(content)) {
			return fmt.Errorf("%s and %s hold different credential reports; remove the stale one", FileCredentialReportCSV, FileCredentialReportJSON)
		}
		return nil
	}
	raw.CredentialReport = content
	raw.ReportName = FileCredentialReportJSON
	return nil
}

// canonicalCSV drops what may differ between two saves of one report: BOM, CR, trailing newlines.
func canonicalCSV(b []byte) []byte {
	b = bytes.TrimPrefix(b, utf8BOM)
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.TrimRight(b, "\n")
}

// rootHasMFA reports whether the report's root row says MFA is active; an unreadable report
// answers false (Assemble reports it).
func rootHasMFA(report []byte) bool {
	root, _, _, err := ParseCredentialReport(report, "")
	return err == nil && root != nil && root.MFA.Active
}

func manifestTime(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %s: %w", FileManifest, field, err)
	}
	return t, nil
}

// readFile reads dir/name; found is false when it does not exist. UTF-16 text (as Windows
// PowerShell's > redirection writes it) is converted to UTF-8.
func readFile(dir, name string) (data []byte, found bool, err error) {
	data, err = os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", name, err)
	}
	return fromUTF16(data), true, nil
}

func fromUTF16(b []byte) []byte {
	var le bool
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		le = true
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
	default:
		return b
	}
	b = b[2:]
	u := make([]uint16, len(b)/2)
	for i := range u {
		if le {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		} else {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
	}
	return []byte(string(utf16.Decode(u)))
}

// readJSON decodes dir/name into v; found is false when the file does not exist. Decoding errors
// name the file and the line and column.
func readJSON(dir, name string, v any) (found bool, err error) {
	data, found, err := readFile(dir, name)
	if err != nil || !found {
		return found, err
	}
	return true, decodeJSON(name, data, v)
}

// readPaginatedJSON is readJSON for the answer of a paginated call, refusing a single page.
func readPaginatedJSON(dir, name string, v any) (found bool, err error) {
	data, found, err := readFile(dir, name)
	if err != nil || !found {
		return found, err
	}
	var pg pagination
	if err := decodeJSON(name, data, &pg); err != nil {
		return true, err
	}
	if pg.IsTruncated || pg.NextToken != "" || pg.Marker != "" {
		return true, fmt.Errorf("%s holds one page of a paginated answer (IsTruncated, NextToken or Marker set); run the command without --max-items or --no-paginate", name)
	}
	return true, decodeJSON(name, data, v)
}

func decodeJSON(name string, data []byte, v any) error {
	data = bytes.TrimPrefix(data, utf8BOM)
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := position(data, se.Offset)
		return fmt.Errorf("%s:%d:%d: invalid JSON: %w", name, line, col, err)
	case errors.As(err, &te):
		line, col := position(data, te.Offset)
		return fmt.Errorf("%s:%d:%d: %w", name, line, col, err)
	default:
		return fmt.Errorf("%s: %w", name, err)
	}
}

// position turns the byte offset a JSON error reports (the error is in the byte before it) into
// a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	at := int(offset) - 1
	if at < 0 {
		at = 0
	}
	before := data[:at]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = at - bytes.LastIndexByte(before, '\n')
	return line, col
}

// normalizeDetails puts every time of the authorization details in UTC and every policy document
// in compact JSON, so that what ReadExport returns does not depend on how the file was indented.
//
// Lists that are left out of the file when empty are nil when empty, so that writing and reading
// again gives the same value.
func normalizeDetails(ad *AuthorizationDetails) {
	for i := range ad.UserDetailList {
		u := &ad.UserDetailList[i]
		u.CreateDate = u.CreateDate.UTC()
		compactPolicies(u.UserPolicyList)
		u.UserPolicyList = nilIfEmpty(u.UserPolicyList)
		u.Tags = nilIfEmpty(u.Tags)
	}
	ad.RoleDetailList = nilIfEmpty(ad.RoleDetailList)
	for i := range ad.GroupDetailList {
		g := &ad.GroupDetailList[i]
		g.CreateDate = g.CreateDate.UTC()
		compactPolicies(g.GroupPolicyList)
	}
	for i := range ad.Policies {
		p := &ad.Policies[i]
		p.CreateDate = p.CreateDate.UTC()
		p.UpdateDate = p.UpdateDate.UTC()
		for j := range p.PolicyVersionList {
			v := &p.PolicyVersionList[j]
			v.CreateDate = v.CreateDate.UTC()
			v.Document = compactDocument(v.Document)
		}
	}
}

func compactPolicies(ps []PolicyDetail) {
	for i := range ps {
		ps[i].PolicyDocument = compactDocument(ps[i].PolicyDocument)
	}
}

// compactDocument compacts a decoded document; PolicyDocument's decoding guarantees valid JSON.
func compactDocument(d PolicyDocument) PolicyDocument {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(d)); err != nil {
		return d
	}
	return PolicyDocument(buf.String())
}

// WriteExport writes raw to dir in the files ReadExport reads, as the AWS CLI would print them,
// plus manifest.json with the account, the read time and the problems met while reading. The
// directory is created when missing; files of an earlier export are replaced.
func WriteExport(dir string, raw Raw) error {
	if len(raw.CredentialReport) == 0 {
		return errors.New("no credential report to export")
	}
	if raw.Authorization == nil {
		return errors.New("no authorization details to export")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create export directory: %w", err)
	}
	files := []struct {
		name string
		v    any
	}{
		{FileAuthorizationDetails, raw.Authorization},
		{FileVirtualMFADevices, virtualMFAFile{VirtualMFADevices: nonNil(raw.VirtualMFADevices)}},
		{FilePasswordPolicy, passwordPolicyFile{PasswordPolicy: raw.PasswordPolicy}},
		{FileAccountAliases, aliasesFile{AccountAliases: nonNil(raw.Aliases)}},
		{FileAccountSummary, summaryFile{SummaryMap: nonNilMap(raw.Summary)}},
		{FileAccessKeys, accessKeysFile{AccessKeyMetadata: nonNil(raw.AccessKeys)}},
		{FileLoginProfiles, loginProfilesFile{LoginProfiles: nonNil(raw.LoginProfiles)}},
		{FileKeyLastUses, keyLastUsesFile{AccessKeyLastUsed: nonNilMap(raw.KeyLastUses)}},
		{FileManifest, Manifest{
			AccountID:         raw.AccountID,
			ReadAt:            rfc3339(raw.ReadAt),
			ReportGeneratedAt: rfc3339(raw.ReportGeneratedAt),
			Source:            ManifestSource,
			Problems:          raw.Problems,
		}},
	}
	if raw.SCPs != nil {
		// Without the file, a scan of the export says the SCPs were not read.
		files = append(files, struct {
			name string
			v    any
		}{FileSCPs, raw.SCPs})
	} else if err := os.Remove(filepath.Join(dir, FileSCPs)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale %s: %w", FileSCPs, err)
	}
	if err := writeFile(dir, FileCredentialReportCSV, raw.CredentialReport); err != nil {
		return err
	}
	// A report JSON left by an earlier export would be read instead of the new CSV.
	if err := os.Remove(filepath.Join(dir, FileCredentialReportJSON)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale %s: %w", FileCredentialReportJSON, err)
	}
	for _, f := range files {
		b, err := json.MarshalIndent(f.v, "", "    ")
		if err != nil {
			return fmt.Errorf("encode %s: %w", f.name, err)
		}
		if err := writeFile(dir, f.name, append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// writeFile replaces dir/name with data, through a temporary file so that a reader never sees
// half a file.
func writeFile(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func nonNilMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}
