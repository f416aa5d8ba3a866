package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/chaintree"
	"github.com/cutover/cutover/record"
	"github.com/cutover/cutover/store"
)

// chainReply is GET /api/chains/ID.
type chainReply struct {
	ChainID string      `json:"chain_id"`
	Calls   int         `json:"calls"`
	Errors  int         `json:"errors"`
	Roots   []chainCall `json:"roots"`
}

type chainCall struct {
	SpanID   string      `json:"span_id"`
	Parent   string      `json:"parent_span_id"`
	Route    string      `json:"route"`
	Tenant   string      `json:"tenant"`
	Side     string      `json:"side"`
	URI      string      `json:"uri"`
	Status   int         `json:"status"`
	Error    string      `json:"error"`
	Children []chainCall `json:"children"`
}

// hopService is a service that, like any OpenTelemetry-instrumented one,
// forwards the traceparent it received when it calls the next service
// through the gateway. next is called lazily because the gateway's address
// is known only after the services start.
func hopService(t *testing.T, name string, next func() string) *httptest.Server {
	c := newClient(t)
	return newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if next == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"error":"%s failed","card":{"number":"4111111111111111"}}`, name)
			return
		}
		resp, body, err := tryDo(c, "POST", next(), []byte(`{"from":"`+name+`","password":"hunter2"}`),
			map[string]string{"traceparent": r.Header.Get("traceparent"), "Content-Type": "application/json", "Authorization": "Bearer s3cret"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	})
}

// TestRecordedChainTree sends one request into service A, which calls B
// through the gateway, which calls C through the gateway; C fails. The
// three hops read back as one chain: A at the root, B under A, C under B
// with its error, with credentials and redacted JSON fields replaced.
func TestRecordedChainTree(t *testing.T) {
	t.Parallel()
	var g *gatewayProc
	svcC := hopService(t, "c", nil)
	svcB := hopService(t, "b", func() string { return g.url("/c/charge") })
	svcA := hopService(t, "a", func() string { return g.url("/b/pay") })
	g = startGateway(t, fmt.Sprintf(`record:
  redact:
    json: [password, card.number]
services:
  a: { targets: [%q] }
  b: { targets: [%q] }
  c: { targets: [%q] }
routes:
  - { name: a, match: { path_prefix: /a }, upstream: a, tenant: [ { header: X-Org-Id } ] }
  - { name: b, match: { path_prefix: /b }, upstream: b }
  - { name: c, match: { path_prefix: /c }, upstream: c }
