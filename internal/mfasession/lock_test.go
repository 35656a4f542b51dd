package mfasession

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// A caller waiting for another's lock gives up when its context is done.
func TestLockWaitEndsWithTheContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "entry.lock")
	unlock, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lockFile(ctx, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("while the lock is held: %v, want context.Canceled", err)
	}
	unlock()
	again, err := lockFile(ctx, path)
	if err != nil {
		t.Fatalf("once released, even a done context takes a free lock at once: %v", err)
	}
	again()
}
