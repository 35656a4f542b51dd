package securityhub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/securityhub"
)

const account = "123456789012"

var (
	generated = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	readAt    = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
)

func result(fs ...rules.Finding) *report.Result {
	return &report.Result{AccountID: account, GeneratedAt: generated, AsOf: readAt, DataReadAt: readAt, Findings: fs}
}

func ptr[T any](v T) *T { return &v }

// Findings of every kind.
var (
	userFinding = rules.Finding{
		AccountID: account, Rule: "console-mfa-missing", Severity: rules.SeverityHigh, State: rules.StateViolation,
		Principal: "alice", PrincipalARN: "arn:aws:iam::123456789012:user/eng/alice", UserID: "AIDAALICE0000000000001",
		Controls: []string{"FSBP IAM.5", "CIS v5.0.0 1.9", "CIS v3.0.0 1.10"}, Title: "Console user without MFA",
		Detail: "alice has a console password set 2026-01-02 and no MFA device",
	}
	keyFinding = rules.Finding{
		AccountID: account, Rule: "access-key-not-rotated", Severity: rules.SeverityMedium, State: rules.StateViolation,
		Principal: "bob", PrincipalARN: "arn:aws:iam::123456789012:user/bob", UserID: "AIDABOB00000000000001",
		Resource: "AKIABOBKEY0000000001", Controls: []string{"FSBP IAM.3", "CIS v5.0.0 1.13"},
		Title: "Access key not rotated", Detail: "bob's key AKIA…0001 is 400 days old",
		Key: &inventory.AccessKey{Slot: 1, ID: "AKIABOBKEY0000000001", Active: true, Created: time.Date(2025, 10, 19, 8, 0, 0, 0, time.UTC)},
	}
	rootFinding = rules.Finding{
		AccountID: account, Rule: "root-mfa-missing", Severity: rules.SeverityCritical, State: rules.StateViolation,
		Principal: inventory.RootName, PrincipalARN: "arn:aws:iam::123456789012:root",
		Controls: []string{"Security Hub IAM.9", "CIS v5.0.0 1.4"}, Title: "Root user without MFA",
		Detail: "the root user has no MFA device",
	}
	pendingFinding = rules.Finding{
		AccountID: account, Rule: "console-mfa-missing", Severity: rules.SeverityHigh, State: rules.StatePending,
		Deadline: ptr(time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)), Principal: "carol",
		PrincipalARN: "arn:aws:iam::123456789012:user/carol", UserID: "AIDACAROL000000000001",
		Controls: []string{"FSBP IAM.5"}, Title: "Console user without MFA", Detail: "carol has until 2026-11-21T03:00:00Z",
	}
	exemptFinding = rules.Finding{
		AccountID: account, Rule: "password-unused", Severity: rules.SeverityMedium, State: rules.StateExempt,
		Principal: "breakglass", PrincipalARN: "arn:aws:iam::123456789012:user/breakglass", UserID: "AIDABREAK000000000001",
		Controls: []string{"FSBP IAM.8", "Security Hub IAM.22"}, Title: "Console password unused", Detail: "unused for 200 days",
		Exemption: &rules.Exemption{Reason: "break-glass account", Source: "tag", Until: ptr(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))},
	}
)

