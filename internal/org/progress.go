package org

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

// ProgressWriter draws a fan-out's progress as one line of a terminal, rewritten in place,
// once the run has lasted ProgressAfter: "accounts 37/200, 2 failed, about 1m20s left". Given
// anything but a terminal it writes nothing, so logs and pipes never see it. Its Update is a
// Fanout.Progress.
type ProgressWriter struct{ *progress.Line }

// NewProgressWriter starts the run's clock; terminal says whether w is one.
func NewProgressWriter(w io.Writer, terminal bool, now func() time.Time) *ProgressWriter {
	return &ProgressWriter{progress.NewLine(w, terminal, now)}
}

// Update shows pr.
func (p *ProgressWriter) Update(pr Progress) {
	p.Draw(pr.Done >= pr.Total, func() string {
		line := fmt.Sprintf("accounts %d/%d", pr.Done, pr.Total)
		if pr.Failed > 0 {
			line += fmt.Sprintf(", %d failed", pr.Failed)
		}
		if pr.Done > 0 && pr.Done < pr.Total {
			line += ", about " + roughly(pr.Remaining) + " left"
		}
		return line
	})
}

// roughly formats an estimate: seconds under a minute, tens of seconds under ten minutes,
// minutes above ("45s", "1m20s", "12m", "1h5m").
func roughly(d time.Duration) string {
	d = max(d.Round(time.Second), time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	if d < 10*time.Minute {
		d = d.Round(10 * time.Second)
		if s := d % time.Minute; s != 0 {
			return fmt.Sprintf("%dm%ds", d/time.Minute, s/time.Second)
		}
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	d = d.Round(time.Minute)
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	default:
		return fmt.Sprintf("%dh%dm", h, m)
	}
}
