// Package chain owns cutover's trace context: the chain ID that ties a
// request, its upstream call, its shadow copy and the resulting diff together.
//
// The chain ID is the W3C trace ID written as 32 lowercase hex digits. Every
// request gets one: Extract continues the caller's trace when the request
// carries a valid context and makes a new random trace otherwise. It reads, in
// this order, and stops at the first valid value:
//
//  1. traceparent (W3C Trace Context), with tracestate kept alongside it;
//  2. b3 (Zipkin B3, single header);
//  3. X-B3-TraceId, X-B3-SpanId, X-B3-Sampled, X-B3-Flags (B3, multiple headers);
//  4. uber-trace-id (Jaeger), plain or URL-encoded;
//  5. the configured chain header (for example X-Chain-Id), a bare trace ID.
//
// The standard formats come first because they also carry the caller's span
// and sampling decision; the chain header carries only a trace ID, so it is a
// fallback for clients that speak no tracing format.
//
// Parsing is strict. A value that is malformed, has the wrong length or is all
// zeros is ignored, never repaired, and the next source is tried. A half-parsed
// ID would join unrelated requests into one chain, and an all-zero ID is
// reserved as invalid by every format here; a fresh random ID is always the
// safer choice because it can only split a chain, never merge two.
//
// B3 and Jaeger allow 64-bit trace IDs. They are left-padded with zeros to 128
// bits, which is how W3C-aware tracers map them, so the same trace keeps the
// same chain ID whichever format carries it next.
//
// Every hop makes a new random span ID; the caller's span becomes Parent. The
// Append functions write header values for the formats chosen with Format
// (W3C, B3, Jaeger, SkyWalking sw8). Extract and the Append functions do not
// allocate, so the gateway can call them on every request.
package chain