func TestFindingsMapping(t *testing.T) {
	o := securityhub.Options{Region: "eu-west-1", Principals: []*inventory.User{
		{Name: "alice", ARN: "arn:aws:iam::123456789012:user/eng/alice", ID: "AIDAALICE0000000000001", Path: "/eng/", Created: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)},
	}}
	type want struct {
		id, compliance string
		types          []string
		label          types.SeverityLabel
		normalized     int32
		related        []string
		resources      []string // Type Id
		fields         map[string]string
		reasons        []string
		check          func(t *testing.T, f types.AwsSecurityFinding)
	}
	cases := []struct {
		name string
		in   rules.Finding
		want want
	}{
		{"user rule", userFinding, want{
			id: "iamwarden/123456789012/console-mfa-missing/AIDAALICE0000000000001", compliance: "FAILED",
			types: []string{securityhub.TypeBestPractices, securityhub.TypeCIS}, label: types.SeverityLabelHigh, normalized: 70,
			related:   []string{"AWS Foundational Security Best Practices v1.0.0/IAM.5", "CIS AWS Foundations Benchmark v5.0.0/1.9", "CIS AWS Foundations Benchmark v3.0.0/1.10"},
			resources: []string{"AwsIamUser arn:aws:iam::123456789012:user/eng/alice"},
			fields: map[string]string{"iamwarden/state": "violation", "iamwarden/rule": "console-mfa-missing", "iamwarden/principal": "alice",
				"iamwarden/controls": "FSBP IAM.5, CIS v5.0.0 1.9, CIS v3.0.0 1.10"},
			check: func(t *testing.T, f types.AwsSecurityFinding) {
				d := f.Resources[0].Details.AwsIamUser
				if got := []string{*d.UserName, *d.UserId, *d.Path, aws.ToString(d.CreateDate)}; !slices.Equal(got, []string{"alice", "AIDAALICE0000000000001", "/eng/", "2024-05-06T07:08:09.000Z"}) {
					t.Errorf("AwsIamUser = %v", got)
				}
			},
		}},
		{"key rule", keyFinding, want{
			id: "iamwarden/123456789012/access-key-not-rotated/AKIABOBKEY0000000001", compliance: "FAILED",
			types: []string{securityhub.TypeBestPractices, securityhub.TypeCIS}, label: types.SeverityLabelMedium, normalized: 40,
			related:   []string{"AWS Foundational Security Best Practices v1.0.0/IAM.3", "CIS AWS Foundations Benchmark v5.0.0/1.13"},
			resources: []string{"AwsIamAccessKey AWS::IAM::AccessKey:AKIABOBKEY0000000001", "AwsIamUser arn:aws:iam::123456789012:user/bob"},
			fields: map[string]string{"iamwarden/state": "violation", "iamwarden/rule": "access-key-not-rotated", "iamwarden/principal": "bob",
				"iamwarden/controls": "FSBP IAM.3, CIS v5.0.0 1.13"},
			check: func(t *testing.T, f types.AwsSecurityFinding) {
				k := f.Resources[0].Details.AwsIamAccessKey
				got := []string{aws.ToString(k.AccessKeyId), aws.ToString(k.PrincipalName), aws.ToString(k.PrincipalId), aws.ToString(k.PrincipalType), string(k.Status), aws.ToString(k.CreatedAt)}
				if !slices.Equal(got, []string{"AKIABOBKEY0000000001", "bob", "AIDABOB00000000000001", "IAMUser", "Active", "2025-10-19T08:00:00.000Z"}) {
					t.Errorf("AwsIamAccessKey = %v", got)
				}
				if d := f.Resources[1].Details.AwsIamUser; d.CreateDate != nil || aws.ToString(d.Path) != "/" {
					t.Errorf("user without a known principal: CreateDate %v, Path %v; want none and /", d.CreateDate, aws.ToString(d.Path))
				}
			},
		}},
		{"root rule", rootFinding, want{
			id: "iamwarden/123456789012/root-mfa-missing/root", compliance: "FAILED",
			types: []string{securityhub.TypeBestPractices, securityhub.TypeCIS}, label: types.SeverityLabelCritical, normalized: 90,
			related:   []string{"CIS AWS Foundations Benchmark v5.0.0/1.4"},
			resources: []string{"AwsAccount AWS::::Account:123456789012"},
			fields: map[string]string{"iamwarden/state": "violation", "iamwarden/rule": "root-mfa-missing", "iamwarden/principal": "<root_account>",
				"iamwarden/controls": "Security Hub IAM.9, CIS v5.0.0 1.4"},
		}},
		{"pending with a deadline", pendingFinding, want{
			id: "iamwarden/123456789012/console-mfa-missing/AIDACAROL000000000001", compliance: "FAILED",
			types: []string{securityhub.TypeBestPractices}, label: types.SeverityLabelHigh, normalized: 70,
			related:   []string{"AWS Foundational Security Best Practices v1.0.0/IAM.5"},
			resources: []string{"AwsIamUser arn:aws:iam::123456789012:user/carol"},
			fields: map[string]string{"iamwarden/state": "pending", "iamwarden/rule": "console-mfa-missing", "iamwarden/principal": "carol",
				"iamwarden/controls": "FSBP IAM.5", "iamwarden/deadline": "2026-11-21T03:00:00.000Z"},
		}},
		{"exempt with an expiry", exemptFinding, want{
			id: "iamwarden/123456789012/password-unused/AIDABREAK000000000001", compliance: "NOT_AVAILABLE",
			types: []string{securityhub.TypeBestPractices}, label: types.SeverityLabelMedium, normalized: 40,
			related:   []string{"AWS Foundational Security Best Practices v1.0.0/IAM.8"},
			resources: []string{"AwsIamUser arn:aws:iam::123456789012:user/breakglass"},
			fields: map[string]string{"iamwarden/state": "exempt", "iamwarden/rule": "password-unused", "iamwarden/principal": "breakglass",
				"iamwarden/controls": "FSBP IAM.8, Security Hub IAM.22", "iamwarden/exemption/reason": "break-glass account",
				"iamwarden/exemption/source": "tag", "iamwarden/exemption/until": "2027-01-01T00:00:00.000Z"},
			reasons: []string{"IAMWARDEN_EXEMPT: exempt by tag until 2027-01-01T00:00:00.000Z: break-glass account"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := securityhub.Findings(result(tc.in), o)
			if len(fs) != 1 {
				t.Fatalf("got %d findings, want 1", len(fs))
			}
			f := fs[0]
			w := tc.want
			str := map[string]string{
				"Id": aws.ToString(f.Id), "SchemaVersion": aws.ToString(f.SchemaVersion), "ProductArn": aws.ToString(f.ProductArn),
				"GeneratorId": aws.ToString(f.GeneratorId), "AwsAccountId": aws.ToString(f.AwsAccountId), "Region": aws.ToString(f.Region),
				"CreatedAt": aws.ToString(f.CreatedAt), "UpdatedAt": aws.ToString(f.UpdatedAt),
				"FirstObservedAt": aws.ToString(f.FirstObservedAt), "LastObservedAt": aws.ToString(f.LastObservedAt),
				"Title": aws.ToString(f.Title), "Description": aws.ToString(f.Description),
				"Compliance.Status": string(f.Compliance.Status), "RecordState": string(f.RecordState), "Workflow.Status": string(f.Workflow.Status),
				"Recommendation.Url": aws.ToString(f.Remediation.Recommendation.Url),
			}
			wantStr := map[string]string{
				"Id": w.id, "SchemaVersion": "2018-10-08", "ProductArn": "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default",
				"GeneratorId": "iamwarden/" + tc.in.Rule, "AwsAccountId": account, "Region": "eu-west-1",
				"CreatedAt": "2026-11-23T12:00:00.000Z", "UpdatedAt": "2026-11-23T12:00:00.000Z",
				"FirstObservedAt": "2026-11-20T09:00:00.000Z", "LastObservedAt": "2026-11-20T09:00:00.000Z",
				"Title": tc.in.Title, "Description": tc.in.Detail, "Compliance.Status": w.compliance, "RecordState": "ACTIVE", "Workflow.Status": "NEW",
				"Recommendation.Url": "https://github.com/iamwarden/iamwarden/blob/main/docs/rules/" + tc.in.Rule + ".md",
			}
			for k, v := range wantStr {
				if str[k] != v {
					t.Errorf("%s = %q, want %q", k, str[k], v)
				}
			}
			if !slices.Equal(f.Types, w.types) || !slices.Equal(f.FindingProviderFields.Types, w.types) {
				t.Errorf("Types = %q, FindingProviderFields.Types = %q, want %q", f.Types, f.FindingProviderFields.Types, w.types)
			}
			if f.Severity.Label != w.label || aws.ToInt32(f.Severity.Normalized) != w.normalized || aws.ToString(f.Severity.Original) != string(tc.in.Severity) ||
				f.FindingProviderFields.Severity.Label != w.label {
				t.Errorf("Severity = %s/%d/%s, want %s/%d/%s", f.Severity.Label, aws.ToInt32(f.Severity.Normalized), aws.ToString(f.Severity.Original), w.label, w.normalized, tc.in.Severity)
			}
			if !slices.Equal(f.Compliance.RelatedRequirements, w.related) {
				t.Errorf("RelatedRequirements = %q, want %q", f.Compliance.RelatedRequirements, w.related)
			}
			var res []string
			for _, r := range f.Resources {
				res = append(res, aws.ToString(r.Type)+" "+aws.ToString(r.Id))
				if r.Partition != "aws" || aws.ToString(r.Region) != "eu-west-1" {
					t.Errorf("resource %s: partition %q region %q", aws.ToString(r.Id), r.Partition, aws.ToString(r.Region))
				}
			}
			if !slices.Equal(res, w.resources) {
				t.Errorf("Resources = %q, want %q", res, w.resources)
			}
			if !reflect.DeepEqual(f.ProductFields, w.fields) {
				t.Errorf("ProductFields = %v, want %v", f.ProductFields, w.fields)
			}
			var reasons []string
			for _, r := range f.Compliance.StatusReasons {
				reasons = append(reasons, aws.ToString(r.ReasonCode)+": "+aws.ToString(r.Description))
			}
			if !slices.Equal(reasons, w.reasons) {
				t.Errorf("StatusReasons = %q, want %q", reasons, w.reasons)
			}
			if aws.ToString(f.Remediation.Recommendation.Text) == "" {
				t.Error("no Recommendation.Text")
			}
			if w.check != nil {
				w.check(t, f)
			}
		})
	}
}

