package tracing_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/internal/loopback"
	"github.com/cutover/cutover/internal/otlptest"
	"github.com/cutover/cutover/tracing"
)

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newTracer(t *testing.T, opt tracing.Options) *tracing.Tracer {
	t.Helper()
	if opt.BatchTimeout == 0 {
		opt.BatchTimeout = 20 * time.Millisecond
	}
	tr, err := tracing.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close(context.Background()) })
	return tr
}

func mustTrace(t *testing.T, s string) chain.TraceID {
	t.Helper()
	id, ok := chain.ParseChainID([]byte(s))
	if !ok {
		t.Fatalf("bad trace %q", s)
	}
	return id
}

func span(t *testing.T, s string) chain.SpanID {
	t.Helper()
	var id chain.SpanID
	if n, err := hex.Decode(id[:], []byte(s)); err != nil || n != len(id) {
		t.Fatalf("bad span %q", s)
	}
	return id
}

// TestExportSpans exports a proxied call, its shadow copy and a replay to
// a real OTLP/HTTP receiver and reads them back as a collector sees them.
func TestExportSpans(t *testing.T) {
	rcv := otlptest.Start(t)
	tr := newTracer(t, tracing.Options{Endpoint: rcv.URL(), Sample: 1, ServiceName: "gw", Instance: "replica-1"})

	const (
		trace  = "4bf92f3577b34da6a3ce929d0e0e4736"
		caller = "00f067aa0ba902b7"
		hop    = "1111111111111111"
		copyID = "2222222222222222"
		replay = "3333333333333333"
	)
	start := time.Unix(1700000000, 0)
	c := chain.Chain{Trace: mustTrace(t, trace), Span: span(t, hop), Parent: span(t, caller), Sampled: true}
	if !tr.Sampled(&c) {
		t.Fatal("a sampled chain at sample 1 is not exported")
	}
	path := []byte("/orders/42")
	tr.Export(&tracing.Call{
		Kind: tracing.KindProxy, Trace: c.Trace, Span: c.Span, Parent: c.Parent, Start: start, Duration: 3 * time.Millisecond,
		Method: []byte("GET"), Path: path, Host: []byte("shop.example:8080"), Tenant: []byte("acme"),
		Route: "orders", Side: "new", Target: "10.0.0.2:9000", Status: 200,
	})
	copy(path, "/XXXXXXXXX") // Export copied what it keeps
	tr.Export(&tracing.Call{
		Kind: tracing.KindShadow, Trace: c.Trace, Span: span(t, copyID), Parent: c.Span, Start: start, Duration: time.Millisecond,
		Method: []byte("GET"), Path: []byte("/orders/42"), Route: "orders", Side: "old", Target: "10.0.0.1:9000", Error: "timeout",
	})
	tr.Export(&tracing.Call{
		Kind: tracing.KindReplay, Trace: c.Trace, Span: span(t, replay), Parent: c.Span, Start: start, Duration: time.Millisecond,
		Method: []byte("POST"), Path: []byte("/orders"), Route: "orders", Side: "new", Target: "10.0.0.2:9000", Status: 502,
	})
	waitFor(t, "three spans", func() bool { return len(rcv.Spans()) == 3 })
	if errs := rcv.Errors(); len(errs) > 0 {
		t.Fatalf("the receiver refused requests: %v", errs)
	}
	byID := map[string]otlptest.Span{}
	for _, s := range rcv.Spans() {
		byID[s.ID] = s
		if s.Trace != trace {
			t.Errorf("span %s in trace %s, want the chain %s", s.ID, s.Trace, trace)
		}
		if s.Service != "gw" {
			t.Errorf("span %s of service %q, want gw", s.ID, s.Service)
		}
	}
	p := byID[hop]
	if p.Parent != caller || p.Kind != tracepb.Span_SPAN_KIND_SERVER || p.Name != "GET orders" || p.Error {
		t.Errorf("proxied call: parent %s kind %v name %q error %v; want parent %s, SERVER, GET orders, no error", p.Parent, p.Kind, p.Name, p.Error, caller)
	}
	for key, want := range map[string]string{
		"http.request.method": "GET", "url.path": "/orders/42", "url.scheme": "http", "server.address": "shop.example", "server.port": "8080",
		"http.response.status_code": "200", "cutover.route": "orders", "cutover.side": "new", "cutover.tenant": "acme", "cutover.target": "10.0.0.2:9000",
	} {
		if got := p.Attr(key); got != want {
			t.Errorf("proxied call %s = %q, want %q", key, got, want)
		}
	}
	if p.End-p.Start != int64(3*time.Millisecond) || p.Start != start.UnixNano() {
		t.Errorf("proxied call from %d to %d, want %d + 3ms", p.Start, p.End, start.UnixNano())
	}
	s := byID[copyID]
	if s.Parent != hop || s.Kind != tracepb.Span_SPAN_KIND_CLIENT || s.Attr("cutover.shadow") != "true" || !s.Error ||
		s.Attr("error.type") != "timeout" || s.Attr("server.address") != "10.0.0.1" || s.Attr("http.response.status_code") != "" {
		t.Errorf("shadow copy: %+v; want a CLIENT child of %s marked cutover.shadow, failed with timeout, no status", s, hop)
	}
	r := byID[replay]
	if r.Parent != hop || r.Kind != tracepb.Span_SPAN_KIND_CLIENT || r.Attr("cutover.replay") != "true" || !r.Error || r.Attr("error.type") != "502" {
		t.Errorf("replay: %+v; want a CLIENT child marked cutover.replay, an error of type 502", r)
	}
	if got := tr.Exported(); got != 3 {
		t.Errorf("exported %d, want 3", got)
	}
}

