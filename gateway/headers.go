package gateway

import (
	"bytes"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// hopHeaders apply to one connection only and are never forwarded
// (RFC 9110 §7.6.1). Proxy-Connection and Keep-Alive are legacy forms of
// the same; Proxy-Authenticate and Proxy-Authorization are addressed to
// this proxy (RFC 9110 §11.7); TE and Trailer negotiate transfer coding
// for this hop (RFC 9110 §10.1.4, RFC 9112 §6). Expect is answered by the
// gateway itself (RFC 9110 §10.1.1), which has read the whole body.
var hopHeaders = [...]string{
	fasthttp.HeaderConnection, "Proxy-Connection", fasthttp.HeaderKeepAlive,
	fasthttp.HeaderProxyAuthenticate, fasthttp.HeaderProxyAuthorization,
	fasthttp.HeaderTE, fasthttp.HeaderTrailer, fasthttp.HeaderTransferEncoding,
	fasthttp.HeaderUpgrade,
}

const (
	headerXForwardedFor   = "X-Forwarded-For"
	headerXForwardedProto = "X-Forwarded-Proto"
	headerXForwardedHost  = "X-Forwarded-Host"
)

// prepareUpstreamRequest is the one audited place where a client's request
// headers are rewritten before they go upstream:
//
//   - hop-by-hop headers, and every header the client's Connection header
//     names, are removed (RFC 9110 §7.6.1), except that an upgrade keeps
//     Connection and Upgrade so the tunnel can be negotiated end to end;
//   - X-Forwarded-For gets the client's address appended, and
//     X-Forwarded-Proto and X-Forwarded-Host are set, when the direct peer
//     is a trusted proxy; from anyone else the three are replaced, so a
//     client cannot forge its address;
//   - the Host header is kept as the client sent it unless the service
//     sets one.
//
// scratch is a reusable buffer; the possibly grown buffer is returned.
func prepareUpstreamRequest(ctx *fasthttp.RequestCtx, trusted []netip.Prefix, upgrade bool, scratch []byte) []byte {
	h := &ctx.Request.Header
	if !upgrade {
		if conn := h.Peek(fasthttp.HeaderConnection); len(conn) > 0 {
			// Copied: deleting headers may move the bytes conn points to.
			scratch = append(scratch[:0], conn...)
			for rest := scratch; len(rest) > 0; {
				var name []byte
				name, rest = nextToken(rest)
				if len(name) > 0 {
					h.DelBytes(name)
				}
			}
		}
		for _, name := range hopHeaders {
			h.Del(name)
		}
	} else {
		for _, name := range hopHeaders[1:] {
			if name != fasthttp.HeaderUpgrade {
				h.Del(name)
			}
		}
	}
	h.Del(fasthttp.HeaderExpect)

	ip, _ := netip.AddrFromSlice(ctx.RemoteIP())
	ip = ip.Unmap()
	prior := h.Peek(headerXForwardedFor)
	if len(prior) > 0 && isTrusted(ip, trusted) {
		scratch = append(scratch[:0], prior...)
		scratch = append(scratch, ", "...)
		scratch = ip.AppendTo(scratch)
		h.SetBytesV(headerXForwardedFor, scratch)
		if len(h.Peek(headerXForwardedProto)) == 0 {
			h.Set(headerXForwardedProto, scheme(ctx))
		}
		if len(h.Peek(headerXForwardedHost)) == 0 {
			h.SetBytesV(headerXForwardedHost, h.Host())
		}
		return scratch
	}
	scratch = ip.AppendTo(scratch[:0])
	h.SetBytesV(headerXForwardedFor, scratch)
	h.Set(headerXForwardedProto, scheme(ctx))
	h.SetBytesV(headerXForwardedHost, h.Host())
	return scratch
}

// cleanUpstreamResponse removes hop-by-hop headers from an upstream's
// response before it goes to the client. The client connection's own
// keep-alive is the server's business, not the upstream's.
func cleanUpstreamResponse(resp *fasthttp.Response) {
	h := &resp.Header
	if conn := h.Peek(fasthttp.HeaderConnection); len(conn) > 0 && !bytes.EqualFold(conn, []byte("close")) {
		// Copied: deleting headers may move the bytes conn points to.
		rest := append([]byte(nil), conn...)
		for len(rest) > 0 {
			var name []byte
			name, rest = nextToken(rest)
			if len(name) > 0 && !bytes.EqualFold(name, []byte("close")) {
				h.DelBytes(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
	h.ResetConnectionClose()
}

// hasConflictingFraming reports a request that carries both
// Transfer-Encoding: chunked and Content-Length. RFC 9112 §6.3 lets a
// server reject it, and a proxy must, since the two framings disagree on
// where the next request starts (request smuggling).
func hasConflictingFraming(h *fasthttp.RequestHeader) bool {
	if h.ContentLength() != -1 {
		return false
	}
	raw := h.RawHeaders()
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		const cl = "content-length"
		if len(line) > len(cl) && bytes.EqualFold(line[:len(cl)], []byte(cl)) &&
			(line[len(cl)] == ':' || line[len(cl)] == ' ' || line[len(cl)] == '\t') {
			return true
		}
	}
	return false
}

// isUpgrade reports a request asking to switch protocols (RFC 9110 §7.8),
// such as a WebSocket handshake.
func isUpgrade(h *fasthttp.RequestHeader) bool {
	return len(h.Peek(fasthttp.HeaderUpgrade)) > 0 && h.ConnectionUpgrade()
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func scheme(ctx *fasthttp.RequestCtx) string {
	if ctx.IsTLS() {
		return "https"
	}
	return "http"
}

// nextToken splits the next comma-separated token off a header value.
func nextToken(v []byte) (token, rest []byte) {
	i := bytes.IndexByte(v, ',')
	if i < 0 {
		return bytes.TrimSpace(v), nil
	}
	return bytes.TrimSpace(v[:i]), v[i+1:]
}
