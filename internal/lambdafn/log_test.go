package lambdafn_test

import (
	"bytes"
	"log/slog"
	"sync"
)

// logBuffer holds the function's log lines; the scan logs from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger(w *logBuffer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }
