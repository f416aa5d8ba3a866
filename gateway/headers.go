package gateway

import (
	"bytes"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// prepareUpstreamRequest is the one audited place where a client's request
// headers are rewritten before they go upstream:
//
//   - hop-by-hop headers, and every header the client's Connection header
//     names, are removed (RFC 9110 §7.6.1), except that an upgrade keeps
//     Connection and Upgrade so the tunnel can be negotiated end to end;
//   - X-Forwarded-For gets the client's address appended, and
//     X-Forwarded-Proto and X-Forwarded-Host are set when absent, if the
//     direct peer is a trusted proxy; from anyone else the three are
//     replaced, every line of them, so a client cannot forge its address;
//     repeated X-Forwarded-For lines are one list (RFC 9110 §5.3) and are
//     joined before the peer is appended;
//   - the Host header is kept as the client sent it (the caller applies a
//     service's host override).
//
// s is the scan of the same request; scratch is a reusable buffer, and the
// possibly grown buffer is returned.
func prepareUpstreamRequest(ctx *fasthttp.RequestCtx, s *headerScan, trusted []netip.Prefix, upgrade bool, scratch []byte) []byte {
	h := &ctx.Request.Header
	if s.has(wConnection) {
		names := s.values[wConnection]
		if s.hasRepeated(wConnection) {
			// Repeated lines are one list (RFC 9110 §5.3); the scan kept
			// only the first. Copied: deleting moves header bytes.
			scratch = scratch[:0]
			for _, v := range h.PeekAll(fasthttp.HeaderConnection) {
				scratch = append(append(scratch, v...), ',')
			}
			names = scratch
		}
		for rest := names; len(rest) > 0; {
			var name []byte
			name, rest = nextToken(rest)
			if len(name) > 0 && !isConnectionOption(name, upgrade) {
				h.DelBytes(name)
			}
		}
	}
	for i := wConnection; i <= wUpgrade; i++ {
		if !upgrade || (i != wConnection && i != wUpgrade) {
			s.del(h, i)
		}
	}
	s.del(h, wExpect)

	ip, _ := netip.AddrFromSlice(ctx.RemoteIP())
	ip = ip.Unmap()
	if prior := s.values[wXForwardedFor]; len(prior) > 0 && isTrusted(ip, trusted) {
		scratch = append(scratch[:0], prior...)
		if s.hasRepeated(wXForwardedFor) {
			scratch = scratch[:0]
			for _, v := range h.PeekAll(watchedNames[wXForwardedFor]) {
				if len(scratch) > 0 {
					scratch = append(scratch, ", "...)
				}
				scratch = append(scratch, v...)
			}
			s.del(h, wXForwardedFor) // Set below would replace only the first line
		}
		if len(scratch) > 0 { // empty when Connection named X-Forwarded-For
			scratch = append(scratch, ", "...)
		}
		scratch = ip.AppendTo(scratch)
		h.SetCanonical(watchedCanonical[wXForwardedFor], scratch)
		if !s.has(wXForwardedProto) {
			h.SetCanonical(watchedCanonical[wXForwardedProto], scheme(ctx))
		}
		if !s.has(wXForwardedHost) {
			h.SetCanonical(watchedCanonical[wXForwardedHost], h.Host())
		}
		return scratch
	}
	for i := wXForwardedFor; i <= wXForwardedHost; i++ {
		// Set replaces only the first line; a forged second one would
		// otherwise reach the upstream.
		s.del(h, i)
	}
	scratch = ip.AppendTo(scratch[:0])
	h.SetCanonical(watchedCanonical[wXForwardedFor], scratch)
	h.SetCanonical(watchedCanonical[wXForwardedProto], scheme(ctx))
	h.SetCanonical(watchedCanonical[wXForwardedHost], h.Host())
	return scratch
}

// cleanUpstreamHeader removes hop-by-hop headers, and those the
// upstream's Connection header names, from its response before it goes to
// the client. The client connection's own keep-alive is the server's
// business, not the upstream's. keepTrailer keeps the Trailer field, for
// an answer whose trailers are passed on after it.
func cleanUpstreamHeader(h *fasthttp.ResponseHeader, keepTrailer bool) {
	var present uint32
	var buf [128]byte
	named := buf[:0]
	for k, v := range h.All() {
		if i, ok := watchedIndex[string(k)]; ok && i <= wUpgrade {
			present |= 1 << i
			if i == wConnection {
				// Every line, as repeated lines are one list (RFC 9110
				// §5.3), and however long; copied: deleting moves header
				// bytes.
				named = append(append(named, v...), ',')
			}
		}
	}
	if present == 0 {
		return
	}
	for rest := named; len(rest) > 0; {
		var name []byte
		name, rest = nextToken(rest)
		if len(name) > 0 && !isConnectionOption(name, false) {
			h.DelBytes(name)
		}
	}
	for i := wConnection; i <= wUpgrade; i++ {
		if present&(1<<i) != 0 && (i != wTrailer || !keepTrailer) {
			h.DelBytes(watchedCanonical[i])
		}
	}
	h.ResetConnectionClose()
}

// isConnectionOption reports a Connection token that is an option rather
// than the name of a header to remove; "upgrade" is one only for an upgrade
// request, whose Upgrade header must travel on.
func isConnectionOption(token []byte, upgrade bool) bool {
	return bytes.EqualFold(token, []byte("close")) || bytes.EqualFold(token, []byte("keep-alive")) ||
		(upgrade && bytes.EqualFold(token, []byte("upgrade")))
}

// hasConflictingFraming reports a request that carries both
// Transfer-Encoding and Content-Length. RFC 9112 §6.3 lets a server reject
// it, and a proxy must, since the two framings disagree on where the next
// request starts (request smuggling). fasthttp itself lets chunked win.
func hasConflictingFraming(s *headerScan) bool {
	return s.has(wTransferEncoding) && s.has(wContentLength)
}

// isUpgrade reports a request asking to switch protocols (RFC 9110 §7.8),
// such as a WebSocket handshake.
func isUpgrade(s *headerScan) bool {
	return s.has(wUpgrade) && s.has(wConnection) && hasToken(s.values[wConnection], "upgrade")
}

// hasToken reports whether a comma-separated header value lists token.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var t []byte
		t, v = nextToken(v)
		if bytes.EqualFold(t, []byte(token)) {
			return true
		}
	}
	return false
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

var (
	schemeHTTP  = []byte("http")
	schemeHTTPS = []byte("https")
)

func scheme(ctx *fasthttp.RequestCtx) []byte {
	if ctx.IsTLS() {
		return schemeHTTPS
	}
	return schemeHTTP
}

// nextToken splits the next comma-separated token off a header value.
func nextToken(v []byte) (token, rest []byte) {
	i := bytes.IndexByte(v, ',')
	if i < 0 {
		return bytes.TrimSpace(v), nil
	}
	return bytes.TrimSpace(v[:i]), v[i+1:]
}
