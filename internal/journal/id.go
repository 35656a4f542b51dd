package journal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// An action ID is 26 characters of Crockford base32 encoding 128 bits: a 48-bit count of
// milliseconds since the Unix epoch followed by 80 random bits (the layout of a ULID). IDs
// therefore sort by creation time as text. A generator also keeps its own IDs strictly
// increasing: within one millisecond, or when the clock steps back, it increments the previous
// ID's random part instead of drawing a new one.

// IDLength is the length of an action ID.
const IDLength = 26

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// maxIDMillis is the largest timestamp 48 bits hold (year 10889).
const maxIDMillis = 1<<48 - 1

// IDGenerator makes action IDs. It is safe for concurrent use.
type IDGenerator struct {
	now  func() time.Time
	rand io.Reader

	mu   sync.Mutex
	last [16]byte
}

// NewIDGenerator returns a generator reading time from now and randomness from rnd; nil means
// time.Now and crypto/rand.
func NewIDGenerator(now func() time.Time, rnd io.Reader) *IDGenerator {
	if now == nil {
		now = time.Now
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	return &IDGenerator{now: now, rand: rnd}
}

// New returns an ID greater than every ID the generator returned before.
func (g *IDGenerator) New() (string, error) {
	ms := g.now().UnixMilli()
	if ms < 0 || ms > maxIDMillis {
		return "", fmt.Errorf("new action ID: time %d ms is outside the ID range", ms)
	}
	g.mu.Lock()
	defer g.mu.Unlock()

	var id [16]byte
	putMillis(&id, uint64(ms))
	if prev := millis(g.last); uint64(ms) <= prev && g.last != ([16]byte{}) {
		id = g.last
		if !increment(&id) {
			return "", errors.New("new action ID: random part exhausted within one millisecond")
		}
	} else if _, err := io.ReadFull(g.rand, id[6:]); err != nil {
		return "", fmt.Errorf("new action ID: read random bits: %w", err)
	}
	g.last = id
	return encodeID(id), nil
}

// IDTime returns the millisecond an action ID was made in, in UTC.
func IDTime(id string) (time.Time, error) {
	b, err := decodeID(id)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(int64(millis(b))).UTC(), nil
}

func putMillis(b *[16]byte, ms uint64) {
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
}

func millis(b [16]byte) uint64 {
	var ms uint64
	for i := range 6 {
		ms = ms<<8 | uint64(b[i])
	}
	return ms
}

// increment adds one to the whole 128-bit value and reports false on overflow of the random
// part into the timestamp.
func increment(b *[16]byte) bool {
	for i := 15; i >= 6; i-- {
		b[i]++
		if b[i] != 0 {
			return true
		}
	}
	return false
}

// encodeID writes 128 bits as 26 base32 digits, the first digit holding the top 3 bits.
func encodeID(b [16]byte) string {
	var out [IDLength]byte
	// Take the bits from least significant: 26 digits * 5 bits = 130 bits, the top two are 0.
	var acc uint32
	var n uint
	pos := IDLength - 1
	for i := 15; i >= 0; i-- {
		acc |= uint32(b[i]) << n
		n += 8
		for n >= 5 {
			out[pos] = crockford[acc&31]
			pos--
			acc >>= 5
			n -= 5
		}
	}
	out[pos] = crockford[acc&31]
	return string(out[:])
}

func decodeID(s string) ([16]byte, error) {
	var b [16]byte
	if len(s) != IDLength {
		return b, fmt.Errorf("%w: action ID %q is not %d characters", ErrInvalid, s, IDLength)
	}
	if s[0] > '7' {
		return b, fmt.Errorf("%w: action ID %q overflows 128 bits", ErrInvalid, s)
	}
	var acc uint32
	var n uint
	pos := 15
	for i := IDLength - 1; i >= 0; i-- {
		v := strings.IndexByte(crockford, s[i])
		if v < 0 {
			return b, fmt.Errorf("%w: action ID %q has a character outside Crockford base32", ErrInvalid, s)
		}
		acc |= uint32(v) << n
		n += 5
		if n >= 8 && pos >= 0 {
			b[pos] = byte(acc)
			pos--
			acc >>= 8
			n -= 8
		}
	}
	return b, nil
}