func TestFindingsIDs(t *testing.T) {
	noID := userFinding
	noID.UserID = ""
	slot := keyFinding
	slot.Resource, slot.Key = "access_key_2", nil
	rootKey := rules.Finding{AccountID: account, Rule: "root-access-key", Severity: rules.SeverityCritical, State: rules.StateViolation,
		Principal: inventory.RootName, PrincipalARN: "arn:aws:iam::123456789012:root", Resource: "AKIAROOTKEY000000001", Title: "Root key"}
	for _, tc := range []struct {
		name string
		in   rules.Finding
		id   string
		key  string // the access key resource's Id, when there is one
	}{
		{"user without user ID: its name", noID, "iamwarden/123456789012/console-mfa-missing/alice", ""},
		{"key known by slot only: under its user", slot, "iamwarden/123456789012/access-key-not-rotated/AIDABOB00000000000001/access_key_2", "arn:aws:iam::123456789012:user/bob/access_key_2"},
		{"root's key", rootKey, "iamwarden/123456789012/root-access-key/AKIAROOTKEY000000001", "AWS::IAM::AccessKey:AKIAROOTKEY000000001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := securityhub.Findings(result(tc.in), securityhub.Options{Region: "us-east-1"})[0]
			if aws.ToString(f.Id) != tc.id {
				t.Errorf("Id = %s, want %s", aws.ToString(f.Id), tc.id)
			}
			if tc.key != "" && aws.ToString(f.Resources[0].Id) != tc.key {
				t.Errorf("key resource = %s, want %s", aws.ToString(f.Resources[0].Id), tc.key)
			}
		})
	}
}