`, hostPort(svcA), hostPort(svcB), hostPort(svcC)))

	resp, body := do(t, newClient(t), "GET", g.url("/a/checkout"), nil, map[string]string{"X-Org-Id": "acme"})
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	id := resp.Header.Get("X-Chain-Id")
	var tree chainReply
	waitFor(t, "three recorded hops", func() bool {
		r, b := do(t, newClient(t), "GET", g.adminURL("/api/chains/"+id), nil, nil)
		return r.StatusCode == http.StatusOK && json.Unmarshal(b, &tree) == nil && tree.Calls == 3
	})
	if tree.ChainID != id || tree.Errors != 3 || len(tree.Roots) != 1 {
		t.Fatalf("chain %+v", tree)
	}
	a := tree.Roots[0]
	if a.Route != "a" || a.Tenant != "acme" || a.Parent != "" || len(a.Children) != 1 {
		t.Fatalf("root %+v", a)
	}
	b := a.Children[0]
	if b.Route != "b" || b.Parent != a.SpanID || b.Status != 500 || len(b.Children) != 1 {
		t.Fatalf("second hop %+v under %s", b, a.SpanID)
	}
	c := b.Children[0]
	if c.Route != "c" || c.Parent != b.SpanID || c.Status != 500 || c.URI != "/c/charge" || len(c.Children) != 0 {
		t.Fatalf("innermost hop %+v under %s", c, b.SpanID)
	}

	// The records API has the bodies, redacted.
	var recs struct {
		Records []json.RawMessage `json:"records"`
	}
	_, raw := do(t, newClient(t), "GET", g.adminURL("/api/records?route=c&status=5xx"), nil, nil)
	if err := json.Unmarshal(raw, &recs); err != nil || len(recs.Records) != 1 {
		t.Fatalf("/api/records?route=c&status=5xx: %v: %s", err, raw)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, recs.Records[0]); err != nil {
		t.Fatal(err)
	}
	text := compact.String()
	for _, want := range []string{`["Authorization","[redacted]"]`, `\"password\":\"[redacted]\"`, `\"number\":\"[redacted]\"`} {
		if !strings.Contains(text, want) {
			t.Errorf("record lacks %s: %s", want, text)
		}
	}
	for _, secret := range []string{"s3cret", "hunter2", "4111111111111111"} {
		if strings.Contains(text, secret) {
			t.Errorf("record holds the secret %q: %s", secret, text)
		}
	}

	// cutover chain prints the tree; stdout is not a terminal, so no color.
	code, out, errOut := runCLI(t, "chain", "--admin", g.admin, id)
	if code != 0 {
		t.Fatalf("cutover chain: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if strings.Contains(out, "\x1b[") || len(lines) < 4 || !strings.Contains(out, "/a/checkout") ||
		!strings.Contains(out, "/c/charge") || strings.Count(out, chaintree.FailedMark) != 3 {
		t.Errorf("cutover chain output:\n%s", out)
	}
	code, _, errOut = runCLI(t, "chain", "--admin", g.admin, "0123456789abcdef0123456789abcdef")
	if code != 1 || !strings.Contains(errOut, "no recorded calls") {
		t.Errorf("cutover chain for an unknown chain: exit %d, stderr %q", code, errOut)
	}
}

// TestRecordTruncationAndPaging records bodies over record.max_body and
// reads the records back page by page.
func TestRecordTruncationAndPaging(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "up")
	g := startGateway(t, fmt.Sprintf(`record: { max_body: 16 }
services: { up: { targets: [%q] } }
routes: [ { name: r, upstream: up, tenant: [ { query: org } ] } ]
`, hostPort(up)))
	c := newClient(t)
	for i := range 25 {
		do(t, c, "POST", g.url(fmt.Sprintf("/x/%d?org=t%d", i, i%2)), []byte(strings.Repeat("b", 100)), nil)
	}
	type page struct {
		Records []struct {
			URI     string `json:"uri"`
			Tenant  string `json:"tenant"`
			Request struct {
				Body      string `json:"body"`
				Truncated bool   `json:"truncated"`
			} `json:"request"`
			Response struct {
				Truncated bool `json:"truncated"`
			} `json:"response"`
		} `json:"records"`
		Next string `json:"next"`
	}
	var all []string
	cursor := ""
	waitFor(t, "25 records", func() bool {
		var p page
		_, b := do(t, c, "GET", g.adminURL("/api/records?limit=1000"), nil, nil)
		return json.Unmarshal(b, &p) == nil && len(p.Records) == 25
	})
	for {
		var p page
		_, b := do(t, c, "GET", g.adminURL("/api/records?tenant=t1&limit=5&cursor="+cursor), nil, nil)
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		for _, r := range p.Records {
			if r.Tenant != "t1" || !r.Request.Truncated || r.Request.Body != strings.Repeat("b", 16) || !r.Response.Truncated {
				t.Errorf("record %+v: want tenant t1, a request body cut at 16 bytes, both truncated", r)
			}
			all = append(all, r.URI)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(all) != 12 || all[0] != "/x/23?org=t1" || all[11] != "/x/1?org=t1" {
		t.Errorf("paged records of tenant t1, newest first: %v", all)
	}
	r, b := do(t, c, "GET", g.adminURL("/api/records?status=banana"), nil, nil)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "status") {
		t.Errorf("a bad status filter: %d %s", r.StatusCode, b)
	}
}

// openStore opens the store a stopped gateway left in dir.
func openStore(t *testing.T, dir string) *store.Bolt {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(dir, "data", "cutover.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// loadWithIDs sends requests with known chain IDs from several clients
// until stop is closed, and reports each answered ID with when its answer
// arrived.
type idLoad struct {
	mu       sync.Mutex
	answered map[chain.TraceID]time.Time
	failed   atomic.Int64
	sent     atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startIDLoad(t *testing.T, g *gatewayProc, workers int) *idLoad {
	l := &idLoad{answered: map[chain.TraceID]time.Time{}, stop: make(chan struct{})}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := newClient(t)
			for i := 1; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				hex := fmt.Sprintf("%016x%016x", w+1, i)
				id, _ := chain.ParseChainID([]byte(hex))
				l.sent.Add(1)
				resp, _, err := tryDo(c, "POST", g.url("/api/x"), []byte(`{"n":1}`), map[string]string{"X-Chain-Id": hex})
				if err != nil || resp.StatusCode != http.StatusOK {
					l.failed.Add(1)
					continue
				}
				l.mu.Lock()
				l.answered[id] = time.Now()
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *idLoad) halt() {
	close(l.stop)
	l.wg.Wait()
}

// TestRecordSIGTERMFlushes: every request answered before SIGTERM is in the
// store after the gateway exits; the queue was flushed, not dropped.
func TestRecordSIGTERMFlushes(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "up")
	g := startGateway(t, fmt.Sprintf("services: { up: { targets: [%q] } }\nroutes: [ { name: r, upstream: up } ]\n", hostPort(up)))
	load := startIDLoad(t, g, 4)
	waitFor(t, "2000 answered requests", func() bool { return load.sent.Load() >= 2000 })
	load.halt()
	g.signal(syscall.SIGTERM)
	if code := g.wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	st := openStore(t, filepath.Dir(g.config))
	stats, err := st.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if int(stats.Records) != len(load.answered) || load.failed.Load() != 0 {
		t.Fatalf("store holds %d records; %d requests were answered, %d failed", stats.Records, len(load.answered), load.failed.Load())
	}
	for id := range load.answered {
		if recs, err := st.Chain(id); err != nil || len(recs) != 1 {
			t.Fatalf("chain %s: %d records, %v", id, len(recs), err)
		}
	}
	t.Logf("all %d answered requests were in the store after SIGTERM", len(load.answered))
}

// TestRecordSurvivesKill9 kills the gateway with SIGKILL under load. The
// store opens cleanly afterwards and holds every call answered more than a
// second (the durability bound) before the kill.
func TestRecordSurvivesKill9(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "up")
	g := startGateway(t, fmt.Sprintf("services: { up: { targets: [%q] } }\nroutes: [ { name: r, upstream: up } ]\n", hostPort(up)))
	load := startIDLoad(t, g, 4)
	waitFor(t, "3000 requests", func() bool { return load.sent.Load() >= 3000 })
	// Let at least a second of answers age past the durability bound.
	time.Sleep(1500 * time.Millisecond)
	killedAt := time.Now()
	_ = g.cmd.Process.Signal(syscall.SIGKILL)
	<-g.done
	load.halt()

	st := openStore(t, filepath.Dir(g.config))
	stats, err := st.Stats()
	if err != nil {
		t.Fatal(err)
	}
	old, missing := 0, 0
	for id, at := range load.answered {
		if killedAt.Sub(at) < time.Second {
			continue
		}
		old++
		if recs, err := st.Chain(id); err != nil || len(recs) != 1 {
			missing++
		}
	}
	if old == 0 || missing > 0 {
		t.Fatalf("%d of %d calls answered over 1 s before the kill are missing", missing, old)
	}
	t.Logf("after kill -9: the store opened with %d records; all %d calls answered over 1 s before the kill are there (%d answered in all)",
		stats.Records, old, len(load.answered))
}

// TestRecordDecodesCompressed: a gzip response reaches the client
// compressed, byte for byte, and is recorded decoded and redacted.
func TestRecordDecodesCompressed(t *testing.T) {
	t.Parallel()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"order":7,"token":"tok-123"}`))
	_ = zw.Close()
	up := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(gz.Bytes())
	})
	g := startGateway(t, fmt.Sprintf("record: { redact: { json: [token] } }\nservices: { up: { targets: [%q] } }\nroutes: [ { name: r, upstream: up } ]\n", hostPort(up)))
	resp, body := do(t, newClient(t), "GET", g.url("/orders/7"), nil, map[string]string{"Accept-Encoding": "gzip"})
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, gz.Bytes()) {
		t.Fatalf("client got %d and %d bytes, want the upstream's %d gzip bytes", resp.StatusCode, len(body), gz.Len())
	}
	var page struct {
		Records []struct {
			Response struct {
				Headers [][2]string `json:"headers"`
				Body    string      `json:"body"`
			} `json:"response"`
		} `json:"records"`
	}
	waitFor(t, "the record", func() bool {
		_, b := do(t, newClient(t), "GET", g.adminURL("/api/records"), nil, nil)
		return json.Unmarshal(b, &page) == nil && len(page.Records) == 1
	})
	rec := page.Records[0].Response
	if rec.Body != `{"order":7,"token":"[redacted]"}` {
		t.Errorf("recorded body %q", rec.Body)
	}
	found := false
	for _, h := range rec.Headers {
		found = found || h == [2]string{record.DecodedHeader, "gzip"}
		if strings.EqualFold(h[0], "Content-Encoding") {
			t.Errorf("recorded headers keep %v beside a decoded body", h)
		}
	}
	if !found {
		t.Errorf("recorded headers %v lack %s: gzip", rec.Headers, record.DecodedHeader)
	}
}

// TestReloadChangesRedaction: a reload that adds a JSON redaction rule
// applies to the next recorded calls, without a restart.
func TestReloadChangesRedaction(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "up")
	conf := func(redact string) string {
		return configHead + fmt.Sprintf("record: { redact: { json: [%s] } }\nservices: { up: { targets: [%q] } }\nroutes: [ { name: r, upstream: up } ]\n", redact, hostPort(up))
	}
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	writeFileAtomic(t, path, conf(""))
	g := startGatewayFile(t, path)
	c := newClient(t)
	send := func(uri string) {
		if r, b := do(t, c, "POST", g.url(uri), []byte(`{"pin":"1234"}`), map[string]string{"Content-Type": "application/json"}); r.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", r.StatusCode, b)
		}
	}
	bodyOf := func(uri string) string {
		var page struct {
			Records []struct {
				URI     string `json:"uri"`
				Request struct {
					Body string `json:"body"`
				} `json:"request"`
			} `json:"records"`
		}
		body := ""
		waitFor(t, "the record of "+uri, func() bool {
			_, b := do(t, c, "GET", g.adminURL("/api/records"), nil, nil)
			if json.Unmarshal(b, &page) != nil {
				return false
			}
			for _, r := range page.Records {
				if r.URI == uri {
					body = r.Request.Body
					return true
				}
			}
			return false
		})
		return body
	}
	send("/before")
	if got := bodyOf("/before"); got != `{"pin":"1234"}` {
		t.Fatalf("before the reload: %q", got)
	}
	writeFileAtomic(t, path, conf("pin"))
	resp, body := do(t, c, "POST", g.adminURL("/api/reload"), nil, nil)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "record") {
		t.Fatalf("reload: %d %s (no restart may be required)", resp.StatusCode, body)
	}
	send("/after")
	if got := bodyOf("/after"); got != `{"pin":"[redacted]"}` {
		t.Errorf("after the reload: %q", got)
	}
}
