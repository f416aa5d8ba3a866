package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package (make test installs it)
// puts the browser.
const chromiumPath = "/usr/bin/chromium"

// browserTimeout bounds one browser step: a wait for an element, a click.
const browserTimeout = 20 * time.Second

// newBrowser starts headless Chromium with a fresh profile and returns
// its context; every tab opened from it shares the browser. The test
// fails when Chromium is not installed (make test installs it), as the
// Redis tests do without redis-server: a missing part is no pass.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("no Chromium at %s; `make test` installs it (apt-get install chromium): %v", chromiumPath, err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser
		t.Fatalf("cannot start Chromium: %v", err)
	}
	return ctx
}

// tab is one browser tab, with what it saw: every request's URL, the
// bytes received, and script errors.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	urls     []string
	received float64  // encoded bytes of finished loads
	problems []string // exceptions, console errors, CSP violations
}

// newTab opens a tab of the browser with its cache disabled.
func newTab(t *testing.T, browser context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("cannot open a tab: %v", err)
	}
	if err := chromedp.Listen(ctx, tb.event); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return tb
}

func (tb *tab) event(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		tb.urls = append(tb.urls, ev.Request.URL)
	case *network.EventLoadingFinished:
		tb.received += ev.EncodedDataLength
	case *runtime.EventExceptionThrown:
		tb.problems = append(tb.problems, "exception: "+exceptionText(ev.ExceptionDetails))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			tb.problems = append(tb.problems, "console.error: "+strings.Join(parts, " "))
		}
	case *log.EventEntryAdded:
		// A 401 is how the page learns it needs the token: expected.
		if e := ev.Entry; (e.Level == log.EntryLevelError || e.Source == log.EntrySourceSecurity) && !strings.Contains(e.Text, "status of 401") {
			tb.problems = append(tb.problems, fmt.Sprintf("log %s %s: %s (%s)", e.Source, e.Level, e.Text, e.URL))
		}
	}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return ""
	}
	s := d.Text
	if d.Exception != nil {
		s += " " + d.Exception.Description
	}
	return s
}

// resetCounts forgets the bytes counted so far and returns them.
func (tb *tab) resetCounts() float64 {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	n := tb.received
	tb.received = 0
	return n
}

// checkHosts fails the test for a request to any host but host, and for
// any script error the tab saw.
func (tb *tab) check(host string) {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, u := range tb.urls {
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme == "data" {
			continue
		}
		if pu.Host != host {
			tb.t.Errorf("the dashboard requested %s: only the admin listener %s may be asked", u, host)
		}
	}
	if len(tb.urls) == 0 {
		tb.t.Error("the tab saw no request at all: network events are not reaching the test")
	}
	for _, p := range tb.problems {
		tb.t.Errorf("the page reported a problem: %s", p)
	}
	tb.problems = nil
}

// do runs steps within browserTimeout.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) and returns
// its value.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// text returns the text of the first element matching a CSS selector,
// once it is visible.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	tb.do("waiting for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	ctx, cancel := context.WithTimeout(tb.ctx, browserTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

// screenshot saves a full-page PNG (only the viewport unless full) as
// name under $CUTOVER_SCREENSHOTS (relative to the module root), when it
// is set.
func (tb *tab) screenshot(name string, full bool) {
	tb.t.Helper()
	dir := os.Getenv("CUTOVER_SCREENSHOTS")
	if dir == "" {
		return
	}
	if !filepath.IsAbs(dir) {
		root, err := moduleRoot()
		if err != nil {
			tb.t.Fatal(err)
		}
		dir = filepath.Join(root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	// Let charts and transitions settle: wait for the fonts and a frame.
	eval[bool](tb, `document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true)))))`)
	ctx, cancel := context.WithTimeout(tb.ctx, browserTimeout)
	defer cancel()
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}
