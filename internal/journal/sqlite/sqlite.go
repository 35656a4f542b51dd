// Package sqlite keeps the journal in a local SQLite database (pure Go, no cgo), the default
// store of the CLI.
//
// The database runs in WAL mode with a busy timeout, so several processes may share one file:
// uniqueness of action IDs and dedupe keys is enforced by UNIQUE constraints, never by a read
// before a write.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// BusyTimeout is how long a statement waits for another connection's write lock.
const BusyTimeout = 10 * time.Second

// DefaultPath returns $XDG_STATE_HOME/iamwarden/journal.db, or
// $HOME/.local/state/iamwarden/journal.db when XDG_STATE_HOME is unset or not absolute (as
// the XDG base directory specification requires).
func DefaultPath(getenv func(string) string) (string, error) {
	if dir := getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "iamwarden", "journal.db"), nil
	}
	home := getenv("HOME")
	if !filepath.IsAbs(home) {
		return "", errors.New("journal path: neither XDG_STATE_HOME nor HOME is an absolute path; try: --journal <path>")
	}
	return filepath.Join(home, ".local", "state", "iamwarden", "journal.db"), nil
}

// Journal is a journal.Journal in a SQLite database.
type Journal struct {
	db   *sql.DB
	path string
}

var _ journal.Journal = (*Journal)(nil)

