package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

// requestHopHeaders are sent by the client in TestHopByHopHeaders; none may
// reach the upstream.
var requestHopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade",
	"Proxy-Authorization", "X-Secret-Hop", "X-Other-Hop",
}

// TestHopByHopHeaders checks RFC 9110 §7.6.1 in both directions: hop-by-hop
// headers, and headers the Connection header names, stop at the gateway,
// also when Connection comes on more than one line.
func TestHopByHopHeaders(t *testing.T) {
	t.Parallel()
	// A Connection value longer than any small fixed buffer.
	longList := strings.Repeat("X-Not-Sent-At-All, ", 12)
	up := newRawUpstream(t, func(req *rawRequest, _ net.Conn, _ *bufio.Reader) []byte {
		return []byte("HTTP/1.1 200 OK\r\n" +
			"Content-Type: text/plain\r\n" +
			"Content-Length: 2\r\n" +
			"Connection: X-Up-Hop, keep-alive\r\n" +
			"X-Up-Hop: secret\r\n" +
			"Connection: " + longList + "X-Up-Hop2\r\n" +
			"X-Up-Hop2: secret\r\n" +
			"Keep-Alive: timeout=5, max=100\r\n" +
			"Proxy-Connection: keep-alive\r\n" +
			"Proxy-Authenticate: Basic realm=\"up\"\r\n" +
			"Upgrade: h2c\r\n" +
			"TE: trailers\r\n" +
			"Trailer: X-Checksum\r\n" +
			"X-Up-Keep: kept\r\n" +
			"\r\nok")
	})
	g := startGateway(t, plainConfig(up.addr()))

	resp := roundTrip(t, g.addr, "GET /api/hop HTTP/1.1\r\n"+
		"Host: front.example:8080\r\n"+
		"Connection: keep-alive, X-Secret-Hop\r\n"+
		"Connection: x-other-hop\r\n"+
		"X-Secret-Hop: s3cret\r\n"+
		"X-Other-Hop: other\r\n"+
		"Keep-Alive: timeout=5\r\n"+
		"Proxy-Connection: keep-alive\r\n"+
		"TE: trailers\r\n"+
		"Trailer: X-Checksum\r\n"+
		"Upgrade: h2c\r\n"+
		"Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"+
		"X-Keep: yes\r\n"+
		"\r\n")
	if resp.Status != http.StatusOK || string(resp.Body) != "ok" {
		t.Fatalf("status %d body %q", resp.Status, resp.Body)
	}
	req := up.next(t)
	t.Logf("upstream saw %s %q; client saw %q", req.Line, req.Headers, resp.Headers)
	for _, name := range requestHopHeaders {
		if v := req.header(name); len(v) > 0 {
			t.Errorf("upstream received hop-by-hop header %s: %q", name, v)
		}
	}
	if v := req.header("X-Keep"); len(v) != 1 || v[0] != "yes" {
		t.Errorf("upstream X-Keep %q, want [yes]", v)
	}
	if v := req.header("Host"); len(v) != 1 || v[0] != "front.example:8080" {
		t.Errorf("upstream Host %q, want [front.example:8080]", v)
	}

	for _, name := range []string{"X-Up-Hop", "X-Up-Hop2", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Upgrade", "TE", "Trailer"} {
		if v := resp.Header.Values(name); len(v) > 0 {
			t.Errorf("client received hop-by-hop header %s: %q", name, v)
		}
	}
	// The gateway may say Connection: close or keep-alive about its own
	// connection, never repeat the upstream's.
	for _, v := range resp.Header.Values("Connection") {
		if strings.Contains(strings.ToLower(v), "x-up-hop") {
			t.Errorf("client received the upstream's Connection header %q", v)
		}
	}
	if v := resp.Header.Get("X-Up-Keep"); v != "kept" {
		t.Errorf("client X-Up-Keep %q, want kept", v)
	}
}

// TestObsFoldNeverForwarded sends a header value folded over two lines
// (obs-fold). RFC 9112 §5.2 lets a server refuse it with 400 or replace the
// fold with spaces before forwarding; either way no line break may reach
// the upstream, where it could start a header of its own.
func TestObsFoldNeverForwarded(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t, func(*rawRequest, net.Conn, *bufio.Reader) []byte {
		return []byte("HTTP/1.1 204 No Content\r\n\r\n")
	})
	g := startGateway(t, plainConfig(up.addr()))
	resp := roundTrip(t, g.addr, "GET /fold HTTP/1.1\r\nHost: gw\r\nX-Folded: a\r\n X-Injected: b\r\n\r\n")
	switch resp.Status {
	case http.StatusBadRequest:
		checkErrorBody(t, resp.Status, httpHeader(resp), resp.Body, http.StatusBadRequest, "malformed")
	case http.StatusNoContent:
		got := up.next(t)
		if v := got.header("X-Injected"); len(v) > 0 {
			t.Errorf("the folded line reached the upstream as a header: %q", got.Headers)
		}
		if v := got.header("X-Folded"); len(v) != 1 || strings.Join(strings.Fields(v[0]), " ") != "a X-Injected: b" {
			t.Errorf("upstream X-Folded %q, want the fold replaced by spaces", v)
		}
	default:
		t.Fatalf("status %d, want 400 or 204", resp.Status)
	}
	t.Logf("obs-fold answered %d", resp.Status)
}

