package scan

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Defaults of ProgressWriter.
const (
	// ProgressAfter is how long a run lasts before progress is drawn: short runs stay quiet.
	ProgressAfter = 2 * time.Second
	// ProgressEvery bounds how often the line is redrawn.
	ProgressEvery = 250 * time.Millisecond
)

// ProgressWriter draws the per-user lookups' progress as one line of a terminal, rewritten in
// place, once the run has lasted ProgressAfter. Given anything but a terminal it writes nothing,
// so logs and pipes never see it. Its Update is an Options.Progress.
type ProgressWriter struct {
	w        io.Writer
	terminal bool
	now      func() time.Time
	start    time.Time

	mu    sync.Mutex
	last  time.Time
	drawn bool
}

// NewProgressWriter starts the run's clock; terminal says whether w is one.
func NewProgressWriter(w io.Writer, terminal bool, now func() time.Time) *ProgressWriter {
	return &ProgressWriter{w: w, terminal: terminal, now: now, start: now()}
}

// Update shows that done of total lookups of step are done.
func (p *ProgressWriter) Update(step Step, done, total int) {
	if !p.terminal {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.now()
	if t.Sub(p.start) < ProgressAfter || (p.drawn && done < total && t.Sub(p.last) < ProgressEvery) {
		return
	}
	p.last, p.drawn = t, true
	fmt.Fprintf(p.w, "\r\x1b[Kreading %s: %d/%d users (%d%%)", step, done, total, done*100/max(total, 1))
}

// Finish clears the line, if one was drawn.
func (p *ProgressWriter) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}