// Open opens or creates the database at path, creating its directory (mode 0700) and the file
// (mode 0600) if missing, and brings the schema up to date.
func Open(ctx context.Context, path string) (*Journal, error) {
	if path == "" {
		return nil, errors.New("open journal: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	// Created here so that the file (and SQLite's -wal and -shm files, which copy its mode)
	// is private from the start.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}

	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	j := &Journal{db: db, path: path}
	if err := useWAL(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	return j, nil
}

// Path returns the database file's path.
func (j *Journal) Path() string { return j.path }

// Close closes the database.
func (j *Journal) Close() error {
	if err := j.db.Close(); err != nil {
		return fmt.Errorf("close journal: %w", err)
	}
	return nil
}

const columns = `action_id, run_id, account_id, kind, principal, user_id, resource, rule, finding_id, reason,
	prior, status, detail, undo_of, dedupe_key, actor, created_at, updated_at`

// Begin writes an intent; see journal.Journal.
func (j *Journal) Begin(ctx context.Context, e journal.Entry) error {
	e, err := journal.Prepare(e)
	if err != nil {
		return err
	}
	prior, err := json.Marshal(e.Prior)
	if err != nil {
		return fmt.Errorf("begin %s: encode prior state: %w", e.ActionID, err)
	}
	var dedupe sql.NullString
	if e.DedupeKey != "" {
		dedupe = sql.NullString{String: e.DedupeKey, Valid: true}
	}
	_, err = j.db.ExecContext(ctx, `INSERT INTO entries (`+columns+`, dedupe_hold)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ActionID, e.RunID, e.AccountID, string(e.Kind), e.Principal, e.UserID, e.Resource, e.Rule,
		e.FindingID, e.Reason, string(prior), string(e.Status), e.Detail, e.UndoOf, dedupe,
		e.Actor, journal.FormatTime(e.CreatedAt), journal.FormatTime(e.UpdatedAt), dedupe)
	if isConstraint(err) {
		return fmt.Errorf("begin %s: %w", e.ActionID, journal.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("begin %s: %w", e.ActionID, err)
	}
	return nil
}

// useWAL switches the database to write-ahead logging, a persistent property of the file.
// The switch needs a moment of exclusive access, and SQLite answers SQLITE_BUSY at once, without
// waiting, when another process holds the file then (typically a concurrent first open), so it
// is retried for up to BusyTimeout.
func useWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(BusyTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("enable WAL: journal mode is %s", mode)
		case !isBusy(err) || time.Now().Add(delay).After(deadline):
			return fmt.Errorf("enable WAL: %w", err)
		}
		t := time.NewTimer(delay + rand.N(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("enable WAL: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// isBusy reports whether err is SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var serr *sqlitedriver.Error
	return errors.As(err, &serr) && serr.Code()&0xff == sqlite3.SQLITE_BUSY
}

// isConstraint reports whether err is a PRIMARY KEY or UNIQUE constraint violation.
func isConstraint(err error) bool {
	var serr *sqlitedriver.Error
	if !errors.As(err, &serr) {
		return false
	}
	code := serr.Code()
	return code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || code == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// Finish records a result; see journal.Journal.
func (j *Journal) Finish(ctx context.Context, actionID string, status journal.Status, detail string, at time.Time) error {
	if err := journal.CheckFinish(actionID, status, detail, at); err != nil {
		return fmt.Errorf("finish %s: %w", actionID, err)
	}
	// A result that releases the dedupe key clears dedupe_hold in the same statement.
	res, err := j.db.ExecContext(ctx, `UPDATE entries SET status = ?, detail = ?, updated_at = ?,
		dedupe_hold = CASE WHEN ? THEN NULL ELSE dedupe_hold END
		WHERE action_id = ? AND status = ?`,
		string(status), detail, journal.FormatTime(at), status.Releases(), actionID, string(journal.StatusIntent))
	if err != nil {
		return fmt.Errorf("finish %s: %w", actionID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("finish %s: %w", actionID, err)
	}
	if n == 1 {
		return nil
	}
	// Nothing changed: either there is no such action or it already has a result.
	var current string
	err = j.db.QueryRowContext(ctx, `SELECT status FROM entries WHERE action_id = ?`, actionID).Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("finish %s: %w", actionID, journal.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("finish %s: %w", actionID, err)
	}
	return fmt.Errorf("finish %s: status is %s: %w", actionID, current, journal.ErrNotOpen)
}

// Get returns one entry; see journal.Journal.
func (j *Journal) Get(ctx context.Context, actionID string) (journal.Entry, error) {
	entries, err := j.query(ctx, `SELECT `+columns+` FROM entries WHERE action_id = ?`, actionID)
	if err != nil {
		return journal.Entry{}, fmt.Errorf("get %s: %w", actionID, err)
	}
	if len(entries) == 0 {
		return journal.Entry{}, fmt.Errorf("get %s: %w", actionID, journal.ErrNotFound)
	}
	return entries[0], nil
}

// List returns matching entries, newest first; see journal.Journal.
func (j *Journal) List(ctx context.Context, f journal.Filter) ([]journal.Entry, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list: %w: negative limit %d", journal.ErrInvalid, f.Limit)
	}
	var where []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("account_id", f.AccountID)
	eq("run_id", f.RunID)
	eq("principal", f.Principal)
	eq("dedupe_key", f.DedupeKey)
	if len(f.Kinds) > 0 {
		where = append(where, "kind IN ("+placeholders(len(f.Kinds))+")")
		for _, k := range f.Kinds {
			args = append(args, string(k))
		}
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, s := range f.Statuses {
			args = append(args, string(s))
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, journal.FormatTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, journal.FormatTime(f.Until))
	}
	q := `SELECT ` + columns + ` FROM entries`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, action_id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	entries, err := j.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return entries, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Open returns the intents without a result, oldest first; see journal.Journal.
func (j *Journal) Open(ctx context.Context, accountID string) ([]journal.Entry, error) {
	q := `SELECT ` + columns + ` FROM entries WHERE status = ?`
	args := []any{string(journal.StatusIntent)}
	if accountID != "" {
		q += ` AND account_id = ?`
		args = append(args, accountID)
	}
	q += ` ORDER BY created_at, action_id`
	entries, err := j.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("open intents: %w", err)
	}
	return entries, nil
}

// HasDedupe reports whether the dedupe key is used; see journal.Journal.
func (j *Journal) HasDedupe(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, fmt.Errorf("dedupe lookup: %w: empty key", journal.ErrInvalid)
	}
	var n int
	err := j.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM entries WHERE dedupe_hold = ?`, key).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("dedupe lookup %q: %w", key, err)
	}
	return n > 0, nil
}

func (j *Journal) query(ctx context.Context, q string, args ...any) ([]journal.Entry, error) {
	rows, err := j.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	entries := []journal.Entry{}
	for rows.Next() {
		var (
			e                journal.Entry
			kind, status     string
			prior            string
			dedupe           sql.NullString
			created, updated string
		)
		if err := rows.Scan(&e.ActionID, &e.RunID, &e.AccountID, &kind, &e.Principal, &e.UserID, &e.Resource,
			&e.Rule, &e.FindingID, &e.Reason, &prior, &status, &e.Detail, &e.UndoOf, &dedupe,
			&e.Actor, &created, &updated); err != nil {
			return nil, err
		}
		e.Kind, e.Status, e.DedupeKey = journal.Kind(kind), journal.Status(status), dedupe.String
		if err := json.Unmarshal([]byte(prior), &e.Prior); err != nil {
			return nil, fmt.Errorf("entry %s: decode prior state: %w", e.ActionID, err)
		}
		if e.Prior == nil {
			e.Prior = map[string]string{}
		}
		if e.CreatedAt, err = journal.ParseTime(created); err != nil {
			return nil, fmt.Errorf("entry %s: %w", e.ActionID, err)
		}
		if e.UpdatedAt, err = journal.ParseTime(updated); err != nil {
			return nil, fmt.Errorf("entry %s: %w", e.ActionID, err)
		}
		entries = append(entries, e)
	}
	return entries, rows.Err()
}
