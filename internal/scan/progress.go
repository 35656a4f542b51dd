package scan

import (
	"fmt"
	"io"
	"time"

	"github.com/iamwarden/iamwarden/internal/progress"
)

// Defaults of ProgressWriter.
const (
	ProgressAfter = progress.After
	ProgressEvery = progress.Every
)

// ProgressWriter draws the per-user lookups' progress as one line of a terminal, rewritten in
// place, once the run has lasted ProgressAfter. Given anything but a terminal it writes nothing,
// so logs and pipes never see it. Its Update is an Options.Progress.
type ProgressWriter struct{ *progress.Line }

// NewProgressWriter starts the run's clock; terminal says whether w is one.
func NewProgressWriter(w io.Writer, terminal bool, now func() time.Time) *ProgressWriter {
	return &ProgressWriter{progress.NewLine(w, terminal, now)}
}

// Update shows that done of total lookups of step are done.
func (p *ProgressWriter) Update(step Step, done, total int) {
	p.Draw(done >= total, func() string {
		return fmt.Sprintf("reading %s: %d/%d users (%d%%)", step, done, total, done*100/max(total, 1))
	})
}
