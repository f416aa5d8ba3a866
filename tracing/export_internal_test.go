package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cutover/cutover/chain"
)

func BenchmarkExportBatch(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	tr, err := New(Options{Endpoint: sink.URL, Sample: 1, BatchTimeout: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close(context.Background())
	batch := make([]record, DefaultBatch)
	for i := range batch {
		batch[i].fill(&Call{Kind: KindProxy, Trace: chain.NewTraceID(), Span: chain.NewSpanID(), Parent: chain.NewSpanID(), Start: time.Now(),
			Method: []byte("GET"), Path: []byte("/api/orders/7"), Host: []byte("shop.example.com"), Tenant: []byte("1001"),
			Route: "orders", Side: "old", Target: "127.0.0.1:9000", Status: 200})
	}
	req := newBatchRequest(tr.res)
	b.ReportAllocs()
	for b.Loop() {
		tr.export(req, batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/span")
}
