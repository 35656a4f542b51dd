package htmlreport_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/iamwarden/iamwarden/internal/report/htmlreport"
)

const (
	userRows     = `Array.from(document.querySelectorAll('#users tbody tr[data-index]'))`
	shownUsers   = userRows + `.filter(r => r.offsetParent !== null).map(r => r.cells[1].textContent)`
	openSections = `Array.from(document.querySelectorAll('#users tr.more article.user'))`
	// articles is every user's findings section, by the ID of its heading, as HTML.
	articles = `Object.fromEntries(Array.from(document.querySelectorAll('article.user')).map(a => [a.querySelector('h3').id, a.innerHTML]))`
)

func button(user string) string {
	return fmt.Sprintf(`%s.find(r => r.cells[1].textContent === %q).querySelector('button.more')`, userRows, user)
}

// The page past its threshold shows a user's findings when asked, as the page under it shows
// them all: the same markup, built from the data.
func TestOnDemandPageInChromium(t *testing.T) {
	var inline, page bytes.Buffer
	if err := htmlreport.Write(&inline, demoInput(t)); err != nil {
		t.Fatal(err)
	}
	if err := htmlreport.Write(&page, onDemand(t)); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	inlineURL := b.open(t, inline.Bytes())
	want := eval[map[string]string](t, b, articles)
	if len(want) != 18 {
		t.Fatalf("the inline page has %d user sections, want 18", len(want))
	}

	pageURL := b.open(t, page.Bytes())
	waitFor(t, b, `!document.getElementById('filters').hidden`)
	if n := eval[int](t, b, `document.querySelectorAll('article.user').length`); n != 0 {
		t.Errorf("%d user sections before any is asked for", n)
	}
	if n := eval[int](t, b, `document.querySelectorAll('#users tbody button.more[aria-expanded="false"]').length`); n != 18 {
		t.Errorf("%d Findings buttons, want one a user", n)
	}

	t.Run("keyboard", func(t *testing.T) {
		eval[bool](t, b, `(() => { `+button("gustavo.silva")+`.focus(); return true })()`)
		do(t, b, "tab", chromedp.KeyEvent(kb.Tab))
		if !eval[bool](t, b, `document.activeElement === `+button("hana.sato")) {
			t.Fatalf("tab from gustavo.silva's button reaches %s", eval[string](t, b, `document.activeElement.outerHTML.slice(0, 120)`))
		}
		if s := eval[string](t, b, `getComputedStyle(document.activeElement).outlineStyle`); s != "solid" {
			t.Errorf("the focused button's outline is %q, want a visible one", s)
		}
		do(t, b, "enter", chromedp.KeyEvent(kb.Enter))
		waitFor(t, b, button("hana.sato")+`.getAttribute('aria-expanded') === 'true'`)
		ctl := eval[string](t, b, button("hana.sato")+`.getAttribute('aria-controls')`)
		sec := fmt.Sprintf(`document.getElementById(%q)`, ctl)
		if got := eval[string](t, b, sec+`.textContent`); !strings.Contains(got, "AKIA…XPSV") || !strings.Contains(got, "threshold_days90") {
			t.Errorf("hana.sato's findings: %q", got)
		}
		// The row of the findings follows the user's.
		if !eval[bool](t, b, sec+`.previousElementSibling.contains(`+button("hana.sato")+`)`) {
			t.Error("the findings are not under the user's row")
		}
		do(t, b, "space", chromedp.KeyEvent(" "))
		waitFor(t, b, button("hana.sato")+`.getAttribute('aria-expanded') === 'false'`)
		if eval[bool](t, b, sec+` !== null`) {
			t.Error("closed findings are still on the page")
		}
		do(t, b, "enter", chromedp.KeyEvent(kb.Enter))
		waitFor(t, b, button("hana.sato")+`.getAttribute('aria-expanded') === 'true'`)
	})

	t.Run("click", func(t *testing.T) {
		do(t, b, "click", chromedp.Click(chromedp.CSS(`#u9 button.more`)))
		waitFor(t, b, `document.querySelector('#u9 button.more').getAttribute('aria-expanded') === 'true'`)
		got := eval[string](t, b, `document.getElementById('u9-f').textContent`)
		for _, s := range []string{"fatima.rahman in 123456789012 (acme-prod)", "Deadline: 2026-11-21 03:00 UTC (in 18 hours)", "password_set_sourcelogin_profile_created"} {
			if !strings.Contains(got, s) {
				t.Errorf("fatima.rahman's findings lack %q: %q", s, got)
			}
		}
	})

	t.Run("the same as the inline page", func(t *testing.T) {
		eval[bool](t, b, `(() => { document.querySelectorAll('#users button.more[aria-expanded="false"]').forEach(b => b.click()); return true })()`)
		got := eval[map[string]string](t, b, articles)
		for id, html := range want {
			if got[id] != html {
				t.Errorf("%s differs from the inline page's:\n got %s\nwant %s", id, got[id], html)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d sections, want %d", len(got), len(want))
		}
	})

	t.Run("filter and sort", func(t *testing.T) {
		do(t, b, "type", chromedp.SendKeys(chromedp.CSS("#f-text"), "fatima"))
		waitFor(t, b, shownUsers+`.length === 1`)
		if got := eval[[]string](t, b, shownUsers); !slices.Equal(got, []string{"fatima.rahman"}) {
			t.Errorf("filter fatima shows %q", got)
		}
		if n := eval[int](t, b, openSections+`.filter(a => a.offsetParent !== null).length`); n != 1 {
			t.Errorf("%d findings sections shown, want fatima.rahman's", n)
		}
		do(t, b, "clear", clearText)
		waitFor(t, b, shownUsers+`.length === 18`)
		do(t, b, "sort by findings", chromedp.Click(chromedp.CSS(`#users thead button[data-col="2"]`)))
		waitFor(t, b, `document.querySelector('#users thead th:nth-child(3)').getAttribute('aria-sort') === 'ascending'`)
		counts := eval[[]int](t, b, userRows+`.map(r => parseInt(r.cells[2].textContent))`)
		if !slices.IsSorted(counts) {
			t.Errorf("findings ascending: %v", counts)
		}
		if !eval[bool](t, b, userRows+`.every(r => r.nextElementSibling && r.nextElementSibling.id === r.id + '-f')`) {
			t.Error("after sorting, a user's findings are not under the user's row")
		}
	})

	t.Run("a link to a user opens the findings", func(t *testing.T) {
		do(t, b, "reload", chromedp.Reload())
		waitFor(t, b, `!document.getElementById('filters').hidden`)
		do(t, b, "click the exemption's user", chromedp.Click(chromedp.CSS(`#exemptions tbody a`)))
		target := eval[string](t, b, `document.querySelector('#exemptions tbody a').getAttribute('href').slice(1)`)
		waitFor(t, b, fmt.Sprintf(`document.getElementById(%q) !== null && location.hash === '#%s'`, target+"-f", target))
	})

	t.Run("print", func(t *testing.T) {
		do(t, b, "print media", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
			return err
		}))
		if d := eval[string](t, b, `getComputedStyle(document.querySelector('#users button.more')).display`); d != "none" {
			t.Errorf("printed buttons: display %s", d)
		}
		if d := eval[string](t, b, `getComputedStyle(document.querySelector('#findings .note')).display`); d == "none" {
			t.Error("the note on the findings is not printed")
		}
		do(t, b, "screen media", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
			return err
		}))
	})

	t.Run("without JavaScript", func(t *testing.T) {
		b := newBrowser(t)
		do(t, b, "disable scripts", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
		b.open(t, page.Bytes())
		if n := eval[int](t, b, shownUsers+`.length`); n != 18 {
			t.Errorf("%d users shown, want 18", n)
		}
		note := eval[string](t, b, `document.querySelector('#findings .note').innerText`)
		if !strings.Contains(note, "36 findings of its 18 users") || !strings.Contains(note, "iamwarden scan -o csv") {
			t.Errorf("the findings section says %q", note)
		}
		if n := eval[int](t, b, `document.querySelectorAll('button.more').length`); n != 0 {
			t.Errorf("%d buttons that cannot work", n)
		}
	})

	requests, problems := b.seen()
	for _, p := range problems {
		t.Errorf("page reported: %s", p) // console errors, exceptions, policy violations
	}
	for _, r := range requests {
		if r != pageURL && r != inlineURL {
			t.Errorf("page requested %s", r)
		}
	}
	if failed := b.failed(); len(failed) > 0 {
		t.Errorf("failed requests: %q", failed)
	}
}
