package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/journaltest"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
)

func open(t *testing.T, path string) *sqlite.Journal {
	t.Helper()
	j, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return j
}

func TestConformance(t *testing.T) {
	journaltest.Run(t, func(t *testing.T) journal.Journal {
		return open(t, filepath.Join(t.TempDir(), "journal.db"))
	})
}

// Two processes share a file through separate connections pools; uniqueness holds across them.
func TestConformanceTwoHandles(t *testing.T) {
	journaltest.Run(t, func(t *testing.T) journal.Journal {
		path := filepath.Join(t.TempDir(), "journal.db")
		return split{writer: open(t, path), other: open(t, path)}
	})
}

func TestRunStoreConformance(t *testing.T) {
	journaltest.RunStoreSuite(t, func(t *testing.T) journal.RunStore {
		return open(t, filepath.Join(t.TempDir(), "journal.db"))
	})
}

// Runs put through one handle are read through another, and racers on both compete for an ID.
func TestRunStoreConformanceTwoHandles(t *testing.T) {
	journaltest.RunStoreSuite(t, func(t *testing.T) journal.RunStore {
		path := filepath.Join(t.TempDir(), "journal.db")
		return &runSplit{writers: [2]*sqlite.Journal{open(t, path), open(t, path)}}
	})
}

// runSplit sends PutRun to its two handles in turn and reads through the second.
type runSplit struct {
	writers [2]*sqlite.Journal
	n       atomic.Int64
}

func (s *runSplit) PutRun(ctx context.Context, r journal.Run) error {
	return s.writers[s.n.Add(1)%2].PutRun(ctx, r)
}
func (s *runSplit) ListRuns(ctx context.Context, f journal.RunFilter) ([]journal.Run, error) {
	return s.writers[1].ListRuns(ctx, f)
}
func (s *runSplit) GetRun(ctx context.Context, id string) (journal.Run, error) {
	return s.writers[1].GetRun(ctx, id)
}
func (s *runSplit) Close() error { return errors.Join(s.writers[0].Close(), s.writers[1].Close()) }

// split sends Begin to one handle and everything else to another, as two processes would.
type split struct {
	writer, other *sqlite.Journal
}

func (s split) Begin(ctx context.Context, e journal.Entry) error { return s.writer.Begin(ctx, e) }
func (s split) Finish(ctx context.Context, id string, st journal.Status, d string, at time.Time) error {
	return s.other.Finish(ctx, id, st, d, at)
}
func (s split) Get(ctx context.Context, id string) (journal.Entry, error) {
	return s.other.Get(ctx, id)
}
func (s split) List(ctx context.Context, f journal.Filter) ([]journal.Entry, error) {
	return s.other.List(ctx, f)
}
func (s split) Open(ctx context.Context, account string) ([]journal.Entry, error) {
	return s.other.Open(ctx, account)
}
func (s split) HasDedupe(ctx context.Context, key string) (bool, error) {
	return s.other.HasDedupe(ctx, key)
}
func (s split) Acquire(ctx context.Context, l journal.Lease, now time.Time) error {
	return s.writer.Acquire(ctx, l, now)
}
func (s split) Renew(ctx context.Context, l journal.Lease, now time.Time) error {
	return s.other.Renew(ctx, l, now)
}
func (s split) Release(ctx context.Context, account, run string) error {
	return s.other.Release(ctx, account, run)
}
func (s split) Holder(ctx context.Context, account string) (journal.Lease, bool, error) {
	return s.other.Holder(ctx, account)
}
func (s split) Check(ctx context.Context) error { return s.writer.Check(ctx) }
func (s split) Close() error                    { return errors.Join(s.writer.Close(), s.other.Close()) }

func TestDefaultPath(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"xdg", map[string]string{"XDG_STATE_HOME": "/state", "HOME": "/home/u"}, "/state/iamwarden/journal.db", false},
		{"home", map[string]string{"HOME": "/home/u"}, "/home/u/.local/state/iamwarden/journal.db", false},
		{"relative xdg ignored", map[string]string{"XDG_STATE_HOME": "state", "HOME": "/home/u"}, "/home/u/.local/state/iamwarden/journal.db", false},
		{"nothing", map[string]string{}, "", true},
		{"relative home", map[string]string{"HOME": "home"}, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sqlite.DefaultPath(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("DefaultPath = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "iamwarden")
	path := filepath.Join(dir, "journal.db")
	j := open(t, path)
	defer j.Close()
	if j.Path() != path {
		t.Errorf("Path = %q, want %q", j.Path(), path)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("mode of %s = %v, want %v", p, fi.Mode(), want)
		}
	}
}

func TestOpenSetsUpDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := open(t, path)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening an up-to-date database keeps its data and version.
	j = open(t, path)
	e := journal.Entry{ActionID: "01JPAAAAAAAAAAAAAAAAAAAAA1", AccountID: "111122223333", Kind: journal.KindNotify, CreatedAt: time.Unix(1, 0)}
	if err := j.Begin(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j = open(t, path)
	defer j.Close()
	if _, err := j.Get(context.Background(), e.ActionID); err != nil {
		t.Errorf("entry lost on reopen: %v", err)
	}

	db := rawDB(t, path)
	var version int
	var mode string
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if version != sqlite.SchemaVersion || version != 3 {
		t.Errorf("user_version = %d, want %d", version, sqlite.SchemaVersion)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	open(t, path).Close()
	db := rawDB(t, path)
	if _, err := db.Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := sqlite.Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema error = %v, want a refusal", err)
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"empty":          "",
		"parent is file": filepath.Join(file, "journal.db"),
		"not a database": notDB,
	} {
		t.Run(name, func(t *testing.T) {
			j, err := sqlite.Open(context.Background(), path)
			if err == nil {
				j.Close()
				t.Fatalf("Open(%q) succeeded", path)
			}
		})
	}
}

// A path with characters that mean something in a URI still names a plain file.
func TestOpenOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c d%20")
	path := filepath.Join(dir, "jöurnal.db")
	j := open(t, path)
	defer j.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %s: %v", path, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "jöurnal.db") {
			t.Errorf("unexpected file %s in %s", e.Name(), dir)
		}
	}
}