// TestServerErrors: a proxied call is an error on a 5xx or a failure, not
// on a 4xx; a chain starting at the gateway is a root span.
func TestServerErrors(t *testing.T) {
	rcv := otlptest.Start(t)
	tr := newTracer(t, tracing.Options{Endpoint: rcv.URL(), Sample: 1})
	for i, tc := range []struct {
		status int
		cause  string
	}{{404, ""}, {503, ""}, {502, "connect"}} {
		tr.Export(&tracing.Call{Kind: tracing.KindProxy, Trace: chain.NewTraceID(), Span: chain.NewSpanID(), Start: time.Now(),
			Method: []byte("GET"), Route: "r", Side: "old", Status: tc.status, Error: tc.cause, Tenant: []byte{byte('a' + i)}})
	}
	waitFor(t, "three spans", func() bool { return len(rcv.Spans()) == 3 })
	for _, s := range rcv.Spans() {
		want := map[string]struct {
			err  bool
			kind string
		}{"a": {false, ""}, "b": {true, "503"}, "c": {true, "connect"}}[s.Attr("cutover.tenant")]
		if s.Error != want.err || s.Attr("error.type") != want.kind || s.Parent != "" {
			t.Errorf("status %s: error %v type %q parent %q; want %v %q and a root span", s.Attr("http.response.status_code"), s.Error, s.Attr("error.type"), s.Parent, want.err, want.kind)
		}
		if s.Service != tracing.DefaultServiceName {
			t.Errorf("service %q, want %q", s.Service, tracing.DefaultServiceName)
		}
	}
}

// TestLongValuesCut: values past their room are cut, not overflowing
// into each other.
func TestLongValuesCut(t *testing.T) {
	rcv := otlptest.Start(t)
	tr := newTracer(t, tracing.Options{Endpoint: rcv.URL(), Sample: 1})
	long := "/" + strings.Repeat("p", 2000)
	tr.Export(&tracing.Call{Kind: tracing.KindProxy, Trace: chain.NewTraceID(), Span: chain.NewSpanID(), Start: time.Now(),
		Method: []byte("GET"), Path: []byte(long), Host: []byte(strings.Repeat("h", 300)), Tenant: []byte(strings.Repeat("t", 300)), Route: "r"})
	waitFor(t, "a span", func() bool { return len(rcv.Spans()) == 1 })
	s := rcv.Spans()[0]
	if p := s.Attr("url.path"); !strings.HasPrefix(long, p) || len(p) < 200 || len(p) >= len(long) {
		t.Errorf("url.path of %d bytes, want a prefix of the path cut above 200 bytes", len(p))
	}
	if h, tn := s.Attr("server.address"), s.Attr("cutover.tenant"); strings.Trim(h, "h") != "" || strings.Trim(tn, "t") != "" || len(h) == 300 || len(tn) == 300 {
		t.Errorf("server.address %q, tenant %q: want them cut, each its own bytes", h, tn)
	}
	if s.Attr("http.request.method") != "GET" {
		t.Errorf("method %q", s.Attr("http.request.method"))
	}
}

