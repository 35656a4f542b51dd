package history_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/journal/journaltest"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// selectStore holds 01A1, 01A2, 01B1 and 01A3, recorded an hour apart in that order; 01B1 is of
// account 222222222222, the others of 111111111111.
func selectStore(t *testing.T) *history.Store {
	t.Helper()
	s := history.NewStore(&journaltest.Runs{}, nil)
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	put := func(id, account string, fs ...rules.Finding) {
		r := cmpRecord(id, false, fs...)
		r.Result.AccountID = account
		r.RecordedAt = at
		at = at.Add(time.Hour)
		if _, err := s.Put(context.Background(), *r); err != nil {
			t.Fatal(err)
		}
	}
	alice := cmpFinding("console-mfa-missing/alice", rules.StateViolation, rules.SeverityHigh)
	bob := cmpFinding("password-unused/bob", rules.StateViolation, rules.SeverityMedium)
	put("01A1", "111111111111", alice)
	put("01A2", "111111111111", alice, bob)
	put("01B1", "222222222222")
	put("01A3", "111111111111", bob)
	return s
}

func pairIDs(t *testing.T, s *history.Store, account string, ids ...string) (string, string, error) {
	t.Helper()
	from, to, err := s.Pair(context.Background(), account, ids...)
	if err != nil {
		return "", "", err
	}
	return from.ID, to.ID, nil
}

func TestPairPicksRecords(t *testing.T) {
	s := selectStore(t)
	for _, tc := range []struct {
		name     string
		account  string
		ids      []string
		from, to string
	}{
		{"last two of the account", "111111111111", nil, "01A2", "01A3"},
		{"one ID: the one before it of its account", "", []string{"01A3"}, "01A2", "01A3"},
		{"one prefix", "", []string{"01A2"}, "01A1", "01A2"},
		{"two IDs in the order given", "", []string{"01A3", "01A1"}, "01A3", "01A1"},
		{"two unique prefixes", "", []string{"01A1", "01A3"}, "01A1", "01A3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to, err := pairIDs(t, s, tc.account, tc.ids...)
			if err != nil {
				t.Fatal(err)
			}
			if from != tc.from || to != tc.to {
				t.Fatalf("pair = %s, %s; want %s, %s", from, to, tc.from, tc.to)
			}
		})
	}
}

func TestPairRefuses(t *testing.T) {
	s := selectStore(t)
	_, _, err := pairIDs(t, s, "")
	var several *history.SeveralAccountsError
	if !errors.As(err, &several) || !slices.Equal(several.Accounts, []string{"111111111111", "222222222222"}) {
		t.Errorf("no account, two in the store: %v", err)
	}
	_, _, err = pairIDs(t, s, "", "01A")
	var amb *history.AmbiguousError
	if !errors.As(err, &amb) || !errors.Is(err, history.ErrAmbiguous) || !slices.Equal(amb.IDs, []string{"01A3", "01A2", "01A1"}) {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, _, err = pairIDs(t, s, "", "01Z"); !errors.Is(err, history.ErrNotFound) {
		t.Errorf("unknown prefix: %v", err)
	}
	if _, _, err = pairIDs(t, s, "", "01A1"); !errors.Is(err, history.ErrTooFew) {
		t.Errorf("first record of its account: %v", err)
	}
	if _, _, err = pairIDs(t, s, "222222222222"); !errors.Is(err, history.ErrTooFew) {
		t.Errorf("account with one record: %v", err)
	}
	from, to, err := s.Pair(context.Background(), "", "01A3", "01B1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := history.Compare(from, to); err == nil {
		t.Error("records of two accounts compared")
	}
}

func TestPairOneAccountNeedsNoName(t *testing.T) {
	s := history.NewStore(&journaltest.Runs{}, nil)
	for i, id := range []string{"X1", "X2"} {
		r := cmpRecord(id, false)
		r.RecordedAt = time.Date(2026, 11, 1, i, 0, 0, 0, time.UTC)
		if _, err := s.Put(context.Background(), *r); err != nil {
			t.Fatal(err)
		}
	}
	from, to, err := pairIDs(t, s, "")
	if err != nil || from != "X1" || to != "X2" {
		t.Fatalf("pair = %s, %s, %v", from, to, err)
	}
}

func TestDiffWorseCountsNewViolationsOnly(t *testing.T) {
	deadline := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	pending := cmpFinding("console-mfa-missing/bob", rules.StatePending, rules.SeverityHigh)
	pending.Deadline = &deadline
	sev := cmpFinding("password-unused/carol", rules.StateViolation, rules.SeverityMedium)
	from := cmpRecord("A", false, pending, sev, cmpFinding("root-access-key/<root_account>", rules.StateViolation, rules.SeverityCritical))
	bob := pending
	bob.State, bob.Deadline = rules.StateViolation, nil
	carol := sev
	carol.Severity = rules.SeverityHigh
	to := cmpRecord("B", false, bob, carol,
		cmpFinding("access-key-unused/dave", rules.StateViolation, rules.SeverityMedium),
		cmpFinding("console-mfa-missing/erin", rules.StatePending, rules.SeverityHigh))
	d, err := history.Compare(from, to)
	if err != nil {
		t.Fatal(err)
	}
	// dave is new and a violation, bob became one; carol was one already, erin is pending.
	if got := d.Worse(); got != 2 {
		t.Fatalf("worse = %d, want 2: %+v", got, d.Changes)
	}
	same, err := history.Compare(to, to)
	if err != nil || same.Worse() != 0 || !same.Empty() {
		t.Fatalf("a record against itself: worse %d, empty %v, %v", same.Worse(), same.Empty(), err)
	}
}
