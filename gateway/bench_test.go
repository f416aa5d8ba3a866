package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/recorder"
	"github.com/cutover/cutover/router"
	"github.com/cutover/cutover/tracing"
)

// benchRequest is a typical browser-ish request with an incoming trace.
const benchRequest = "GET /api/orders/7?expand=items HTTP/1.1\r\n" +
	"Host: shop.example.com\r\n" +
	"User-Agent: bench/1.0\r\n" +
	"Accept: application/json\r\n" +
	"Accept-Encoding: gzip\r\n" +
	"X-Org-Id: 1001\r\n" +
	"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
	"\r\n"

func benchGateway(tb testing.TB, upstream string) *Gateway {
	return benchGatewayWith(tb, upstream, upstream, "")
}

// benchGatewayWith builds a gateway with one migration route between old
// and new; route adds YAML lines to the route.
func benchGatewayWith(tb testing.TB, old, new, route string) *Gateway {
	tb.Helper()
	cfg, err := configs.Parse("bench.yaml", []byte(`
listen: "127.0.0.1:0"
services:
  old: { targets: ["`+old+`"] }
  new: { targets: ["`+new+`"] }
routes:
  - name: orders
    match: { path_prefix: /api/orders }
    old: old
    new: new
`+route))
	if err != nil {
		tb.Fatal(err)
	}
	g, err := build(cfg, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = g.closeShadows(shortContext(tb))
		_ = g.closeTracing(shortContext(tb))
	})
	return g
}

// BenchmarkHeaderWork measures what the gateway adds to every request
// besides moving bytes: chain extraction, routing, header hygiene,
// X-Forwarded-*, trace injection and response cleaning.
func BenchmarkHeaderWork(b *testing.B) {
	benchHeaderWork(b, benchGateway(b, "127.0.0.1:1"), benchRequest, noDecision)
}

// BenchmarkHeaderWorkGray is BenchmarkHeaderWork on a route that splits
// by a tenant header, with the gray decision: a gray hop's header work
// before cohorts.
func BenchmarkHeaderWorkGray(b *testing.B) {
	g := benchGatewayWith(b, "127.0.0.1:1", "127.0.0.1:1", "    tenant: [{ header: X-Org-Id }]\n    gray: { percent: 30 }\n")
	benchHeaderWork(b, g, benchRequest, router.ReasonBucket)
}

// benchCohortRequest is a hop of a chain inside a cohort: no tenant, the
// side in baggage among other members.
const benchCohortRequest = "GET /api/orders/7?expand=items HTTP/1.1\r\n" +
	"Host: shop.example.com\r\n" +
	"User-Agent: bench/1.0\r\n" +
	"Accept: application/json\r\n" +
	"Accept-Encoding: gzip\r\n" +
	"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
	"baggage: userId=alice,cutover.cohort.checkout=new,isProduction=false\r\n" +
	"\r\n"

// BenchmarkHeaderWorkCohort is BenchmarkHeaderWork on a cohort hop, with
// the gray decision (which follows the baggage) and the baggage written
// upstream.
func BenchmarkHeaderWorkCohort(b *testing.B) {
	g := benchGatewayWith(b, "127.0.0.1:1", "127.0.0.1:1", "    tenant: [{ header: X-Org-Id }]\n    gray: { cohort: checkout, percent: 30 }\n")
	benchHeaderWork(b, g, benchCohortRequest, router.ReasonBaggage)
}

// noDecision makes benchHeaderWork skip the gray decision.
const noDecision = router.Reason(255)

// BenchmarkHeaderWorkCohortEntry is the first hop of a chain in a cohort:
// the tenant's bucket decides, and the baggage goes upstream with the
// side added to the members the client sent.
func BenchmarkHeaderWorkCohortEntry(b *testing.B) {
	g := benchGatewayWith(b, "127.0.0.1:1", "127.0.0.1:1", "    tenant: [{ header: X-Org-Id }]\n    gray: { cohort: checkout, percent: 30 }\n")
	req := strings.Replace(benchRequest, "\r\n\r\n", "\r\nbaggage: userId=alice,isProduction=false\r\n\r\n", 1)
	benchHeaderWork(b, g, req, router.ReasonBucket)
}

// benchHeaderWork runs the gateway's header work on request; unless want
// is noDecision, the gray decision too, which must give reason want.
func benchHeaderWork(b *testing.B, g *Gateway, request string, want router.Reason) {
	decide := want != noDecision
	snap := g.snap.Load()
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, nil)
	st := &requestState{scratch: make([]byte, 0, 256), tenant: make([]byte, 0, 64)}
	var req fasthttp.Request
	if err := req.Read(bufioReader(request)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		req.CopyTo(&ctx.Request)
		st.scan = headerScan{}
		scan := &st.scan
		scan.scanRequest(&ctx.Request.Header, snap.chainHeader, snap.chainCanon)
		c := chain.Extract(scan, snap.chainHeader)
		if hasConflictingFraming(scan) {
			b.Fatal("framing")
		}
		r := snap.table.Match(ctx.Request.Header.Host(), ctx.Request.Header.Method(), ctx.Path(), &ctx.Request.Header)
		if r == nil {
			b.Fatal("no route")
		}
		if decide {
			chainID := c.Trace.AppendHex(st.chainID[:0])
			if cl := g.decide(snap, r, st, &ctx.Request, ctx.Path(), chainID); cl.reason != want {
				b.Fatal(cl.reason)
			}
		}
		st.scratch = prepareUpstreamRequest(&ctx, scan, snap.trusted, false, st.scratch)
		st.scratch = tagUpstream(&ctx.Request.Header, scan, &c, snap, r.Name, "old", st.scratch)
		if decide {
			st.scratch = tagCohort(&ctx.Request.Header, scan, snap, &st.decision, st.baggage, &g.metrics.cohorts, st.scratch)
		}
		ctx.Response.Header.Set("Connection", "keep-alive")
		cleanUpstreamHeader(&ctx.Response.Header, false)
	}
}

