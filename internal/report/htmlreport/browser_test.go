package htmlreport_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/iamwarden/iamwarden/internal/report/htmlreport"
)

var update = flag.Bool("update", false, "rewrite the reference screenshots in testdata")

// chromium is the browser the page is tested in. Without it the test is skipped, except in CI
// (CI or IAMWARDEN_REQUIRE_CHROMIUM=1), where it fails: the page must not go untested there.
func chromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err == nil {
		return p
	}
	const install = "apt-get install -y chromium"
	if chromiumRequired(os.Getenv) {
		t.Fatalf("chromium not found (%v): %s (CI or IAMWARDEN_REQUIRE_CHROMIUM=1 is set: the browser test cannot be skipped)", err, install)
	}
	t.Skipf("chromium not found (%v): %s", err, install)
	return ""
}

// chromiumRequired says whether a missing browser fails the test rather than skips it.
func chromiumRequired(getenv func(string) string) bool {
	return getenv("CI") != "" || getenv("IAMWARDEN_REQUIRE_CHROMIUM") == "1"
}

func TestChromiumRequiredInCI(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"CI": "true"}, true},
		{map[string]string{"IAMWARDEN_REQUIRE_CHROMIUM": "1"}, true},
		{map[string]string{"IAMWARDEN_REQUIRE_CHROMIUM": "0"}, false},
	} {
		if got := chromiumRequired(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("%v: required %v, want %v", c.env, got, c.want)
		}
	}
}

// browser starts a headless Chromium on a new tab and records what the page does: requests,
// console messages and exceptions.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	requests []string
	ids      map[network.RequestID]string
	blocked  []string // URL: reason
	problems []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.Headless,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900), chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-device-scale-factor", "1"), chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx, ids: map[network.RequestID]string{}}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev.Request.URL)
			b.ids[ev.RequestID] = ev.Request.URL
		case *network.EventLoadingFailed:
			b.blocked = append(b.blocked, b.ids[ev.RequestID]+": "+string(ev.BlockedReason))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			desc := ""
			if d.Exception != nil {
				desc = d.Exception.Description
			}
			b.problems = append(b.problems, fmt.Sprintf("exception: %s %s (line %d)", d.Text, desc, d.LineNumber))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				b.problems = append(b.problems, fmt.Sprintf("log %s %s: %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text))
			}
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

func (b *browser) seen() (requests, problems []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.requests), slices.Clone(b.problems)
}

func (b *browser) failed() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.blocked)
}

// open writes the page to a file and loads it.
func (b *browser) open(t *testing.T, html []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, html, 0o644); err != nil {
		t.Fatal(err)
	}
	u := (&url.URL{Scheme: "file", Path: path}).String()
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatalf("load %s: %v", u, err)
	}
	return u
}

