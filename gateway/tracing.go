package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/tracing"
	"github.com/cutover/cutover/upstream"
)

// TraceFlushTimeout bounds the export of the spans still queued at Close;
// spans not sent by then are dropped and counted.
const TraceFlushTimeout = 2 * time.Second

// newTracer starts the span exporter that cfg's tracing.otlp asks for;
// nil when it asks for none.
func newTracer(cfg *configs.Config, replica string, log *slog.Logger) (*tracing.Tracer, error) {
	o := cfg.Tracing.OTLP
	if o == nil {
		return nil, nil
	}
	tr, err := tracing.New(tracing.Options{
		Endpoint: o.Endpoint, Sample: *o.Sample, ServiceName: o.ServiceName, Instance: replica, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	log.Info("exporting spans over OTLP", "endpoint", o.Endpoint, "sample", *o.Sample, "service_name", o.ServiceName)
	return tr, nil
}

// Tracer returns the span exporter, nil when tracing.otlp is not set.
// Replay exports its calls through it (tracing.KindReplay); a nil
// *tracing.Tracer exports nothing, so callers need no check.
func (g *Gateway) Tracer() *tracing.Tracer { return g.tracer }

// traceProxied hands a proxied call to the tracer as the SERVER span of
// its hop: trace c.Trace, span c.Span, parent c.Parent, as written
// upstream. It runs on the request path after the client's answer is
// written into ctx, and copies what it keeps. reason is why the upstream
// call failed ("" when it did not); the status is then the gateway's own.
func traceProxied(tr *tracing.Tracer, ctx *fasthttp.RequestCtx, resp *fasthttp.Response, c *chain.Chain, route string, cl call, tenant []byte,
	t *upstream.Target, sent time.Time, latency time.Duration, reason string) {
	call := tracing.Call{
		Kind: tracing.KindProxy, Trace: c.Trace, Span: c.Span, Parent: c.Parent, Start: sent, Duration: latency,
		// The URI was parsed from the request as the client sent it,
		// before the upstream's Host replaced its header.
		Method: ctx.Request.Header.Method(), Path: ctx.URI().Path(), Host: ctx.URI().Host(), Tenant: tenant,
		Route: route, Side: cl.side.String(), Status: resp.StatusCode(), Error: reason,
	}
	if t != nil {
		call.Target = t.Addr()
	}
	tr.Export(&call)
}

// applyTracing applies a reload's tracing settings: the sample applies at
// once; the rest is bound at start (tracingRestartRequired).
func (g *Gateway) applyTracing(cfg *configs.Config) {
	if o := cfg.Tracing.OTLP; o != nil {
		g.tracer.SetSample(*o.Sample)
	}
}

// tracingRestartRequired reports whether a reload from old to cur changes
// tracing settings that apply only after a restart: the exporter, its
// endpoint and its service name are built once, at start.
func tracingRestartRequired(old, cur *configs.Config) bool {
	o, c := old.Tracing.OTLP, cur.Tracing.OTLP
	if o == nil || c == nil {
		return (o == nil) != (c == nil)
	}
	return o.Endpoint != c.Endpoint || o.ServiceName != c.ServiceName
}

// closeTracing exports the spans still queued, bounded by ctx, and stops
// the exporter (Close's stage after the shadows).
func (g *Gateway) closeTracing(ctx context.Context) error { return g.tracer.Close(ctx) }
