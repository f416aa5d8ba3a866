package gateway

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/configs"
)

// streamGateway serves a gateway whose one route "s" goes to old (and
// shadows to new when shadow is set), with stream_above 64KiB and
// recording into a store of its own; extra is more YAML at the top level.
// The services' timeout is 5s.
func streamGateway(t *testing.T, old, new, shadow, extra string) (addr string, g *Gateway) {
	t.Helper()
	return streamGatewayWith(t, old, new, shadow, extra, "5s")
}

// streamGatewayWith is streamGateway with the services' timeout.
func streamGatewayWith(t *testing.T, old, new, shadow, extra, timeout string) (addr string, g *Gateway) {
	t.Helper()
	if new == "" {
		new = old
	}
	cfg, err := configs.Parse("stream.yaml", []byte(`
listen: "127.0.0.1:0"
stream_above: 64KiB
store: { path: "`+filepath.Join(t.TempDir(), "cutover.db")+`" }
record: { sample: 1, max_body: 1KiB }
`+extra+`
services:
  old: { targets: ["`+strings.TrimPrefix(old, "http://")+`"], timeout: `+timeout+` }
  new: { targets: ["`+strings.TrimPrefix(new, "http://")+`"], timeout: `+timeout+` }
routes:
  - name: s
    old: old
    new: new
`+shadow+`
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err = Open(cfg, "", nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close(context.Background()) })
	return serveOnLoopback(t, g), g
}

// rawSend opens a connection to addr, bounded in time and closed when t
// ends, sends raw on it and returns the connection's reader.
func rawSend(t *testing.T, addr, raw string) *bufio.Reader {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	return bufio.NewReader(conn)
}

// TestEventStreamArrivesAsSent: the upstream sends a first event and then
// waits until the client has read that event through the gateway; only
// then does it send the rest. A gateway that buffered the answer would
// hold the first event until the upstream ended, which never happens
// before the client saw it: the client's read deadline fails the test.
func TestEventStreamArrivesAsSent(t *testing.T) {
	seen := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-seen:
		case <-time.After(10 * time.Second):
			return
		}
		for i := range 3 {
			fmt.Fprintf(w, "data: more %d\n\n", i)
			w.(http.Flusher).Flush()
		}
	}))
	defer up.Close()
	addr, g := streamGateway(t, up.URL, "", "", "")

	resp, err := http.ReadResponse(rawSend(t, addr, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("got %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event: %q, %v (the gateway held it back)", line, err)
	}
	close(seen)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\ndata: more 0\n\ndata: more 1\n\ndata: more 2\n\n"; string(rest) != want {
		t.Fatalf("rest of the stream %q, want %q", rest, want)
	}
	if v := scrapedValue(t, g.AdminHandler(), `cutover_streamed_total{route="s"}`); v != 1 {
		t.Errorf("cutover_streamed_total %v, want 1", v)
	}
}

// patterned returns n pseudo-random bytes, the same for the same seed.
func patterned(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestLongBodiesPassByteExact: a download longer than stream_above, one
// of unknown length, and uploads of both kinds arrive byte for byte; a
// long answer is recorded cut at record.max_body and marked truncated.
func TestLongBodiesPassByteExact(t *testing.T) {
	body := patterned(8<<20, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/download":
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			_, _ = w.Write(body)
		case "/chunked":
			for i := 0; i < len(body); i += 1 << 20 {
				_, _ = w.Write(body[i : i+1<<20])
				w.(http.Flusher).Flush()
			}
		case "/upload":
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprintf(w, "%d %s %d", n, hex.EncodeToString(h.Sum(nil)), r.ContentLength)
		}
	}))
	defer up.Close()
	addr, g := streamGateway(t, up.URL, "", "", "")
	base := "http://" + addr

	for _, path := range []string{"/download", "/chunked"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || sum(got) != sum(body) {
			t.Fatalf("GET %s: %s, %d bytes, %v; want %d bytes byte for byte", path, resp.Status, len(got), err, len(body))
		}
	}
	// Known length, and unknown (a reader http.Post cannot size).
	for _, r := range []io.Reader{strings.NewReader(string(body)), io.MultiReader(strings.NewReader(string(body)))} {
		resp, err := http.Post(base+"/upload", "application/octet-stream", r)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(got), fmt.Sprintf("%d %s ", len(body), sum(body))) {
			t.Fatalf("upload: %s %q, want %d bytes with sha256 %s", resp.Status, got, len(body), sum(body))
		}
		if resp.Close {
			t.Errorf("upload: the connection was closed after a body read to its end")
		}
	}
	if v := scrapedValue(t, g.AdminHandler(), `cutover_streamed_total{route="s"}`); v != 2 {
		t.Errorf("cutover_streamed_total %v, want 2", v)
	}

	// The download's record holds the first record.max_body bytes, marked.
	var list struct {
		Records []struct {
			ID  string `json:"id"`
			URI string `json:"uri"`
		} `json:"records"`
	}
	pollUntil(t, "the four calls recorded", func() bool {
		rec := httptest.NewRecorder()
		g.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/records?route=s", nil))
		list.Records = nil
		_ = json.Unmarshal(rec.Body.Bytes(), &list)
		return len(list.Records) == 4
	})
	for _, r := range list.Records {
		rec := httptest.NewRecorder()
		g.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/records/"+r.ID, nil))
		var full struct {
			Request, Response struct {
				BodyBase64 string `json:"body_base64"`
				Body       *string
				Truncated  bool
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &full); err != nil {
			t.Fatal(err)
		}
		long := full.Response
		if r.URI == "/upload" {
			long = full.Request
		}
		if !long.Truncated {
			t.Errorf("record of %s: long body not marked truncated", r.URI)
		}
	}
}

// TestUploadOverMaxBody: a declared length over max_body gets 413 before
// the body is read; a chunked body that grows past it gets 413 too, and
// the upstream never gets a whole request.
func TestUploadOverMaxBody(t *testing.T) {
	var whole atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err == nil {
			whole.Add(1)
		}
	}))
	defer up.Close()
	addr, _ := streamGateway(t, up.URL, "", "", "max_body: 128KiB")
	chunk := strings.Repeat("x", 16<<10)
	for _, head := range []string{
		// Only the first 16 KiB follow: the answer must not wait for the rest.
		"Content-Length: 2097152\r\n\r\n" + chunk,
		"Transfer-Encoding: chunked\r\n\r\n" + strings.Repeat(fmt.Sprintf("%x\r\n%s\r\n", len(chunk), chunk), 12),
	} {
		resp, err := http.ReadResponse(rawSend(t, addr, "POST /upload HTTP/1.1\r\nHost: x\r\n"+head), nil)
		if err != nil {
			t.Fatalf("%.40q: %v", head, err)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
			t.Fatalf("%.40q: %s (close %v), want 413 and the connection closed", head, resp.Status, resp.Close)
		}
	}
	if n := whole.Load(); n != 0 {
		t.Fatalf("the upstream read %d whole requests over max_body", n)
	}
}

// TestClientLeavingMidStreamFreesTheUpstream: a client that reads the
// first bytes of an endless stream and hangs up makes the gateway close
// its upstream connection, which the upstream sees as a failed write; it
// is counted as ended by the client.
func TestClientLeavingMidStreamFreesTheUpstream(t *testing.T) {
	gone := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(gone)
		chunk := []byte(strings.Repeat("y", 4096))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
	}))
	defer up.Close()
	addr, g := streamGateway(t, up.URL, "", "", "")
	resp, err := http.Get("http://" + addr + "/endless")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 10000)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // mid-stream: closes the connection
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream kept streaming to a client that left")
	}
	pollUntil(t, "the abort counted", func() bool {
		return scrapedValue(t, g.AdminHandler(), `cutover_stream_aborted_total{route="s",by="client"}`) == 1
	})
}

// TestUpstreamFailingMidStream: an upstream that stops mid-body, by
// closing its connection (a sized body cut short, a chunked one without
// its last chunk) or by going silent past the service timeout, leaves the
// client with a failed body, never a complete-looking one, and is counted
// as ended by the upstream.
func TestUpstreamFailingMidStream(t *testing.T) {
	silent := make(chan struct{})
	defer close(silent)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		part := strings.Repeat("z", 100<<10)
		switch r.URL.Path {
		case "/sized":
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", 1<<20, part)
		case "/chunked":
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(part), part)
		case "/silent":
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(part), part)
			_ = bw.Flush()
			<-silent // past the gateway's timeout of 300ms
		}
		_ = bw.Flush()
	}))
	defer up.Close()
	addr, g := streamGatewayWith(t, up.URL, "", "", "", "300ms")
	for i, path := range []string{"/sized", "/chunked", "/silent"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Fatalf("%s: read %d bytes and a clean end from an upstream that failed mid-body", path, len(got))
		}
		pollUntil(t, path+": the abort counted", func() bool {
			return scrapedValue(t, g.AdminHandler(), `cutover_stream_aborted_total{route="s",by="upstream"}`) == float64(i+1)
		})
	}
}

// TestEarlyHintsForwarded: a 103 reaches the client before the final
// answer, while the upstream is still waiting to send it.
func TestEarlyHintsForwarded(t *testing.T) {
	hinted := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		select {
		case <-hinted:
		case <-time.After(10 * time.Second):
		}
		_, _ = io.WriteString(w, "page")
	}))
	defer up.Close()
	addr, g := streamGateway(t, up.URL, "", "", "")
	br := rawSend(t, addr, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
	interim, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if interim.StatusCode != 103 || interim.Header.Get("Link") != "</app.css>; rel=preload; as=style" {
		t.Fatalf("first answer %s %v, want 103 with the Link", interim.Status, interim.Header)
	}
	close(hinted)
	final, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(final.Body)
	if final.StatusCode != 200 || string(b) != "page" {
		t.Fatalf("final answer %s %q", final.Status, b)
	}
	if v := scrapedValue(t, g.AdminHandler(), "cutover_interim_forwarded_total"); v != 1 {
		t.Errorf("cutover_interim_forwarded_total %v, want 1", v)
	}
}

// TestStreamedTrailersForwarded: the trailers of a chunked answer follow
// its body to the client.
func TestStreamedTrailersForwarded(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "Grpc-Status")
		_, _ = io.WriteString(w, "part one ")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "part two")
		w.Header().Set("Grpc-Status", "0")
	}))
	defer up.Close()
	addr, _ := streamGateway(t, up.URL, "", "", "")
	resp, err := http.Get("http://" + addr + "/rpc")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "part one part two" {
		t.Fatalf("body %q, %v", b, err)
	}
	if got := resp.Trailer.Get("Grpc-Status"); got != "0" {
		t.Fatalf("trailer Grpc-Status %q, want 0 (trailers %v)", got, resp.Trailer)
	}
}

// TestStreamedCallsShadowedWhenTheyFit: a chunked answer within the
// shadow's cap is compared like any other; one longer than the cap is
// skipped as body_too_large.
func TestStreamedCallsShadowedWhenTheyFit(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/long" {
			_, _ = w.Write(make([]byte, 200<<10))
			return
		}
		_, _ = io.WriteString(w, `{"a":1,`)
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, `"b":2}`)
	})
	old := httptest.NewServer(handler)
	defer old.Close()
	new := httptest.NewServer(handler)
	defer new.Close()
	addr, g := streamGateway(t, old.URL, new.URL, "    shadow: { percent: 100, max_body: 100KiB }", "")
	for _, path := range []string{"/fits", "/long"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	admin := g.AdminHandler()
	pollUntil(t, "one copy compared and one skipped as too large", func() bool {
		return scrapedValue(t, admin, `cutover_shadow_compared_total{route="s"}`) == 1 &&
			scrapedValue(t, admin, `cutover_shadow_dropped_total{route="s",reason="body_too_large"}`) == 1
	})
	if v := scrapedValue(t, admin, `cutover_shadow_diff_total{route="s"}`); v > 0 {
		t.Errorf("%v diffs between equal streamed answers", v)
	}
}

// TestUnsizedAnswerToAnHTTP10Client: a client of HTTP/1.0 cannot read a
// chunked answer, so an answer of unknown length reaches it whole, with a
// Content-Length.
func TestUnsizedAnswerToAnHTTP10Client(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
		}
	}))
	defer up.Close()
	addr, _ := streamGateway(t, up.URL, "", "", "")
	resp, err := http.ReadResponse(rawSend(t, addr, "GET /events HTTP/1.0\r\nHost: x\r\n\r\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "data: 0\n\ndata: 1\n\ndata: 2\n\n" {
		t.Fatalf("body %q, %v", body, err)
	}
	if len(resp.TransferEncoding) > 0 || resp.ContentLength != int64(len(body)) {
		t.Fatalf("an HTTP/1.0 client got Transfer-Encoding %v, Content-Length %d", resp.TransferEncoding, resp.ContentLength)
	}
}

// TestMaxBodyAppliesAtReload: max_body is the handler's to enforce, so a
// reload that raises it takes effect at once, without a restart.
func TestMaxBodyAppliesAtReload(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	}))
	defer up.Close()
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	write := func(maxBody string) {
		t.Helper()
		yaml := "listen: \"127.0.0.1:0\"\nmax_body: " + maxBody + "\nservices:\n  app: { targets: [\"" + strings.TrimPrefix(up.URL, "http://") +
			"\"] }\nroutes:\n  - name: app\n    upstream: app\n"
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("1KiB")
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Open(cfg, path, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())
	addr := serveOnLoopback(t, g)
	post := func() int {
		t.Helper()
		resp, err := http.Post("http://"+addr+"/upload", "text/plain", strings.NewReader(strings.Repeat("x", 2048)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 KiB over max_body 1KiB: %d, want 413", code)
	}
	write("4KiB")
	res, err := g.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RestartRequired) > 0 {
		t.Fatalf("raising max_body asks for a restart of %v", res.RestartRequired)
	}
	if code := post(); code != http.StatusOK {
		t.Fatalf("2 KiB after max_body was raised to 4KiB: %d, want 200", code)
	}
}