func TestFindingsOptions(t *testing.T) {
	long := userFinding
	long.Detail = strings.Repeat("é", 2000)
	f := securityhub.Findings(result(long), securityhub.Options{Partition: "aws-us-gov", Region: "us-gov-west-1", DocsBaseURL: "https://docs.example.com/iamwarden"})[0]
	if got := aws.ToString(f.ProductArn); got != "arn:aws-us-gov:securityhub:us-gov-west-1:123456789012:product/123456789012/default" {
		t.Errorf("ProductArn = %s", got)
	}
	if got := aws.ToString(f.Remediation.Recommendation.Url); got != "https://docs.example.com/iamwarden/docs/rules/console-mfa-missing.md" {
		t.Errorf("Url = %s", got)
	}
	if n := len([]rune(aws.ToString(f.Description))); n != 1024 || !strings.HasSuffix(*f.Description, "…") {
		t.Errorf("Description is %d characters, want 1024 ending with …", n)
	}
}

// requiredFields are ASFF's required top-level attributes, and the required members of the
// objects the findings hold.
var requiredFields = []string{"AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn",
	"Resources", "SchemaVersion", "Severity", "Title", "Types", "UpdatedAt"}

// checkRequired checks one finding in its JSON form.
func checkRequired(t *testing.T, f map[string]any) {
	t.Helper()
	id, _ := f["Id"].(string)
	for _, k := range requiredFields {
		v, ok := f[k]
		if !ok {
			t.Errorf("%s: no %s", id, k)
			continue
		}
		switch v := v.(type) {
		case string:
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %s is blank", id, k)
			}
		case []any:
			if len(v) == 0 {
				t.Errorf("%s: %s is empty", id, k)
			}
		}
	}
	if len(f["AwsAccountId"].(string)) != 12 {
		t.Errorf("%s: AwsAccountId %v is not 12 digits", id, f["AwsAccountId"])
	}
	if n := len([]rune(f["Description"].(string))); n > 1024 {
		t.Errorf("%s: Description is %d characters", id, n)
	}
	if n := len([]rune(f["Title"].(string))); n > 256 {
		t.Errorf("%s: Title is %d characters", id, n)
	}
	if s, _ := f["Severity"].(map[string]any); s["Label"] == nil {
		t.Errorf("%s: Severity has no Label", id)
	}
	for _, r := range f["Resources"].([]any) {
		r := r.(map[string]any)
		if r["Id"] == nil || r["Type"] == nil {
			t.Errorf("%s: resource %v lacks Id or Type", id, r)
		}
	}
	for _, k := range []string{"CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt"} {
		if s, ok := f[k].(string); ok {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				t.Errorf("%s: %s %q: %v", id, k, s, err)
			}
		}
	}
}