// TestSampling: the choice is the chain ID's, as recording's is, and a
// caller's "not sampled" is honoured; a reload's new share applies.
func TestSampling(t *testing.T) {
	rcv := otlptest.Start(t)
	tr := newTracer(t, tracing.Options{Endpoint: rcv.URL(), Sample: 0.25})
	kept := 0
	for range 4000 {
		c := chain.Chain{Trace: chain.NewTraceID(), Sampled: true}
		if got := tr.Sampled(&c); got != c.Trace.Within(0.25) {
			t.Fatalf("chain %s: Sampled %v, but Within(0.25) says %v", c.Trace, got, !got)
		} else if got {
			kept++
		}
		c.Sampled = false
		if tr.Sampled(&c) {
			t.Fatalf("chain %s marked unsampled by its caller is exported", c.Trace)
		}
	}
	if kept < 800 || kept > 1200 {
		t.Errorf("%d of 4000 chains sampled at 0.25", kept)
	}
	tr.SetSample(0)
	if c := (chain.Chain{Trace: chain.NewTraceID(), Sampled: true}); tr.Sampled(&c) {
		t.Error("a chain is sampled at 0")
	}
	var none *tracing.Tracer
	if c := (chain.Chain{Trace: chain.NewTraceID(), Sampled: true}); none.Sampled(&c) {
		t.Error("a nil tracer samples")
	}
	none.Export(&tracing.Call{}) // no panic
}

// TestCollectorDown: with nothing listening, exports fail, each span is
// counted once as export_failed, and Export never waits.
func TestCollectorDown(t *testing.T) {
	tr := newTracer(t, tracing.Options{Endpoint: "http://" + loopback.DeadAddr(t), Sample: 1})
	const n = 100
	for range n {
		tr.Export(&tracing.Call{Kind: tracing.KindProxy, Trace: chain.NewTraceID(), Span: chain.NewSpanID(), Start: time.Now(), Route: "r"})
	}
	waitFor(t, "the drops counted", func() bool { return tr.Dropped(tracing.ReasonExportFailed) == n })
	if got := tr.Exported(); got != 0 {
		t.Errorf("exported %d to a dead collector", got)
	}
}

// TestQueueFull: a collector that does not answer fills the queue; what
// does not fit is dropped as queue_full, and every span offered is
// exported or counted once Close gives up.
func TestQueueFull(t *testing.T) {
	release := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stuck.Close()
	defer close(release)
	tr, err := tracing.New(tracing.Options{Endpoint: stuck.URL, Sample: 1, Queue: 8, Batch: 4, BatchTimeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	began := time.Now()
	for range n {
		tr.Export(&tracing.Call{Kind: tracing.KindProxy, Trace: chain.NewTraceID(), Span: chain.NewSpanID(), Start: time.Now(), Route: "r"})
	}
	if tr.Dropped(tracing.ReasonQueueFull) == 0 {
		t.Errorf("200 spans offered to a queue of 8 in %v and none dropped", time.Since(began))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = tr.Close(ctx)
	total := tr.Exported() + tr.Dropped(tracing.ReasonQueueFull) + tr.Dropped(tracing.ReasonExportFailed)
	if total != n {
		t.Errorf("exported %d + dropped %d (queue_full) + %d (export_failed) = %d, want every one of the %d spans accounted for",
			tr.Exported(), tr.Dropped(tracing.ReasonQueueFull), tr.Dropped(tracing.ReasonExportFailed), total, n)
	}
}

// TestCloseFlushes: spans queued when Close is called are exported.
func TestCloseFlushes(t *testing.T) {
	rcv := otlptest.Start(t)
	tr, err := tracing.New(tracing.Options{Endpoint: rcv.URL(), Sample: 1, BatchTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		tr.Export(&tracing.Call{Kind: tracing.KindProxy, Trace: chain.NewTraceID(), Span: chain.NewSpanID(), Start: time.Now(), Route: "r"})
	}
	if err := tr.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(rcv.Spans()); got != 10 {
		t.Errorf("%d spans received after Close, want 10", got)
	}
	tr.Export(&tracing.Call{Kind: tracing.KindProxy, Trace: chain.NewTraceID(), Span: chain.NewSpanID(), Start: time.Now(), Route: "r"})
	if got := tr.Dropped(tracing.ReasonExportFailed); got != 1 {
		t.Errorf("a span offered after Close: export_failed %d, want 1", got)
	}
}

func TestTracesURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://otel-collector:4318", "http://otel-collector:4318/v1/traces"},
		{"http://otel-collector:4318/", "http://otel-collector:4318/v1/traces"},
		{"https://otlp.example.com/otlp", "https://otlp.example.com/otlp/v1/traces"},
		{"otel-collector:4318", ""},
		{"ftp://x:1", ""},
		{"http://", ""},
		{"http://x:1/?a=b", ""},
		{"http://user:pw@x:1", ""},
	} {
		got, err := tracing.TracesURL(tc.in)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("TracesURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestWriteMetrics(t *testing.T) {
	var b strings.Builder
	var none *tracing.Tracer
	none.WriteMetrics(&b)
	for _, want := range []string{
		"cutover_trace_spans_exported_total 0\n",
		`cutover_trace_spans_dropped_total{reason="queue_full"} 0` + "\n",
		`cutover_trace_spans_dropped_total{reason="export_failed"} 0` + "\n",
		"# TYPE cutover_trace_spans_dropped_total counter\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}
