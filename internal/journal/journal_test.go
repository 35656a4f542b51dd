package journal_test

import (
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
	if len(journal.Statuses()) != 6 || len(journal.Kinds()) != 9 {
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
