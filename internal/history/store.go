package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// Store reads and writes records in a journal store.
type Store struct {
	runs journal.RunStore
	ids  *journal.IDGenerator
	// Retention, when set, lets the store delete a record that long after it was recorded
	// (DynamoDB's TTL); zero keeps records.
	Retention time.Duration
}

// NewStore keeps records in runs. now dates the record IDs; nil means time.Now.
func NewStore(runs journal.RunStore, now func() time.Time) *Store {
	return &Store{runs: runs, ids: journal.NewIDGenerator(now, nil)}
}

// Of returns the history of a journal, or an error saying the store cannot keep one.
func Of(j journal.Journal, now func() time.Time) (*Store, error) {
	runs, ok := j.(journal.RunStore)
	if !ok {
		return nil, fmt.Errorf("the journal store %T keeps no scan history", j)
	}
	return NewStore(runs, now), nil
}

// ErrNotFound: no record has the ID.
var ErrNotFound = journal.ErrNotFound

// Put stores r, giving it an ID when it has none, and returns the ID.
func (s *Store) Put(ctx context.Context, r Record) (string, error) {
	if r.RecordedAt.IsZero() {
		return "", errors.New("record history: recorded time is zero")
	}
	if r.ID == "" {
		id, err := s.ids.New()
		if err != nil {
			return "", fmt.Errorf("record history: %w", err)
		}
		r.ID = id
	}
	meta, err := json.Marshal(r.Meta())
	if err != nil {
		return "", fmt.Errorf("record history: %w", err)
	}
	var body bytes.Buffer
	if err := json.NewEncoder(&body).Encode(r); err != nil {
		return "", fmt.Errorf("record history: %w", err)
	}
	run := journal.Run{ID: r.ID, AccountID: r.Result.AccountID, Kind: string(r.Kind), RecordedAt: r.RecordedAt,
		Meta: meta, Body: body.Bytes()}
	if s.Retention > 0 {
		run.ExpiresAt = r.RecordedAt.Add(s.Retention)
	}
	if err := s.runs.PutRun(ctx, run); err != nil {
		return "", fmt.Errorf("record history of %s: %w", r.Result.AccountID, err)
	}
	return r.ID, nil
}

// Filter selects records. Zero fields match everything.
type Filter struct {
	AccountID    string
	Kinds        []Kind
	Since, Until time.Time
	// Limit caps the number returned (the newest); 0 means no limit.
	Limit int
}

// List returns the records matching f, newest first, without their findings.
func (s *Store) List(ctx context.Context, f Filter) ([]Meta, error) {
	rf := journal.RunFilter{AccountID: f.AccountID, Since: f.Since, Until: f.Until, Limit: f.Limit}
	for _, k := range f.Kinds {
		rf.Kinds = append(rf.Kinds, string(k))
	}
	runs, err := s.runs.ListRuns(ctx, rf)
	if err != nil {
		return nil, fmt.Errorf("list history: %w", err)
	}
	metas := make([]Meta, 0, len(runs))
	for _, r := range runs {
		var m Meta
		if err := json.Unmarshal(r.Meta, &m); err != nil {
			return nil, fmt.Errorf("list history: record %s is malformed: %w", r.ID, err)
		}
		metas = append(metas, m)
	}
	return metas, nil
}

// Get returns one record with its findings, or an error matching ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Record, error) {
	run, err := s.runs.GetRun(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("history record %s: %w", id, err)
	}
	var r Record
	if err := json.Unmarshal(run.Body, &r); err != nil {
		return nil, fmt.Errorf("history record %s is malformed: %w", id, err)
	}
	return &r, nil
}

// Latest returns the newest n records of an account, newest first, with their findings.
func (s *Store) Latest(ctx context.Context, accountID string, n int) ([]*Record, error) {
	metas, err := s.List(ctx, Filter{AccountID: accountID, Limit: n})
	if err != nil {
		return nil, err
	}
	out := make([]*Record, 0, len(metas))
	for _, m := range metas {
		r, err := s.Get(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
