package gateway

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestCanonicalKeyMatchesFasthttp(t *testing.T) {
	for _, name := range append(watchedNames[:], "x-chain-id", "X-CHAIN-ID", "x-b3-traceid") {
		if name == "" || name == "Content-Length" || name == "Transfer-Encoding" {
			continue // kept outside the header list by fasthttp
		}
		var h fasthttp.RequestHeader
		h.Set(name, "v")
		var got string
		for k := range h.All() {
			if strings.EqualFold(string(k), name) {
				got = string(k)
			}
		}
		if got != string(canonicalKey(name)) {
			t.Errorf("canonicalKey(%q) = %q, fasthttp stores %q", name, canonicalKey(name), got)
		}
	}
}

func parseRequest(t *testing.T, raw string) *fasthttp.RequestCtx {
	t.Helper()
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 4000}, nil)
	if err := ctx.Request.Read(bufioReader(raw)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func scanOf(ctx *fasthttp.RequestCtx) *headerScan {
	s := &headerScan{}
	s.scanRequest(&ctx.Request.Header, "X-Chain-Id", canonicalKey("X-Chain-Id"))
	return s
}

func TestPrepareUpstreamRequestRemovesHopHeaders(t *testing.T) {
	ctx := parseRequest(t, "GET /x HTTP/1.1\r\nHost: shop\r\n"+
		"Connection: keep-alive, X-Secret-Hop\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"+
		"TE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nProxy-Authorization: Basic eA==\r\nExpect: 100-continue\r\n"+
		"X-Secret-Hop: 1\r\nX-Keep: yes\r\n\r\n")
	s := scanOf(ctx)
	prepareUpstreamRequest(ctx, s, nil, isUpgrade(s), nil)
	h := &ctx.Request.Header
	for _, name := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade", "Proxy-Authorization", "Expect", "X-Secret-Hop"} {
		if v := h.Peek(name); len(v) > 0 {
			t.Errorf("%s: %q still forwarded", name, v)
		}
	}
	if string(h.Peek("X-Keep")) != "yes" {
		t.Error("an end-to-end header was removed")
	}
	if h.ConnectionClose() {
		t.Error("the upstream request asks to close the connection")
	}
}

func TestUpgradeKeepsConnectionAndUpgrade(t *testing.T) {
	ctx := parseRequest(t, "GET /ws HTTP/1.1\r\nHost: shop\r\nConnection: Upgrade, X-Hop\r\nUpgrade: websocket\r\nKeep-Alive: 1\r\nX-Hop: 1\r\n\r\n")
	s := scanOf(ctx)
	if !isUpgrade(s) {
		t.Fatal("not recognised as an upgrade")
	}
	prepareUpstreamRequest(ctx, s, nil, true, nil)
	h := &ctx.Request.Header
	if string(h.Peek("Upgrade")) != "websocket" || !h.ConnectionUpgrade() || len(h.Peek("Keep-Alive")) > 0 || len(h.Peek("X-Hop")) > 0 {
		t.Errorf("upgrade headers wrong:\n%s", h.String())
	}
}

func TestForwardedHeaders(t *testing.T) {
	const raw = "GET /x HTTP/1.1\r\nHost: shop.example.com\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-Proto: https\r\n\r\n"
	tests := []struct {
		name    string
		trusted []netip.Prefix
		xff     string
		proto   string
	}{
		{"untrusted peer: replaced", nil, "10.1.2.3", "http"},
		{"trusted peer: extended", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "1.1.1.1, 10.1.2.3", "https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := parseRequest(t, raw)
			prepareUpstreamRequest(ctx, scanOf(ctx), tt.trusted, false, nil)
			h := &ctx.Request.Header
			if got := string(h.Peek("X-Forwarded-For")); got != tt.xff {
				t.Errorf("X-Forwarded-For %q, want %q", got, tt.xff)
			}
			if got := string(h.Peek("X-Forwarded-Proto")); got != tt.proto {
				t.Errorf("X-Forwarded-Proto %q, want %q", got, tt.proto)
			}
			if got := string(h.Peek("X-Forwarded-Host")); got != "shop.example.com" {
				t.Errorf("X-Forwarded-Host %q", got)
			}
		})
	}
}

func TestConflictingFraming(t *testing.T) {
	for raw, want := range map[string]bool{
		"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n": true,
		"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\ncontent-length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n": true,
		"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n":                      false,
		"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc":                                                 false,
	} {
		if got := hasConflictingFraming(scanOf(parseRequest(t, raw))); got != want {
			t.Errorf("%q: conflicting %v, want %v", raw, got, want)
		}
	}
}

func TestCleanUpstreamResponse(t *testing.T) {
	var resp fasthttp.Response
	raw := "HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nX-Keep: 1\r\nContent-Length: 2\r\n\r\nok"
	if err := resp.Read(bufioReader(raw)); err != nil {
		t.Fatal(err)
	}
	cleanUpstreamHeader(&resp.Header, false)
	if resp.ConnectionClose() || len(resp.Header.Peek("Keep-Alive")) > 0 || len(resp.Header.Peek("X-Hop")) > 0 {
		t.Errorf("hop-by-hop headers left:\n%s", resp.Header.String())
	}
	if string(resp.Header.Peek("X-Keep")) != "1" || string(resp.Body()) != "ok" {
		t.Errorf("end-to-end content lost:\n%s", resp.String())
	}
}

func TestWriteErrorBody(t *testing.T) {
	var ctx fasthttp.RequestCtx
	writeError(&ctx, reasonTimeout, []byte("4bf92f3577b34da6a3ce929d0e0e4736"), "X-Chain-Id")
	want := `{"error":"upstream timed out","reason":"timeout","status":504,"chain_id":"4bf92f3577b34da6a3ce929d0e0e4736"}` + "\n"
	if ctx.Response.StatusCode() != 504 || string(ctx.Response.Body()) != want {
		t.Errorf("got %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if string(ctx.Response.Header.Peek("X-Chain-Id")) != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Error("chain header missing on the error")
	}
}

func TestHandleAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }}
	go func() { _ = up.Serve(ln) }()
	defer func() { _ = up.Shutdown() }()
	g := benchGateway(t, ln.Addr().String())
	var req fasthttp.Request
	if err := req.Read(bufioReader(benchRequest)); err != nil {
		t.Fatal(err)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, nil)
	allocs := testing.AllocsPerRun(200, func() {
		req.CopyTo(&ctx.Request)
		g.handle(&ctx)
	})
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if allocs > 0 {
		t.Errorf("a proxied request allocates %.1f times", allocs)
	}
}
