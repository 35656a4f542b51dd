package securityhub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/securityhub"
)

const region = "us-east-1"

// fakeHub accepts every finding unless Import says otherwise, and keeps the last version of
// each, as Security Hub does.
type fakeHub struct {
	// Import, when set, answers a call (after it is recorded).
	Import func(call int, in *sdk.BatchImportFindingsInput) (*sdk.BatchImportFindingsOutput, error)

	mu    sync.Mutex
	calls [][]types.AwsSecurityFinding
	held  map[string]types.AwsSecurityFinding
}

var _ securityhub.ImportAPI = (*fakeHub)(nil)

func (h *fakeHub) BatchImportFindings(ctx context.Context, in *sdk.BatchImportFindingsInput, _ ...func(*sdk.Options)) (*sdk.BatchImportFindingsOutput, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, slices.Clone(in.Findings))
	out := &sdk.BatchImportFindingsOutput{FailedCount: aws.Int32(0), SuccessCount: aws.Int32(int32(len(in.Findings)))}
	if h.Import != nil {
		var err error
		if out, err = h.Import(len(h.calls), in); err != nil {
			return nil, err
		}
	}
	failed := map[string]bool{}
	for _, f := range out.FailedFindings {
		failed[aws.ToString(f.Id)] = true
	}
	if h.held == nil {
		h.held = map[string]types.AwsSecurityFinding{}
	}
	for _, f := range in.Findings {
		if !failed[aws.ToString(f.Id)] {
			h.held[aws.ToString(f.Id)] = f
		}
	}
	return out, nil
}

func (h *fakeHub) sizes() []int {
	var n []int
	for _, c := range h.calls {
		n = append(n, len(c))
	}
	return n
}

// refuse makes an Import that refuses the findings with the given Ids.
func refuse(ids ...string) func(int, *sdk.BatchImportFindingsInput) (*sdk.BatchImportFindingsOutput, error) {
	return func(_ int, in *sdk.BatchImportFindingsInput) (*sdk.BatchImportFindingsOutput, error) {
		out := &sdk.BatchImportFindingsOutput{}
		for _, f := range in.Findings {
			if slices.Contains(ids, aws.ToString(f.Id)) {
				out.FailedFindings = append(out.FailedFindings, types.ImportFindingsError{Id: f.Id,
					ErrorCode: aws.String("InvalidInput"), ErrorMessage: aws.String("Finding does not adhere to ASFF")})
			}
		}
		out.FailedCount = aws.Int32(int32(len(out.FailedFindings)))
		out.SuccessCount = aws.Int32(int32(len(in.Findings) - len(out.FailedFindings)))
		return out, nil
	}
}

// memStore keeps copies of the states, as a real store would.
type memStore struct {
	// SaveErr, when set, fails every Save.
	SaveErr error

	mu     sync.Mutex
	states map[string][]byte
	saves  int
}

var _ securityhub.StateStore = (*memStore)(nil)

func (s *memStore) Load(_ context.Context, acct, reg string) (securityhub.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.states[acct+" "+reg]
	if !ok {
		return securityhub.State{Account: acct, Region: reg, Findings: map[string]securityhub.Record{}}, nil
	}
	var st securityhub.State
	err := json.Unmarshal(data, &st)
	return st, err
}

