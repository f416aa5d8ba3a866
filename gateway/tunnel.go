package gateway

import (
	"bufio"
	"io"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// tunnel serves a protocol upgrade (WebSocket and the like): it sends the
// handshake to a target, then hands the client connection over and copies
// bytes both ways until either side closes. The upstream's answer,
// "101 Switching Protocols" or a refusal, reaches the client unchanged.
// Tunnelled connections are not drained on shutdown; they end with the
// process.
func (g *Gateway) tunnel(ctx *fasthttp.RequestCtx, rs *routeState, chainID []byte, chainHeader string) {
	svc := rs.serve
	now := time.Now()
	t := svc.pick(now.UnixNano())
	up, err := net.DialTimeout("tcp", t.addr, svc.timeout)
	if err != nil {
		t.markDown(now.UnixNano(), svc.failTimeout)
		g.upstreamFailed(ctx, rs, err, chainID, chainHeader)
		return
	}
	// The handshake is written while ctx is still ours; after Hijack only
	// the raw connection may be used.
	ctx.Request.URI().DisablePathNormalizing = true
	bw := bufio.NewWriter(up)
	if err = ctx.Request.Write(bw); err == nil {
		err = bw.Flush()
	}
	if err != nil {
		_ = up.Close()
		g.upstreamFailed(ctx, rs, err, chainID, chainHeader)
		return
	}
	g.metrics.upgrades.Add(1)
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(client net.Conn) {
		done := make(chan struct{})
		go func() {
			_, _ = io.Copy(up, client)
			if tc, ok := up.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			close(done)
		}()
		_, _ = io.Copy(client, up)
		_ = up.Close()
		// Returning closes the client connection, which ends the copy above.
	})
}
