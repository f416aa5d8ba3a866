package replay

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/store"
)

// BenchmarkReplay1KiB replays calls answered with 1 KiB of JSON to a
// loopback fasthttp server, the diff on: the cost per call of building,
// sending, decoding and comparing.
func BenchmarkReplay1KiB(b *testing.B) {
	body := []byte(`{"id":42,"status":"open","pad":"` + strings.Repeat("x", 990) + `"}`)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown()
	rec := &store.Record{
		Chain: chain.NewTraceID(), Span: chain.NewSpanID(), Route: "items", Side: "old",
		Method: []byte("GET"), URI: []byte("/items/1"),
		ReqHeaders:  []byte("Host: shop\r\nAccept: application/json\r\n"),
		RespHeaders: []byte("Content-Type: application/json\r\n"),
		RespBody:    body, Status: 200, Start: time.Now(), Latency: time.Millisecond,
	}
	recs := make([]*store.Record, b.N)
	for i := range recs {
		recs[i] = rec
	}
	r, err := New(Options{Target: "http://" + ln.Addr().String()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	rep, err := r.Run(context.Background(), &chained{recs: recs})
	if err != nil {
		b.Fatal(err)
	}
	if rep.Replay.Errors != 0 || len(rep.Routes) != 1 || rep.Routes[0].Differing != 0 {
		b.Fatalf("replay: %+v", rep.Replay)
	}
}
