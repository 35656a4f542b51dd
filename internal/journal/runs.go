package journal

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Run is one recorded scan or enforce run of one account, as the journal store keeps it for
// internal/history: the store indexes it by account and time and keeps its two documents
// without reading them. Meta is the small JSON document a listing returns; Body the whole
// record, of any size (a store may compress and split it).
type Run struct {
	// ID identifies the run record; IDs made by an IDGenerator sort by time. Unique in a store.
	ID string
	// AccountID is the 12-digit account the run read. Required.
	AccountID string
	// Kind says what recorded it, e.g. "scan" or "enforce". Required.
	Kind string
	// RecordedAt is when the run was recorded. Required; stored in UTC to the nanosecond.
	RecordedAt time.Time
	// ExpiresAt, when set, is when a store may delete the record (DynamoDB's TTL).
	ExpiresAt time.Time
	// Meta is a JSON document of at most MaxRunMeta bytes, returned by ListRuns.
	Meta []byte
	// Body is returned by GetRun only.
	Body []byte
}

// MaxRunMeta bounds a run's Meta document.
const MaxRunMeta = 32 << 10

// RunFilter selects runs for ListRuns. Zero fields match everything.
type RunFilter struct {
	AccountID string
	Kinds     []string
	// Since matches runs recorded at or after it; Until strictly before it.
	Since, Until time.Time
	// Limit caps the number of runs returned (the newest ones); 0 means no limit.
	Limit int
}

// Match reports whether r passes f, ignoring Limit.
func (f RunFilter) Match(r Run) bool {
	switch {
	case f.AccountID != "" && r.AccountID != f.AccountID,
		len(f.Kinds) > 0 && !slices.Contains(f.Kinds, r.Kind),
		!f.Since.IsZero() && r.RecordedAt.Before(f.Since),
		!f.Until.IsZero() && !r.RecordedAt.Before(f.Until):
		return false
	}
	return true
}

// RunStore keeps run records beside the journal's entries. Both journal stores implement it.
type RunStore interface {
	// PutRun stores r. It fails with ErrExists, writing nothing, if a run with the same ID
	// exists, and with ErrInvalid for a run that breaks the rules documented on Run. A reader
	// never sees a run partly written.
	PutRun(ctx context.Context, r Run) error
	// ListRuns returns the runs matching f without their Body, newest first (ties broken by ID,
	// descending).
	ListRuns(ctx context.Context, f RunFilter) ([]Run, error)
	// GetRun returns one run with its Body, or ErrNotFound.
	GetRun(ctx context.Context, id string) (Run, error)
}

// RunPrefix starts no ActionID: DynamoDB keys run records with it.
const RunPrefix = "RUN#"

// PrepareRun validates r for PutRun and returns it as it must be stored: times in UTC.
func PrepareRun(r Run) (Run, error) {
	var problems []string
	switch {
	case r.ID == "":
		problems = append(problems, "run ID is empty")
	case strings.ContainsAny(r.ID, "#/"):
		problems = append(problems, fmt.Sprintf("run ID %q contains # or /", r.ID))
	case len(r.ID) > 128:
		problems = append(problems, "run ID is longer than 128 bytes")
	}
	if r.AccountID == "" {
		problems = append(problems, "account ID is empty")
	}
	if r.Kind == "" {
		problems = append(problems, "kind is empty")
	}
	if r.RecordedAt.IsZero() {
		problems = append(problems, "recorded time is zero")
	}
	if len(r.Meta) > MaxRunMeta {
		problems = append(problems, fmt.Sprintf("meta is longer than %d bytes", MaxRunMeta))
	}
	if len(problems) > 0 {
		return Run{}, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	r.RecordedAt = UTC(r.RecordedAt)
	if !r.ExpiresAt.IsZero() {
		r.ExpiresAt = UTC(r.ExpiresAt)
	}
	return r, nil
}

// SortRunsNewestFirst orders runs as ListRuns returns them.
func SortRunsNewestFirst(runs []Run) {
	slices.SortFunc(runs, func(a, b Run) int {
		if c := b.RecordedAt.Compare(a.RecordedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}

// CompressBody is how stores keep a run's body: gzipped (a scan's JSON shrinks tenfold). An
// empty body stays empty.
func CompressBody(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		return nil, fmt.Errorf("compress run body: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compress run body: %w", err)
	}
	return buf.Bytes(), nil
}

// DecompressBody reverses CompressBody; sizeHint, when known, saves growing the buffer.
func DecompressBody(data []byte, sizeHint int) ([]byte, error) {
	if len(data) == 0 {
		return nil, nil
	}
	r, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decompress run body: %w", err)
	}
	body := bytes.NewBuffer(make([]byte, 0, max(sizeHint, 0)))
	if _, err := io.Copy(body, r); err != nil {
		return nil, fmt.Errorf("decompress run body: %w", err)
	}
	return body.Bytes(), nil
}