// benchUpstream starts a loopback upstream answering every request with
// 1 KiB, stopped when b ends, and returns its address.
func benchUpstream(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 1024)
	up := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBody(body) }}
	go func() { _ = up.Serve(ln) }()
	b.Cleanup(func() { _ = up.Shutdown() })
	return ln.Addr().String()
}

// BenchmarkProxy measures one whole request through the handler to a
// real upstream on loopback, keep-alive, 1 KiB response.
func BenchmarkProxy(b *testing.B) { benchProxy(b, false) }

// BenchmarkProxyRecording is BenchmarkProxy with every call recorded into
// a real embedded store: the handler's cost is the capture (copies into a
// pooled record); the store writes on the recorder's goroutine.
func BenchmarkProxyRecording(b *testing.B) { benchProxy(b, true) }

func benchProxy(b *testing.B, recording bool) {
	g := benchGateway(b, benchUpstream(b))
	if recording {
		cfg := *g.Config()
		cfg.Store.Path = b.TempDir() + "/bench.db"
		if err := g.openStore(&cfg); err != nil {
			b.Fatal(err)
		}
	}
	proxyLoop(b, g)
	if !recording {
		return
	}
	b.StopTimer()
	if err := g.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	rec := g.life.recorder
	dropped := rec.Dropped()
	b.ReportMetric(float64(rec.Written())/float64(b.N), "written/op")
	b.ReportMetric(float64(dropped[recorder.ReasonQueueFull])/float64(b.N), "dropped/op")
}

// BenchmarkProxyTraced is BenchmarkProxy with tracing.otlp at sample 1,
// exporting to a collector on loopback that takes every batch: the
// handler's cost is the copy of the span into the export queue; the
// encoding and sending run on the exporter's goroutine, beside it.
func BenchmarkProxyTraced(b *testing.B) {
	sink := newServerFor(b, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})
	up := benchUpstream(b)
	g := benchGatewayWith(b, up, up, "tracing:\n  otlp: { endpoint: \"http://"+sink+"\", sample: 1 }\n")
	proxyLoop(b, g)
	b.StopTimer()
	if err := g.closeTracing(context.Background()); err != nil {
		b.Fatal(err)
	}
	tr := g.Tracer()
	b.ReportMetric(float64(tr.Exported())/float64(b.N), "exported/op")
	b.ReportMetric(float64(tr.Dropped(tracing.ReasonQueueFull)+tr.Dropped(tracing.ReasonExportFailed))/float64(b.N), "dropped/op")
}

// newServerFor starts a net/http server on loopback, stopped when tb
// ends, and returns its address.
func newServerFor(tb testing.TB, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// proxyLoop runs b's iterations: one GET through g's handler each.
func proxyLoop(b *testing.B, g *Gateway) {
	var req fasthttp.Request
	if err := req.Read(bufioReader(benchRequest)); err != nil {
		b.Fatal(err)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, nil)
	b.ReportAllocs()
	for b.Loop() {
		req.CopyTo(&ctx.Request)
		ctx.Response.Reset()
		g.handle(&ctx)
		if ctx.Response.StatusCode() != 200 || len(ctx.Response.Body()) != 1024 {
			b.Fatalf("status %d, %d bytes", ctx.Response.StatusCode(), len(ctx.Response.Body()))
		}
	}
}

// BenchmarkProxyStreamed measures a call whose 16 KiB answer has no
// length (chunked), so it streams: the exchange, the relay, the client's
// read of the body and the work after it.
func BenchmarkProxyStreamed(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 16<<10)
	up := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyStream(bytes.NewReader(body), -1)
	}}
	go func() { _ = up.Serve(ln) }()
	b.Cleanup(func() { _ = up.Shutdown() })
	g := benchGateway(b, ln.Addr().String())

	var req fasthttp.Request
	if err := req.Read(bufioReader(benchRequest)); err != nil {
		b.Fatal(err)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, nil)
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	for b.Loop() {
		req.CopyTo(&ctx.Request)
		ctx.Response.Reset()
		g.handle(&ctx)
		s := ctx.Response.BodyStream()
		if s == nil {
			b.Fatalf("status %d, not streamed", ctx.Response.StatusCode())
		}
		n := 0
		for {
			k, err := s.Read(buf)
			n += k
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		_ = ctx.Response.CloseBodyStream()
		if n != len(body) {
			b.Fatalf("%d bytes", n)
		}
	}
}
