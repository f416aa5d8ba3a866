package tracing_test

import (
	"testing"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/internal/otlptest"
	"github.com/cutover/cutover/tracing"
)

// BenchmarkExport is the request path's share of tracing: the sampling
// decision and the copy into the queue. The exports run beside it, to a
// real receiver on loopback.
func BenchmarkExport(b *testing.B) {
	rcv := otlptest.Start(b)
	tr, err := tracing.New(tracing.Options{Endpoint: rcv.URL(), Sample: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close(b.Context())
	c := chain.Chain{Trace: chain.NewTraceID(), Span: chain.NewSpanID(), Parent: chain.NewSpanID(), Sampled: true}
	call := tracing.Call{Kind: tracing.KindProxy, Trace: c.Trace, Span: c.Span, Parent: c.Parent, Start: time.Now(),
		Method: []byte("GET"), Path: []byte("/api/orders/42"), Host: []byte("shop.example"), Tenant: []byte("acme"),
		Route: "orders", Side: "old", Target: "127.0.0.1:9000", Status: 200}
	b.ReportAllocs()
	for b.Loop() {
		if tr.Sampled(&c) {
			tr.Export(&call)
		}
	}
}
