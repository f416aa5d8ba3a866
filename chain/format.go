package chain

import (
	"encoding/base64"
	"fmt"
)

// Header names read by Extract and written with the Append functions. They are
// exported so the gateway deletes and sets exactly these names.
const (
	HeaderTraceparent    = "traceparent"
	HeaderTracestate     = "tracestate"
	HeaderB3             = "b3"
	HeaderB3TraceID      = "X-B3-TraceId"
	HeaderB3SpanID       = "X-B3-SpanId"
	HeaderB3ParentSpanID = "X-B3-ParentSpanId"
	HeaderB3Sampled      = "X-B3-Sampled"
	HeaderB3Flags        = "X-B3-Flags"
	HeaderJaeger         = "uber-trace-id"
	HeaderSW8            = "sw8"
)

// Format is a set of trace context formats written upstream. Formats combine
// with |; the zero Format writes none.
type Format uint8

// The formats the gateway can inject.
const (
	FormatW3C    Format = 1 << iota // traceparent and tracestate
	FormatB3                        // b3 (single header)
	FormatJaeger                    // uber-trace-id
	FormatSW8                       // sw8 (SkyWalking v8)
)

// ParseFormat returns the Format named by a configuration value: "w3c", "b3",
// "jaeger" or "sw8", lowercase as written in the docs.
func ParseFormat(name string) (Format, error) {
	switch name {
	case "w3c":
		return FormatW3C, nil
	case "b3":
		return FormatB3, nil
	case "jaeger":
		return FormatJaeger, nil
	case "sw8":
		return FormatSW8, nil
	}
	return 0, fmt.Errorf("chain: unknown inject format %q (want w3c, b3, jaeger or sw8)", name)
}

// The Append functions write header values, not names, and do not allocate
// when dst has the capacity: 128 bytes fit traceparent, b3 and uber-trace-id;
// sw8 takes 117 bytes plus the base64 lengths of the service name (twice),
// the endpoint and the peer; tracestate at most the entry plus the incoming
// list.

// AppendTraceparent appends c as a W3C traceparent value,
// 00-{trace}-{span}-{flags}, where c.Span is the parent-id the upstream sees
// and flags is 01 when c.Sampled and 00 otherwise.
func AppendTraceparent(dst []byte, c *Chain) []byte {
	dst = append(dst, "00-"...)
	dst = c.Trace.AppendHex(dst)
	dst = append(dst, '-')
	dst = c.Span.AppendHex(dst)
	if c.Sampled {
		return append(dst, "-01"...)
	}
	return append(dst, "-00"...)
}

// maxTracestateMembers is the W3C limit on tracestate list members.
const maxTracestateMembers = 32

// AppendTracestate appends a W3C tracestate value made of entry ("key=value",
// for example "cutover=shadow") followed by the members of the incoming list
// state. As W3C requires of a vendor that adds its entry, the new entry is
// leftmost, a member with the same key is removed, and members past the 32nd
// are dropped from the right. Empty and malformed members are dropped too, so
// the result is always a valid list whatever the caller sent; state is read
// only. An empty entry appends state cleaned the same way.
func AppendTracestate(dst []byte, state []byte, entry string) []byte {
	key := entry
	for i := range len(entry) {
		if entry[i] == '=' {
			key = entry[:i]
			break
		}
	}
	n := 0
	if entry != "" {
		dst = append(dst, entry...)
		n++
	}
	for len(state) > 0 && n < maxTracestateMembers {
		var m []byte
		m, state = nextMember(state)
		eq := validMember(m)
		if eq < 0 || (entry != "" && string(m[:eq]) == key) {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m...)
		n++
	}
	return dst
}

// nextMember returns the first comma-separated member of list with optional
// white space (spaces and tabs) trimmed, and the rest of list.
func nextMember(list []byte) (m, rest []byte) {
	m = list
	for i, c := range list {
		if c == ',' {
			m, rest = list[:i], list[i+1:]
			break
		}
	}
	for len(m) > 0 && (m[0] == ' ' || m[0] == '\t') {
		m = m[1:]
	}
	for len(m) > 0 && (m[len(m)-1] == ' ' || m[len(m)-1] == '\t') {
		m = m[:len(m)-1]
	}
	return m, rest
}

