package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
)

// Environment of a child process started by TestProcessesRace.
const (
	childPathEnv  = "IAMWARDEN_JOURNAL_CHILD_PATH"
	childActorEnv = "IAMWARDEN_JOURNAL_CHILD_ACTOR"
	// exitExists is a child's exit code when Begin found the action taken.
	exitExists = 3
)

// TestProcessesRace starts several processes that open the same new database and Begin the same
// action at once, as concurrent iamwarden runs would: exactly one may write it.
func TestProcessesRace(t *testing.T) {
	if path := os.Getenv(childPathEnv); path != "" {
		os.Exit(child(path, os.Getenv(childActorEnv)))
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "journal.db")
	const children = 4
	codes := make([]int, children)
	outputs := make([][]byte, children)
	var wg sync.WaitGroup
	for i := range children {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestProcessesRace$")
			cmd.Env = append(os.Environ(), childPathEnv+"="+path, fmt.Sprintf("%s=child-%d", childActorEnv, i))
			outputs[i], _ = cmd.CombinedOutput()
			codes[i] = cmd.ProcessState.ExitCode()
		})
	}
	wg.Wait()
	winner := -1
	for i, code := range codes {
		switch code {
		case 0:
			if winner >= 0 {
				t.Errorf("children %d and %d both wrote the action", winner, i)
			}
			winner = i
		case exitExists:
		default:
			t.Errorf("child %d exited %d: %s", i, code, outputs[i])
		}
	}
	if winner < 0 {
		t.Fatalf("no child wrote the action: %v", codes)
	}
	j := open(t, path)
	defer j.Close()
	got, err := j.Get(context.Background(), "01JPAAAAAAAAAAAAAAAAAAAAZ1")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("child-%d", winner); got.Actor != want {
		t.Errorf("stored actor %q, want the winner %q", got.Actor, want)
	}
}

func child(path, actor string) int {
	ctx := context.Background()
	j, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer j.Close()
	err = j.Begin(ctx, journal.Entry{
		ActionID: "01JPAAAAAAAAAAAAAAAAAAAAZ1", AccountID: "111122223333",
		Kind: journal.KindDisableConsole, Principal: "alice", Actor: actor,
		CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	switch {
	case errors.Is(err, journal.ErrExists):
		return exitExists
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// Handles opened at once on a new file all succeed and migrate it once.
func TestConcurrentOpenOfNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	const n = 6
	errs := make([]error, n)
	handles := make([]*sqlite.Journal, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { handles[i], errs[i] = sqlite.Open(context.Background(), path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		handles[i].Close()
	}
	var version int
	if err := rawDB(t, path).QueryRow(`PRAGMA user_version`).Scan(&version); err != nil || version != sqlite.SchemaVersion {
		t.Errorf("user_version = %d, %v; want %d", version, err, sqlite.SchemaVersion)
	}
}