func TestWriteASFFRequiredFields(t *testing.T) {
	data, err := os.ReadFile("testdata/scan.json")
	if err != nil {
		t.Fatal(err)
	}
	var res report.Result
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	res.Findings = append(res.Findings, userFinding, keyFinding, rootFinding, pendingFinding, exemptFinding)
	fs := securityhub.Findings(&res, securityhub.Options{Region: "us-east-1"})
	var buf bytes.Buffer
	if err := securityhub.WriteASFF(&buf, fs); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatalf("WriteASFF wrote no JSON array: %v\n%s", err, buf.String())
	}
	if len(out) != len(res.Findings) {
		t.Fatalf("wrote %d findings, want %d", len(out), len(res.Findings))
	}
	ids := map[string]bool{}
	rulesSeen := map[string]bool{}
	for _, f := range out {
		checkRequired(t, f)
		id := f["Id"].(string)
		if ids[id] {
			t.Errorf("Id %s twice", id)
		}
		ids[id] = true
		rulesSeen[f["ProductFields"].(map[string]any)["iamwarden/rule"].(string)] = true
	}
	for _, r := range rules.Registry() {
		if !rulesSeen[r.ID] {
			t.Errorf("rule %s not covered by the fixture", r.ID)
		}
	}
	// The JSON is ASFF's PascalCase, and names readable.
	for _, s := range []string{`"Severity": {`, `"Label": "CRITICAL"`, `"AwsIamAccessKey": {`, `"PrincipalName": "<root_account>"`, `"RecordState": "ACTIVE"`} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("output lacks %s", s)
		}
	}
	var empty bytes.Buffer
	if err := securityhub.WriteASFF(&empty, nil); err != nil || empty.String() != "[]\n" {
		t.Errorf("no findings: %q, %v; want []", empty.String(), err)
	}
}