func eval[T any](t *testing.T, b *browser, js string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

func do(t *testing.T, b *browser, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitFor waits until the expression is true in the page, checking at each animation frame.
// (chromedp's Poll builds its predicate with new Function, which the page's policy forbids.)
func waitFor(t *testing.T, b *browser, js string) {
	t.Helper()
	wait := `new Promise(resolve => { const end = performance.now() + 10000; (function check() {
		if (` + js + `) { resolve(true) } else if (performance.now() > end) { resolve(false) } else { requestAnimationFrame(check) } })() })`
	if !eval[bool](t, b, wait, chromedp.EvalAwaitPromise) {
		t.Fatalf("timed out waiting for %s (filter %q, status %q)", js, eval[string](t, b, `document.getElementById('f-text').value`),
			eval[string](t, b, `document.getElementById('f-status').textContent`))
	}
}

const visibleUsers = `Array.from(document.querySelectorAll('#users tbody tr')).filter(r => r.offsetParent !== null).map(r => r.querySelector('th').textContent)`

// clearText empties the filter as a user would, the page hearing the input.
var clearText = chromedp.Evaluate[chromedp.Void](`(() => { const f = document.getElementById('f-text'); f.select(); document.execCommand('delete') })()`)

func setSelect(id, value string) string {
	return fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, id, value)
}

func TestPageInChromium(t *testing.T) {
	var page bytes.Buffer
	if err := htmlreport.Write(&page, demoInput(t)); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	pageURL := b.open(t, page.Bytes())
	waitFor(t, b, `!document.getElementById('filters').hidden`)
	all := eval[[]string](t, b, visibleUsers)
	if len(all) < 15 || !slices.Contains(all, "fatima.rahman") {
		t.Fatalf("users shown before filtering: %q", all)
	}

	t.Run("text filter", func(t *testing.T) {
		do(t, b, "type", chromedp.SendKeys(chromedp.CSS("#f-text"), "fatima"))
		waitFor(t, b, visibleUsers+`.length === 1`)
		if got := eval[[]string](t, b, visibleUsers); !slices.Equal(got, []string{"fatima.rahman"}) {
			t.Errorf("filter fatima shows %q", got)
		}
		if got := eval[string](t, b, `document.getElementById('f-status').textContent`); got != fmt.Sprintf("1 of %d users shown", len(all)) {
			t.Errorf("status says %q", got)
		}
		// The user's findings section hides with the others'.
		if n := eval[int](t, b, `Array.from(document.querySelectorAll('article.user')).filter(a => a.offsetParent !== null).length`); n != 1 {
			t.Errorf("%d findings sections shown, want 1", n)
		}
		// A key is found by the end of its masked ID.
		do(t, b, "clear", clearText, chromedp.SendKeys(chromedp.CSS("#f-text"), "xpsv"))
		waitFor(t, b, visibleUsers+`.length === 1`)
		if got := eval[[]string](t, b, visibleUsers); !slices.Equal(got, []string{"hana.sato"}) {
			t.Errorf("filter xpsv shows %q", got)
		}
		do(t, b, "clear", clearText)
		waitFor(t, b, visibleUsers+fmt.Sprintf(`.length === %d`, len(all)))
	})

	t.Run("select filters", func(t *testing.T) {
		eval[bool](t, b, setSelect("f-state", "exempt"))
		waitFor(t, b, visibleUsers+`.length === 1`)
		if got := eval[[]string](t, b, visibleUsers); !slices.Equal(got, []string{"breakglass-admin"}) {
			t.Errorf("state exempt shows %q", got)
		}
		eval[bool](t, b, setSelect("f-state", ""))
		eval[bool](t, b, setSelect("f-severity", "critical"))
		waitFor(t, b, visibleUsers+`.length === 1`)
		if got := eval[[]string](t, b, visibleUsers); !slices.Equal(got, []string{"<root_account>"}) {
			t.Errorf("severity critical shows %q", got)
		}
		eval[bool](t, b, setSelect("f-severity", ""))
		eval[bool](t, b, setSelect("f-account", "999988887777"))
		waitFor(t, b, visibleUsers+`.length === 0`)
		eval[bool](t, b, setSelect("f-account", ""))
		waitFor(t, b, visibleUsers+fmt.Sprintf(`.length === %d`, len(all)))
	})

	t.Run("sort", func(t *testing.T) {
		counts := `Array.from(document.querySelectorAll('#users tbody tr')).map(r => Number(r.cells[2].textContent))`
		do(t, b, "click Findings", chromedp.Click(chromedp.CSS(`#users thead button[data-col="2"]`)))
		waitFor(t, b, `document.querySelector('#users thead th:nth-child(3)').getAttribute('aria-sort') === 'ascending'`)
		if got := eval[[]int](t, b, counts); !slices.IsSorted(got) {
			t.Errorf("findings ascending: %v", got)
		}
		do(t, b, "click Findings again", chromedp.Click(chromedp.CSS(`#users thead button[data-col="2"]`)))
		waitFor(t, b, `document.querySelector('#users thead th:nth-child(3)').getAttribute('aria-sort') === 'descending'`)
		got := eval[[]int](t, b, counts)
		if !slices.IsSortedFunc(got, func(a, b int) int { return b - a }) {
			t.Errorf("findings descending: %v", got)
		}
		// Ties keep the page's order, by name.
		if first := eval[[]string](t, b, visibleUsers)[:2]; !slices.Equal(first, []string{"breakglass-admin", "terraform-ci"}) {
			t.Errorf("most findings: %q, want breakglass-admin and terraform-ci (%v)", first, got)
		}
		if n := eval[int](t, b, `document.querySelectorAll('#users thead th[aria-sort]').length`); n != 1 {
			t.Errorf("%d columns claim a sort order", n)
		}
	})

	t.Run("keyboard", func(t *testing.T) {
		do(t, b, "reload", chromedp.Reload())
		waitFor(t, b, `!document.getElementById('filters').hidden`)
		do(t, b, "tab", chromedp.KeyEvent(kb.Tab))
		if got := eval[string](t, b, `document.activeElement.className`); got != "skip" {
			t.Errorf("the first tab stop is %q, want the skip link", got)
		}
		onSort := `document.activeElement.matches('#users thead button')`
		tabs := 1
		for ; tabs < 400 && !eval[bool](t, b, onSort); tabs++ {
			do(t, b, "tab", chromedp.KeyEvent(kb.Tab))
		}
		if !eval[bool](t, b, onSort) {
			t.Fatalf("no sort button reached in %d tabs; focus on %s", tabs, eval[string](t, b, `document.activeElement.outerHTML.slice(0, 80)`))
		}
		if s := eval[string](t, b, `getComputedStyle(document.activeElement).outlineStyle`); s != "solid" {
			t.Errorf("the focused sort button's outline is %q, want a visible one", s)
		}
		col := eval[string](t, b, `document.activeElement.dataset.col`)
		do(t, b, "enter", chromedp.KeyEvent(kb.Enter))
		waitFor(t, b, fmt.Sprintf(`document.querySelector('#users thead button[data-col="%s"]').parentNode.getAttribute('aria-sort') === 'ascending'`, col))
		t.Logf("sort button reached after %d tabs", tabs)
	})

	t.Run("print shows every row", func(t *testing.T) {
		do(t, b, "filter", chromedp.SendKeys(chromedp.CSS("#f-text"), "fatima"))
		waitFor(t, b, visibleUsers+`.length === 1`)
		do(t, b, "print media", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
			return err
		}))
		if n := eval[int](t, b, visibleUsers+`.length`); n != len(all) {
			t.Errorf("printed: %d rows, want %d", n, len(all))
		}
		if d := eval[string](t, b, `getComputedStyle(document.getElementById('filters')).display`); d != "none" {
			t.Errorf("printed filters: display %s", d)
		}
		do(t, b, "screen media", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
			return err
		}), clearText)
		waitFor(t, b, visibleUsers+fmt.Sprintf(`.length === %d`, len(all)))
	})

	t.Run("screenshots", func(t *testing.T) {
		b := newBrowser(t) // a fresh page, unsorted and unscrolled
		b.open(t, page.Bytes())
		waitFor(t, b, `!document.getElementById('filters').hidden`)
		shot := func(name string) {
			img, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			compareScreenshot(t, name, img)
		}
		shot("laptop")
		eval[bool](t, b, `(() => { document.getElementById('trend').scrollIntoView(); return true })()`)
		waitFor(t, b, `window.scrollY > 0`)
		shot("laptop-charts")
		eval[bool](t, b, `(() => { window.scrollTo(0, 0); return true })()`)
		do(t, b, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		waitFor(t, b, `window.innerWidth === 390`)
		if w := eval[[]int](t, b, `[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]`); w[0] > w[2] || w[1] > w[2] {
			t.Errorf("phone: the page is wider than the screen: scroll widths %d and %d, screen %d", w[0], w[1], w[2])
		}
		shot("phone")
		requests, problems := b.seen()
		if len(problems) > 0 || len(requests) != 1 {
			t.Errorf("fresh page: requests %q, problems %q", requests, problems)
		}
	})

	t.Run("without JavaScript", func(t *testing.T) {
		b := newBrowser(t)
		do(t, b, "disable scripts", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
		b.open(t, page.Bytes())
		if n := eval[int](t, b, visibleUsers+`.length`); n != len(all) {
			t.Errorf("%d users shown, want all %d", n, len(all))
		}
		if d := eval[string](t, b, `getComputedStyle(document.getElementById('filters')).display`); d != "none" {
			t.Errorf("filters that cannot work are shown: display %s", d)
		}
		if n := eval[int](t, b, `document.querySelectorAll('svg.chart polyline').length`); n == 0 {
			t.Error("no chart drawn")
		}
	})

	requests, problems := b.seen()
	for _, p := range problems {
		t.Errorf("page reported: %s", p)
	}
	for _, r := range requests {
		if r != pageURL {
			t.Errorf("page requested %s", r)
		}
	}
	if len(requests) == 0 {
		t.Error("no request seen, not even the page's")
	}
}

// A script the policy does not name is refused, and the refusal is seen: the test above would
// notice a page whose policy and blocks disagree.
func TestChromiumEnforcesThePolicy(t *testing.T) {
	var page bytes.Buffer
	if err := htmlreport.Write(&page, demoInput(t)); err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(page.String(), "'use strict';", "'use strict'; window.tampered = true;", 1)
	tampered = strings.Replace(tampered, "</main>", `<img src="https://example.com/pixel.png" alt=""></main>`, 1)
	b := newBrowser(t)
	b.open(t, []byte(tampered))
	if eval[bool](t, b, `document.getElementById('filters').hidden === false || window.tampered === true`) {
		t.Error("a script the policy does not name ran")
	}
	waitFor(t, b, `document.readyState === 'complete'`)
	_, problems := b.seen()
	if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "Content Security Policy") }) {
		t.Errorf("no policy violation reported: %q", problems)
	}
	if blocked := b.failed(); !slices.Contains(blocked, "https://example.com/pixel.png: csp") {
		t.Errorf("the image was not blocked by the policy: failed requests %q", blocked)
	}
}