// validMember returns the index of the '=' in a W3C tracestate list member, or
// -1 when m is not one. The key is lowercase letters, digits and _-*/ with at
// most one '@' (tenant@system), starting with a letter or digit; the value is
// printable ASCII without ',' or '=' and does not end in a space. Both are at
// most 256 bytes. Checking this keeps control bytes from a caller out of the
// header cutover writes.
func validMember(m []byte) int {
	eq := -1
	for i, c := range m {
		if c == '=' {
			eq = i
			break
		}
	}
	if eq < 1 || eq > 256 || len(m)-eq-1 < 1 || len(m)-eq-1 > 256 {
		return -1
	}
	if c := m[0]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
		return -1
	}
	at := false
	for _, c := range m[:eq] {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-', c == '*', c == '/':
		case c == '@' && !at:
			at = true
		default:
			return -1
		}
	}
	for _, c := range m[eq+1:] {
		if c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return -1
		}
	}
	if m[len(m)-1] == ' ' {
		return -1
	}
	return eq
}

// AppendB3 appends c as a B3 single-header value,
// {trace}-{span}-{sampled}[-{parent}], with the trace ID always in 32 digits,
// sampled 1 or 0, and the parent only when c.Parent is non-zero.
func AppendB3(dst []byte, c *Chain) []byte {
	dst = c.Trace.AppendHex(dst)
	dst = append(dst, '-')
	dst = c.Span.AppendHex(dst)
	if c.Sampled {
		dst = append(dst, "-1"...)
	} else {
		dst = append(dst, "-0"...)
	}
	if !c.Parent.IsZero() {
		dst = append(dst, '-')
		dst = c.Parent.AppendHex(dst)
	}
	return dst
}

// AppendJaeger appends c as a Jaeger uber-trace-id value,
// {trace}:{span}:{parent}:{flags}, with the trace ID in 32 digits, the parent
// "0" when c.Parent is zero, and flags 01 when c.Sampled and 00 otherwise.
// The value is not URL-encoded: ':' is valid in an HTTP header value.
func AppendJaeger(dst []byte, c *Chain) []byte {
	dst = c.Trace.AppendHex(dst)
	dst = append(dst, ':')
	dst = c.Span.AppendHex(dst)
	dst = append(dst, ':')
	if c.Parent.IsZero() {
		dst = append(dst, '0')
	} else {
		dst = c.Parent.AppendHex(dst)
	}
	if c.Sampled {
		return append(dst, ":01"...)
	}
	return append(dst, ":00"...)
}

// sw8Service is the service name written when AppendSW8 is given none, since
// SkyWalking requires one.
const sw8Service = "cutover"

// AppendSW8 appends c as a SkyWalking cross-process propagation (v3) sw8
// value: eight '-'-separated fields, the strings in standard padded base64:
//
//	{sample}-{trace}-{segment}-0-{service}-{instance}-{endpoint}-{peer}
//
// sample is 1 or 0 from c.Sampled; trace is the chain ID (32 hex digits);
// the parent segment is the chain ID followed by c.Span in hex, so each hop's
// segment is unique and traceable to its chain; the parent span is 0, the
// entry span of that segment; service and instance are both service ("cutover"
// when empty; SkyWalking asks for at most 50 characters); endpoint is the
// operation the caller served ("/" when empty) and peer the name the caller
// used for the callee, which SkyWalking maps to the callee's service ("cutover"
// when empty). The value is base64 and digits only, so any string is safe to
// write.
func AppendSW8(dst []byte, c *Chain, service, endpoint, peer string) []byte {
	if service == "" {
		service = sw8Service
	}
	if endpoint == "" {
		endpoint = "/"
	}
	if peer == "" {
		peer = sw8Service
	}
	if c.Sampled {
		dst = append(dst, "1-"...)
	} else {
		dst = append(dst, "0-"...)
	}
	var hex [48]byte
	trace := c.Trace.AppendHex(hex[:0])
	dst = base64.StdEncoding.AppendEncode(dst, trace)
	dst = append(dst, '-')
	dst = base64.StdEncoding.AppendEncode(dst, c.Span.AppendHex(trace))
	dst = append(dst, "-0-"...)
	dst = appendBase64(dst, service)
	dst = append(dst, '-')
	dst = appendBase64(dst, service)
	dst = append(dst, '-')
	dst = appendBase64(dst, endpoint)
	dst = append(dst, '-')
	return appendBase64(dst, peer)
}

// appendBase64 appends s in standard padded base64 without converting it to
// a []byte, which would allocate for a long s. Chunks are a multiple of three
// bytes, so their encodings concatenate to the encoding of s.
func appendBase64(dst []byte, s string) []byte {
	var buf [48]byte
	for len(s) > 0 {
		n := copy(buf[:], s)
		dst = base64.StdEncoding.AppendEncode(dst, buf[:n])
		s = s[n:]
	}
	return dst
}
