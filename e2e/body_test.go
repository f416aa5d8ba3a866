package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// randomBytes returns n pseudo-random bytes, the same for the same seed.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'e', '2', 'e'})
	_, _ = r.Read(b)
	return b
}

// plainConfig routes every request to one service with the given targets.
func plainConfig(targets ...string) string {
	return fmt.Sprintf(`services:
  app: { targets: [%s], timeout: 10s }
routes:
  - name: all
    upstream: app
`, quoteList(targets))
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// TestLargeBinaryBodies sends a random 10 MiB body up and gets it back, and
// downloads another random 10 MiB body: all arrive byte for byte.
func TestLargeBinaryBodies(t *testing.T) {
	t.Parallel()
	const size = 10 << 20
	down := randomBytes(size, 2)
	up := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(down)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set(hdrEchoSHA, sha(body))
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})
	g := startGateway(t, plainConfig(hostPort(up)))
	c := newClient(t)

	body := randomBytes(size, 1)
	resp, got := do(t, c, "POST", g.url("/upload"), body, map[string]string{"Content-Type": "application/octet-stream"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST 10 MiB: status %d", resp.StatusCode)
	}
	if h := resp.Header.Get(hdrEchoSHA); h != sha(body) {
		t.Errorf("upstream received a body with sha256 %s, sent %s", h, sha(body))
	}
	if len(got) != size || sha(got) != sha(body) {
		t.Errorf("echoed body: %d bytes sha256 %s, want %d bytes sha256 %s", len(got), sha(got), size, sha(body))
	}

	resp, got = do(t, c, "GET", g.url("/download"), nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET 10 MiB: status %d", resp.StatusCode)
	}
	if len(got) != size || sha(got) != sha(down) {
		t.Errorf("downloaded body: %d bytes sha256 %s, want %d bytes sha256 %s", len(got), sha(got), size, sha(down))
	}
}

// TestGzipResponsePassesThrough checks that a compressed response keeps its
// Content-Encoding and its exact bytes: the gateway neither decodes nor
// re-encodes.
func TestGzipResponsePassesThrough(t *testing.T) {
	t.Parallel()
	plain := bytes.Repeat([]byte(`{"item":"compressible","n":12345}`+"\n"), 2000)
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	_, _ = zw.Write(plain)
	_ = zw.Close()
	gz := zb.Bytes()

	up := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Vary", "Accept-Encoding")
		_, _ = w.Write(gz)
	})
	g := startGateway(t, plainConfig(hostPort(up)))
	resp, got := do(t, newClient(t), "GET", g.url("/data.json"), nil, map[string]string{"Accept-Encoding": "gzip"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Errorf("Content-Encoding %q, want gzip", ce)
	}
	if !bytes.Equal(got, gz) {
		t.Fatalf("gzip body changed: %d bytes sha256 %s, upstream sent %d bytes sha256 %s", len(got), sha(got), len(gz), sha(gz))
	}
	zr, err := gzip.NewReader(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := io.ReadAll(zr); err != nil || !bytes.Equal(dec, plain) {
		t.Errorf("gzip body does not decode to the original (err %v)", err)
	}
}

// TestChunkedRequestBody writes a chunked request by hand; the upstream
// gets the whole body.
func TestChunkedRequestBody(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "echo")
	g := startGateway(t, plainConfig(hostPort(up)))

	body := randomBytes(1+4096+70000+3, 3)
	var req strings.Builder
	req.WriteString("POST /upload/chunked HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n")
	for i, n := range []int{1, 4096, 70000, 3} {
		off := 0
		for _, m := range []int{1, 4096, 70000, 3}[:i] {
			off += m
		}
		if i == 2 {
			// A chunk extension is valid (RFC 9112 §7.1.1) and ignored.
			fmt.Fprintf(&req, "%x;name=value\r\n", n)
		} else {
			fmt.Fprintf(&req, "%x\r\n", n)
		}
		req.Write(body[off : off+n])
		req.WriteString("\r\n")
	}
	req.WriteString("0\r\n\r\n")

	resp := roundTrip(t, g.addr, req.String())
	if resp.Status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	rep := decodeEcho(t, resp.Body)
	if rep.BodyLen != len(body) || rep.BodySHA != sha(body) {
		t.Errorf("upstream got %d bytes sha256 %s, want %d bytes sha256 %s", rep.BodyLen, rep.BodySHA, len(body), sha(body))
	}
	t.Logf("upstream framing: Content-Length %d, Transfer-Encoding %v", rep.ContentLength, rep.TransferEncoding)
}

