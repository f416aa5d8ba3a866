package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cutover/cutover/internal/loopback"
)

// recordCount counts the records /api/records lists for query (at most
// 1000, one page).
func recordCount(t *testing.T, g *gatewayProc, query string) int {
	t.Helper()
	var page struct {
		Records []json.RawMessage `json:"records"`
	}
	_, body := do(t, newClient(t), "GET", g.adminURL("/api/records?limit=1000&"+query), nil, nil)
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("/api/records?%s: %v: %s", query, err, body)
	}
	return len(page.Records)
}

// TestRecordErrorsOutsideTheSample: with record.sample at 1%, every
// failing call of a load is recorded all the same (record.errors is on
// by default): each third call answered 500 by its upstream, and calls to
// an upstream that refuses connections (502).
func TestRecordErrorsOutsideTheSample(t *testing.T) {
	up := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/fail") {
			http.Error(w, `{"error":"boom"}`, http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprint(w, `{"ok":true}`)
	})
	g := startGateway(t, fmt.Sprintf(`
record: { sample: 0.01 }
services:
  app: { targets: [%q] }
  gone: { targets: [%q] }
routes:
  - name: gone
    match: { path_prefix: /gone }
    upstream: gone
  - name: app
    upstream: app
`, hostPort(up), loopback.DeadAddr(t)))
	c := newClient(t)
	const calls, dead = 300, 20
	failing := 0
	for i := range calls {
		path := fmt.Sprintf("/orders/%d", i)
		want := http.StatusOK
		if i%3 == 0 {
			path, want = path+"/fail", http.StatusInternalServerError
			failing++
		}
		if resp, _ := do(t, c, "GET", g.url(path), nil, nil); resp.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	for i := range dead {
		if resp, _ := do(t, c, "GET", g.url(fmt.Sprintf("/gone/%d", i)), nil, nil); resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("GET /gone: %d, want 502", resp.StatusCode)
		}
	}
	waitFor(t, "every failing call recorded", func() bool {
		return recordCount(t, g, "route=app&status=5xx") == failing && recordCount(t, g, "route=gone&status=5xx") == dead
	})
	// The successes stay sampled: about 1% of 200, far from all.
	if ok := recordCount(t, g, "route=app&status=2xx"); ok > calls/3 {
		t.Errorf("%d successful calls recorded at a 1%% sample", ok)
	}
	if got := recordCount(t, g, "route=app&status=5xx"); got != failing {
		t.Errorf("%d failing calls recorded, want %d", got, failing)
	}
}

// TestRequestTargetByteForByte: the request target goes upstream as the
// client sent it, an empty query "?" included.
func TestRequestTargetByteForByte(t *testing.T) {
	up := newRawUpstream(t, func(req *rawRequest, conn net.Conn, br *bufio.Reader) []byte {
		return []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	g := startGateway(t, fmt.Sprintf(`
services:
  app: { targets: [%q] }
routes:
  - name: app
    upstream: app
`, up.addr()))
	for _, target := range []string{"/path?", "/path", "/path?a=1", "/a//b/../c?", "/q?x=%20&y", "/?"} {
		resp := roundTrip(t, g.addr, "GET "+target+" HTTP/1.1\r\nHost: shop.example.com\r\n\r\n")
		if resp.Status != http.StatusOK {
			t.Fatalf("GET %s: %d", target, resp.Status)
		}
		if got, want := up.next(t).Line, "GET "+target+" HTTP/1.1"; got != want {
			t.Errorf("upstream request line %q, want %q", got, want)
		}
	}
}

// TestBudgetDropsCopiesKeepsAnswers: with memory.async room for a few
// copies and the shadow side stuck, shadow copies and records are dropped
// and counted under budget while every client gets its whole answer, the
// budget's use never passes its limit, and it returns to 0 once the
// shadow side answers.
func TestBudgetDropsCopiesKeepsAnswers(t *testing.T) {
	body := strings.Repeat("b", 3000)
	old := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, body, r.URL.Query().Get("i"))
	})
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	stuck := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = fmt.Fprint(w, body)
	})
	g := startGateway(t, fmt.Sprintf(`
store: { buffer: 8KiB }
memory: { async: 16KiB }
services:
  old: { targets: [%q] }
  new: { targets: [%q] }
routes:
  - name: orders
    old: old
    new: new
    shadow: { percent: 100, concurrency: 2, queue: 256, timeout: 60s }
`, hostPort(old), hostPort(stuck)))
	c := newClient(t)
	const n = 60
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				resp, got, err := tryDo(c, "GET", g.url("/orders?i="+strconv.Itoa(i)), nil, nil)
				if err != nil || resp.StatusCode != http.StatusOK || string(got) != body+strconv.Itoa(i) {
					t.Errorf("request %d: %v, %d bytes; want 200 and its whole answer", i, err, len(got))
				}
			}
		}()
	}
	wg.Wait()
	m := g.metrics(t, nil)
	if v := m[`cutover_shadow_dropped_total{route="orders",reason="budget"}`]; v <= 0 {
		t.Errorf("shadow budget drops %v, want some", v)
	}
	if v := m[`cutover_records_dropped_total{reason="budget"}`]; v <= 0 {
		t.Errorf("record budget drops %v, want some", v)
	}
	if used, limit := m["cutover_memory_async_bytes"], m["cutover_memory_async_limit_bytes"]; limit != 16<<10 || used > limit {
		t.Errorf("memory.async use %v of %v, want at most 16384 of 16384", used, limit)
	}
	unblock()
	waitFor(t, "cutover_memory_async_bytes back to 0", func() bool {
		return g.metrics(t, nil)["cutover_memory_async_bytes"] == 0
	})
}
