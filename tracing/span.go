package tracing

import (
	"time"

	"github.com/cutover/cutover/chain"
)

// Kind is what a span stands for.
type Kind uint8

// The kinds of calls cutover exports.
const (
	// KindProxy is a call the gateway served and proxied: a SERVER span.
	KindProxy Kind = iota
	// KindShadow is a shadow copy sent to the side that did not serve (or
	// to the secondary): a CLIENT span marked cutover.shadow=true.
	KindShadow
	// KindReplay is a recorded call sent again by replay: a CLIENT span
	// marked cutover.replay=true.
	KindReplay
)

// Attribute keys of cutover's own, beside the OpenTelemetry conventions'.
const (
	AttrRoute  = "cutover.route"
	AttrSide   = "cutover.side"
	AttrTenant = "cutover.tenant"
	AttrTarget = "cutover.target"
	AttrShadow = "cutover.shadow"
	AttrReplay = "cutover.replay"
)

// Call is one call as its caller hands it to Export. Byte slices may point
// into request memory: Export copies them.
type Call struct {
	Kind Kind
	// Trace is the chain; Span the call's own span; Parent the span it
	// was made under: the caller's span for a proxied call (zero when the
	// chain starts at the gateway), the proxied call's span for a shadow
	// copy, the recorded call's span for a replay.
	Trace        chain.TraceID
	Span, Parent chain.SpanID
	Start        time.Time
	Duration     time.Duration
	Method, Path []byte
	// Host is the Host the client asked for (server.address of a proxied
	// call). Client spans take server.address from Target.
	Host   []byte
	Tenant []byte
	// Route, Side (old, new, upstream, secondary) and Target (host:port)
	// name where the call went.
	Route, Side, Target string
	// Status is the answer's status; 0 when there was none.
	Status int
	// Error is why the call failed ("timeout", "refused", …); "" when it
	// did not. A proxied call answered 5xx is an error without one.
	Error string
}

// The bytes a record keeps of a call's variable parts; longer values are
// cut. url.path gets what the others leave of textSize.
const (
	textSize  = 512
	maxMethod = 24
	maxHost   = 128
	maxTenant = 128
)

// record is a Call as queued: a plain value, so queueing it copies it
// whole and allocates nothing. Its strings are the caller's, which are
// immutable; its bytes are its own.
type record struct {
	kind                       Kind
	status                     int32
	trace                      chain.TraceID
	span, parent               chain.SpanID
	start, duration            int64 // unix nanoseconds, nanoseconds
	route, side, target, cause string
	method, host, tenant, path uint16 // lengths in text, in this order
	text                       [textSize]byte
}

func (r *record) fill(c *Call) {
	r.kind, r.status = c.Kind, int32(c.Status)
	r.trace, r.span, r.parent = c.Trace, c.Span, c.Parent
	r.start, r.duration = c.Start.UnixNano(), int64(c.Duration)
	r.route, r.side, r.target, r.cause = c.Route, c.Side, c.Target, c.Error
	n := copy(r.text[:maxMethod], c.Method)
	r.method = uint16(n)
	m := copy(r.text[n:n+maxHost], c.Host)
	r.host, n = uint16(m), n+m
	m = copy(r.text[n:n+maxTenant], c.Tenant)
	r.tenant, n = uint16(m), n+m
	r.path = uint16(copy(r.text[n:], c.Path))
}
