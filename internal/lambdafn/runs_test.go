package lambdafn_test

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// memRuns keeps run records in memory beside a journal that keeps none.
type memRuns struct {
	mu   sync.Mutex
	runs map[string]journal.Run
}

var _ journal.RunStore = (*memRuns)(nil)

func (m *memRuns) PutRun(_ context.Context, r journal.Run) error {
	r, err := journal.PrepareRun(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runs == nil {
		m.runs = map[string]journal.Run{}
	}
	if _, ok := m.runs[r.ID]; ok {
		return fmt.Errorf("%w: run %s", journal.ErrExists, r.ID)
	}
	m.runs[r.ID] = r
	return nil
}

func (m *memRuns) ListRuns(_ context.Context, f journal.RunFilter) ([]journal.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []journal.Run
	for _, r := range m.runs {
		if f.Match(r) {
			r.Body = nil
			out = append(out, r)
		}
	}
	journal.SortRunsNewestFirst(out)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return slices.Clip(out), nil
}

func (m *memRuns) GetRun(_ context.Context, id string) (journal.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[id]
	if !ok {
		return journal.Run{}, fmt.Errorf("run %s: %w", id, journal.ErrNotFound)
	}
	return r, nil
}

// withRuns is a journal whose run records live in runs.
type withRuns struct {
	journal.Journal
	*memRuns
}
