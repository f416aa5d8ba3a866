package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/loopback"
)

// TestRoundRobin spreads sequential requests evenly over two targets.
func TestRoundRobin(t *testing.T) {
	t.Parallel()
	a, b := newEcho(t, "a"), newEcho(t, "b")
	g := startGateway(t, plainConfig(hostPort(a), hostPort(b)))
	c := newClient(t)
	served := map[string]int{}
	for range 20 {
		resp, body := do(t, c, "GET", g.url("/rr"), nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		served[resp.Header.Get(hdrUpstream)]++
	}
	if served["a"] != 10 || served["b"] != 10 {
		t.Errorf("served %v, want 10 each", served)
	}
}

// TestPassiveHealth puts a target that refuses connections next to a live
// one: every request succeeds, the dead target is marked down in
// /api/routes and /metrics, and its connection failures are counted.
func TestPassiveHealth(t *testing.T) {
	t.Parallel()
	live := newEcho(t, "live")
	dead := loopback.DeadAddr(t)
	g := startGateway(t, fmt.Sprintf(`services:
  app: { targets: [%q, %q], timeout: 5s, fail_timeout: 1m }
routes:
  - name: all
    upstream: app
`, dead, hostPort(live)))
	c := newClient(t)
	for i := range 20 {
		resp, body := do(t, c, "GET", g.url("/health"), nil, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get(hdrUpstream) != "live" {
			t.Fatalf("request %d: status %d from %q: %s", i, resp.StatusCode, resp.Header.Get(hdrUpstream), body)
		}
	}

	m := g.metrics(t, nil)
	upDead := fmt.Sprintf(`cutover_upstream_target_up{service="app",target=%q}`, dead)
	upLive := fmt.Sprintf(`cutover_upstream_target_up{service="app",target=%q}`, hostPort(live))
	if v, ok := m[upDead]; !ok || v != 0 {
		t.Errorf("%s = %v (present %v), want 0", upDead, v, ok)
	}
	if v, ok := m[upLive]; !ok || v != 1 {
		t.Errorf("%s = %v (present %v), want 1", upLive, v, ok)
	}
	fails := fmt.Sprintf(`cutover_upstream_target_failures_total{service="app",target=%q}`, dead)
	if m[fails] < 1 {
		t.Errorf("%s = %v, want at least 1", fails, m[fails])
	}
	if v := m[`cutover_requests_total{route="all",side="upstream",code="2xx"}`]; v != 20 {
		t.Errorf("2xx requests counted %v, want 20", v)
	}

	for _, rt := range g.routes(t).Routes {
		for _, tg := range rt.Targets {
			if want := tg.Addr != dead; tg.Up != want {
				t.Errorf("/api/routes target %s up=%v, want %v", tg.Addr, tg.Up, want)
			}
		}
	}
}

// TestAllTargetsDown: with every target down the client gets 502, and the
// gateway keeps trying (it never refuses outright).
func TestAllTargetsDown(t *testing.T) {
	t.Parallel()
	g := startGateway(t, plainConfig(loopback.DeadAddr(t), loopback.DeadAddr(t)))
	c := newClient(t)
	for range 4 {
		resp, body := do(t, c, "GET", g.url("/x"), nil, nil)
		checkErrorBody(t, resp.StatusCode, resp.Header, body, http.StatusBadGateway, "refused")
	}
}

// wsGreeting is what wsUpstream sends right after its 101, in the same
// write, before echoing.
const wsGreeting = "hi!"

// wsUpstream answers a WebSocket handshake with 101 and a greeting, then
// echoes every byte, like a WebSocket echo server without framing.
func wsUpstream(t *testing.T) *rawUpstream {
	return newRawUpstream(t, func(req *rawRequest, conn net.Conn, br *bufio.Reader) []byte {
		if !strings.EqualFold(strings.Join(req.header("Upgrade"), ""), "websocket") {
			return []byte("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n")
		}
		key := strings.Join(req.header("Sec-WebSocket-Key"), "")
		_, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\n"+
			"Upgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: accept-for-"+key+"\r\n\r\n"+wsGreeting)
		if err == nil {
			_, _ = io.Copy(conn, br) // echo until the peer closes
		}
		return nil
	})
}

// TestWebSocketTunnel upgrades a connection through the gateway: the
// client gets the upstream's 101 and then a raw byte tunnel both ways.
func TestWebSocketTunnel(t *testing.T) {
	t.Parallel()
	up := wsUpstream(t)
	g := startGateway(t, plainConfig(up.addr()))

	rc := dialRaw(t, g.addr)
	// The first bytes for the tunnel ride in the same write as the
	// handshake; they must arrive after it.
	const early = "early bytes"
	rc.send("GET /ws/echo?room=1 HTTP/1.1\r\nHost: chat.example\r\n" +
		"Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" + early)
	resp := rc.read(false)
	if resp.Status != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: status %d: %s", resp.Status, resp.Body)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "accept-for-dGhlIHNhbXBsZSBub25jZQ==" {
		t.Errorf("Sec-WebSocket-Accept %q did not come from the upstream", got)
	}
	req := up.next(t)
	if req.Line != "GET /ws/echo?room=1 HTTP/1.1" {
		t.Errorf("upstream request line %q", req.Line)
	}
	if v := req.header("Upgrade"); len(v) != 1 || v[0] != "websocket" {
		t.Errorf("upstream Upgrade %q", v)
	}
	if v := strings.ToLower(strings.Join(req.header("Connection"), ",")); !strings.Contains(v, "upgrade") {
		t.Errorf("upstream Connection %q does not ask for the upgrade", v)
	}
	if v := req.header("X-Chain-Id"); len(v) != 1 || !hex32.MatchString(v[0]) {
		t.Errorf("upstream X-Chain-Id %q", v)
	}

	got := make([]byte, len(wsGreeting+early))
	if _, err := io.ReadFull(rc.br, got); err != nil || string(got) != wsGreeting+early {
		t.Fatalf("after the 101: read %q (%v), want the greeting and the early bytes echoed", got, err)
	}

	// Bytes both ways, including ones that look like HTTP, several times.
	for i, msg := range [][]byte{
		[]byte("hello"),
		randomBytes(64<<10, 9),
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
	} {
		if _, err := rc.c.Write(msg); err != nil {
			t.Fatalf("message %d: write: %v", i, err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(rc.br, got); err != nil {
			t.Fatalf("message %d: read echo: %v", i, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("message %d: echo differs (%d bytes)", i, len(msg))
		}
	}

	// Closing our side ends the tunnel: the upstream sees EOF, closes, and
	// the gateway closes the client connection.
	if err := rc.c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = rc.c.SetReadDeadline(time.Now().Add(pollTimeout))
	if n, err := io.Copy(io.Discard, rc.br); err != nil || n != 0 {
		t.Errorf("after closing: read %d more bytes, err %v; want a clean EOF", n, err)
	}

	m := g.metrics(t, nil)
	if m["cutover_upgrades_total"] != 1 {
		t.Errorf("cutover_upgrades_total %v, want 1", m["cutover_upgrades_total"])
	}
}

// TestUpgradeRefusedByUpstream: when the upstream answers an upgrade
// request with anything but 101, the client gets that answer, and the
// connection is not turned into a tunnel: a request sent on it next is
// either refused (connection closed) or proxied like any other, never
// passed to the upstream raw, where a forged X-Forwarded-For would arrive
// as sent (request smuggling through a failed upgrade).
func TestUpgradeRefusedByUpstream(t *testing.T) {
	t.Parallel()
	up := wsUpstream(t)
	g := startGateway(t, plainConfig(up.addr()))
	rc := dialRaw(t, g.addr)
	rc.send("GET /ws HTTP/1.1\r\nHost: chat.example\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	if resp := rc.read(false); resp.Status != http.StatusUpgradeRequired {
		t.Fatalf("status %d, want the upstream's 426", resp.Status)
	}
	if req := up.next(t); !strings.HasPrefix(req.Line, "GET /ws ") {
		t.Fatalf("upstream got %q", req.Line)
	}

	rc.send("GET /second HTTP/1.1\r\nHost: chat.example\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n")
	resp, err := readRawResponse(rc.br, false)
	if err != nil {
		t.Logf("the gateway closed the connection after the refused upgrade: %v", err)
		return
	}
	if resp.Status != http.StatusUpgradeRequired {
		t.Errorf("second request: status %d, want the upstream's 426", resp.Status)
	}
	req := up.next(t)
	if v := req.header("X-Forwarded-For"); len(v) != 1 || v[0] != "127.0.0.1" {
		t.Errorf("second request reached the upstream unprocessed: X-Forwarded-For %q, headers %q", v, req.Headers)
	}
	if v := req.header("X-Chain-Id"); len(v) != 1 {
		t.Errorf("second request reached the upstream without a chain ID: %q", req.Headers)
	}
}

// TestPassiveHealthTargetDies closes one of two warm targets: after at most
// one failed request, every request succeeds on the other, and the dead
// target is reported down.
func TestPassiveHealthTargetDies(t *testing.T) {
	t.Parallel()
	a, b := newEcho(t, "a"), newEcho(t, "b")
	bAddr := hostPort(b)
	g := startGateway(t, fmt.Sprintf(`services:
  app: { targets: [%q, %q], fail_timeout: 1m }
routes:
  - name: all
    upstream: app
`, hostPort(a), bAddr))
	c := newClient(t)
	for _, method := range []string{"GET", "POST"} {
		for range 4 {
			if resp, _ := do(t, c, method, g.url("/warm"), []byte("x"), nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("warming up: %d", resp.StatusCode)
			}
		}
	}
	b.Close() // closes the listener and the gateway's idle connections to it

	failures := 0
	for i := range 20 {
		method := []string{"GET", "POST"}[i%2]
		resp, body := do(t, c, method, g.url("/after"), []byte("x"), nil)
		switch {
		case resp.StatusCode == http.StatusOK && resp.Header.Get(hdrUpstream) == "a":
		case i == failures && resp.StatusCode == http.StatusBadGateway:
			failures++ // only a leading failure is tolerated
			t.Logf("request %d (%s) failed while the dead target was found: %s", i, method, body)
		default:
			t.Fatalf("request %d (%s): status %d from %q: %s", i, method, resp.StatusCode, resp.Header.Get(hdrUpstream), body)
		}
	}
	if failures > 1 {
		t.Errorf("%d client-visible failures, want at most 1", failures)
	}
	m := g.metrics(t, nil)
	if v := m[fmt.Sprintf(`cutover_upstream_target_up{service="app",target=%q}`, bAddr)]; v != 0 {
		t.Errorf("dead target up = %v, want 0", v)
	}
}
