package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/loopback"
)

// TestErrorNoRoute: a request no route matches gets 404 with the chain ID,
// continued from the request when it carries one.
func TestErrorNoRoute(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "api")
	g := startGateway(t, fmt.Sprintf(`services:
  api: { targets: [%q] }
routes:
  - name: api
    match: { path_prefix: /api, methods: [GET] }
    upstream: api
`, hostPort(up)))
	c := newClient(t)
	for _, tc := range []struct{ method, path string }{{"GET", "/nowhere"}, {"POST", "/api/x"}, {"GET", "/apiary"}} {
		resp, body := do(t, c, tc.method, g.url(tc.path), nil, nil)
		checkErrorBody(t, resp.StatusCode, resp.Header, body, http.StatusNotFound, "no_route")
	}
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp, body := do(t, c, "GET", g.url("/nowhere"), nil, map[string]string{"traceparent": "00-" + id + "-00f067aa0ba902b7-01"})
	checkErrorBody(t, resp.StatusCode, resp.Header, body, http.StatusNotFound, "no_route")
	if got := resp.Header.Get("X-Chain-Id"); got != id {
		t.Errorf("404 chain ID %s, want the incoming %s", got, id)
	}
}

// TestErrorUpstreamRefused: an upstream that refuses connections is 502.
func TestErrorUpstreamRefused(t *testing.T) {
	t.Parallel()
	g := startGateway(t, plainConfig(loopback.DeadAddr(t)))
	c := newClient(t)
	for range 3 {
		resp, body := do(t, c, "GET", g.url("/api/x"), nil, nil)
		checkErrorBody(t, resp.StatusCode, resp.Header, body, http.StatusBadGateway, "refused")
	}
}

// TestErrorUpstreamTimeout: an upstream slower than the service timeout is
// 504. Only the status is checked, not how long it took. Later requests get
// their own answers, not the late one.
func TestErrorUpstreamTimeout(t *testing.T) {
	t.Parallel()
	up := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
			_, _ = w.Write([]byte("late answer for /slow"))
			return
		}
		_, _ = w.Write([]byte("answer for " + r.URL.Path))
	})
	g := startGateway(t, fmt.Sprintf(`services:
  slow: { targets: [%q], timeout: 200ms }
routes:
  - name: slow
    upstream: slow
`, hostPort(up)))
	c := newClient(t)
	resp, body := do(t, c, "GET", g.url("/slow"), nil, nil)
	checkErrorBody(t, resp.StatusCode, resp.Header, body, http.StatusGatewayTimeout, "timeout")
	// The late answer must never be taken for a later request's.
	for i := range 3 {
		path := fmt.Sprintf("/fast/%d", i)
		resp, body := do(t, c, "GET", g.url(path), nil, nil)
		if resp.StatusCode != http.StatusOK || string(body) != "answer for "+path {
			t.Errorf("after a timeout, %s got %d %q", path, resp.StatusCode, body)
		}
	}
}

// countingEcho is an echo upstream that counts the requests it answers.
func countingEcho(t *testing.T) (addr string, count *atomic.Int64) {
	count = new(atomic.Int64)
	h := echoHandler("echo")
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		count.Add(1)
		h(w, r)
	})
	return hostPort(srv), count
}

// TestErrorBodyTooLarge: a body over max_body is 413, announced by
// Content-Length or found while reading chunks; the connection is closed.
// The 413 continues the incoming chain either way.
func TestErrorBodyTooLarge(t *testing.T) {
	t.Parallel()
	addr, count := countingEcho(t)
	g := startGateway(t, "max_body: 1KiB\n"+plainConfig(addr))

	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	big := strings.Repeat("x", 2048)
	for name, req := range map[string]string{
		"content-length": "POST /upload HTTP/1.1\r\nHost: gw\r\nX-Chain-Id: " + id + "\r\nContent-Length: 2048\r\n\r\n" + big,
		"chunked":        "POST /upload HTTP/1.1\r\nHost: gw\r\nX-Chain-Id: " + id + "\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + big + "\r\n0\r\n\r\n",
	} {
		rc := dialRaw(t, g.addr)
		rc.send(req)
		resp := rc.read(false)
		checkErrorBody(t, resp.Status, httpHeader(resp), resp.Body, http.StatusRequestEntityTooLarge, "body_too_large")
		if got := resp.Header.Get("X-Chain-Id"); got != id {
			t.Errorf("%s: 413 chain ID %q, want the incoming %s", name, got, id)
		}
		if !rc.closedByPeer() {
			t.Errorf("%s: connection still open after 413", name)
		}
	}
	// At the limit is fine.
	resp, body := do(t, newClient(t), "POST", g.url("/upload"), []byte(big[:1024]), nil)
	if resp.StatusCode != http.StatusOK || decodeEcho(t, body).BodyLen != 1024 {
		t.Errorf("a body of exactly max_body: status %d", resp.StatusCode)
	}
	if n := count.Load(); n != 1 {
		t.Errorf("upstream answered %d requests, want only the one within max_body", n)
	}
}

