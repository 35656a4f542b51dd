package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
)

// journal.history_days gives each record the CLI stores an expiry; without it records are kept.
func TestRecordHonoursHistoryDays(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "iamwarden.yaml")
	if err := os.WriteFile(cfg, []byte("journal:\n  history_days: 3650\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, "kept.db")
	expiring := filepath.Join(dir, "expiring.db")
	recordScan(t, kept, demo, at)
	recordScan(t, expiring, demo, at, "--config", cfg)
	for file, want := range map[string]time.Time{kept: {}, expiring: at.Add(3650 * 24 * time.Hour)} {
		j, err := sqlite.Open(context.Background(), file)
		if err != nil {
			t.Fatal(err)
		}
		runs, err := j.ListRuns(context.Background(), journal.RunFilter{})
		j.Close()
		if err != nil || len(runs) != 1 || !runs[0].ExpiresAt.Equal(want) {
			t.Fatalf("%s: runs %+v, %v; want one expiring at %v", filepath.Base(file), runs, err, want)
		}
	}
}
