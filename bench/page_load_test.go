package bench

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// pageTimes is how long headless Chromium takes to open a page.
type pageTimes struct {
	// Ready is from the navigation until the document is parsed and the page's script has run
	// (DOMContentLoaded, from the browser's navigation timing).
	Ready time.Duration
	// Load is from the navigation until the load event, the page laid out after its script
	// has changed it, as the benchmark sees it.
	Load time.Duration
}

// pageLoad opens the page at path in a headless Chromium already started on a blank tab. ok is
// false without chromium on PATH.
func pageLoad(b *testing.B, path string) (t pageTimes, ok bool) {
	b.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		return t, false
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900), chromedp.UserDataDir(b.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		b.Fatalf("start chromium: %v", err)
	}
	u := (&url.URL{Scheme: "file", Path: path}).String()
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		b.Fatalf("load %s: %v", u, err)
	}
	ran, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('filters').hidden === false`))
	t.Load = time.Since(start)
	if err != nil || !ran {
		b.Fatalf("the page's script did not run (%v)", err)
	}
	ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd`))
	if err != nil {
		b.Fatal(err)
	}
	t.Ready = time.Duration(ms * float64(time.Millisecond))
	return t, true
}

// writePage writes page to a file in a temporary directory and returns its path.
func writePage(b *testing.B, page []byte) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "report.html")
	if err := os.WriteFile(path, page, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}
