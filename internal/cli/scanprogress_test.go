package cli_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/cli"
)

// TestScanProgressNotWrittenToAPipe runs a live scan with per-user lookups whose clock moves an
// hour at every reading, so the run is long, with stderr a pipe: no progress may appear on it.
func TestScanProgressNotWrittenToAPipe(t *testing.T) {
	s := newScenario(t)
	env := s.env(nil)
	var mu sync.Mutex
	at := s.now
	env.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		at = at.Add(time.Hour)
		return at
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&stderr, r)
	}()
	var stdout bytes.Buffer
	env.Stdout, env.Stderr, env.Getenv = &stdout, w, func(string) string { return "" }
	code := cli.Run(context.Background(), []string{"scan", "--stats", "--concurrency", "2"}, env)
	w.Close()
	<-read
	r.Close()
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "iam:ListAccessKeys") || !strings.Contains(stderr.String(), "iam:GetLoginProfile") {
		t.Fatalf("the scan made no per-user lookups to show progress for:\n%s", stderr.String())
	}
	if strings.ContainsAny(stderr.String(), "\r\x1b") || strings.Contains(stderr.String(), "users (") {
		t.Errorf("progress written to a pipe:\n%q", stderr.String())
	}
}

func TestScanConcurrencyMustBePositive(t *testing.T) {
	code, _, stderr := run(t, cli.Env{}, "scan", "--from", "../../examples/demo-account", "--concurrency", "0")
	if code != 2 || !strings.Contains(stderr, "--concurrency must be at least 1") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
