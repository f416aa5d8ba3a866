package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/cutover/cutover/internal/loopback"
	"github.com/cutover/cutover/internal/otlptest"
)

// tracingConfig is the tracing block exporting every chain to endpoint.
func tracingConfig(endpoint string) string {
	return fmt.Sprintf("tracing:\n  otlp: { endpoint: %q, sample: 1, service_name: gateway-e2e }\n", endpoint)
}

// traceparents records the traceparent of every request a server gets,
// by the request's path.
type traceparents struct {
	mu   sync.Mutex
	seen map[string]string
}

func (tp *traceparents) note(r *http.Request) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.seen == nil {
		tp.seen = map[string]string{}
	}
	tp.seen[r.URL.Path] = r.Header.Get("Traceparent")
}

func (tp *traceparents) get(path string) string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.seen[path]
}

// spanOf returns the span of trace whose ID is id.
func spanOf(spans []otlptest.Span, id string) (otlptest.Span, bool) {
	for _, s := range spans {
		if s.ID == id {
			return s, true
		}
	}
	return otlptest.Span{}, false
}

// TestTracingSpans runs the real binary exporting to a real OTLP/HTTP
// receiver: a call with its own traceparent is a SERVER span in that
// trace under the caller's span, with the conventions' attributes and
// cutover's; its shadow copy is a CLIENT span under it, marked
// cutover.shadow, whose span is the one the shadow side received.
func TestTracingSpans(t *testing.T) {
	t.Parallel()
	rcv := otlptest.Start(t)
	old := newEcho(t, "old")
	var shadowSeen traceparents
	shadowSide := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		shadowSeen.note(r)
		echoHandler("new")(w, r)
	})
	g := startGateway(t, tracingConfig(rcv.URL())+fmt.Sprintf(`services:
  old: { targets: [%q] }
  new: { targets: [%q] }
routes:
  - name: orders
    match: { path_prefix: /orders }
    old: old
    new: new
    tenant: [{ header: X-Org }]
    shadow: { percent: 100 }
`, hostPort(old), hostPort(shadowSide)))
	c := newClient(t)

	const trace, caller = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp, body := do(t, c, "GET", g.url("/orders/7"), nil, map[string]string{
		"traceparent": "00-" + trace + "-" + caller + "-01", "X-Org": "acme",
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	m := traceparentRE.FindStringSubmatch(decodeEcho(t, body).Header.Get("Traceparent"))
	if m == nil || m[1] != trace {
		t.Fatalf("old received traceparent %v, want one in trace %s", m, trace)
	}
	hop := m[2]

	var proxied, copied otlptest.Span
	waitFor(t, "the proxied call's span and its shadow copy's", func() bool {
		spans := rcv.Find(trace)
		var ok1 bool
		proxied, ok1 = spanOf(spans, hop)
		for _, s := range spans {
			if s.Parent == hop && s.Kind == tracepb.Span_SPAN_KIND_CLIENT {
				copied = s
				return ok1
			}
		}
		return false
	})
	if errs := rcv.Errors(); len(errs) > 0 {
		t.Fatalf("the receiver refused requests: %v", errs)
	}
	if proxied.Parent != caller || proxied.Kind != tracepb.Span_SPAN_KIND_SERVER || proxied.Error || proxied.Service != "gateway-e2e" {
		t.Errorf("proxied call: parent %s, kind %v, error %v, service %q; want the caller's span %s, SERVER, no error, gateway-e2e",
			proxied.Parent, proxied.Kind, proxied.Error, proxied.Service, caller)
	}
	for key, want := range map[string]string{
		"http.request.method": "GET", "url.path": "/orders/7", "server.address": "127.0.0.1", "http.response.status_code": "200",
		"cutover.route": "orders", "cutover.side": "old", "cutover.tenant": "acme", "cutover.target": hostPort(old),
	} {
		if got := proxied.Attr(key); got != want {
			t.Errorf("proxied call: %s = %q, want %q", key, got, want)
		}
	}
	if copied.Attr("cutover.shadow") != "true" || copied.Attr("cutover.side") != "new" || copied.Attr("cutover.target") != hostPort(shadowSide) ||
		copied.Attr("http.response.status_code") != "200" || copied.Error {
		t.Errorf("shadow copy: %+v; want cutover.shadow=true, side new, target %s, status 200, no error", copied, hostPort(shadowSide))
	}
	waitFor(t, "the shadow side's request", func() bool { return shadowSeen.get("/orders/7") != "" })
	if sm := traceparentRE.FindStringSubmatch(shadowSeen.get("/orders/7")); sm == nil || sm[1] != trace || sm[2] != copied.ID {
		t.Errorf("the shadow side received traceparent %q; want trace %s, span %s (the copy's span)", shadowSeen.get("/orders/7"), trace, copied.ID)
	}
}

// TestTracingThreeHops: a service behind the gateway that calls the next
// one through the gateway, passing on the traceparent it received, makes
// one trace of three SERVER spans, each under the one before.
func TestTracingThreeHops(t *testing.T) {
	t.Parallel()
	rcv := otlptest.Start(t)
	var gw *gatewayProc
	// relay calls next through the gateway with the trace context it got.
	relay := func(next string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequest("GET", gw.url(next), nil)
			req.Header.Set("Traceparent", r.Header.Get("Traceparent"))
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			_, _ = w.Write(append([]byte(r.URL.Path+" > "), b...))
		}
	}
	last := newServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.URL.Path) })
	second := newServer(t, relay("/c"))
	first := newServer(t, relay("/b"))
	gw = startGateway(t, tracingConfig(rcv.URL())+fmt.Sprintf(`services:
  a: { targets: [%q] }
  b: { targets: [%q] }
  c: { targets: [%q] }
routes:
  - { name: a, match: { path: /a }, upstream: a }
  - { name: b, match: { path: /b }, upstream: b }
  - { name: c, match: { path: /c }, upstream: c }
`, hostPort(first), hostPort(second), hostPort(last)))

	const trace, caller = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	resp, body := do(t, newClient(t), "GET", gw.url("/a"), nil, map[string]string{"traceparent": "00-" + trace + "-" + caller + "-01"})
	if resp.StatusCode != http.StatusOK || string(body) != "/a > /b > /c" {
		t.Fatalf("status %d, body %q; want 200 and the three hops", resp.StatusCode, body)
	}
	var spans []otlptest.Span
	waitFor(t, "three spans in the trace", func() bool { spans = rcv.Find(trace); return len(spans) >= 3 })
	byRoute := map[string]otlptest.Span{}
	for _, s := range spans {
		if s.Kind != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("span %s (%s) is %v, want SERVER", s.ID, s.Name, s.Kind)
		}
		byRoute[s.Attr("cutover.route")] = s
	}
	if len(spans) != 3 || len(byRoute) != 3 {
		t.Fatalf("%d spans in trace %s, by route %v; want one per hop", len(spans), trace, byRoute)
	}
	if a, b, c := byRoute["a"], byRoute["b"], byRoute["c"]; a.Parent != caller || b.Parent != a.ID || c.Parent != b.ID {
		t.Errorf("parents: a under %s, b under %s, c under %s; want a under the caller %s, b under a (%s), c under b (%s)",
			a.Parent, b.Parent, c.Parent, caller, a.ID, b.ID)
	}
}

