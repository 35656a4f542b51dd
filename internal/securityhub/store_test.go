package securityhub_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/securityhub"
)

func sampleState() securityhub.State {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 123_000_000, time.UTC)
	return securityhub.State{Account: account, Region: region, LastImport: t0, Findings: map[string]securityhub.Record{
		"iamwarden/123456789012/root-mfa-missing/root": {
			CreatedAt: t0, FirstObservedAt: t0, LastObservedAt: t0, UpdatedAt: t0,
			ProductArn: "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default", GeneratorID: "iamwarden/root-mfa-missing",
			Rule: "root-mfa-missing", Title: "Root user without MFA", Types: []string{securityhub.TypeBestPractices}, Severity: "CRITICAL",
			RelatedRequirements: []string{"CIS AWS Foundations Benchmark v5.0.0/1.4"},
			Resources:           []securityhub.Resource{{Type: "AwsAccount", ID: "AWS::::Account:123456789012", Partition: "aws", Region: region}},
		},
	}}
}

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	s := securityhub.NewFileStore(dir)

	empty, err := s.Load(ctx, account, region)
	if err != nil || empty.Account != account || empty.Region != region || empty.Findings == nil || len(empty.Findings) != 0 {
		t.Fatalf("Load of nothing = %+v, %v; want an empty state", empty, err)
	}
	want := sampleState()
	if err := s.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, account, region)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Load = %+v, %v; want %+v", got, err, want)
	}
	path := s.Path(account, region)
	if filepath.Base(path) != "securityhub-123456789012-us-east-1.json" {
		t.Errorf("path = %s", path)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("state file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
	if dinfo, err := os.Stat(dir); err != nil || dinfo.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode = %v, %v; want 0700", dinfo.Mode().Perm(), err)
	}
	// Another region is another file; saving again replaces, leaving no temporary file.
	other := sampleState()
	other.Region = "eu-west-1"
	if err := s.Save(ctx, other); err != nil {
		t.Fatal(err)
	}
	want.Findings = map[string]securityhub.Record{}
	if err := s.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{"securityhub-123456789012-eu-west-1.json", "securityhub-123456789012-us-east-1.json"}) {
		t.Errorf("files = %v", names)
	}
	if got, _ := s.Load(ctx, account, region); len(got.Findings) != 0 {
		t.Errorf("after the second save: %d findings", len(got.Findings))
	}
}

func TestFileStoreRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := securityhub.NewFileStore(dir)
	for _, k := range [][2]string{{"../../etc", region}, {account, "../x"}, {account, ""}, {"", region}} {
		if _, err := s.Load(ctx, k[0], k[1]); !errors.Is(err, securityhub.ErrInvalidKey) {
			t.Errorf("Load(%q, %q) = %v, want ErrInvalidKey", k[0], k[1], err)
		}
		if err := s.Save(ctx, securityhub.State{Account: k[0], Region: k[1]}); !errors.Is(err, securityhub.ErrInvalidKey) {
			t.Errorf("Save(%q, %q) = %v, want ErrInvalidKey", k[0], k[1], err)
		}
	}
	// A file that holds another account's state, or no JSON, is an error, not an empty state.
	if err := os.WriteFile(s.Path(account, region), []byte(`{"account":"210987654321","region":"us-east-1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, account, region); err == nil {
		t.Error("Load of another account's state: no error")
	}
	if err := os.WriteFile(s.Path(account, region), []byte(`{`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, account, region); err == nil {
		t.Error("Load of a broken file: no error")
	}
}

// Sync over the file store: the lifecycle survives between runs through the file.
func TestSyncWithFileStore(t *testing.T) {
	dir := t.TempDir()
	hub := &fakeHub{}
	fs := asff(userFinding)
	sync1(t, hub, securityhub.NewFileStore(dir), fs, readAt)
	rep := sync1(t, hub, securityhub.NewFileStore(dir), nil, readAt)
	if rep.Resolved != 1 {
		t.Errorf("report %+v, want the finding resolved from the file's state", rep)
	}
}
