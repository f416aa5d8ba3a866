package shadow

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/tracing"
)

// SideSecondary is cutover.side on the spans of the copies sent to a
// route's secondary.
const SideSecondary = "secondary"

// traceCopy exports a shadow call as a CLIENT span marked cutover.shadow:
// a child of the primary hop's span (hop.Parent), with the span the copy
// carried upstream (hop.Span). It runs on a shadow worker when the
// primary's chain is sampled; reason is why the call failed, "" when it
// did not, and resp its answer.
func (m *Mirror) traceCopy(route string, j *Job, hop *chain.Chain, side, target string, sent time.Time, latency time.Duration,
	resp *fasthttp.Response, reason string) {
	tr := m.opt.Tracer
	if !tr.Sampled(&j.Chain) {
		return
	}
	status := 0
	if reason == "" {
		status = resp.StatusCode()
	}
	tr.Export(&tracing.Call{
		Kind: tracing.KindShadow, Trace: hop.Trace, Span: hop.Span, Parent: hop.Parent, Start: sent, Duration: latency,
		Method: j.Req.Header.Method(), Path: j.Req.URI().Path(), Tenant: j.Tenant,
		Route: route, Side: side, Target: target, Status: status, Error: reason,
	})
}
