package tracing

import (
	"net"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/internal/buildinfo"
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
	AttrRoute  = attribute.Key("cutover.route")
	AttrSide   = attribute.Key("cutover.side")
	AttrTenant = attribute.Key("cutover.tenant")
	AttrTarget = attribute.Key("cutover.target")
	AttrShadow = attribute.Key("cutover.shadow")
	AttrReplay = attribute.Key("cutover.replay")
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
	// Error is why the call failed ("timeout", "connect", …); "" when it
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

// maxAttrs is the most attributes a span has.
const maxAttrs = 13

// scope names cutover as the instrumentation that made the spans.
var scope = instrumentation.Scope{Name: "github.com/cutover/cutover/tracing", Version: buildinfo.Version, SchemaURL: semconv.SchemaURL}

// converter turns records into spans for the exporter, reusing its memory
// from batch to batch: the exporter encodes a batch before ExportSpans
// returns and keeps nothing of it.
type converter struct {
	held  []span
	out   []sdktrace.ReadOnlySpan
	attrs []attribute.KeyValue
}

// spans returns batch as spans of res, valid until the next call.
func (cv *converter) spans(batch []record, res *resource.Resource) []sdktrace.ReadOnlySpan {
	if cap(cv.held) < len(batch) {
		cv.held = make([]span, len(batch))
		cv.out = make([]sdktrace.ReadOnlySpan, len(batch))
		cv.attrs = make([]attribute.KeyValue, 0, len(batch)*maxAttrs)
	}
	cv.held, cv.out, cv.attrs = cv.held[:len(batch)], cv.out[:len(batch)], cv.attrs[:0]
	for i := range batch {
		s := &cv.held[i]
		start := len(cv.attrs)
		cv.attrs = batch[i].appendSpan(s, cv.attrs)
		s.attrs = cv.attrs[start:len(cv.attrs):len(cv.attrs)]
		s.res = res
		cv.out[i] = s
	}
	return cv.out
}

// appendSpan fills s from r and appends its attributes to attrs.
func (r *record) appendSpan(s *span, attrs []attribute.KeyValue) []attribute.KeyValue {
	// One string for every variable part of the record; the attributes
	// are slices of it.
	text := string(r.text[:int(r.method)+int(r.host)+int(r.tenant)+int(r.path)])
	method := text[:r.method]
	host := text[r.method : r.method+r.host]
	tenant := text[r.method+r.host : r.method+r.host+r.tenant]
	path := text[r.method+r.host+r.tenant:]

	*s = span{
		start: time.Unix(0, r.start),
		end:   time.Unix(0, r.start+r.duration),
		sc: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID(r.trace), SpanID: trace.SpanID(r.span), TraceFlags: trace.FlagsSampled,
		}),
	}
	if r.parent != (chain.SpanID{}) {
		s.parent = trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID(r.trace), SpanID: trace.SpanID(r.parent), TraceFlags: trace.FlagsSampled,
			Remote: r.kind == KindProxy, // a proxied call's parent is its caller's
		})
	}
	failed := r.cause != ""
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(method), semconv.URLPath(path))
	switch r.kind {
	case KindProxy:
		s.kind, s.name = trace.SpanKindServer, method+" "+r.route
		failed = failed || r.status >= 500
		attrs = append(attrs, semconv.URLScheme("http"))
		attrs = appendAddress(attrs, host)
	default:
		s.kind, s.name = trace.SpanKindClient, method+" "+r.route
		failed = failed || r.status >= 400
		attrs = appendAddress(attrs, r.target)
		if r.kind == KindShadow {
			s.name = "shadow " + s.name
			attrs = append(attrs, AttrShadow.Bool(true))
		} else {
			s.name = "replay " + s.name
			attrs = append(attrs, AttrReplay.Bool(true))
		}
	}
	if r.status > 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(int(r.status)))
	}
	attrs = append(attrs, AttrRoute.String(r.route), AttrSide.String(r.side))
	if tenant != "" {
		attrs = append(attrs, AttrTenant.String(tenant))
	}
	if r.target != "" {
		attrs = append(attrs, AttrTarget.String(r.target))
	}
	if failed {
		cause := r.cause
		if cause == "" {
			cause = strconv.Itoa(int(r.status))
		}
		attrs = append(attrs, semconv.ErrorTypeKey.String(cause))
		s.status = sdktrace.Status{Code: codes.Error, Description: r.cause}
	}
	return attrs
}

// appendAddress appends server.address and, when there is one,
// server.port of a host[:port].
func appendAddress(attrs []attribute.KeyValue, hostPort string) []attribute.KeyValue {
	if hostPort == "" {
		return attrs
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return append(attrs, semconv.ServerAddress(hostPort))
	}
	attrs = append(attrs, semconv.ServerAddress(host))
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	return attrs
}

// span is one exported span. It implements sdktrace.ReadOnlySpan, whose
// unexported method the embedded (nil) interface supplies; every method
// the exporter calls is defined here, so the nil is never called.
type span struct {
	sdktrace.ReadOnlySpan

	name       string
	sc, parent trace.SpanContext
	kind       trace.SpanKind
	start, end time.Time
	attrs      []attribute.KeyValue
	status     sdktrace.Status
	res        *resource.Resource
}

func (s *span) Name() string                                { return s.name }
func (s *span) SpanContext() trace.SpanContext              { return s.sc }
func (s *span) Parent() trace.SpanContext                   { return s.parent }
func (s *span) SpanKind() trace.SpanKind                    { return s.kind }
func (s *span) StartTime() time.Time                        { return s.start }
func (s *span) EndTime() time.Time                          { return s.end }
func (s *span) Attributes() []attribute.KeyValue            { return s.attrs }
func (s *span) Links() []sdktrace.Link                      { return nil }
func (s *span) Events() []sdktrace.Event                    { return nil }
func (s *span) Status() sdktrace.Status                     { return s.status }
func (s *span) InstrumentationScope() instrumentation.Scope { return scope }
func (s *span) Resource() *resource.Resource                { return s.res }
func (s *span) DroppedAttributes() int                      { return 0 }
func (s *span) DroppedLinks() int                           { return 0 }
func (s *span) DroppedEvents() int                          { return 0 }
func (s *span) ChildSpanCount() int                         { return 0 }

// InstrumentationLibrary is the deprecated form of InstrumentationScope,
// still part of the interface.
func (s *span) InstrumentationLibrary() instrumentation.Library { //nolint:staticcheck // required by the interface
	return scope
}
