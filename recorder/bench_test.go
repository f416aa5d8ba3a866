package recorder

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/store"
)

// discard is a Writer that stores nothing.
type discard struct{}

func (discard) Append([]*store.Record) error { return nil }

// BenchmarkSubmit is the gateway's cost per recorded call: Get, the
// capture helpers with 1 KiB bodies, Submit. The writer goroutine
// recycles records into the pool in the background.
func BenchmarkSubmit(b *testing.B) {
	rc := New(discard{}, Options{Logger: quietLog})
	defer closeNow(b, rc)
	body := []byte(strings.Repeat("x", 1024))
	headers := []byte("Host: shop.example.com\r\nContent-Type: application/json\r\n")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := rc.Get()
			r.Route, r.Side, r.Status = "orders", "old", 200
			r.SetMethod([]byte("GET"))
			r.SetReqHeaders(headers)
			r.SetReqBody(body, 64<<10)
			r.SetRespBody(body, 64<<10)
			rc.Submit(r)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(rc.Dropped()[ReasonQueueFull])/float64(b.N), "dropped/op")
}

// jsonBody is a 1 KiB order with two values to redact among many that
// are kept.
func jsonBody() []byte {
	var items []string
	for i := range 14 {
		items = append(items, fmt.Sprintf(`{"sku":"sku-%04d","qty":%d,"price":%d.99,"name":"Item number %d"}`, i, i+1, 10+i, i))
	}
	body := `{"user":{"id":42,"name":"Ada","password":"hunter2"},"card":{"number":"4111111111111111","exp":"12/30"},"items":[` +
		strings.Join(items, ",") + `],"note":"leave at the door"}`
	return []byte(body)
}

// BenchmarkRedactJSON redacts a 1 KiB JSON body by three rules, as the
// writer goroutine does for each record.
func BenchmarkRedactJSON(b *testing.B) {
	rd, _ := newRedactor(Rules{JSON: []string{"password", "card.number", "items.#.secret"}}, nil)
	body := jsonBody()
	r := &store.Record{}
	r.SetReqHeaders([]byte("Content-Type: application/json\r\nAuthorization: Bearer x\r\n"))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.SetReqBody(body, 64<<10)
		rd.record(r)
	}
}

func BenchmarkSampled(b *testing.B) {
	id := chain.NewTraceID()
	b.ReportAllocs()
	n := 0
	for i := 0; i < b.N; i++ {
		id[15] = byte(i)
		if Sampled(id, 0.1) {
			n++
		}
	}
	_ = n
}

// BenchmarkDecodeGzip is the writer goroutine's cost for a record whose
// 1 KiB JSON response came gzip-encoded: decoding, header renaming and
// redaction.
func BenchmarkDecodeGzip(b *testing.B) {
	rd, _ := newRedactor(Rules{JSON: []string{"password", "card.number"}}, nil)
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(jsonBody())
	_ = w.Close()
	body := buf.Bytes()
	headers := []byte("Content-Type: application/json\r\nContent-Encoding: gzip\r\nSet-Cookie: a=b\r\n\r\n")
	r := &store.Record{}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r.SetRespHeaders(headers)
		r.SetRespBody(body, 64<<10)
		rd.record(r)
	}
	if !bytes.Contains(r.RespHeaders, []byte(DecodedHeader)) {
		b.Fatalf("not decoded: %q", r.RespHeaders)
	}
}
