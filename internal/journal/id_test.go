package journal_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestIDKnownValues(t *testing.T) {
	cases := []struct {
		name string
		at   time.Time
		rnd  []byte
		want string
	}{
		// 1469918176385 ms = 0x01563DF36481 with random bits all zero / all one.
		{"zero random", time.UnixMilli(1469918176385), make([]byte, 10), "01ARYZ6S410000000000000000"},
		{"max random", time.UnixMilli(1469918176385), bytes.Repeat([]byte{0xff}, 10), "01ARYZ6S41ZZZZZZZZZZZZZZZZ"},
		{"epoch", time.UnixMilli(0), make([]byte, 10), "00000000000000000000000000"},
		{"max time", time.UnixMilli(1<<48 - 1), bytes.Repeat([]byte{0xff}, 10), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := journal.NewIDGenerator(func() time.Time { return tc.at }, bytes.NewReader(tc.rnd))
			got, err := g.New()
			if err != nil || got != tc.want {
				t.Fatalf("New = %q, %v; want %q", got, err, tc.want)
			}
			at, err := journal.IDTime(got)
			if err != nil || !at.Equal(tc.at.Truncate(time.Millisecond)) || at.Location() != time.UTC {
				t.Errorf("IDTime = %v, %v; want %v in UTC", at, err, tc.at)
			}
		})
	}
}

func TestIDMonotonic(t *testing.T) {
	c := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	// All-ones random bits force the increment to carry across bytes.
	rnd := bytes.NewReader(append(bytes.Repeat([]byte{0x00, 0xff}, 5), bytes.Repeat([]byte{0x42}, 100)...))
	g := journal.NewIDGenerator(c.now, rnd)
	var ids []string
	next := func() {
		t.Helper()
		id, err := g.New()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	next()
	next() // same millisecond: previous + 1
	c.set(c.t.Add(-time.Hour))
	next() // clock stepped back: still increasing
	c.set(time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC))
	next() // new millisecond: fresh random bits
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Errorf("IDs not strictly increasing: %v", ids)
	}
	if ids[1][:10] != ids[0][:10] || ids[2][:10] != ids[0][:10] {
		t.Errorf("timestamp part changed within the same or an earlier millisecond: %v", ids)
	}
	if at, _ := journal.IDTime(ids[3]); !at.Equal(time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC)) {
		t.Errorf("IDTime(%s) = %v", ids[3], at)
	}
}

func TestIDExhausted(t *testing.T) {
	at := time.UnixMilli(1000)
	g := journal.NewIDGenerator(func() time.Time { return at }, bytes.NewReader(bytes.Repeat([]byte{0xff}, 10)))
	if _, err := g.New(); err != nil {
		t.Fatal(err)
	}
	if id, err := g.New(); err == nil {
		t.Errorf("New after the largest random part = %q, want an error", id)
	}
}

func TestIDErrors(t *testing.T) {
	broken := journal.NewIDGenerator(func() time.Time { return time.Unix(0, 0) }, iotest.ErrReader(errors.New("no entropy")))
	if _, err := broken.New(); err == nil || !strings.Contains(err.Error(), "no entropy") {
		t.Errorf("New with a failing reader error = %v", err)
	}
	short := journal.NewIDGenerator(func() time.Time { return time.Unix(0, 0) }, io.LimitReader(bytes.NewReader(make([]byte, 10)), 3))
	if _, err := short.New(); err == nil {
		t.Error("New with a short reader succeeded")
	}
	early := journal.NewIDGenerator(func() time.Time { return time.Unix(-1, 0) }, nil)
	if _, err := early.New(); err == nil {
		t.Error("New before 1970 succeeded")
	}
	for _, bad := range []string{"", "01ARYZ6S41", "01ARYZ6S41000000000000000U", "81ARYZ6S410000000000000000", "01aryz6s410000000000000000"} {
		if _, err := journal.IDTime(bad); !errors.Is(err, journal.ErrInvalid) {
			t.Errorf("IDTime(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestIDConcurrentUnique(t *testing.T) {
	g := journal.NewIDGenerator(nil, nil)
	const workers, each = 8, 200
	out := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				id, err := g.New()
				if err != nil {
					t.Error(err)
					return
				}
				out[w] = append(out[w], id)
			}
		})
	}
	wg.Wait()
	var all []string
	for _, ids := range out {
		if !slices.IsSorted(ids) {
			t.Errorf("one goroutine's IDs are not increasing")
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	if n := len(slices.Compact(all)); n != workers*each {
		t.Errorf("%d distinct IDs, want %d", n, workers*each)
	}
}