func (s *memStore) Save(_ context.Context, st securityhub.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.SaveErr != nil {
		return s.SaveErr
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if s.states == nil {
		s.states = map[string][]byte{}
	}
	s.states[st.Account+" "+st.Region] = data
	s.saves++
	return nil
}

func (s *memStore) state(t *testing.T) securityhub.State {
	t.Helper()
	st, err := s.Load(context.Background(), account, region)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// users makes n user findings of distinct users.
func users(n int) []rules.Finding {
	out := make([]rules.Finding, n)
	for i := range out {
		f := userFinding
		f.Principal = fmt.Sprintf("user-%03d", i)
		f.PrincipalARN = "arn:aws:iam::123456789012:user/" + f.Principal
		f.UserID = fmt.Sprintf("AIDAUSER%013d", i)
		out[i] = f
	}
	return out
}

func asff(fs ...rules.Finding) []types.AwsSecurityFinding {
	return securityhub.Findings(result(fs...), securityhub.Options{Region: region})
}

func sync1(t *testing.T, hub securityhub.ImportAPI, store securityhub.StateStore, fs []types.AwsSecurityFinding, now time.Time) securityhub.SyncReport {
	t.Helper()
	rep, err := securityhub.Sync(context.Background(), hub, store, account, region, fs, now)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return rep
}

func TestSyncBatchesOfAHundred(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []int
	}{
		{250, []int{100, 100, 50}},
		{100, []int{100}},
		{101, []int{100, 1}},
		{1, []int{1}},
		{0, nil},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			hub, store := &fakeHub{}, &memStore{}
			rep := sync1(t, hub, store, asff(users(tc.n)...), readAt)
			if got := hub.sizes(); !slices.Equal(got, tc.want) {
				t.Errorf("batches = %v, want %v", got, tc.want)
			}
			if rep.Imported != tc.n || rep.Created != tc.n || rep.Calls != len(tc.want) || len(store.state(t).Findings) != tc.n {
				t.Errorf("report %+v, state %d findings; want %d created in %d calls", rep, len(store.state(t).Findings), tc.n, len(tc.want))
			}
		})
	}
}

// bigFindings are findings with descriptions of the given size (beyond ASFF's 1024 characters,
// to reach the byte limits).
func bigFindings(n, size int) []types.AwsSecurityFinding {
	fs := asff(users(n)...)
	for i := range fs {
		fs[i].Description = aws.String(strings.Repeat("x", size))
	}
	return fs
}

func TestSyncBatchesWithinSixMegabytes(t *testing.T) {
	hub, store := &fakeHub{}, &memStore{}
	fs := bigFindings(100, 200_000) // 20 MB
	rep := sync1(t, hub, store, fs, readAt)
	if rep.Imported != 100 || len(rep.Failed) != 0 {
		t.Fatalf("report %+v, want 100 imported", rep)
	}
	if got := hub.sizes(); !slices.Equal(got, []int{29, 29, 29, 13}) {
		t.Errorf("batches = %v, want 29, 29, 29, 13 (at most 6 MB each)", got)
	}
	for i, c := range hub.calls {
		body, err := json.Marshal(map[string]any{"Findings": c})
		if err != nil {
			t.Fatal(err)
		}
		// encoding/json writes the SDK types with the same field names, and more: empty fields.
		if n := len(body); n > 6_500_000 {
			t.Errorf("call %d is about %d bytes", i, n)
		}
		var desc int
		for _, f := range c {
			desc += len(aws.ToString(f.Description))
		}
		if desc > securityhub.MaxBatchBytes {
			t.Errorf("call %d holds %d bytes of descriptions", i, desc)
		}
	}
}

func TestSyncFindingTooLarge(t *testing.T) {
	hub, store := &fakeHub{}, &memStore{}
	fs := append(bigFindings(1, 300_000), asff(keyFinding)...)
	rep := sync1(t, hub, store, fs, readAt)
	if rep.Imported != 1 || len(rep.Failed) != 1 || rep.Failed[0].Code != securityhub.ErrTooLarge || rep.Failed[0].ID != aws.ToString(fs[0].Id) {
		t.Fatalf("report %+v, want the big finding failed as too large and the other imported", rep)
	}
	if got := hub.sizes(); !slices.Equal(got, []int{1}) {
		t.Errorf("batches = %v, want the small finding only", got)
	}
}