// The findings WriteASFF writes are, field for field, what the SDK sends to BatchImportFindings.
func TestWriteASFFMatchesTheWire(t *testing.T) {
	fs := securityhub.Findings(result(userFinding, keyFinding, rootFinding, pendingFinding, exemptFinding), securityhub.Options{Region: "us-east-1"})
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"FailedCount":0,"SuccessCount":5,"FailedFindings":[]}`))
	}))
	defer srv.Close()
	client := sdk.New(sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", "")})
	if _, err := client.BatchImportFindings(context.Background(), &sdk.BatchImportFindingsInput{Findings: fs}); err != nil {
		t.Fatal(err)
	}
	var wire struct{ Findings []any }
	if err := json.Unmarshal(body, &wire); err != nil {
		t.Fatalf("request body: %v", err)
	}
	var buf bytes.Buffer
	if err := securityhub.WriteASFF(&buf, fs); err != nil {
		t.Fatal(err)
	}
	var written []any
	if err := json.Unmarshal(buf.Bytes(), &written); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(written, wire.Findings) {
		t.Errorf("WriteASFF differs from the SDK's request:\nwritten %s\nwire    %s", buf.String(), body)
	}
}

// Maps (ProductFields) are written in key order: the same findings give the same bytes.
func TestWriteASFFDeterministic(t *testing.T) {
	fs := securityhub.Findings(result(exemptFinding, pendingFinding), securityhub.Options{Region: "us-east-1"})
	var first bytes.Buffer
	if err := securityhub.WriteASFF(&first, fs); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		var again bytes.Buffer
		if err := securityhub.WriteASFF(&again, fs); err != nil {
			t.Fatal(err)
		}
		if again.String() != first.String() {
			t.Fatalf("output differs between runs:\n%s\n%s", first.String(), again.String())
		}
	}
	s := first.String()
	if a, b := strings.Index(s, `"iamwarden/controls"`), strings.Index(s, `"iamwarden/state"`); a < 0 || b < a {
		t.Errorf("ProductFields not in key order:\n%s", s)
	}
}

func TestASFFWriterMakesTheSameArrayInParts(t *testing.T) {
	fs := securityhub.Findings(loadScan(t), securityhub.Options{Region: "us-east-1"})
	if len(fs) < 3 {
		t.Fatalf("only %d findings", len(fs))
	}
	var whole, parts bytes.Buffer
	if err := securityhub.WriteASFF(&whole, fs); err != nil {
		t.Fatal(err)
	}
	w := securityhub.NewASFFWriter(&parts)
	for _, part := range [][]types.AwsSecurityFinding{fs[:1], nil, fs[1:3], fs[3:]} {
		if err := w.Add(part); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if parts.String() != whole.String() {
		t.Errorf("in parts:\n%.400s\nwhole:\n%.400s", parts.String(), whole.String())
	}
	var empty bytes.Buffer
	e := securityhub.NewASFFWriter(&empty)
	e.Close()
	var none bytes.Buffer
	securityhub.WriteASFF(&none, nil)
	if empty.String() != none.String() {
		t.Errorf("empty: %q, want %q", empty.String(), none.String())
	}
}

func loadScan(t *testing.T) *report.Result {
	t.Helper()
	data, err := os.ReadFile("testdata/scan.json")
	if err != nil {
		t.Fatal(err)
	}
	var res report.Result
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}
