package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// tunnel serves a protocol upgrade (WebSocket and the like): it sends the
// handshake to a target and reads the status of its answer. On
// "101 Switching Protocols" it hands the client connection over and copies
// bytes both ways until either side closes; the 101 reaches the client
// byte for byte. Any other answer is a refusal: it is read whole and
// answered like a normal response, and the client connection stays plain
// HTTP. Tunnelling after a refusal would pass the client's next requests
// to the upstream raw, past routing and header hygiene (request smuggling).
// Tunnelled connections are not drained on shutdown; they end with the
// process.
func (g *Gateway) tunnel(ctx *fasthttp.RequestCtx, cl call, snap *snapshot, chainID []byte) {
	now := time.Now()
	up, err := cl.svc.Dial(now)
	if err != nil {
		g.upstreamFailed(ctx, cl, err, chainID, snap.chainHeader)
		return
	}
	// The handshake is written while ctx is still ours; after Hijack only
	// the raw connection may be used.
	ctx.Request.URI().DisablePathNormalizing = true
	_ = up.SetDeadline(now.Add(cl.svc.Timeout()))
	bw := bufio.NewWriter(up)
	if err = ctx.Request.Write(bw); err == nil {
		err = bw.Flush()
	}
	br := bufio.NewReaderSize(up, 16<<10)
	var switching bool
	if err == nil {
		switching, err = peekSwitching(br)
	}
	if err == nil && !switching {
		err = ctx.Response.Read(br)
	}
	if err != nil {
		_ = up.Close()
		g.upstreamFailed(ctx, cl, err, chainID, snap.chainHeader)
		return
	}
	if !switching {
		_ = up.Close()
		finishResponse(&ctx.Response, cl, snap, chainID, false)
		return
	}
	_ = up.SetDeadline(time.Time{})
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
		// br holds the upstream's 101, unread, and whatever followed it.
		_, _ = io.Copy(client, br)
		_ = up.Close()
		// Returning closes the client connection, which ends the copy above.
	})
}

// peekSwitching reports whether the response waiting in br is
// "101 Switching Protocols", without consuming it.
func peekSwitching(br *bufio.Reader) (bool, error) {
	const n = len("HTTP/1.1 101")
	line, err := br.Peek(n)
	if err != nil {
		return false, err
	}
	return bytes.HasPrefix(line, []byte("HTTP/1.")) && bytes.HasSuffix(line, []byte(" 101")), nil
}
