package journaltest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// Runs is a journal.RunStore in memory, for the tests of what records runs. It passes
// RunStoreSuite, so a test that uses it sees what the real stores do.
type Runs struct {
	mu   sync.Mutex
	runs []journal.Run // in the order they were put
}

var _ journal.RunStore = (*Runs)(nil)

// live reports whether r has not expired.
func live(r journal.Run) bool { return r.ExpiresAt.IsZero() || r.ExpiresAt.After(time.Now()) }

// PutRun stores r unless a live run has its ID.
func (m *Runs) PutRun(_ context.Context, r journal.Run) error {
	r, err := journal.PrepareRun(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.runs {
		if x.ID != r.ID {
			continue
		}
		if live(x) {
			return fmt.Errorf("run %s: %w", r.ID, journal.ErrExists)
		}
		m.runs = append(m.runs[:i], m.runs[i+1:]...)
		break
	}
	r.Meta, r.Body = append([]byte(nil), r.Meta...), append([]byte(nil), r.Body...)
	m.runs = append(m.runs, r)
	return nil
}

// ListRuns returns the live runs f matches, newest first, without their bodies.
func (m *Runs) ListRuns(_ context.Context, f journal.RunFilter) ([]journal.Run, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list runs: %w: negative limit %d", journal.ErrInvalid, f.Limit)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []journal.Run{}
	for _, r := range m.runs {
		if live(r) && f.Match(r) {
			r.Body = nil
			out = append(out, r)
		}
	}
	journal.SortRunsNewestFirst(out)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// GetRun returns a live run with its body.
func (m *Runs) GetRun(_ context.Context, id string) (journal.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.runs {
		if r.ID == id && live(r) {
			return r, nil
		}
	}
	return journal.Run{}, fmt.Errorf("run %s: %w", id, journal.ErrNotFound)
}

// All returns every run stored, expired ones too, in the order they were put.
func (m *Runs) All() []journal.Run {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]journal.Run(nil), m.runs...)
}
