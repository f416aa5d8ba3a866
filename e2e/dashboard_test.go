package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/internal/redistest"
	"github.com/cutover/cutover/rollout"
)

const (
	dashToken     = "full-access-token"
	dashReadToken = "read-only-token"
)

// catalogService answers GET /items/N with {"id", "price", "requestId"}:
// with noisy, the requestId is random on every answer (noise a secondary
// reveals); with regressEvery > 0, every regressEvery-th price is a string
// (a type difference, the regression the rollout must catch).
func catalogService(t *testing.T, regressEvery int, noisy bool) string {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, price := itemPrice(r, regressEvery)
		w.Header().Set("Content-Type", "application/json")
		reqID := uint64(n)
		if noisy {
			reqID = rand.Uint64()
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": n, "price": price, "requestId": reqID})
	})
	return hostPort(srv)
}

// dashAPI calls the admin API with a token and decodes the answer.
func dashAPI(t *testing.T, g *gatewayProc, method, p, token string, v any) int {
	t.Helper()
	resp, body := do(t, newClient(t), method, g.adminURL(p), nil, map[string]string{"Authorization": "Bearer " + token})
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, p, err, body)
		}
	}
	return resp.StatusCode
}

func itemsReport(t *testing.T, g *gatewayProc) diff.RouteReport {
	t.Helper()
	var rep diff.Report
	if code := dashAPI(t, g, "GET", "/api/report?route=items", dashToken, &rep); code != http.StatusOK {
		t.Fatalf("/api/report?route=items answered %d", code)
	}
	return rep.Routes[0]
}

func dashRollout(t *testing.T, g *gatewayProc, route string) rollout.Status {
	t.Helper()
	var st rollout.Status
	if code := dashAPI(t, g, "GET", "/api/rollouts/"+route, dashToken, &st); code != http.StatusOK {
		t.Fatalf("/api/rollouts/%s answered %d", route, code)
	}
	return st
}

