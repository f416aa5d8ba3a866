package gateway

import (
	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
)

// serviceName is how the gateway names itself in formats that carry one.
const serviceName = "cutover"

// tagUpstream writes the hop's chain into the request going upstream: the
// chain header (32 hex) always, plus each format in snap.inject. route and
// service name the hop in formats that carry names (sw8). Every
// incoming trace header is removed first and the formats are written afresh
// from the continued chain, so a malformed or stale one never travels on.
// A W3C tracestate is kept only when a valid traceparent was continued, as
// the W3C spec requires. scratch is reused; the grown buffer is returned.
func tagUpstream(h *fasthttp.RequestHeader, s *headerScan, c *chain.Chain, snap *snapshot, route, service string, scratch []byte) []byte {
	for i := wTraceparent; i <= wSW8; i++ {
		if i != wTracestate || c.Source != chain.SourceTraceparent {
			s.del(h, i)
		}
	}
	scratch = c.Trace.AppendHex(scratch[:0])
	h.SetCanonical(snap.chainCanon, scratch)
	if snap.inject&chain.FormatW3C != 0 {
		scratch = chain.AppendTraceparent(scratch[:0], c)
		h.SetCanonical(watchedCanonical[wTraceparent], scratch)
	}
	if snap.inject&chain.FormatB3 != 0 {
		scratch = chain.AppendB3(scratch[:0], c)
		h.SetCanonical(watchedCanonical[wB3], scratch)
	}
	if snap.inject&chain.FormatJaeger != 0 {
		scratch = chain.AppendJaeger(scratch[:0], c)
		h.SetCanonical(watchedCanonical[wJaeger], scratch)
	}
	if snap.inject&chain.FormatSW8 != 0 {
		scratch = chain.AppendSW8(scratch[:0], c, serviceName, route, service)
		h.SetCanonical(watchedCanonical[wSW8], scratch)
	}
	return scratch
}
