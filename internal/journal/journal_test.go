package journal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
)

func TestStatusFinal(t *testing.T) {
	cases := map[journal.Status]bool{
		journal.StatusIntent: false, journal.StatusDone: true, journal.StatusFailed: true,
		journal.StatusSkipped: true, journal.StatusReconciledDone: true,
		journal.StatusReconciledNotDone: true, "": false, "Done": false,
	}
	for s, want := range cases {
		if got := s.Final(); got != want {
			t.Errorf("Status(%q).Final() = %v, want %v", s, got, want)
		}
	}
	if len(journal.Statuses()) != 6 || len(journal.Kinds()) != 10 {
		t.Errorf("Statuses %v, Kinds %v", journal.Statuses(), journal.Kinds())
	}
	for _, k := range []journal.Kind{"", "Notify", "delete-user"} {
		if k.Valid() {
			t.Errorf("Kind(%q).Valid() = true", k)
		}
	}
}

func TestTimeText(t *testing.T) {
	at := time.Date(2025, 3, 14, 10, 26, 53, 120000000, time.FixedZone("JST", 9*3600))
	s := journal.FormatTime(at)
	if s != "2025-03-14T01:26:53.120000000Z" {
		t.Errorf("FormatTime = %q", s)
	}
	back, err := journal.ParseTime(s)
	if err != nil || !back.Equal(at) || back.Location() != time.UTC {
		t.Errorf("ParseTime(%q) = %v, %v", s, back, err)
	}
	// Fixed width makes text order time order, also across a second boundary.
	if a, b := journal.FormatTime(at.Add(880*time.Millisecond)), journal.FormatTime(at.Add(time.Second)); a >= b {
		t.Errorf("%q sorts after %q", a, b)
	}
	if _, err := journal.ParseTime("2025-03-14T01:26:53Z"); err == nil {
		t.Error("ParseTime accepted a time without nine fractional digits")
	}
}

func TestPrepareLimits(t *testing.T) {
	long := string(make([]byte, 17<<10))
	e := journal.Entry{ActionID: "A", AccountID: "111122223333", Kind: journal.KindNotify, CreatedAt: time.Unix(1, 0)}
	if _, err := journal.Prepare(e); err != nil {
		t.Fatalf("Prepare(valid) = %v", err)
	}
	for name, mutate := range map[string]func(*journal.Entry){
		"long reason": func(e *journal.Entry) { e.Reason = long },
		"long prior":  func(e *journal.Entry) { e.Prior = map[string]string{"k": long} },
	} {
		bad := e
		mutate(&bad)
		if _, err := journal.Prepare(bad); !errors.Is(err, journal.ErrInvalid) {
			t.Errorf("%s: Prepare error = %v, want ErrInvalid", name, err)
		}
	}
	if err := journal.CheckFinish("A", journal.StatusDone, long, time.Unix(2, 0)); !errors.Is(err, journal.ErrInvalid) {
		t.Errorf("CheckFinish(long detail) = %v, want ErrInvalid", err)
	}
}

// fakeLeaser holds one lease in memory.
type fakeLeaser struct {
	holder   *journal.Lease
	acquires int
}

func (f *fakeLeaser) Acquire(_ context.Context, l journal.Lease, now time.Time) error {
	f.acquires++
	if f.holder != nil && f.holder.RunID != l.RunID && f.holder.Held(now) {
		return &journal.LeasedError{Holder: *f.holder}
	}
	f.holder = &l
	return nil
}
func (f *fakeLeaser) Renew(context.Context, journal.Lease, time.Time) error { return nil }
func (f *fakeLeaser) Release(_ context.Context, _, run string) error {
	if f.holder != nil && f.holder.RunID == run {
		f.holder = nil
	}
	return nil
}
func (f *fakeLeaser) Holder(context.Context, string) (journal.Lease, bool, error) {
	if f.holder == nil {
		return journal.Lease{}, false, nil
	}
	return *f.holder, true, nil
}

// A holder that is gone is taken over at once, even with a lock timeout to wait; a live one is
// not.
func TestAcquireWaitTakesOverAGoneHolder(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	dead := journal.Lease{AccountID: "111122223333", RunID: "dead", PID: 7, Expires: now.Add(time.Hour)}
	f := &fakeLeaser{holder: &dead}
	got, err := journal.AcquireWait(context.Background(), f, journal.Lease{AccountID: "111122223333", RunID: "next"}, time.Minute, time.Hour, clock,
		func(h journal.Lease) bool { return h.RunID == "dead" })
	if err != nil || got.RunID != "next" || f.acquires != 2 {
		t.Fatalf("AcquireWait = %+v, %v after %d tries; want the lease on the second", got, err, f.acquires)
	}
	live := &fakeLeaser{holder: &dead}
	if _, err := journal.AcquireWait(context.Background(), live, journal.Lease{AccountID: "111122223333", RunID: "next"}, time.Minute, 0, clock,
		func(journal.Lease) bool { return false }); !errors.Is(err, journal.ErrLeased) {
		t.Errorf("live holder: %v, want ErrLeased", err)
	}
}
