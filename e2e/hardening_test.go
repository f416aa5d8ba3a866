package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cutover/cutover/recorder"
)

// mirrorService answers every request with its body and Content-Type,
// and X-Side: side, so a secret sent in a request is in the response too.
func mirrorService(t *testing.T, side string) string {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		w.Header().Set("X-Side", side)
		_, _ = w.Write(body)
	})
	return hostPort(srv)
}

// TestHardeningRedactionFailsClosed sends JSON bodies in the shapes real
// services accept (byte-order mark, concatenated and newline-delimited
// values, a trailing comma, an anti-XSSI prefix, keys in another case) and
// malformed ones, through a shadowed route whose services echo them. No
// secret value reaches an admin API answer (records, chains, samples) or
// the store's files; the readable bodies are redacted and the others
// withheld and counted.
func TestHardeningRedactionFailsClosed(t *testing.T) {
	t.Parallel()
	g := startGateway(t, fmt.Sprintf(`record:
  redact:
    json: [password, card.number]
services:
  old: { targets: [%q] }
  new: { targets: [%q] }
routes:
  - name: r
    match: { path_prefix: / }
    old: old
    new: new
    shadow: { percent: 100, methods: [POST] }
    diff: { headers: [X-Side] }
`, mirrorService(t, "old"), mirrorService(t, "new")))

	// Each case sends a secret of its own; the case's name is its path.
	bodies := map[string]string{ // case → body
		"bom":       "\xef\xbb\xbf{\"password\":\"Zq1-hidden\"}",
		"concat":    `{"a":1}{"password":"Zq2-hidden"}`,
		"ndjson":    "{\"x\":1}\n{\"card\":{\"number\":\"Zq3-hidden\"}}\n",
		"comma":     `{"user":"u","password":"Zq4-hidden",}`,
		"xssi":      ")]}',\n{\"password\":\"Zq5-hidden\"}",
		"case":      `{"Password":"Zq6-hidden","CARD":{"Number":"Zq6b-hidden"}}`,
		"malformed": `{"password":"Zq7-hidden",,}`,
		"unquoted":  `{password: "Zq8-hidden"}`,
	}
	secrets := []string{"Zq1-hidden", "Zq2-hidden", "Zq3-hidden", "Zq4-hidden", "Zq5-hidden", "Zq6-hidden", "Zq6b-hidden", "Zq7-hidden", "Zq8-hidden"}
	withheld := map[string]bool{"malformed": true, "unquoted": true}
	c := newClient(t)
	var chains []string
	for name, body := range bodies {
		resp, got := do(t, c, "POST", g.url("/api/"+name), []byte(body), map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != http.StatusOK || string(got) != body {
			t.Fatalf("%s: status %d, body %q", name, resp.StatusCode, got)
		}
		chains = append(chains, resp.Header.Get("X-Chain-Id"))
	}

	// Every call is recorded twice: served by old, and its shadow copy.
	var page struct {
		Records []struct {
			ID       string                `json:"id"`
			URI      string                `json:"uri"`
			Request  struct{ Body string } `json:"request"`
			Response struct{ Body string } `json:"response"`
		} `json:"records"`
	}
	var recordsText string
	waitFor(t, "every call and its shadow recorded", func() bool {
		_, b := do(t, c, "GET", g.adminURL("/api/records?limit=100"), nil, nil)
		recordsText = string(b)
		return json.Unmarshal(b, &page) == nil && len(page.Records) == 2*len(bodies)
	})
	answers := map[string]string{"/api/records": recordsText}
	for _, r := range page.Records {
		name := strings.TrimPrefix(r.URI, "/api/")
		for _, b := range []string{r.Request.Body, r.Response.Body} {
			switch {
			case withheld[name] && !strings.HasPrefix(b, recorder.Withheld+" ") || withheld[name] && !strings.HasSuffix(b, " bytes of application/json"):
				t.Errorf("%s: stored %q, want it withheld", name, b)
			case !withheld[name] && !strings.Contains(b, `"[redacted]"`):
				t.Errorf("%s: stored %q, want it redacted", name, b)
			}
		}
		_, one := do(t, c, "GET", g.adminURL("/api/records/"+r.ID), nil, nil)
		answers["/api/records/"+r.ID] = string(one)
	}
	for _, id := range chains {
		_, b := do(t, c, "GET", g.adminURL("/api/chains/"+id), nil, nil)
		answers["/api/chains/"+id] = string(b)
	}
	var samples []string
	waitFor(t, "samples of the X-Side difference", func() bool {
		for _, f := range g.report(t, "?route=r").Routes[0].Fields {
			if f.Kind == "header" && len(f.Samples) > 0 {
				samples = f.Samples
				return true
			}
		}
		return false
	})
	for _, id := range samples {
		var b []byte
		waitFor(t, "sample "+id, func() bool {
			var resp *http.Response
			resp, b = do(t, c, "GET", g.adminURL("/api/samples/"+id), nil, nil)
			return resp.StatusCode == http.StatusOK
		})
		answers["/api/samples/"+id] = string(b)
	}
	for path, text := range answers {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds the secret %s: %s", path, secret, text)
			}
		}
	}
	if n := g.metrics(t, nil)["cutover_records_withheld_total"]; n < 2*float64(len(withheld)) {
		t.Errorf("cutover_records_withheld_total = %v, want at least %d", n, 2*len(withheld))
	}

	// The store's files, once the gateway has stopped.
	g.signal(syscall.SIGTERM)
	if code := g.wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	readable := false
	err := filepath.WalkDir(filepath.Join(filepath.Dir(g.config), "data"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		readable = readable || strings.Contains(string(data), "[redacted]")
		for _, secret := range secrets {
			if strings.Contains(string(data), secret) {
				t.Errorf("store file %s holds the secret %s", path, secret)
			}
		}
		return nil
	})
	if err != nil || !readable {
		t.Fatalf("reading the store's files: %v (redacted values found: %v)", err, readable)
	}
}

