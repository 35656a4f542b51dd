package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
)

var _ journal.RunStore = (*Journal)(nil)

// PutRun stores a run record; see journal.RunStore. Expired records are deleted in the same
// transaction, so an expired record's ID may be used again, as it would be once DynamoDB's TTL
// removed it.
func (j *Journal) PutRun(ctx context.Context, r journal.Run) error {
	r, err := journal.PrepareRun(r)
	if err != nil {
		return err
	}
	var expires sql.NullString
	if !r.ExpiresAt.IsZero() {
		expires = sql.NullString{String: journal.FormatTime(r.ExpiresAt), Valid: true}
	}
	body, err := journal.CompressBody(r.Body)
	if err != nil {
		return fmt.Errorf("put run %s: %w", r.ID, err)
	}
	if body == nil {
		body = []byte{} // nil would bind as NULL
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("put run %s: %w", r.ID, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE expires_at IS NOT NULL AND expires_at <= ?`,
		journal.FormatTime(time.Now())); err != nil {
		return fmt.Errorf("put run %s: delete expired runs: %w", r.ID, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO runs (id, account_id, kind, recorded_at, expires_at, meta, body)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.AccountID, r.Kind, journal.FormatTime(r.RecordedAt), expires, string(r.Meta), body)
	if isConstraint(err) {
		return fmt.Errorf("put run %s: %w", r.ID, journal.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("put run %s: %w", r.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put run %s: %w", r.ID, err)
	}
	return nil
}

// unexpired is the condition that a run has not expired at the time bound to it.
const unexpired = `(expires_at IS NULL OR expires_at > ?)`

const runColumns = `id, account_id, kind, recorded_at, expires_at, meta`

// ListRuns returns matching runs without their bodies, newest first; see journal.RunStore.
func (j *Journal) ListRuns(ctx context.Context, f journal.RunFilter) ([]journal.Run, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list runs: %w: negative limit %d", journal.ErrInvalid, f.Limit)
	}
	where := []string{unexpired}
	args := []any{journal.FormatTime(time.Now())}
	if f.AccountID != "" {
		where = append(where, "account_id = ?")
		args = append(args, f.AccountID)
	}
	if len(f.Kinds) > 0 {
		where = append(where, "kind IN ("+placeholders(len(f.Kinds))+")")
		for _, k := range f.Kinds {
			args = append(args, k)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "recorded_at >= ?")
		args = append(args, journal.FormatTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "recorded_at < ?")
		args = append(args, journal.FormatTime(f.Until))
	}
	q := `SELECT ` + runColumns + ` FROM runs WHERE ` + strings.Join(where, " AND ") + ` ORDER BY recorded_at DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := j.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	runs := []journal.Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// GetRun returns one run with its body; see journal.RunStore.
func (j *Journal) GetRun(ctx context.Context, id string) (journal.Run, error) {
	row := j.db.QueryRowContext(ctx, `SELECT `+runColumns+`, body FROM runs WHERE id = ? AND `+unexpired,
		id, journal.FormatTime(time.Now()))
	var body []byte
	r, err := scanRun(row, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return journal.Run{}, fmt.Errorf("get run %s: %w", id, journal.ErrNotFound)
	}
	if err != nil {
		return journal.Run{}, fmt.Errorf("get run %s: %w", id, err)
	}
	if r.Body, err = journal.DecompressBody(body, 0); err != nil {
		return journal.Run{}, fmt.Errorf("get run %s: %w", id, err)
	}
	return r, nil
}

// scanRun reads runColumns, then the extra destinations.
func scanRun(row interface{ Scan(...any) error }, extra ...any) (journal.Run, error) {
	var (
		r              journal.Run
		recorded, meta string
		expires        sql.NullString
	)
	if err := row.Scan(append([]any{&r.ID, &r.AccountID, &r.Kind, &recorded, &expires, &meta}, extra...)...); err != nil {
		return journal.Run{}, err
	}
	var err error
	if r.RecordedAt, err = journal.ParseTime(recorded); err != nil {
		return journal.Run{}, fmt.Errorf("run %s: %w", r.ID, err)
	}
	if expires.Valid {
		if r.ExpiresAt, err = journal.ParseTime(expires.String); err != nil {
			return journal.Run{}, fmt.Errorf("run %s: %w", r.ID, err)
		}
	}
	r.Meta = []byte(meta)
	return r, nil
}
