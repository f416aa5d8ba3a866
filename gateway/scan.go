package gateway

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/replay"
)

// Headers the gateway reads or rewrites on every request. One pass over
// the received header block finds them all; afterwards only the headers
// actually present are deleted. fasthttp's Del and Peek normalise their
// key on every call, which made them most of the gateway's own per-request
// cost.
const (
	// Hop-by-hop, wConnection to wUpgrade: they apply to one connection
	// only and are never forwarded (RFC 9110 §7.6.1). Proxy-Connection and
	// Keep-Alive are legacy forms of Connection; Proxy-Authenticate and
	// Proxy-Authorization are addressed to this proxy (RFC 9110 §11.7); TE
	// and Trailer negotiate transfer coding for this hop (RFC 9110 §10.1.4,
	// RFC 9112 §6).
	wConnection = iota
	wProxyConnection
	wKeepAlive
	wProxyAuthenticate
	wProxyAuthorization
	wTE
	wTrailer
	wTransferEncoding
	wUpgrade
	// Answered by the gateway itself (RFC 9110 §10.1.1), which has read
	// the whole body before forwarding.
	wExpect
	// Framing.
	wContentLength
	// Forwarding.
	wXForwardedFor
	wXForwardedProto
	wXForwardedHost
	// Trace context.
	wTraceparent
	wTracestate
	wB3
	wB3TraceID
	wB3SpanID
	wB3ParentSpanID
	wB3Sampled
	wB3Flags
	wJaeger
	wSW8
	// A call sent again by cutover replay: routed, never recorded or
	// shadowed.
	wReplay
	// The configured chain header (X-Chain-Id by default).
	wChain
	// W3C baggage, read and rewritten on cohort routes.
	wBaggage
	numWatched
)

// watchedNames are the headers by index, as written on the wire.
var watchedNames = [numWatched]string{
	wConnection: fasthttp.HeaderConnection, wProxyConnection: "Proxy-Connection",
	wKeepAlive: fasthttp.HeaderKeepAlive, wProxyAuthenticate: fasthttp.HeaderProxyAuthenticate,
	wProxyAuthorization: fasthttp.HeaderProxyAuthorization, wTE: fasthttp.HeaderTE,
	wTrailer: fasthttp.HeaderTrailer, wTransferEncoding: fasthttp.HeaderTransferEncoding,
	wUpgrade: fasthttp.HeaderUpgrade, wExpect: fasthttp.HeaderExpect,
	wContentLength:  fasthttp.HeaderContentLength,
	wXForwardedFor:  "X-Forwarded-For",
	wXForwardedHost: "X-Forwarded-Host", wXForwardedProto: "X-Forwarded-Proto",
	wTraceparent: chain.HeaderTraceparent, wTracestate: chain.HeaderTracestate,
	wB3: chain.HeaderB3, wB3TraceID: chain.HeaderB3TraceID, wB3SpanID: chain.HeaderB3SpanID,
	wB3ParentSpanID: chain.HeaderB3ParentSpanID, wB3Sampled: chain.HeaderB3Sampled,
	wB3Flags: chain.HeaderB3Flags, wJaeger: chain.HeaderJaeger, wSW8: chain.HeaderSW8,
	wBaggage: headerBaggage,
	wReplay:  replay.Header,
}

// watchedCanonical are the same names in fasthttp's normalised form, the
// form keys have after parsing, for SetCanonical and DelCanonical-style use.
var watchedCanonical = func() (c [numWatched][]byte) {
	for i, name := range watchedNames {
		c[i] = canonicalKey(name)
	}
	return c
}()

// watchedIndex finds a normalised header key's index.
var watchedIndex = func() map[string]int {
	m := make(map[string]int, numWatched)
	for i, name := range watchedNames {
		if name != "" {
			m[string(canonicalKey(name))] = i
		}
	}
	return m
}()

// canonicalKey normalises a header name as fasthttp does: upper case at
// the start and after each '-', lower case elsewhere.
func canonicalKey(name string) []byte {
	b := []byte(name)
	upper := true
	for i, c := range b {
		switch {
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
		upper = c == '-'
	}
	return b
}

// headerScan is what one pass over a request's received headers found.
// Values point into fasthttp's copy of the raw header block, which stays
// unchanged while the handler rewrites the headers themselves.
type headerScan struct {
	present     uint32
	repeated    uint32 // watched headers received on more than one line
	values      [numWatched][]byte
	chainHeader string
	// invalidName reports a header name that is not a token (RFC 9110
	// §5.1). fasthttp refuses most such names but accepts a space inside
	// one ("Bad Name: x") and would forward it; the upstream would then
	// refuse the request, or read it differently from the gateway, so the
	// gateway answers 400 itself (RFC 9112 §5.1).
	invalidName bool
}

// scanRequest records the watched headers of h. chainCanon is the
// configured chain header in canonical form.
func (s *headerScan) scanRequest(h *fasthttp.RequestHeader, chainHeader string, chainCanon []byte) {
	s.chainHeader = chainHeader
	for k, v := range h.AllInOrder() {
		i, ok := watchedIndex[string(k)]
		if !ok {
			if !bytes.Equal(k, chainCanon) {
				if !isToken(k) {
					s.invalidName = true
				}
				continue
			}
			i = wChain
		}
		if s.present&(1<<i) == 0 {
			s.present |= 1 << i
			s.values[i] = v
		} else {
			s.repeated |= 1 << i
		}
	}
}

func (s *headerScan) has(i int) bool { return s.present&(1<<i) != 0 }

func (s *headerScan) hasRepeated(i int) bool { return s.repeated&(1<<i) != 0 }

// isToken reports whether b is an RFC 9110 §5.6.2 token, as header names
// must be.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenBytes[c] {
			return false
		}
	}
	return true
}

// tokenBytes marks the bytes a token may hold (tchar).
var tokenBytes = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// Peek serves chain.Extract from the scan, so extraction costs no header
// lookups at all.
func (s *headerScan) Peek(key string) []byte {
	switch key {
	case chain.HeaderTraceparent:
		return s.values[wTraceparent]
	case chain.HeaderB3:
		return s.values[wB3]
	case chain.HeaderB3TraceID:
		return s.values[wB3TraceID]
	case chain.HeaderB3SpanID:
		return s.values[wB3SpanID]
	case chain.HeaderB3Sampled:
		return s.values[wB3Sampled]
	case chain.HeaderB3Flags:
		return s.values[wB3Flags]
	case chain.HeaderJaeger:
		return s.values[wJaeger]
	case chain.HeaderTracestate:
		return s.values[wTracestate]
	case s.chainHeader:
		return s.values[wChain]
	}
	return nil
}

// del removes a watched header when the scan saw it.
func (s *headerScan) del(h *fasthttp.RequestHeader, i int) {
	if s.has(i) {
		h.DelBytes(watchedCanonical[i])
	}
}