// TestHardeningConnect: CONNECT is answered 405 with Allow, counted, and
// never reaches an upstream, unless the route it matches lists it.
func TestHardeningConnect(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t, func(*rawRequest, net.Conn, *bufio.Reader) []byte {
		return []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	g := startGateway(t, fmt.Sprintf(`services: { up: { targets: [%q] } }
routes:
  - { name: any, upstream: up }
  - { name: tunnel, match: { host: tunnel.example, methods: [CONNECT] }, upstream: up }
`, up.addr()))

	rc := dialRaw(t, g.addr)
	rc.send("CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n")
	resp := rc.read(false)
	checkErrorBody(t, resp.Status, http.Header(resp.Header), resp.Body, http.StatusMethodNotAllowed, "method_not_allowed")
	if allow := resp.Header.Get("Allow"); allow == "" || strings.Contains(allow, "CONNECT") {
		t.Errorf("Allow %q, want the methods without CONNECT", allow)
	}
	if !rc.closedByPeer() {
		t.Error("the connection stayed open after a refused CONNECT")
	}

	// The next request the upstream sees is this GET: the CONNECT never
	// reached it.
	if r := roundTrip(t, g.addr, "GET /after HTTP/1.1\r\nHost: shop.example\r\n\r\n"); r.Status != http.StatusOK {
		t.Fatalf("GET after the CONNECT: %d", r.Status)
	}
	if got := up.next(t); got.Line != "GET /after HTTP/1.1" {
		t.Fatalf("the upstream got %q first", got.Line)
	}
	if r := roundTrip(t, g.addr, "CONNECT tunnel.example:443 HTTP/1.1\r\nHost: tunnel.example:443\r\n\r\n"); r.Status != http.StatusOK {
		t.Fatalf("CONNECT on a route that lists it: %d %s", r.Status, r.Body)
	}
	if got := up.next(t); !strings.HasPrefix(got.Line, "CONNECT tunnel.example:443 ") {
		t.Fatalf("the upstream got %q, want the listed CONNECT", got.Line)
	}
	if n := g.metrics(t, nil)[`cutover_requests_rejected_total{reason="method_not_allowed"}`]; n != 1 {
		t.Errorf("rejected method_not_allowed = %v, want 1", n)
	}
}

// TestHardeningHeaderTimeout: a connection that sends nothing is closed
// without an answer after client_header_timeout, half a request header
// gets 408, both count as timeout (not malformed), and a keep-alive
// connection idle for longer than the header timeout still serves.
func TestHardeningHeaderTimeout(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "up")
	g := startGateway(t, fmt.Sprintf("client_header_timeout: 1s\nservices: { up: { targets: [%q] } }\nroutes: [ { name: r, upstream: up } ]\n", hostPort(up)))

	keep := dialRaw(t, g.addr)
	keep.send("GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
	if r := keep.read(false); r.Status != http.StatusOK {
		t.Fatalf("first request: %d", r.Status)
	}

	idle := dialRaw(t, g.addr)
	half := dialRaw(t, g.addr)
	half.send("GET /slow HTTP/1.1\r\nHost: a\r\nX-Slow: ")
	resp := half.read(false)
	checkErrorBody(t, resp.Status, http.Header(resp.Header), resp.Body, http.StatusRequestTimeout, "timeout")
	if !half.closedByPeer() {
		t.Error("the connection stayed open after 408")
	}
	if !idle.closedByPeer() {
		t.Error("an idle connection was not closed")
	}
	if b, _ := idle.br.Peek(1); len(b) > 0 {
		t.Errorf("an idle connection got an answer: %q", b)
	}

	// keep has been idle for longer than the header timeout (the 408
	// above came after it), which applies only once a request starts.
	keep.send("GET /second HTTP/1.1\r\nHost: a\r\n\r\n")
	if r := keep.read(false); r.Status != http.StatusOK {
		t.Fatalf("a keep-alive request after an idle spell: %d", r.Status)
	}
	m := g.metrics(t, nil)
	if m[`cutover_requests_rejected_total{reason="timeout"}`] != 2 || m[`cutover_requests_rejected_total{reason="malformed"}`] != 0 {
		t.Errorf("rejected timeout %v, malformed %v; want 2 and 0",
			m[`cutover_requests_rejected_total{reason="timeout"}`], m[`cutover_requests_rejected_total{reason="malformed"}`])
	}
}

// TestHardeningAbsoluteForm: an absolute-form target's authority replaces
// Host (RFC 9112 §3.2.2), for routing and for the upstream, which gets the
// target in origin-form.
func TestHardeningAbsoluteForm(t *testing.T) {
	t.Parallel()
	a, b := newEcho(t, "a"), newEcho(t, "b")
	g := startGateway(t, fmt.Sprintf(`services: { a: { targets: [%q] }, b: { targets: [%q] } }
routes:
  - { name: a, match: { host: a.example }, upstream: a }
  - { name: b, match: { host: b.example }, upstream: b }
`, hostPort(a), hostPort(b)))

	resp := roundTrip(t, g.addr, "GET http://B.example:80/x?y=1 HTTP/1.1\r\nHost: a.example\r\n\r\n")
	if resp.Status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	rep := decodeEcho(t, resp.Body)
	if rep.Upstream != "b" || rep.Host != "b.example:80" || rep.RequestURI != "/x?y=1" {
		t.Errorf("upstream %s got Host %q and target %q, want b with Host b.example:80 and /x?y=1", rep.Upstream, rep.Host, rep.RequestURI)
	}
	if got := rep.Header.Get("X-Forwarded-Host"); got != "b.example:80" {
		t.Errorf("X-Forwarded-Host %q", got)
	}
	// Without a host the target is malformed.
	resp = roundTrip(t, g.addr, "GET http:///x HTTP/1.1\r\nHost: a.example\r\n\r\n")
	if resp.Status != http.StatusBadRequest {
		t.Errorf("absolute-form target without a host: %d, want 400", resp.Status)
	}
}

// TestHardeningBareLF: a request head with a bare LF line ending is
// answered 400 at once, on a new connection and on a keep-alive one; the
// header timeout is an hour, so an answer that waited for it would never
// come. Bodies with bare LFs pass.
func TestHardeningBareLF(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "up")
	g := startGateway(t, fmt.Sprintf("client_header_timeout: 1h\nservices: { up: { targets: [%q] } }\nroutes: [ { name: r, upstream: up } ]\n", hostPort(up)))

	for _, req := range []string{
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\n\r\n",
	} {
		resp := roundTrip(t, g.addr, req)
		checkErrorBody(t, resp.Status, http.Header(resp.Header), resp.Body, http.StatusBadRequest, "malformed")
	}

	rc := dialRaw(t, g.addr)
	body := "line one\n\nline two\n"
	rc.send(fmt.Sprintf("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	if r := rc.read(false); r.Status != http.StatusOK || decodeEcho(t, r.Body).BodySHA != sha([]byte(body)) {
		t.Fatalf("a body with bare LFs: %d %s", r.Status, r.Body)
	}
	rc.send("GET /b HTTP/1.1\nHost: a\n\n")
	resp := rc.read(false)
	checkErrorBody(t, resp.Status, http.Header(resp.Header), resp.Body, http.StatusBadRequest, "malformed")
}