// compareScreenshot compares a screenshot loosely with its reference: both reduced to 64 pixels
// wide in grey, the mean difference per pixel under 8 of 255. Fonts and
// antialiasing differ between machines; a broken layout differs far more.
func compareScreenshot(t *testing.T, name string, shot []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("%s screenshot: %v", name, err)
	}
	ref := filepath.Join("testdata", "screenshot-"+name+".png")
	if *update {
		var buf bytes.Buffer
		// Reduced by a whole factor, to about 320 pixels wide: the 64 pixels compared are then
		// made alike from the reference and from a screenshot.
		if err := png.Encode(&buf, grey(img, img.Bounds().Dx()/max(1, img.Bounds().Dx()/320))); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ref, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", ref)
		return
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		t.Fatalf("%v (go test -run TestPageInChromium -update writes it)", err)
	}
	want, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	diff, err := difference(img, want)
	if err != nil {
		keep(t, name, shot)
		t.Fatalf("%s screenshot: %v", name, err)
	}
	t.Logf("%s screenshot: mean difference %.2f of 255", name, diff)
	if diff > maxDifference {
		keep(t, name, shot)
		t.Errorf("%s screenshot differs from %s: mean difference %.2f of 255 (go test -run TestPageInChromium -update rewrites it)", name, ref, diff)
	}
}

