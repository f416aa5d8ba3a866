package chain

import "strconv"

// Source says which incoming header a chain was continued from.
type Source uint8

// The sources, in the order Extract tries them after SourceNone.
const (
	SourceNone        Source = iota // no valid context came in: the chain starts here
	SourceTraceparent               // W3C traceparent
	SourceB3                        // B3 single header
	SourceB3Multi                   // B3 multiple headers
	SourceJaeger                    // Jaeger uber-trace-id
	SourceChainHeader               // the configured chain header
)

var sourceNames = [...]string{
	SourceNone:        "none",
	SourceTraceparent: "traceparent",
	SourceB3:          "b3",
	SourceB3Multi:     "b3-multi",
	SourceJaeger:      "jaeger",
	SourceChainHeader: "chain-header",
}

// String returns the name used in logs and metric labels, such as
// "traceparent" or "b3-multi".
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "Source(" + strconv.Itoa(int(s)) + ")"
}

// Chain is one hop's trace context. It is a plain value: copy it freely, but
// mind State.
type Chain struct {
	Trace   TraceID // the chain ID
	Span    SpanID  // this hop's span, always new
	Parent  SpanID  // the caller's span; zero when the chain starts here or came from the chain header
	Sampled bool    // the caller's sampling decision; true when the caller made none
	Source  Source  // where Trace came from

	// State is the incoming W3C tracestate, kept only when a valid
	// traceparent was continued, because tracestate has no meaning without
	// it. It points into the caller's header memory: copy it before the
	// request's handler returns if the chain outlives the request.
	State []byte
}

// Headers is what Extract reads. *fasthttp.RequestHeader satisfies it. Peek
// returns the value of the first header with that name, or nil; Extract treats
// an empty value as absent and does not keep any result except State.
type Headers interface {
	Peek(key string) []byte
}

// Extract returns the chain for a request with headers h. It continues the
// first valid incoming context in this order: traceparent, b3, the X-B3-*
// headers, uber-trace-id, then the header named chainHeader (none when
// empty). A malformed or all-zero value is ignored and the next one is tried;
// when none is valid, Extract starts a new chain with a random trace ID and
// Sampled true. Span is always new and random. A chain continued from the
// chain header has no Parent and is sampled, since that header carries
// neither. Extract does not allocate.
func Extract(h Headers, chainHeader string) Chain {
	c := Chain{Span: NewSpanID(), Sampled: true}
	if v := h.Peek(HeaderTraceparent); len(v) > 0 {
		if t, p, s, ok := ParseTraceparent(v); ok {
			c.Trace, c.Parent, c.Sampled, c.Source = t, p, s, SourceTraceparent
			if st := h.Peek(HeaderTracestate); len(st) > 0 {
				c.State = st
			}
			return c
		}
	}
	if v := h.Peek(HeaderB3); len(v) > 0 {
		if t, p, s, ok := ParseB3(v); ok {
			c.Trace, c.Parent, c.Sampled, c.Source = t, p, s, SourceB3
			return c
		}
	}
	if v := h.Peek(HeaderB3TraceID); len(v) > 0 {
		if t, p, s, ok := ParseB3Multi(v, h.Peek(HeaderB3SpanID), h.Peek(HeaderB3Sampled)); ok {
			// X-B3-Flags: 1 is debug, which forces sampling.
			if string(h.Peek(HeaderB3Flags)) == "1" {
				s = true
			}
			c.Trace, c.Parent, c.Sampled, c.Source = t, p, s, SourceB3Multi
			return c
		}
	}
	if v := h.Peek(HeaderJaeger); len(v) > 0 {
		if t, p, s, ok := ParseJaeger(v); ok {
			c.Trace, c.Parent, c.Sampled, c.Source = t, p, s, SourceJaeger
			return c
		}
	}
	if chainHeader != "" {
		if v := h.Peek(chainHeader); len(v) > 0 {
			if t, ok := ParseChainID(v); ok {
				c.Trace, c.Source = t, SourceChainHeader
				return c
			}
		}
	}
	c.Trace = NewTraceID()
	return c
}

// Child returns the chain for a request sent on behalf of c, such as a shadow
// copy: the same trace, sampling, source and tracestate, a new Span, and
// c.Span as Parent, so tracers show the copy under this hop's span next to
// the primary call. State is shared with c, not copied.
func (c *Chain) Child() Chain {
	return Chain{
		Trace:   c.Trace,
		Span:    NewSpanID(),
		Parent:  c.Span,
		Sampled: c.Sampled,
		Source:  c.Source,
		State:   c.State,
	}
}
