package gateway

import (
	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
)

// incomingTraceHeaders are every trace header the gateway understands.
// They are removed before the configured formats are written afresh from
// the continued chain, so a malformed or stale one never travels on.
var incomingTraceHeaders = [...]string{
	chain.HeaderTraceparent, chain.HeaderB3, chain.HeaderB3TraceID, chain.HeaderB3SpanID,
	chain.HeaderB3ParentSpanID, chain.HeaderB3Sampled, chain.HeaderB3Flags,
	chain.HeaderJaeger, chain.HeaderSW8,
}

// serviceName is how the gateway names itself in formats that carry one.
const serviceName = "cutover"

// tagUpstream writes the hop's chain into the request going upstream: the
// chain header (32 hex) always, plus each format in snap.inject. A W3C
// tracestate is kept only when a valid traceparent was continued, as the
// W3C spec requires. scratch is reused; the grown buffer is returned.
func tagUpstream(h *fasthttp.RequestHeader, c *chain.Chain, snap *snapshot, scratch []byte) []byte {
	for _, name := range incomingTraceHeaders {
		h.Del(name)
	}
	if c.Source != chain.SourceTraceparent {
		h.Del(chain.HeaderTracestate)
	}
	scratch = c.Trace.AppendHex(scratch[:0])
	h.SetBytesV(snap.chainHeader, scratch)
	if snap.inject&chain.FormatW3C != 0 {
		scratch = chain.AppendTraceparent(scratch[:0], c)
		h.SetBytesV(chain.HeaderTraceparent, scratch)
	}
	if snap.inject&chain.FormatB3 != 0 {
		scratch = chain.AppendB3(scratch[:0], c)
		h.SetBytesV(chain.HeaderB3, scratch)
	}
	if snap.inject&chain.FormatJaeger != 0 {
		scratch = chain.AppendJaeger(scratch[:0], c)
		h.SetBytesV(chain.HeaderJaeger, scratch)
	}
	if snap.inject&chain.FormatSW8 != 0 {
		scratch = chain.AppendSW8(scratch[:0], c, serviceName)
		h.SetBytesV(chain.HeaderSW8, scratch)
	}
	return scratch
}
