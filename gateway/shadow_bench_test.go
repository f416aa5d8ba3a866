package gateway

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/internal/loopback"
	"github.com/cutover/cutover/shadow"
)

// BenchmarkProxyShadow is BenchmarkProxy with every request also shadowed
// to new and the answers compared, with new healthy, refusing connections,
// or never answering (each copy waits for its 2 s deadline), and healthy
// under a rollout, whose step counts every pair and call again. The primary
// path must cost the same in all three: it only copies the request and
// the answer and queues them. p50-ns and p99-ns are the handler's own
// latency per request; compared/op and dropped/op say what became of the
// copies.
func BenchmarkProxyShadow(b *testing.B) {
	for _, side := range []string{"healthy", "refused", "silent", "rollout"} {
		b.Run(side, func(b *testing.B) {
			up := benchUpstream(b)
			shadowAddr := up
			route := "    shadow: { percent: 100 }\n"
			switch side {
			case "refused":
				shadowAddr = loopback.DeadAddr(b)
			case "silent":
				shadowAddr = silentAddr(b)
			case "rollout":
				// A step that never ends: every pair counts in it.
				route += "    rollout: { min_samples: 1000000000 }\n"
			}
			g := benchGatewayWith(b, up, shadowAddr, route)
			var req fasthttp.Request
			if err := req.Read(bufioReader(benchRequest)); err != nil {
				b.Fatal(err)
			}
			var ctx fasthttp.RequestCtx
			ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, nil)
			lat := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			for b.Loop() {
				req.CopyTo(&ctx.Request)
				ctx.Response.Reset()
				t0 := time.Now()
				g.handle(&ctx)
				if len(lat) < cap(lat) {
					lat = append(lat, time.Since(t0))
				}
				if ctx.Response.StatusCode() != 200 || len(ctx.Response.Body()) != 1024 {
					b.Fatalf("status %d, %d bytes", ctx.Response.StatusCode(), len(ctx.Response.Body()))
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
				b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
			}
			r := g.mirror.Lookup("orders")
			dropped := uint64(0)
			for _, reason := range shadow.Reasons {
				dropped += r.Dropped(reason)
			}
			b.ReportMetric(float64(r.Compared())/float64(b.N), "compared/op")
			b.ReportMetric(float64(dropped)/float64(b.N), "dropped/op")
		})
	}
}

// silentAddr returns a loopback address that accepts connections and
// never answers, closed when tb ends.
func silentAddr(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// shortContext bounds a cleanup's wait for shadow workers.
func shortContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
