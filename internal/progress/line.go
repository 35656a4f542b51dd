// Package progress draws a long run's progress as one line of a terminal, rewritten in place.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Defaults of Line.
const (
	// After is how long a run lasts before progress is drawn: short runs stay quiet.
	After = 2 * time.Second
	// Every bounds how often the line is redrawn.
	Every = 250 * time.Millisecond
)

// Line is one progress line. Given anything but a terminal it writes nothing, so logs and
// pipes never see it. It is safe for concurrent use.
type Line struct {
	w        io.Writer
	terminal bool
	now      func() time.Time
	start    time.Time

	mu    sync.Mutex
	last  time.Time
	drawn bool
}

// NewLine starts the run's clock; terminal says whether w is one.
func NewLine(w io.Writer, terminal bool, now func() time.Time) *Line {
	return &Line{w: w, terminal: terminal, now: now, start: now()}
}

// Draw rewrites the line with text(), once the run has lasted After and at most every Every
// (a final state is always drawn).
func (l *Line) Draw(final bool, text func() string) {
	if !l.terminal {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	if t.Sub(l.start) < After || (l.drawn && !final && t.Sub(l.last) < Every) {
		return
	}
	l.last, l.drawn = t, true
	fmt.Fprint(l.w, "\r\x1b[K"+text())
}

// Finish clears the line, if one was drawn.
func (l *Line) Finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drawn {
		fmt.Fprint(l.w, "\r\x1b[K")
		l.drawn = false
	}
}
