package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
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
`, hostPort(up), deadAddr(t)))
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