// TestErrorMalformedRequests sends requests the gateway must refuse with
// 400 without contacting the upstream, closing the connection after.
func TestErrorMalformedRequests(t *testing.T) {
	t.Parallel()
	addr, count := countingEcho(t)
	g := startGateway(t, plainConfig(addr))

	for _, tc := range []struct {
		name, req, reason string
	}{
		{"content-length then transfer-encoding",
			"POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "conflicting_framing"},
		{"transfer-encoding then content-length",
			"POST /x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "conflicting_framing"},
		{"two different content-lengths",
			"POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", "malformed"},
		{"control byte in a header value",
			"GET /x HTTP/1.1\r\nHost: gw\r\nX-Bad: a\x01b\r\n\r\n", "malformed"},
		{"NUL in a header value",
			"GET /x HTTP/1.1\r\nHost: gw\r\nX-Bad: a\x00b\r\n\r\n", "malformed"},
		{"space in a header name",
			"GET /x HTTP/1.1\r\nHost: gw\r\nBad Name: x\r\n\r\n", "malformed"},
		{"space before the colon",
			"GET /x HTTP/1.1\r\nHost: gw\r\nX-Spaced : x\r\n\r\n", "malformed"},
		{"separator in a header name",
			"GET /x HTTP/1.1\r\nHost: gw\r\nX(bad): x\r\n\r\n", "malformed"},
		{"two host headers",
			"GET /x HTTP/1.1\r\nHost: gw\r\nHost: other\r\n\r\n", "malformed"},
		{"no host header",
			"GET /x HTTP/1.1\r\nX-A: b\r\n\r\n", "malformed"},
		{"bad chunk size",
			"POST /x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", "malformed"},
		{"bad request line",
			"GET /x HTTP/1.1 extra\r\nHost: gw\r\n\r\n", "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, g.addr)
			rc.send(tc.req)
			resp := rc.read(false)
			checkErrorBody(t, resp.Status, httpHeader(resp), resp.Body, http.StatusBadRequest, tc.reason)
			if !rc.closedByPeer() {
				t.Errorf("connection still open after 400")
			}
		})
	}
	if n := count.Load(); n != 0 {
		t.Errorf("upstream answered %d malformed requests, want 0", n)
	}
}

// TestErrorHeadersTooLarge: a header block beyond the gateway's 16 KiB read
// buffer is refused with 431 Request Header Fields Too Large, and the
// connection is closed.
func TestErrorHeadersTooLarge(t *testing.T) {
	t.Parallel()
	addr, count := countingEcho(t)
	g := startGateway(t, plainConfig(addr))

	rc := dialRaw(t, g.addr)
	rc.send("GET /x HTTP/1.1\r\nHost: gw\r\nX-Big: " + strings.Repeat("b", 20<<10) + "\r\n\r\n")
	resp := rc.read(false)
	checkErrorBody(t, resp.Status, httpHeader(resp), resp.Body, http.StatusRequestHeaderFieldsTooLarge, "header_too_large")
	if !rc.closedByPeer() {
		t.Errorf("connection still open after 431")
	}
	// Many headers that together stay below the limit are fine.
	var req strings.Builder
	req.WriteString("GET /x HTTP/1.1\r\nHost: gw\r\n")
	for i := range 100 {
		fmt.Fprintf(&req, "X-Header-%d: %s\r\n", i, strings.Repeat("v", 100))
	}
	req.WriteString("\r\n")
	if resp := roundTrip(t, g.addr, req.String()); resp.Status != http.StatusOK {
		t.Errorf("12 KiB of headers: status %d", resp.Status)
	}
	if n := count.Load(); n != 1 {
		t.Errorf("upstream answered %d requests, want 1", n)
	}
}

func httpHeader(r *rawResponse) http.Header { return http.Header(r.Header) }
