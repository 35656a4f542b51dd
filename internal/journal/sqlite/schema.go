package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] brings the schema from version i to version i+1 (PRAGMA user_version). New
// versions are appended, never edited.
var migrations = []func(context.Context, *sql.Tx) error{
	migrateV1,
	migrateV2,
	migrateV3,
}

// SchemaVersion is the schema version Open brings a database to.
var SchemaVersion = len(migrations)

// migrateV1 creates the entries table. Times are TEXT in journal.TimeLayout, which sorts in
// time order; prior is a JSON object; dedupe_key is NULL when unset, so UNIQUE only binds the
// keys that are set.
func migrateV1(ctx context.Context, tx *sql.Tx) error {
	for _, stmt := range []string{
		`CREATE TABLE entries (
			action_id  TEXT PRIMARY KEY,
			run_id     TEXT NOT NULL,
			account_id TEXT NOT NULL,
			kind       TEXT NOT NULL,
			principal  TEXT NOT NULL,
			resource   TEXT NOT NULL,
			rule       TEXT NOT NULL,
			finding_id TEXT NOT NULL,
			reason     TEXT NOT NULL,
			prior      TEXT NOT NULL,
			status     TEXT NOT NULL,
			detail     TEXT NOT NULL,
			undo_of    TEXT NOT NULL,
			dedupe_key TEXT UNIQUE,
			actor      TEXT NOT NULL,
			created_at TEXT NOT NULL,
			updated_at TEXT NOT NULL
		) STRICT`,
		`CREATE INDEX entries_account_created ON entries (account_id, created_at, action_id)`,
		`CREATE INDEX entries_run_created ON entries (run_id, created_at, action_id)`,
		`CREATE INDEX entries_created ON entries (created_at, action_id)`,
		`CREATE INDEX entries_open ON entries (account_id, created_at) WHERE status = 'intent'`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// migrateV2 adds the acted-on user's unique ID, makes dedupe keys releasable and adds leases.
// A dedupe key stays in dedupe_key for the record; dedupe_hold carries the UNIQUE constraint and
// is NULL once the entry released its key. SQLite cannot drop a column constraint, so the table
// is rebuilt; existing entries hold their keys unless their status releases them.
func migrateV2(ctx context.Context, tx *sql.Tx) error {
	for _, stmt := range []string{
		`CREATE TABLE entries_v2 (
			action_id   TEXT PRIMARY KEY,
			run_id      TEXT NOT NULL,
			account_id  TEXT NOT NULL,
			kind        TEXT NOT NULL,
			principal   TEXT NOT NULL,
			user_id     TEXT NOT NULL,
			resource    TEXT NOT NULL,
			rule        TEXT NOT NULL,
			finding_id  TEXT NOT NULL,
			reason      TEXT NOT NULL,
			prior       TEXT NOT NULL,
			status      TEXT NOT NULL,
			detail      TEXT NOT NULL,
			undo_of     TEXT NOT NULL,
			dedupe_key  TEXT,
			dedupe_hold TEXT UNIQUE,
			actor       TEXT NOT NULL,
			created_at  TEXT NOT NULL,
			updated_at  TEXT NOT NULL
		) STRICT`,
		`INSERT INTO entries_v2 (action_id, run_id, account_id, kind, principal, user_id, resource, rule,
			finding_id, reason, prior, status, detail, undo_of, dedupe_key, dedupe_hold, actor, created_at, updated_at)
		SELECT action_id, run_id, account_id, kind, principal, '', resource, rule, finding_id, reason, prior,
			status, detail, undo_of, dedupe_key,
			CASE WHEN status IN ('failed', 'skipped', 'reconciled-not-done') THEN NULL ELSE dedupe_key END,
			actor, created_at, updated_at FROM entries`,
		`DROP TABLE entries`,
		`ALTER TABLE entries_v2 RENAME TO entries`,
		`CREATE INDEX entries_account_created ON entries (account_id, created_at, action_id)`,
		`CREATE INDEX entries_run_created ON entries (run_id, created_at, action_id)`,
		`CREATE INDEX entries_created ON entries (created_at, action_id)`,
		`CREATE INDEX entries_open ON entries (account_id, created_at) WHERE status = 'intent'`,
		`CREATE INDEX entries_dedupe ON entries (dedupe_key) WHERE dedupe_key IS NOT NULL`,
		`CREATE TABLE leases (
			account_id  TEXT PRIMARY KEY,
			run_id      TEXT NOT NULL,
			actor       TEXT NOT NULL,
			host        TEXT NOT NULL,
			pid         INTEGER NOT NULL,
			acquired_at TEXT NOT NULL,
			expires_at  TEXT NOT NULL
		) STRICT`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// migrateV3 adds the run records of internal/history (journal.RunStore). expires_at is NULL for
// a record kept for good; the partial index lets PutRun find expired records without a scan.
// body is gzipped (journal.CompressBody).
func migrateV3(ctx context.Context, tx *sql.Tx) error {
	for _, stmt := range []string{
		`CREATE TABLE runs (
			id          TEXT PRIMARY KEY,
			account_id  TEXT NOT NULL,
			kind        TEXT NOT NULL,
			recorded_at TEXT NOT NULL,
			expires_at  TEXT,
			meta        TEXT NOT NULL,
			body        BLOB NOT NULL
		) STRICT`,
		`CREATE INDEX runs_account_recorded ON runs (account_id, recorded_at, id)`,
		`CREATE INDEX runs_recorded ON runs (recorded_at, id)`,
		`CREATE INDEX runs_expires ON runs (expires_at) WHERE expires_at IS NOT NULL`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// migrate applies the missing migrations, each in its own write transaction (BEGIN IMMEDIATE,
// so that two processes opening a new database migrate it once). It refuses a database newer
// than this program.
func migrate(ctx context.Context, db *sql.DB) error {
	for {
		done, err := migrateStep(ctx, db)
		if err != nil || done {
			return err
		}
	}
}

func migrateStep(ctx context.Context, db *sql.DB) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate schema: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case version > SchemaVersion:
		return false, fmt.Errorf("schema version %d is newer than this program's %d; try: a newer iamwarden", version, SchemaVersion)
	case version == SchemaVersion:
		return true, tx.Commit()
	}
	if err := migrations[version](ctx, tx); err != nil {
		return false, fmt.Errorf("migrate schema to version %d: %w", version+1, err)
	}
	// PRAGMA takes no bound parameters; version is an int.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, version+1)); err != nil {
		return false, fmt.Errorf("set schema version %d: %w", version+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate schema to version %d: %w", version+1, err)
	}
	return false, nil
}
