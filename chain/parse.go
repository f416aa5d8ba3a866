package chain

// The parsers below are strict: anything they do not fully understand is
// rejected with ok=false, and ok=true always comes with non-zero IDs. None of
// them allocates or keeps v.

// traceparentLen is the length of a version-00 traceparent, and the prefix a
// future version shares with it.
const traceparentLen = 55

// ParseTraceparent parses a W3C traceparent value,
// version-traceid-parentid-flags, in lowercase hex only. Version 00 must be
// exactly 55 bytes. A future version (any but ff, which is invalid) is parsed
// by its first 55 bytes, which must be followed by the end or a '-', as the
// W3C spec asks so that later versions can append fields. sampled is bit 0 of
// the flags.
func ParseTraceparent(v []byte) (trace TraceID, parent SpanID, sampled bool, ok bool) {
	if len(v) < traceparentLen {
		return
	}
	var version [1]byte
	if !decodeHex(version[:], v[0:2], lowerHex) || version[0] == 0xff {
		return
	}
	if len(v) > traceparentLen && (version[0] == 0 || v[traceparentLen] != '-') {
		return
	}
	if v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return
	}
	var flags [1]byte
	if !decodeHex(trace[:], v[3:35], lowerHex) ||
		!decodeHex(parent[:], v[36:52], lowerHex) ||
		!decodeHex(flags[:], v[53:55], lowerHex) ||
		trace.IsZero() || parent.IsZero() {
		return TraceID{}, SpanID{}, false, false
	}
	return trace, parent, flags[0]&1 == 1, true
}

// ParseB3 parses a B3 single-header value:
// {trace}-{span}[-{sampled}[-{parent}]], where trace is 16 or 32 lowercase hex
// digits (a 64-bit trace ID is left-padded), span and parent are 16, and
// sampled is 0, 1 or d (debug, which implies sampled). A value without a
// sampling field defers the decision to the receiver, and cutover samples new
// decisions, so sampled is true then. A lone sampling flag such as "0" carries
// no IDs and is not a context: ok is false.
func ParseB3(v []byte) (trace TraceID, span SpanID, sampled bool, ok bool) {
	var f [4][]byte
	n := splitFields(v, '-', f[:])
	if n < 2 || n > 4 {
		return
	}
	if !parseB3Trace(&trace, f[0]) || !decodeHex(span[:], f[1], lowerHex) || span.IsZero() {
		return TraceID{}, SpanID{}, false, false
	}
	sampled = true
	if n >= 3 {
		switch string(f[2]) {
		case "1", "d":
		case "0":
			sampled = false
		default:
			return TraceID{}, SpanID{}, false, false
		}
	}
	if n == 4 {
		// The parent is not kept (cutover's Parent is the caller's span),
		// but a malformed one still makes the whole value malformed.
		var parent SpanID
		if !decodeHex(parent[:], f[3], lowerHex) || parent.IsZero() {
			return TraceID{}, SpanID{}, false, false
		}
	}
	return trace, span, sampled, true
}

// ParseB3Multi parses the values of the X-B3-TraceId, X-B3-SpanId and
// X-B3-Sampled headers, with the same ID rules as ParseB3. sampled may be
// empty (the decision is deferred, so sampledOut is true), "1" or "0", or the
// legacy "true" or "false"; anything else makes the context malformed.
// X-B3-Flags (debug) is not a parameter: Extract applies it.
func ParseB3Multi(traceID, spanID, sampled []byte) (trace TraceID, span SpanID, sampledOut bool, ok bool) {
	if !parseB3Trace(&trace, traceID) || !decodeHex(span[:], spanID, lowerHex) || span.IsZero() {
		return TraceID{}, SpanID{}, false, false
	}
	switch string(sampled) {
	case "", "1", "true":
		sampledOut = true
	case "0", "false":
	default:
		return TraceID{}, SpanID{}, false, false
	}
	return trace, span, sampledOut, true
}

// parseB3Trace decodes a 16- or 32-digit lowercase B3 trace ID into t.
func parseB3Trace(t *TraceID, v []byte) bool {
	var ok bool
	switch len(v) {
	case 32:
		ok = decodeHex(t[:], v, lowerHex)
	case 16:
		*t = TraceID{}
		ok = decodeHex(t[8:], v, lowerHex)
	}
	return ok && !t.IsZero()
}

// ParseJaeger parses a Jaeger uber-trace-id value, {trace}:{span}:{parent}:{flags}.
// trace and span are hex of up to 32 and 16 digits, either case, left-padded
// when shorter, because Jaeger clients drop leading zeros. parent is up to 16
// hex digits and may be "0" (it is checked but not kept). flags is one byte in
// one or two hex digits; bit 0x01 means sampled and bit 0x02 (debug) implies
// it. Jaeger clients may URL-encode the value, so "%3A" (or "%3a") is accepted
// as the separator in place of ':', but the two are never mixed.
func ParseJaeger(v []byte) (trace TraceID, span SpanID, sampled bool, ok bool) {
	var f [4][]byte
	if !splitJaeger(v, &f) {
		return
	}
	var parent SpanID
	var flags [1]byte
	if !decodeHexPadded(trace[:], f[0], anyHex) ||
		!decodeHexPadded(span[:], f[1], anyHex) ||
		!decodeHexPadded(parent[:], f[2], anyHex) ||
		!decodeHexPadded(flags[:], f[3], anyHex) ||
		trace.IsZero() || span.IsZero() {
		return TraceID{}, SpanID{}, false, false
	}
	return trace, span, flags[0]&0x03 != 0, true
}

// splitJaeger splits v into exactly four fields separated by ':' or, when v
// has no ':', by a URL-encoded colon.
func splitJaeger(v []byte, f *[4][]byte) bool {
	encoded := true
	for _, c := range v {
		if c == ':' {
			encoded = false
			break
		}
	}
	if !encoded {
		return splitFields(v, ':', f[:]) == 4
	}
	n, start := 0, 0
	for i := 0; i+3 <= len(v); {
		if v[i] != '%' || v[i+1] != '3' || (v[i+2] != 'A' && v[i+2] != 'a') {
			i++
			continue
		}
		if n == 3 {
			return false
		}
		f[n] = v[start:i]
		n++
		i += 3
		start = i
	}
	if n != 3 {
		return false
	}
	f[3] = v[start:]
	return true
}

// ParseChainID parses a chain header value: a trace ID of 32 hex digits, or
// 16 digits left-padded to 128 bits, in either case. Case is accepted because
// people paste chain IDs by hand; the ID itself is case-free.
func ParseChainID(v []byte) (trace TraceID, ok bool) {
	switch len(v) {
	case 32:
		ok = decodeHex(trace[:], v, anyHex)
	case 16:
		ok = decodeHex(trace[8:], v, anyHex)
	}
	if !ok || trace.IsZero() {
		return TraceID{}, false
	}
	return trace, true
}

// splitFields splits v at sep into f and returns the number of fields, or
// len(f)+1 when there are more fields than f holds.
func splitFields(v []byte, sep byte, f [][]byte) int {
	n, start := 0, 0
	for i, c := range v {
		if c != sep {
			continue
		}
		if n == len(f)-1 {
			return len(f) + 1
		}
		f[n] = v[start:i]
		n++
		start = i + 1
	}
	f[n] = v[start:]
	return n + 1
}
