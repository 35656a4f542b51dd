// Package warden holds iamwarden's use cases: audit an account, enforce on it, judge or enforce
// on one user. The CLI and the Lambda are two doors into it: they translate flags or events into
// these calls and results into output, and hold no decision of their own.
//
// A Warden is built over injected AWS clients, settings, a journal, a clock and a logger, so
// each use case runs the same pipeline whichever door called it: read (live, re-read just before
// acting), judge with the rules, plan, and apply through remediate.Executor with its guards.
package warden

import (
	"log/slog"
	"sync"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/journal"
)

// Warden runs the use cases against one account.
type Warden struct {
	Clients  *Clients
	Settings *Settings
	// Journal records and deduplicates changes and notifications; nil for read-only use.
	Journal journal.Journal
	Now     func() time.Time
	Log     *slog.Logger

	once sync.Once
	ld   *inventory.Loader
}

func (w *Warden) now() time.Time {
	if w.Now == nil {
		return time.Now()
	}
	return w.Now()
}

func (w *Warden) log() *slog.Logger {
	if w.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Log
}

func (w *Warden) clock() func() time.Time { return w.now }
