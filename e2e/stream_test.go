package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pattern is an endless reader of the bytes 0..250 repeated: long bodies
// are generated and checked without holding them.
type pattern struct{ off int }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.off % 251)
		p.off++
	}
	return len(b), nil
}

func patternSum(n int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, io.LimitReader(&pattern{}, n))
	return hex.EncodeToString(h.Sum(nil))
}

// peakRSS reads a process's peak resident set (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// TestHundredMegabytesStreamFlat: with recording and shadowing on, a
// 100 MB download and a 100 MB upload, each of known and of unknown
// length, pass through the gateway byte for byte while its peak resident
// set grows by far less than one body.
func TestHundredMegabytesStreamFlat(t *testing.T) {
	const size = 100 << 20
	handler := func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/download":
			w.Header().Set("Content-Length", strconv.Itoa(size))
			_, _ = io.Copy(w, io.LimitReader(&pattern{}, size))
		case "/download-chunked":
			_, _ = io.Copy(w, io.LimitReader(&pattern{}, size))
		case "/upload":
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}
	old := newServer(t, handler)
	new := newServer(t, handler)
	g := startGateway(t, fmt.Sprintf(`
max_body: 200MiB
store: { path: %q }
record: { sample: 1 }
services:
  old: { targets: [%q] }
  new: { targets: [%q] }
routes:
  - name: big
    old: old
    new: new
    shadow: { percent: 100 }
`, t.TempDir()+"/cutover.db", hostPort(old), hostPort(new)))
	c := newClient(t)
	do(t, c, "GET", g.url("/warm"), nil, nil)
	before := peakRSS(t, g.cmd.Process.Pid)
	want := patternSum(size)

	for _, path := range []string{"/download", "/download-chunked"} {
		resp, err := c.Get(g.url(path))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != want {
			t.Fatalf("GET %s: %d bytes, %v; want %d bytes byte for byte", path, n, err, size)
		}
	}
	for _, length := range []int64{size, -1} {
		req, err := http.NewRequest("POST", g.url("/upload"), io.LimitReader(&pattern{}, size))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != fmt.Sprintf("%d %s", size, want) {
			t.Fatalf("upload (length %d): %s %q, want %d bytes with sha256 %s", length, resp.Status, got, size, want)
		}
	}
	grew := peakRSS(t, g.cmd.Process.Pid) - before
	t.Logf("peak RSS %d MiB before, grew by %d MiB over 4 x 100 MiB bodies", before>>20, grew>>20)
	if grew > 32<<20 {
		t.Fatalf("peak RSS grew by %d MiB passing 100 MiB bodies: they were held, not streamed", grew>>20)
	}
	m := g.metrics(t, nil)
	if v := m[`cutover_streamed_total{route="big"}`]; v != 2 {
		t.Errorf("cutover_streamed_total %v, want 2", v)
	}
	// The downloads are too long to compare: skipped, counted. (The
	// uploads are writes, which shadows leave alone by default.)
	waitFor(t, "the downloads counted as too long to shadow", func() bool {
		return g.metrics(t, nil)[`cutover_shadow_dropped_total{route="big",reason="body_too_large"}`] == 2
	})
}

// TestEventStreamThroughTheBinary: an event stream's first event reaches
// the client while the upstream is still waiting to send the next (it
// waits until the client has the first), and a 103 Early Hints arrives
// before the final answer, while the upstream still holds it back.
func TestEventStreamThroughTheBinary(t *testing.T) {
	seen := make(chan struct{}, 1)
	hinted := make(chan struct{}, 1)
	up := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		wait := func(ch chan struct{}) {
			select {
			case <-ch:
			case <-time.After(pollTimeout):
			}
		}
		switch r.URL.Path {
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			wait(seen)
			_, _ = io.WriteString(w, "data: two\n\n")
		case "/page":
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			wait(hinted)
			_, _ = io.WriteString(w, "page")
		}
	})
	g := startGateway(t, fmt.Sprintf(`
services:
  app: { targets: [%q] }
routes:
  - name: app
    upstream: app
`, hostPort(up)))

	conn, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(pollTimeout))
	br := bufio.NewReader(conn)
	fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	events := bufio.NewReader(resp.Body)
	if line, err := events.ReadString('\n'); err != nil || line != "data: one\n" {
		t.Fatalf("first event %q, %v: held back until the stream ended", line, err)
	}
	seen <- struct{}{}
	rest, err := io.ReadAll(events)
	if err != nil || string(rest) != "\ndata: two\n\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}

	fmt.Fprintf(conn, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
	interim, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if interim.StatusCode != http.StatusEarlyHints || interim.Header.Get("Link") != "</a.css>; rel=preload" {
		t.Fatalf("first answer %s %v, want 103 with its Link", interim.Status, interim.Header)
	}
	hinted <- struct{}{}
	final, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(final.Body)
	if final.StatusCode != 200 || string(body) != "page" {
		t.Fatalf("final answer %s %q", final.Status, body)
	}
}
