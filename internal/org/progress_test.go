package org_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/org"
)

func TestProgressWriter(t *testing.T) {
	at := func(done, failed int, remaining time.Duration) org.Progress {
		return org.Progress{Done: done, Total: 200, Failed: failed, Remaining: remaining}
	}
	for _, tc := range []struct {
		name     string
		terminal bool
		run      func(p *org.ProgressWriter, c *fakeClock)
		want     string
	}{
		{"short run: nothing", true, func(p *org.ProgressWriter, c *fakeClock) {
			c.advance(org.ProgressAfter - time.Millisecond)
			p.Update(at(1, 0, time.Minute))
			p.Finish()
		}, ""},
		{"long run: drawn, throttled, the end always drawn, cleared", true, func(p *org.ProgressWriter, c *fakeClock) {
			c.advance(org.ProgressAfter)
			p.Update(at(0, 0, 0))
			c.advance(org.ProgressEvery)
			p.Update(at(37, 2, 80*time.Second))
			p.Update(at(38, 2, 79*time.Second)) // too soon after the last draw
			c.advance(org.ProgressEvery)
			p.Update(at(150, 0, 14*time.Minute+40*time.Second))
			c.advance(org.ProgressEvery)
			p.Update(at(151, 0, 2*time.Hour+4*time.Minute))
			c.advance(org.ProgressEvery)
			p.Update(at(199, 3, 400*time.Millisecond))
			p.Update(at(200, 3, 0))
			p.Finish()
		}, "\r\x1b[Kaccounts 0/200" +
			"\r\x1b[Kaccounts 37/200, 2 failed, about 1m20s left" +
			"\r\x1b[Kaccounts 150/200, about 15m left" +
			"\r\x1b[Kaccounts 151/200, about 2h4m left" +
			"\r\x1b[Kaccounts 199/200, 3 failed, about 1s left" +
			"\r\x1b[Kaccounts 200/200, 3 failed" +
			"\r\x1b[K"},
		{"estimates", true, func(p *org.ProgressWriter, c *fakeClock) {
			for _, d := range []time.Duration{45 * time.Second, 59600 * time.Millisecond, 3*time.Minute + 4*time.Second, 2 * time.Hour} {
				c.advance(org.ProgressAfter)
				p.Update(at(1, 0, d))
			}
		}, "\r\x1b[Kaccounts 1/200, about 45s left" +
			"\r\x1b[Kaccounts 1/200, about 1m left" +
			"\r\x1b[Kaccounts 1/200, about 3m left" +
			"\r\x1b[Kaccounts 1/200, about 2h left"},
		{"not a terminal: nothing however long", false, func(p *org.ProgressWriter, c *fakeClock) {
			c.advance(time.Hour)
			p.Update(at(1, 1, time.Minute))
			p.Finish()
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			c := &fakeClock{}
			p := org.NewProgressWriter(&out, tc.terminal, c.now)
			tc.run(p, c)
			if out.String() != tc.want {
				t.Errorf("wrote %q\nwant  %q", out.String(), tc.want)
			}
		})
	}
}