// A journal written by the first schema keeps its entries; a failed notification's key is
// released by the upgrade, a delivered one's stays held.
func TestMigrateFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	db := rawDB(t, path)
	for _, stmt := range []string{
		`CREATE TABLE entries (action_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, account_id TEXT NOT NULL,
			kind TEXT NOT NULL, principal TEXT NOT NULL, resource TEXT NOT NULL, rule TEXT NOT NULL,
			finding_id TEXT NOT NULL, reason TEXT NOT NULL, prior TEXT NOT NULL, status TEXT NOT NULL,
			detail TEXT NOT NULL, undo_of TEXT NOT NULL, dedupe_key TEXT UNIQUE, actor TEXT NOT NULL,
			created_at TEXT NOT NULL, updated_at TEXT NOT NULL) STRICT`,
		`INSERT INTO entries VALUES ('01JPAAAAAAAAAAAAAAAAAAAAA1', 'r', '111122223333', 'notify', 'alice', '', 'rule', 'f', '',
			'{}', 'failed', 'throttled', '', 'k/failed', 'me', '2025-01-01T00:00:00.000000000Z', '2025-01-01T00:00:00.000000000Z')`,
		`INSERT INTO entries VALUES ('01JPAAAAAAAAAAAAAAAAAAAAA2', 'r', '111122223333', 'notify', 'alice', '', 'rule', 'f', '',
			'{}', 'done', 'sent', '', 'k/sent', 'me', '2025-01-01T00:00:01.000000000Z', '2025-01-01T00:00:01.000000000Z')`,
		`PRAGMA user_version = 1`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	j := open(t, path)
	defer j.Close()
	ctx := context.Background()
	for key, want := range map[string]bool{"k/failed": false, "k/sent": true} {
		if got, err := j.HasDedupe(ctx, key); err != nil || got != want {
			t.Errorf("HasDedupe(%s) = %v, %v; want %v", key, got, err, want)
		}
	}
	e, err := j.Get(ctx, "01JPAAAAAAAAAAAAAAAAAAAAA1")
	if err != nil || e.DedupeKey != "k/failed" || e.Detail != "throttled" || e.UserID != "" {
		t.Errorf("migrated entry = %+v, %v", e, err)
	}
	if err := j.Acquire(ctx, journal.Lease{AccountID: "111122223333", RunID: "r", Expires: time.Now().Add(time.Minute)}, time.Now()); err != nil {
		t.Errorf("Acquire on a migrated journal: %v", err)
	}
	r := journal.Run{ID: "r1", AccountID: "111122223333", Kind: "scan", RecordedAt: time.Unix(1, 0), Body: []byte("{}")}
	if err := j.PutRun(ctx, r); err != nil {
		t.Errorf("PutRun on a migrated journal: %v", err)
	}
}

// A run's body is kept gzipped: a year of daily records of a large account stays small.
func TestRunBodyIsStoredCompressed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "journal.db")
	j := open(t, path)
	defer j.Close()
	body := bytes.Repeat([]byte(`{"rule":"console-mfa-missing","state":"violation"},`), 20000)
	if err := j.PutRun(ctx, journal.Run{ID: "R1", AccountID: "123456789012", Kind: "scan",
		RecordedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Meta: []byte(`{}`), Body: body}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var raw []byte
	if err := db.QueryRowContext(ctx, `SELECT body FROM runs WHERE id = 'R1'`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b || len(raw)*10 > len(body) {
		t.Fatalf("stored body is %d bytes (starts %x) for %d bytes of JSON: want it gzipped", len(raw), raw[:min(len(raw), 2)], len(body))
	}
	got, err := j.GetRun(ctx, "R1")
	if err != nil || !bytes.Equal(got.Body, body) {
		t.Fatalf("GetRun: %d bytes, %v; want the body back whole", len(got.Body), err)
	}
}