// TestTracingCollectorDown: with nothing listening at the endpoint, the
// gateway answers as it does untraced, and counts the spans it drops.
func TestTracingCollectorDown(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "app")
	g := startGateway(t, tracingConfig("http://"+loopback.DeadAddr(t))+plainConfig(hostPort(up)))
	c := newClient(t)
	for i := range 20 {
		resp, body := do(t, c, "POST", g.url(fmt.Sprintf("/items/%d", i)), []byte("payload"), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d with the collector down: %s", resp.StatusCode, body)
		}
		rep := decodeEcho(t, body)
		if rep.Upstream != "app" || rep.RequestURI != fmt.Sprintf("/items/%d", i) || rep.BodySHA != sha([]byte("payload")) {
			t.Fatalf("answer %+v is not the upstream's for this request", rep)
		}
	}
	const dropped = `cutover_trace_spans_dropped_total{reason="export_failed"}`
	var m map[string]float64
	waitFor(t, "the dropped spans counted", func() bool {
		m = g.metrics(t, nil)
		return m[dropped] >= 20
	})
	if got := m["cutover_trace_spans_exported_total"]; got != 0 {
		t.Errorf("exported %v spans with the collector down", got)
	}
	if !strings.Contains(g.logs.String(), "trace export failed") {
		t.Errorf("the failed export was not logged")
	}
}