func TestSyncFailedFindings(t *testing.T) {
	fs := asff(userFinding, keyFinding, rootFinding)
	refused := aws.ToString(fs[1].Id)
	hub, store := &fakeHub{Import: refuse(refused)}, &memStore{}
	rep := sync1(t, hub, store, fs, readAt)
	want := []securityhub.FailedFinding{{ID: refused, Code: "InvalidInput", Message: "Finding does not adhere to ASFF"}}
	if !slices.Equal(rep.Failed, want) || rep.Imported != 2 || rep.Created != 2 {
		t.Errorf("report %+v, want %v failed and 2 created", rep, want)
	}
	st := store.state(t)
	if _, ok := st.Findings[refused]; ok || len(st.Findings) != 2 {
		t.Errorf("state holds %v; want the two accepted only", keys(st.Findings))
	}
	// The log form masks the access key ID.
	logged := fmt.Sprint(rep.LogValue())
	if strings.Contains(logged, "AKIABOBKEY0000000001") || !strings.Contains(logged, "AKIA…0001") {
		t.Errorf("LogValue = %s; want the key ID masked", logged)
	}

	// The next run retries it: it is created then, as Security Hub never had it.
	hub.Import = nil
	rep = sync1(t, hub, store, fs, readAt.Add(time.Hour))
	if rep.Created != 1 || rep.Updated != 2 || len(rep.Failed) != 0 {
		t.Errorf("retry: report %+v, want 1 created and 2 updated", rep)
	}
	if _, ok := store.state(t).Findings[refused]; !ok {
		t.Error("retry: the finding is not in the state")
	}
}