// TestDashboard runs the real binary in front of real services with real
// traffic — a route with shadow, secondary and a rollout that rolls back,
// a route whose rollout waits, a three-hop chain whose last hop fails —
// and drives headless Chromium through every page of the dashboard.
func TestDashboard(t *testing.T) {
	browser := newBrowser(t)

	var g *gatewayProc
	svcC := hopService(t, "c", nil)
	svcB := hopService(t, "b", func() string { return g.url("/c/charge") })
	svcA := hopService(t, "a", func() string { return g.url("/b/pay") })
	oldItems, secondary, newItems := catalogService(t, 0, true), catalogService(t, 0, true), catalogService(t, 10, true)
	steady := catalogService(t, 0, false)
	g = startGateway(t, fmt.Sprintf(`  read_token_env: CUTOVER_TEST_READ_TOKEN
debug_headers: true
record:
  redact: { json: [password, card.number] }
services:
  items-v1: { targets: [%q] }
  items-v1-b: { targets: [%q] }
  items-v2: { targets: [%q] }
  orders-v1: { targets: [%q] }
  orders-v2: { targets: [%q] }
  a: { targets: [%q] }
  b: { targets: [%q] }
  c: { targets: [%q] }
routes:
  - name: items
    match: { path_prefix: /items }
    old: items-v1
    new: items-v2
    tenant: [ { header: X-Org-Id } ]
    shadow: { percent: 100, secondary: items-v1-b, secondary_percent: 100 }
    rollout: { min_samples: 150, min_duration: 1s, max_diff_rate: 1%%, max_p99_ratio: 50 }
  - name: orders
    match: { path_prefix: /orders }
    old: orders-v1
    new: orders-v2
    shadow: { percent: 100 }
    rollout: { min_samples: 1000000, min_duration: 1h }
  - { name: a, match: { path_prefix: /a }, upstream: a }
  - { name: b, match: { path_prefix: /b }, upstream: b }
  - { name: c, match: { path_prefix: /c }, upstream: c }
`, oldItems, secondary, newItems, steady, steady, hostPort(svcA), hostPort(svcB), hostPort(svcC)),
		"CUTOVER_ADMIN_TOKEN="+dashToken, "CUTOVER_TEST_READ_TOKEN="+dashReadToken)

	// Traffic: items until its rollout rolls back, some orders, one chain.
	c := newClient(t)
	for n := 0; n < 2000 && dashRollout(t, g, "items").State != rollout.RolledBack; n++ {
		resp, body := do(t, c, "GET", g.url("/items/"+strconv.Itoa(n)), nil, map[string]string{"X-Org-Id": "org-" + strconv.Itoa(n%7)})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /items/%d: %d %s", n, resp.StatusCode, body)
		}
	}
	if st := dashRollout(t, g, "items"); st.State != rollout.RolledBack {
		t.Fatalf("items did not roll back: %+v", st)
	}
	for n := range 40 {
		do(t, c, "GET", g.url("/orders/"+strconv.Itoa(n)), nil, nil)
	}
	resp, _ := do(t, c, "GET", g.url("/a/checkout"), nil, nil)
	chainID := resp.Header.Get("X-Chain-Id")
	if resp.StatusCode != http.StatusInternalServerError || chainID == "" {
		t.Fatalf("the chain answered %d with chain ID %q", resp.StatusCode, chainID)
	}
	waitFor(t, "the three hops of the chain", func() bool {
		var tree struct{ Calls int }
		return dashAPI(t, g, "GET", "/api/chains/"+chainID, dashToken, &tree) == http.StatusOK && tree.Calls == 3
	})
	admin := g.admin

	full := newTab(t, browser)
	t.Run("overview", func(t *testing.T) {
		full.t = t
		full.do("loading /ui/", chromedp.Navigate(g.adminURL("/ui/")), chromedp.WaitVisible(chromedp.CSS("#token-input")))
		full.do("typing the token", chromedp.SendKeys(chromedp.CSS("#token-input"), dashToken), chromedp.Click(chromedp.CSS("#token-ok")))
		full.do("the routes", chromedp.WaitVisible(chromedp.CSS(`tr[data-route="items"] [data-state="rolled_back"]`)),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-route="orders"] [data-state]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-route="items"] .trend > *`)))
		order := eval[[]string](full, `[...document.querySelectorAll('#routes tbody tr')].map((r) => r.dataset.route)`)
		if len(order) != 5 || order[0] != "items" {
			t.Errorf("overview rows %v: want the 5 routes, the rolled-back items first", order)
		}
		if s := full.text(`tr[data-route="orders"] [data-state]`); s != "progressing" && s != "pending" {
			t.Errorf("orders shows state %q", s)
		}
		waitFor(t, "the overview's diff rate of items to be the report's", func() bool {
			return full.text(`tr[data-route="items"] .diff-rate`) == diff.FormatRate(itemsReport(t, g).DiffRate)
		})
		// The first load: the shell, styles, scripts and API answers.
		n := full.resetCounts()
		t.Logf("first load of /ui/ (with its API calls) transferred %.0f bytes", n)
		if n <= 0 || n >= 200<<10 {
			t.Errorf("first load of /ui/ transferred %.0f bytes, want more than 0 and under 200 KiB", n)
		}
		full.check(admin)
	})

	t.Run("route", func(t *testing.T) {
		full.t = t
		full.do("loading the route page", chromedp.Navigate(g.adminURL("/ui/routes/items")),
			chromedp.WaitVisible(chromedp.CSS(`#fields tr[data-path="price"][data-kind="type"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#timeline li.rolled_back`)))
		waitFor(t, "the route page's rate of price to be the report's", func() bool {
			for _, f := range itemsReport(t, g).Fields {
				if f.Path == "price" && f.Kind == diff.KindType {
					return full.text(`#fields tr[data-path="price"][data-kind="type"] td.rate`) == diff.FormatRate(f.Rate)
				}
			}
			return false
		})
		if cls := eval[string](full, `document.querySelector('#fields tr[data-path="requestId"]')?.className ?? ''`); cls != "noise" {
			t.Errorf("requestId row class %q, want noise (greyed)", cls)
		}
		if !eval[bool](full, `document.querySelector('[data-action="rollback"]').disabled && !document.querySelector('[data-action="resume"]').disabled`) {
			t.Error("a rolled-back rollout should offer resume and not roll back")
		}
		full.check(admin)
	})

	t.Run("sample", func(t *testing.T) {
		full.t = t
		// A fresh report: the reservoir may have swapped the pair seen
		// while the last comparisons came in, and dropped it unstored.
		var sample string
		waitFor(t, "a stored pair of price", func() bool {
			for _, f := range itemsReport(t, g).Fields {
				if f.Path == "price" && f.Kind == diff.KindType && len(f.Samples) > 0 {
					sample = f.Samples[0]
					return dashAPI(t, g, "GET", "/api/samples/"+sample, dashToken, nil) == http.StatusOK
				}
			}
			return false
		})
		full.do("loading the sample page", chromedp.Navigate(g.adminURL("/ui/samples/"+sample)),
			chromedp.WaitVisible(chromedp.CSS(`#side-old .line.mark[data-path="price"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#side-new .line.mark[data-path="price"]`)))
		if n := eval[int](full, `document.querySelectorAll('.line.mark-noise[data-path="requestId"]').length`); n != 2 {
			t.Errorf("requestId greyed as noise on %d sides, want 2", n)
		}
		if rule := eval[string](full, `document.querySelector('#differences li[data-path="price"] .copy-rule').dataset.rule`); rule != `diff: { ignore: ["price"] }` {
			t.Errorf("copy rule %q", rule)
		}
		full.check(admin)
	})

	t.Run("chain", func(t *testing.T) {
		full.t = t
		full.do("loading the chain page", chromedp.Navigate(g.adminURL("/ui/chains/"+chainID)),
			chromedp.WaitVisible(chromedp.CSS(`.wf-row.first-failure > .svc`)),
			chromedp.WaitVisible(chromedp.CSS(`#hop-detail .message`)))
		if hop := eval[string](full, `document.querySelector('.wf-row.first-failure').dataset.hop`); hop != "3" {
			t.Errorf("first failure marked on hop %s, want 3 (c)", hop)
		}
		if n := eval[int](full, `document.querySelectorAll('.wf-row.failed').length`); n != 3 {
			t.Errorf("%d hops marked failed, want 3", n)
		}
		if s := full.text("#first-failure"); !strings.Contains(s, "hop 3, c (route c") || !strings.Contains(s, "answered 500") {
			t.Errorf("first failure reads %q", s)
		}
		full.check(admin)
	})

	t.Run("records", func(t *testing.T) {
		full.t = t
		full.do("loading the records page", chromedp.Navigate(g.adminURL("/ui/records?route=c")),
			chromedp.WaitVisible(chromedp.CSS(`#records tbody tr[data-chain="`+chainID+`"]`)))
		if n := eval[int](full, `document.querySelectorAll('#records tbody tr').length`); n != 1 {
			t.Errorf("route c lists %d records, want 1", n)
		}
		full.do("searching all routes", chromedp.Navigate(g.adminURL("/ui/records?status=5xx")),
			chromedp.WaitVisible(chromedp.CSS(`#records tbody tr.failed`)))
		full.do("opening a chain from its row", chromedp.Click(chromedp.CSS(`#records tbody tr[data-chain="`+chainID+`"] td`)),
			chromedp.WaitVisible(chromedp.CSS(`.wf-row.first-failure > .svc`)))
		full.check(admin)
	})

	t.Run("rollback", func(t *testing.T) {
		full.t = t
		full.do("loading orders", chromedp.Navigate(g.adminURL("/ui/routes/orders")),
			chromedp.WaitEnabled(chromedp.CSS(`[data-action="rollback"]`)))
		full.do("rolling back", chromedp.Click(chromedp.CSS(`[data-action="rollback"]`)), chromedp.WaitVisible(chromedp.CSS(`#confirm-ok`)))
		if st := dashRollout(t, g, "orders"); st.State == rollout.RolledBack {
			t.Fatal("the rollout rolled back before the confirmation")
		}
		full.screenshot("confirm.png", false)
		full.do("confirming", chromedp.Click(chromedp.CSS(`#confirm-ok`)),
			chromedp.WaitVisible(chromedp.CSS(`h1 [data-state="rolled_back"]`)))
		if st := dashRollout(t, g, "orders"); st.State != rollout.RolledBack {
			t.Errorf("after the confirmed roll back the API says %s", st.State)
		}
		if s := full.text("#action-result"); !strings.Contains(s, "rolled back") {
			t.Errorf("action result %q", s)
		}
		full.check(admin)
	})

	t.Run("read-only", func(t *testing.T) {
		ro := newTab(t, browser)
		ro.do("loading with the read-only token", chromedp.Navigate(g.adminURL("/ui/routes/orders")), chromedp.WaitVisible(chromedp.CSS("#token-input")),
			chromedp.SendKeys(chromedp.CSS("#token-input"), dashReadToken), chromedp.Click(chromedp.CSS("#token-ok")),
			chromedp.WaitVisible(chromedp.CSS(`[data-action="resume"]`)))
		if n := eval[int](ro, `[...document.querySelectorAll('[data-action]')].filter((b) => !b.disabled).length`); n != 0 {
			t.Errorf("%d actions enabled with the read-only token", n)
		}
		if s := ro.text("#access"); s != "read-only" {
			t.Errorf("access badge %q", s)
		}
		ro.check(admin) // before the forged POST, whose 403 the console reports
		status := eval[int](ro, `fetch('/api/rollouts/orders/resume', {method: 'POST', headers: {Authorization: 'Bearer ' + sessionStorage.getItem('cutover.token')}}).then((r) => r.status)`)
		if status != http.StatusForbidden {
			t.Errorf("a forged POST with the read-only token answered %d, want 403", status)
		}
		if code := dashAPI(t, g, "POST", "/api/rollouts/orders/resume", dashReadToken, nil); code != http.StatusForbidden {
			t.Errorf("POST with the read-only token answered %d, want 403", code)
		}
		if st := dashRollout(t, g, "orders"); st.State != rollout.RolledBack {
			t.Errorf("the read-only POST changed the rollout to %s", st.State)
		}
		ro.screenshot("read-only.png", false)
	})
}