// maxDifference is the mean difference per pixel, of 255, that two screenshots of the same
// page stay under, whatever fonts the machine has; the page without its style differs by 13.
const maxDifference = 8

// difference is the mean absolute difference of two images reduced to 64 pixels wide in grey.
func difference(x, y image.Image) (float64, error) {
	a, b := grey(x, 64), grey(y, 64)
	if a.Bounds() != b.Bounds() {
		return 0, fmt.Errorf("reduced to %v, the reference to %v", a.Bounds(), b.Bounds())
	}
	var sum float64
	for i := range a.Pix {
		sum += math.Abs(float64(a.Pix[i]) - float64(b.Pix[i]))
	}
	return sum / float64(len(a.Pix)), nil
}

// The loose comparison still sees a page whose style is lost.
func TestScreenshotComparisonSeesABrokenLayout(t *testing.T) {
	var page bytes.Buffer
	if err := htmlreport.Write(&page, demoInput(t)); err != nil {
		t.Fatal(err)
	}
	unstyled := styleRe.ReplaceAllString(page.String(), "<style></style>")
	b := newBrowser(t)
	b.open(t, []byte(unstyled))
	shot, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("testdata", "screenshot-laptop.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	diff, err := difference(img, ref)
	t.Logf("unstyled page: mean difference %.2f of 255", diff)
	if err == nil && diff <= maxDifference {
		t.Errorf("an unstyled page passes for the reference: mean difference %.2f", diff)
	}
}

// keep writes a failing screenshot where it can be looked at: $IAMWARDEN_ARTIFACTS when set,
// else the test's temporary directory.
func keep(t *testing.T, name string, shot []byte) {
	dir := os.Getenv("IAMWARDEN_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	p := filepath.Join(dir, "screenshot-"+name+".png")
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		t.Log(err)
		return
	}
	t.Logf("actual %s screenshot: %s", name, p)
}

// grey reduces img to width pixels wide, in grey, averaging the pixels each one covers.
func grey(img image.Image, width int) *image.Gray {
	r := img.Bounds()
	height := max(1, int(math.Round(float64(r.Dy())*float64(width)/float64(r.Dx()))))
	out := image.NewGray(image.Rect(0, 0, width, height))
	for y := range height {
		y0, y1 := r.Min.Y+y*r.Dy()/height, r.Min.Y+(y+1)*r.Dy()/height
		for x := range width {
			x0, x1 := r.Min.X+x*r.Dx()/width, r.Min.X+(x+1)*r.Dx()/width
			var sum, n float64
			for yy := y0; yy < max(y1, y0+1); yy++ {
				for xx := x0; xx < max(x1, x0+1); xx++ {
					cr, cg, cb, _ := img.At(xx, yy).RGBA()
					sum += (0.299*float64(cr) + 0.587*float64(cg) + 0.114*float64(cb)) / 257
					n++
				}
			}
			out.Pix[y*out.Stride+x] = uint8(math.Round(sum / n))
		}
	}
	return out
}