// A refused resolution stays in the state, so the next run archives it.
func TestSyncFailedResolutionRetried(t *testing.T) {
	hub, store := &fakeHub{}, &memStore{}
	fs := asff(userFinding, keyFinding)
	sync1(t, hub, store, fs, readAt)
	gone := aws.ToString(fs[1].Id)
	hub.Import = refuse(gone)
	rep := sync1(t, hub, store, fs[:1], readAt.Add(time.Hour))
	if rep.Resolved != 0 || len(rep.Failed) != 1 {
		t.Fatalf("report %+v, want the resolution failed", rep)
	}
	if _, ok := store.state(t).Findings[gone]; !ok {
		t.Fatal("the refused resolution left the state")
	}
	hub.Import = nil
	rep = sync1(t, hub, store, fs[:1], readAt.Add(2*time.Hour))
	if rep.Resolved != 1 {
		t.Fatalf("report %+v, want the resolution retried", rep)
	}
	if _, ok := store.state(t).Findings[gone]; ok {
		t.Error("resolved, yet still in the state")
	}
	if f := hub.held[gone]; f.RecordState != types.RecordStateArchived {
		t.Errorf("held %s: %s, want ARCHIVED", gone, f.RecordState)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestSyncLifecycle(t *testing.T) {
	hub, store := &fakeHub{}, &memStore{}
	clock := time.Date(2026, 11, 23, 12, 0, 0, 123_456_789, time.UTC)
	user, key := asff(userFinding)[0], asff(keyFinding)[0]
	userID, keyID := aws.ToString(user.Id), aws.ToString(key.Id)

	// First import: everything is new.
	rep := sync1(t, hub, store, []types.AwsSecurityFinding{user, key}, clock)
	if rep.Created != 2 || rep.Updated != 0 || rep.Resolved != 0 {
		t.Fatalf("first import: %+v", rep)
	}
	first := hub.held[userID]
	if got, want := aws.ToString(first.UpdatedAt), "2026-11-23T12:00:00.123Z"; got != want {
		t.Errorf("first UpdatedAt = %s, want %s (now, to the millisecond)", got, want)
	}
	if got := aws.ToString(first.CreatedAt); got != "2026-11-23T12:00:00.000Z" {
		t.Errorf("first CreatedAt = %s, want the scan's", got)
	}

	// Second import, from a later scan, with a clock that did not move: CreatedAt and
	// FirstObservedAt kept, UpdatedAt later; the key finding is gone, so it is archived.
	later := result(userFinding)
	later.GeneratedAt, later.DataReadAt = generated.Add(48*time.Hour), readAt.Add(48*time.Hour)
	fs := securityhub.Findings(later, securityhub.Options{Region: region})
	rep = sync1(t, hub, store, fs, clock)
	if rep.Created != 0 || rep.Updated != 1 || rep.Resolved != 1 || rep.Imported != 2 {
		t.Fatalf("second import: %+v", rep)
	}
	second := hub.held[userID]
	for name, got := range map[string][2]*string{
		"CreatedAt":       {second.CreatedAt, first.CreatedAt},
		"FirstObservedAt": {second.FirstObservedAt, first.FirstObservedAt},
	} {
		if aws.ToString(got[0]) != aws.ToString(got[1]) {
			t.Errorf("second %s = %s, want the first import's %s", name, aws.ToString(got[0]), aws.ToString(got[1]))
		}
	}
	if got := aws.ToString(second.LastObservedAt); got != "2026-11-22T09:00:00.000Z" {
		t.Errorf("second LastObservedAt = %s, want this scan's", got)
	}
	if got, want := aws.ToString(second.UpdatedAt), "2026-11-23T12:00:00.124Z"; got != want {
		t.Errorf("second UpdatedAt = %s, want %s (one millisecond after the first)", got, want)
	}
	archived := hub.held[keyID]
	if archived.RecordState != types.RecordStateArchived || archived.Compliance.Status != types.ComplianceStatusPassed ||
		aws.ToString(archived.CreatedAt) != aws.ToString(key.CreatedAt) || aws.ToString(archived.FirstObservedAt) != aws.ToString(key.FirstObservedAt) ||
		aws.ToString(archived.UpdatedAt) != "2026-11-23T12:00:00.124Z" {
		t.Errorf("archived key finding: RecordState %s, Compliance %s, CreatedAt %s, FirstObservedAt %s, UpdatedAt %s",
			archived.RecordState, archived.Compliance.Status, aws.ToString(archived.CreatedAt), aws.ToString(archived.FirstObservedAt), aws.ToString(archived.UpdatedAt))
	}
	if archived.ProductFields[securityhub.FieldState] != securityhub.StateResolved || archived.Severity.Label != types.SeverityLabelInformational {
		t.Errorf("archived: state %q severity %s", archived.ProductFields[securityhub.FieldState], archived.Severity.Label)
	}
	checkRequiredSDK(t, archived)
	if got := keys(store.state(t).Findings); !slices.Equal(got, []string{userID}) {
		t.Errorf("state after the second import = %v, want the user finding only", got)
	}

	// Resolution with no findings at all.
	rep = sync1(t, hub, store, nil, clock.Add(time.Minute))
	if rep.Resolved != 1 || rep.Imported != 1 || hub.held[userID].RecordState != types.RecordStateArchived {
		t.Fatalf("empty import: %+v, held %s", rep, hub.held[userID].RecordState)
	}
	if st := store.state(t); len(st.Findings) != 0 {
		t.Errorf("state after resolving everything: %v", keys(st.Findings))
	}
	// Nothing left: no call at all.
	calls := len(hub.calls)
	rep = sync1(t, hub, store, nil, clock.Add(2*time.Minute))
	if rep.Imported != 0 || len(hub.calls) != calls {
		t.Errorf("nothing to do: %+v, %d more calls", rep, len(hub.calls)-calls)
	}

	// A finding that comes back after its archiving is new again, active.
	rep = sync1(t, hub, store, []types.AwsSecurityFinding{user}, clock.Add(3*time.Minute))
	if rep.Created != 1 || hub.held[userID].RecordState != types.RecordStateActive {
		t.Errorf("reopened: %+v, %s", rep, hub.held[userID].RecordState)
	}
}

// checkRequiredSDK checks a finding's required fields in the SDK type.
func checkRequiredSDK(t *testing.T, f types.AwsSecurityFinding) {
	t.Helper()
	for name, v := range map[string]*string{"AwsAccountId": f.AwsAccountId, "CreatedAt": f.CreatedAt, "Description": f.Description,
		"GeneratorId": f.GeneratorId, "Id": f.Id, "ProductArn": f.ProductArn, "SchemaVersion": f.SchemaVersion, "Title": f.Title, "UpdatedAt": f.UpdatedAt} {
		if strings.TrimSpace(aws.ToString(v)) == "" {
			t.Errorf("%s: no %s", aws.ToString(f.Id), name)
		}
	}
	if len(f.Resources) == 0 || len(f.Types) == 0 || f.Severity == nil || f.Severity.Label == "" {
		t.Errorf("%s: Resources %v, Types %v, Severity %v", aws.ToString(f.Id), f.Resources, f.Types, f.Severity)
	}
}

func TestSyncCallFails(t *testing.T) {
	fs := asff(users(250)...)
	boom := errors.New("throttled")
	hub := &fakeHub{Import: func(call int, in *sdk.BatchImportFindingsInput) (*sdk.BatchImportFindingsOutput, error) {
		if call == 2 {
			return nil, boom
		}
		return refuse()(call, in)
	}}
	store := &memStore{}
	rep, err := securityhub.Sync(context.Background(), hub, store, account, region, fs, readAt)
	var ie *securityhub.ImportError
	if !errors.As(err, &ie) || !errors.Is(err, boom) || ie.Imported != 100 || ie.Total != 250 {
		t.Fatalf("err = %v, want an ImportError after 100 of 250", err)
	}
	if !strings.Contains(err.Error(), "100 of 250 findings imported") {
		t.Errorf("error %q does not say how many were imported", err)
	}
	if got := hub.sizes(); !slices.Equal(got, []int{100, 100}) {
		t.Errorf("calls = %v, want the import stopped at the failed call", got)
	}
	if rep.Imported != 100 || len(store.state(t).Findings) != 100 {
		t.Errorf("report %+v, state %d; want the first batch recorded", rep, len(store.state(t).Findings))
	}
	// The next run sends the rest as new and the first batch as updates.
	hub.Import = nil
	rep = sync1(t, hub, store, fs, readAt.Add(time.Hour))
	if rep.Created != 150 || rep.Updated != 100 {
		t.Errorf("next run: %+v, want 150 created and 100 updated", rep)
	}
}

func TestSyncSaveFails(t *testing.T) {
	store := &memStore{SaveErr: errors.New("disk full")}
	_, err := securityhub.Sync(context.Background(), &fakeHub{}, store, account, region, asff(userFinding), readAt)
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "1 findings imported") {
		t.Errorf("err = %v, want the save failure saying what was imported", err)
	}
}

func TestSyncRefusesForeignFindings(t *testing.T) {
	other := userFinding
	other.AccountID = "210987654321"
	for name, fs := range map[string][]types.AwsSecurityFinding{
		"another account": asff(other),
		"another region":  securityhub.Findings(result(userFinding), securityhub.Options{Region: "eu-west-1"}),
		"an Id twice":     asff(userFinding, userFinding),
	} {
		t.Run(name, func(t *testing.T) {
			hub := &fakeHub{}
			if _, err := securityhub.Sync(context.Background(), hub, &memStore{}, account, region, fs, readAt); err == nil || len(hub.calls) != 0 {
				t.Errorf("err = %v after %d calls, want a refusal before any call", err, len(hub.calls))
			}
		})
	}
	if _, err := securityhub.Sync(context.Background(), &fakeHub{}, &memStore{}, "12345", region, nil, readAt); !errors.Is(err, securityhub.ErrInvalidKey) {
		t.Errorf("bad account: %v", err)
	}
}

// A batch refused without naming its findings leaves all of them for the next run.
func TestSyncUnplacedFailures(t *testing.T) {
	hub := &fakeHub{Import: func(_ int, in *sdk.BatchImportFindingsInput) (*sdk.BatchImportFindingsOutput, error) {
		return &sdk.BatchImportFindingsOutput{FailedCount: aws.Int32(1), SuccessCount: aws.Int32(int32(len(in.Findings) - 1))}, nil
	}}
	store := &memStore{}
	rep := sync1(t, hub, store, asff(userFinding, keyFinding), readAt)
	if rep.Imported != 0 || len(rep.Failed) != 2 || store.saves != 0 {
		t.Errorf("report %+v, %d saves; want both failed and nothing recorded", rep, store.saves)
	}
}

func TestDisplayID(t *testing.T) {
	for in, want := range map[string]string{
		"iamwarden/123456789012/access-key-unused/AKIABOBKEY0000000001":     "iamwarden/123456789012/access-key-unused/AKIA…0001",
		"iamwarden/123456789012/console-mfa-missing/AIDAALICE0000000000001": "iamwarden/123456789012/console-mfa-missing/AIDAALICE0000000000001",
		"iamwarden/123456789012/root-mfa-missing/root":                      "iamwarden/123456789012/root-mfa-missing/root",
	} {
		if got := securityhub.DisplayID(in); got != want {
			t.Errorf("DisplayID(%s) = %s, want %s", in, got, want)
		}
	}
}
