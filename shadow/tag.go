package shadow

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/router"
)

// HeaderShadow marks a shadow copy, so services behind cutover can keep
// its writes out of their data.
const HeaderShadow = "X-Cutover-Shadow"

// TracestateEntry is the tracestate member a shadow copy carries.
const TracestateEntry = "cutover=shadow"

// traceHeaders are the headers a shadow copy's chain replaces.
var traceHeaders = []string{"traceparent", "tracestate", "b3", "X-B3-TraceId", "X-B3-SpanId", "X-B3-ParentSpanId", "X-B3-Sampled", "X-B3-Flags", "uber-trace-id", "sw8"}

// tag rewrites a copy of a request as sent to the serving side for the
// shadow hop c to service: the chain header and the formats of set.Inject
// with the new span, cutover=shadow first in tracestate (other members
// kept), and X-Cutover-Shadow: 1. On a cohort route the copy carries the
// side it imitates in baggage (cutover.cohort.<name>=imitates, other
// members kept), so the calls the shadowed service makes through cutover
// stay on that side. It runs on a shadow worker, off the hot path;
// scratch is reused and the grown buffer returned.
func tag(h *fasthttp.RequestHeader, c *chain.Chain, set *Settings, route, service string, imitates router.Side, scratch []byte) []byte {
	// The incoming tracestate goes first in scratch; each value written
	// after it is built past its end.
	buf := append(scratch[:0], h.Peek("tracestate")...)
	state := len(buf)
	for _, name := range traceHeaders {
		h.Del(name)
	}
	buf = c.Trace.AppendHex(buf[:state])
	h.SetBytesV(set.ChainHeader, buf[state:])
	if set.Inject&chain.FormatW3C != 0 {
		buf = chain.AppendTraceparent(buf[:state], c)
		h.SetBytesV("traceparent", buf[state:])
	}
	buf = chain.AppendTracestate(buf[:state], buf[:state], TracestateEntry)
	h.SetBytesV("tracestate", buf[state:])
	if set.Inject&chain.FormatB3 != 0 {
		buf = chain.AppendB3(buf[:state], c)
		h.SetBytesV("b3", buf[state:])
	}
	if set.Inject&chain.FormatJaeger != 0 {
		buf = chain.AppendJaeger(buf[:state], c)
		h.SetBytesV("uber-trace-id", buf[state:])
	}
	if set.Inject&chain.FormatSW8 != 0 {
		// "" names the gateway itself: cutover, as on the primary hop.
		buf = chain.AppendSW8(buf[:state], c, "", route, service)
		h.SetBytesV("sw8", buf[state:])
	}
	if set.Cohort != "" {
		buf, _ = router.AppendBaggage(buf[:state], h.Peek("baggage"), set.Cohort, imitates)
		h.Del("baggage")
		h.SetBytesV("baggage", buf[state:])
	}
	h.Set(HeaderShadow, "1")
	return buf
}

// inShadowChain reports whether a W3C tracestate list holds the
// cutover=shadow member, which services forward on the calls they make.
func inShadowChain(state []byte) bool {
	for len(state) > 0 {
		var member []byte
		member, state, _ = bytes.Cut(state, []byte(","))
		if string(bytes.Trim(member, " \t")) == TracestateEntry {
			return true
		}
	}
	return false
}