// TestXForwardedUntrusted checks that a client which is not a trusted
// proxy cannot forge its address: X-Forwarded-* are replaced.
func TestXForwardedUntrusted(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "echo")
	g := startGateway(t, plainConfig(hostPort(up)))
	_, body := do(t, newClient(t), "GET", g.url("/api/xff"), nil, map[string]string{
		"Host":              "shop.example",
		"X-Forwarded-For":   "203.0.113.9, 10.0.0.1",
		"X-Forwarded-Proto": "https",
		"X-Forwarded-Host":  "evil.example",
	})
	rep := decodeEcho(t, body)
	checkHeader(t, rep.Header, "X-Forwarded-For", "127.0.0.1")
	checkHeader(t, rep.Header, "X-Forwarded-Proto", "http")
	checkHeader(t, rep.Header, "X-Forwarded-Host", "shop.example")
	if rep.Host != "shop.example" {
		t.Errorf("upstream Host %q, want shop.example", rep.Host)
	}
}

// TestXForwardedRepeated sends X-Forwarded-* as repeated header lines,
// which mean the same as one comma-separated line (RFC 9110 §5.3): from an
// untrusted peer every line is replaced, from a trusted one all are joined
// before the peer is appended.
func TestXForwardedRepeated(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t, func(*rawRequest, net.Conn, *bufio.Reader) []byte {
		return []byte("HTTP/1.1 204 No Content\r\n\r\n")
	})
	untrusted := startGateway(t, plainConfig(up.addr()))
	trusted := startGateway(t, `trusted_proxies: ["127.0.0.0/8"]
`+plainConfig(up.addr()))
	const req = "GET /api/xff HTTP/1.1\r\nHost: shop.example\r\n" +
		"X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-For: 198.51.100.7, 10.0.0.1\r\n" +
		"X-Forwarded-Proto: https\r\nX-Forwarded-Proto: ftp\r\n" +
		"X-Forwarded-Host: a.example\r\nX-Forwarded-Host: b.example\r\n\r\n"

	if resp := roundTrip(t, untrusted.addr, req); resp.Status != http.StatusNoContent {
		t.Fatalf("untrusted: status %d", resp.Status)
	}
	got := up.next(t)
	for name, want := range map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "shop.example"} {
		if v := got.header(name); len(v) != 1 || v[0] != want {
			t.Errorf("untrusted: upstream %s %q, want [%s]", name, v, want)
		}
	}

	if resp := roundTrip(t, trusted.addr, req); resp.Status != http.StatusNoContent {
		t.Fatalf("trusted: status %d", resp.Status)
	}
	got = up.next(t)
	if v := got.header("X-Forwarded-For"); len(v) != 1 || v[0] != "203.0.113.9, 198.51.100.7, 10.0.0.1, 127.0.0.1" {
		t.Errorf("trusted: upstream X-Forwarded-For %q, want [203.0.113.9, 198.51.100.7, 10.0.0.1, 127.0.0.1]", v)
	}
}

// TestXForwardedTrusted checks that behind a trusted proxy the chain is
// extended, and the proxy's X-Forwarded-Proto and -Host are believed.
func TestXForwardedTrusted(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "echo")
	g := startGateway(t, `trusted_proxies: ["127.0.0.1"]
`+plainConfig(hostPort(up)))
	c := newClient(t)
	_, body := do(t, c, "GET", g.url("/api/xff"), nil, map[string]string{
		"Host":              "shop.example",
		"X-Forwarded-For":   "203.0.113.9",
		"X-Forwarded-Proto": "https",
		"X-Forwarded-Host":  "www.shop.example",
	})
	rep := decodeEcho(t, body)
	checkHeader(t, rep.Header, "X-Forwarded-For", "203.0.113.9, 127.0.0.1")
	checkHeader(t, rep.Header, "X-Forwarded-Proto", "https")
	checkHeader(t, rep.Header, "X-Forwarded-Host", "www.shop.example")

	// A trusted peer that sends no X-Forwarded-For starts the chain.
	_, body = do(t, c, "GET", g.url("/api/xff"), nil, map[string]string{"Host": "shop.example"})
	rep = decodeEcho(t, body)
	checkHeader(t, rep.Header, "X-Forwarded-For", "127.0.0.1")
	checkHeader(t, rep.Header, "X-Forwarded-Proto", "http")
	checkHeader(t, rep.Header, "X-Forwarded-Host", "shop.example")
}

// TestHostHeader checks that the client's Host goes upstream unchanged by
// default, and that a service's host: replaces it (X-Forwarded-Host keeps
// the client's).
func TestHostHeader(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "echo")
	g := startGateway(t, fmt.Sprintf(`services:
  keep: { targets: [%[1]q] }
  override: { targets: [%[1]q], host: "internal.svc:8443" }
routes:
  - name: keep
    match: { path_prefix: /keep }
    upstream: keep
  - name: override
    match: { path_prefix: /override }
    upstream: override
`, hostPort(up)))
	c := newClient(t)

	_, body := do(t, c, "GET", g.url("/keep/x"), nil, map[string]string{"Host": "Shop.Example:8080"})
	if rep := decodeEcho(t, body); rep.Host != "Shop.Example:8080" {
		t.Errorf("default: upstream Host %q, want Shop.Example:8080 unchanged", rep.Host)
	}
	_, body = do(t, c, "GET", g.url("/override/x"), nil, map[string]string{"Host": "shop.example"})
	rep := decodeEcho(t, body)
	if rep.Host != "internal.svc:8443" {
		t.Errorf("override: upstream Host %q, want internal.svc:8443", rep.Host)
	}
	checkHeader(t, rep.Header, "X-Forwarded-Host", "shop.example")
}

func checkHeader(t *testing.T, h http.Header, name, want string) {
	t.Helper()
	if got := h.Values(name); len(got) != 1 || got[0] != want {
		t.Errorf("upstream %s %q, want [%s]", name, got, want)
	}
}