// TestChunkedResponseBody has the upstream stream its answer in chunks; the
// client gets all of it.
func TestChunkedResponseBody(t *testing.T) {
	t.Parallel()
	body := randomBytes(1<<20+17, 4)
	up := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		f := w.(http.Flusher)
		for off, step := 0, len(body)/7+1; off < len(body); off += step {
			_, _ = w.Write(body[off:min(off+step, len(body))])
			f.Flush() // no Content-Length: net/http answers chunked
		}
	})
	g := startGateway(t, plainConfig(hostPort(up)))

	resp := roundTrip(t, g.addr, "GET /stream HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
	if resp.Status != http.StatusOK {
		t.Fatalf("status %d", resp.Status)
	}
	if !bytes.Equal(resp.Body, body) {
		t.Fatalf("body: %d bytes sha256 %s, want %d bytes sha256 %s", len(resp.Body), sha(resp.Body), len(body), sha(body))
	}
	t.Logf("client framing: Content-Length %q, Transfer-Encoding %q", resp.Header.Get("Content-Length"), resp.Header.Get("Transfer-Encoding"))
}

// TestQueryStringsUntouched checks that query strings reach the upstream
// byte for byte, however odd.
func TestQueryStringsUntouched(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "echo")
	g := startGateway(t, plainConfig(hostPort(up)))
	for _, q := range []string{
		"a=1&a=2&b=%20x&c=%2F&empty=&flag",
		"q=a+b&u=%E2%82%AC&semi=1;2&amp=%26&eq==x",
		"x=%zz&y=%&=nokey&&",
		"redirect=http%3A%2F%2Fexample.com%2F%3Fa%3D1",
	} {
		uri := "/api/q?" + q
		resp := roundTrip(t, g.addr, "GET "+uri+" HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
		if resp.Status != http.StatusOK {
			t.Errorf("%s: status %d", uri, resp.Status)
			continue
		}
		rep := decodeEcho(t, resp.Body)
		if rep.RawQuery != q || rep.RequestURI != uri {
			t.Errorf("sent %q, upstream got RequestURI %q RawQuery %q", uri, rep.RequestURI, rep.RawQuery)
		}
	}
}

// TestPathsRoutedNormalisedForwardedRaw pins how paths are treated: routes
// match the normalised, decoded path (dot segments resolved, %XX decoded,
// repeated slashes merged), while the request target goes upstream exactly
// as the client sent it, so old and new services see the same bytes and a
// %2F inside a segment keeps its meaning. A dot segment cannot climb out of
// a route's prefix: "/api/../admin" matches nothing. The other way round,
// "/other/../api/z" is routed to /api and forwarded as sent, as nginx's
// proxy_pass without a URI does: the upstream resolves dot segments itself
// (every mainstream server does), so routing and upstream agree.
func TestPathsRoutedNormalisedForwardedRaw(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "api")
	g := startGateway(t, fmt.Sprintf(`services:
  api: { targets: [%q] }
routes:
  - name: api
    match: { path_prefix: /api }
    upstream: api
`, hostPort(up)))
	for _, tc := range []struct {
		target string
		status int
	}{
		{"/api/x%2Fy/../z", http.StatusOK},
		{"/api/a//b/./c", http.StatusOK},
		{"/api/%7Euser/caf%C3%A9", http.StatusOK},
		{"/api/items/1?fields=a,b", http.StatusOK},
		{"/%61pi/encoded-prefix", http.StatusOK},
		{"/other/../api/z", http.StatusOK},
		{"/api/../admin", http.StatusNotFound},
		{"/apix", http.StatusNotFound},
	} {
		resp := roundTrip(t, g.addr, "GET "+tc.target+" HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
		if resp.Status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.target, resp.Status, tc.status, resp.Body)
			continue
		}
		if tc.status != http.StatusOK {
			continue
		}
		if rep := decodeEcho(t, resp.Body); rep.RequestURI != tc.target {
			t.Errorf("%s: upstream got request target %q", tc.target, rep.RequestURI)
		}
	}
}