// TestDashboardDemo takes the dashboard's screenshots for the docs on the
// demo's traffic (cutover demo --stay), where rollouts ran step by step.
// It runs when CUTOVER_SCREENSHOTS names where to put them.
func TestDashboardDemo(t *testing.T) {
	if os.Getenv("CUTOVER_SCREENSHOTS") == "" {
		t.Skip("CUTOVER_SCREENSHOTS is not set")
	}
	browser := newBrowser(t)
	cmd := exec.Command(binary, "demo", "--stay")
	cmd.Dir = t.TempDir()
	cmd.Env = cleanEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	urlRE := regexp.MustCompile(`The dashboard: (http://[0-9.:]+)/ui/`)
	chainRE := regexp.MustCompile(`cutover chain --admin \S+ ([0-9a-f]{32})`)
	found := make(chan [2]string, 1)
	go func() {
		var chainID string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := chainRE.FindStringSubmatch(sc.Text()); m != nil {
				chainID = m[1]
			}
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- [2]string{m[1], chainID}
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	var base, chainID string
	select {
	case f := <-found:
		base, chainID = f[0], f[1]
	case <-time.After(demoTimeout):
		t.Fatal("the demo did not print the dashboard's URL")
	}
	host := strings.TrimPrefix(base, "http://")
	tb := newTab(t, browser)
	tb.do("the overview", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS(`tr[data-route="stock"] [data-state="rolled_back"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-route="prices"] [data-state="promoted"]`)))
	tb.screenshot("overview.png", true)
	tb.do("the stock route", chromedp.Navigate(base+"/ui/routes/stock"), chromedp.WaitVisible(chromedp.CSS(`#timeline li.rolled_back`)),
		chromedp.WaitVisible(chromedp.CSS(`#fields tr.real`)))
	tb.screenshot("route.png", true)
	sample := eval[string](tb, `document.querySelector('#fields tr.real .sample-link').getAttribute('href')`)
	tb.do("a stock sample", chromedp.Navigate(base+sample), chromedp.WaitVisible(chromedp.CSS(`.side .line.mark`)))
	tb.screenshot("sample.png", true)
	tb.do("the orders route", chromedp.Navigate(base+"/ui/routes/orders"), chromedp.WaitVisible(chromedp.CSS(`#fields tr.noise`)))
	tb.screenshot("route-noise.png", true)
	if chainID == "" {
		t.Fatal("the demo printed no chain ID")
	}
	tb.do("the failed chain", chromedp.Navigate(base+"/ui/chains/"+chainID), chromedp.WaitVisible(chromedp.CSS(`.wf-row.first-failure > .svc`)),
		chromedp.WaitVisible(chromedp.CSS(`#hop-detail .message`)))
	tb.screenshot("chain.png", true)
	tb.do("the failed calls", chromedp.Navigate(base+"/ui/records?status=5xx"), chromedp.WaitVisible(chromedp.CSS(`#records tbody tr.failed`)))
	tb.screenshot("records.png", true)
	tb.check(host)
}

