package scan_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/scan"
)

// clock is a fake clock moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestProgressWriter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terminal bool
		run      func(p *scan.ProgressWriter, c *clock)
		want     string
	}{
		{"short run: nothing", true, func(p *scan.ProgressWriter, c *clock) {
			c.t = c.t.Add(scan.ProgressAfter - time.Millisecond)
			p.Update(scan.StepAccessKeys, 1, 2)
			p.Update(scan.StepAccessKeys, 2, 2)
			p.Finish()
		}, ""},
		{"long run: drawn, throttled, last state shown, cleared", true, func(p *scan.ProgressWriter, c *clock) {
			c.t = c.t.Add(scan.ProgressAfter)
			p.Update(scan.StepAccessKeys, 1, 4)
			p.Update(scan.StepAccessKeys, 2, 4) // too soon after the last draw
			c.t = c.t.Add(scan.ProgressEvery)
			p.Update(scan.StepAccessKeys, 3, 4)
			p.Update(scan.StepAccessKeys, 4, 4) // the step's end is always drawn
			p.Finish()
		}, "\r\x1b[Kreading access keys: 1/4 users (25%)" +
			"\r\x1b[Kreading access keys: 3/4 users (75%)" +
			"\r\x1b[Kreading access keys: 4/4 users (100%)" +
			"\r\x1b[K"},
		{"not a terminal: nothing however long", false, func(p *scan.ProgressWriter, c *clock) {
			c.t = c.t.Add(time.Hour)
			p.Update(scan.StepLoginProfiles, 1, 1)
			p.Finish()
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			c := &clock{t: readAt}
			p := scan.NewProgressWriter(&out, tc.terminal, c.now)
			tc.run(p, c)
			if out.String() != tc.want {
				t.Errorf("wrote %q\nwant  %q", out.String(), tc.want)
			}
		})
	}
}