// TestMethodsAndBodies sends every common method and a custom one; each
// reaches the upstream with its method and body.
func TestMethodsAndBodies(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "echo")
	g := startGateway(t, plainConfig(hostPort(up)))
	c := newClient(t)
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"} {
		var body []byte
		if m != "HEAD" {
			body = []byte("the body of a " + m + " request\x00\xff")
		}
		resp, got := do(t, c, m, g.url("/api/method"), body, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", m, resp.StatusCode)
			continue
		}
		if h := resp.Header.Get(hdrEchoMethod); h != m {
			t.Errorf("%s: upstream saw method %q", m, h)
		}
		if h := resp.Header.Get(hdrEchoSHA); h != sha(body) {
			t.Errorf("%s: upstream saw a body with sha256 %s, want %s", m, h, sha(body))
		}
		if m == "HEAD" {
			if len(got) != 0 {
				t.Errorf("HEAD: response has a %d-byte body", len(got))
			}
			continue
		}
		if rep := decodeEcho(t, got); rep.Method != m || rep.BodyLen != len(body) {
			t.Errorf("%s: upstream saw %s with %d bytes, want %d", m, rep.Method, rep.BodyLen, len(body))
		}
	}
}

// TestExpectContinue: the gateway answers "Expect: 100-continue" itself,
// reads the body, and forwards the request without Expect.
func TestExpectContinue(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "echo")
	g := startGateway(t, plainConfig(hostPort(up)))
	rc := dialRaw(t, g.addr)
	rc.send("PUT /api/doc HTTP/1.1\r\nHost: gw\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
	if resp := rc.read(false); resp.Status != http.StatusContinue {
		t.Fatalf("status %d, want 100 Continue first", resp.Status)
	}
	rc.send("hello world")
	resp := rc.read(false)
	if resp.Status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	rep := decodeEcho(t, resp.Body)
	if rep.BodySHA != sha([]byte("hello world")) || rep.Header.Get("Expect") != "" {
		t.Errorf("upstream got %d bytes and Expect %q", rep.BodyLen, rep.Header.Get("Expect"))
	}
}

// TestHeadKeepsContentLength: a HEAD answer keeps the upstream's
// Content-Length (the length a GET would have), with no body.
func TestHeadKeepsContentLength(t *testing.T) {
	t.Parallel()
	up := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "12345")
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.Method != http.MethodHead {
			_, _ = w.Write(make([]byte, 12345))
		}
	})
	g := startGateway(t, plainConfig(hostPort(up)))
	rc := dialRaw(t, g.addr)
	rc.send("HEAD /file HTTP/1.1\r\nHost: gw\r\n\r\n")
	resp := rc.read(true)
	if resp.Status != http.StatusOK || resp.Header.Get("Content-Length") != "12345" {
		t.Errorf("HEAD: status %d Content-Length %q, want 200 and 12345", resp.Status, resp.Header.Get("Content-Length"))
	}
	// The connection is still in sync: a GET on it gets its whole body.
	rc.send("GET /file HTTP/1.1\r\nHost: gw\r\n\r\n")
	if resp := rc.read(false); resp.Status != http.StatusOK || len(resp.Body) != 12345 {
		t.Errorf("GET after HEAD: status %d, %d bytes", resp.Status, len(resp.Body))
	}
}

// TestConnectionSemantics: pipelined requests are answered in order, and
// a client that asks for the connection to close (HTTP/1.1 Connection:
// close, or HTTP/1.0 without keep-alive) gets it closed after the answer,
// though the gateway strips Connection before forwarding.
func TestConnectionSemantics(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "echo")
	g := startGateway(t, plainConfig(hostPort(up)))

	rc := dialRaw(t, g.addr)
	rc.send("GET /one HTTP/1.1\r\nHost: gw\r\n\r\nPOST /two HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\nHost: gw\r\n\r\n")
	for _, want := range []string{"/one", "/two", "/three"} {
		resp := rc.read(false)
		if rep := decodeEcho(t, resp.Body); resp.Status != http.StatusOK || rep.RequestURI != want {
			t.Errorf("pipelined: got %d for %q, want %s", resp.Status, rep.RequestURI, want)
		}
	}

	for name, req := range map[string]string{
		"HTTP/1.1 Connection: close": "GET /close HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
		"HTTP/1.0":                   "GET /old HTTP/1.0\r\nHost: gw\r\n\r\n",
	} {
		rc := dialRaw(t, g.addr)
		rc.send(req)
		if resp := rc.read(false); resp.Status != http.StatusOK {
			t.Errorf("%s: status %d", name, resp.Status)
		}
		if !rc.closedByPeer() {
			t.Errorf("%s: the gateway kept the connection open", name)
		}
	}

	// HTTP/1.0 with keep-alive stays open for a second request.
	rc = dialRaw(t, g.addr)
	for range 2 {
		rc.send("GET /ka HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\n\r\n")
		if resp := rc.read(false); resp.Status != http.StatusOK {
			t.Fatalf("HTTP/1.0 keep-alive: status %d", resp.Status)
		}
	}
}