// TestDashboardSeriesMerged spreads traffic over two replicas on one
// Redis: the series' pair counts are every replica's, its request counts
// each replica's own.
func TestDashboardSeriesMerged(t *testing.T) {
	redis := redistest.Start(t)
	gs := startReplicas(t, 2, replicaConfig(redis.Addr, priceService(t, "old", 0), priceService(t, "new", 10), ""))
	c := newClient(t)
	const requests = 100
	for n := range requests {
		if resp, body := do(t, c, "GET", gs[n%2].url("/items/"+strconv.Itoa(n)), nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /items/%d answered %d: %s", n, resp.StatusCode, body)
		}
	}
	type point struct {
		Compared, Differing, Requests uint64
	}
	sum := func(g *gatewayProc) (p point) {
		resp, body := do(t, c, "GET", g.adminURL("/api/report/series?route=items&since=15m&step=10s"), nil, nil)
		var v struct{ Points []point }
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil {
			t.Fatalf("series answered %d: %s", resp.StatusCode, body)
		}
		for _, q := range v.Points {
			p.Compared += q.Compared
			p.Differing += q.Differing
			p.Requests += q.Requests
		}
		return p
	}
	for i, g := range gs {
		var p point
		waitFor(t, "the merged series on replica "+strconv.Itoa(i), func() bool {
			p = sum(g)
			return p.Compared == requests && p.Requests == requests/2
		})
		if p.Differing != requests/10 {
			t.Errorf("replica %d series: %d differing, want %d (every 10th price)", i, p.Differing, requests/10)
		}
	}
}
