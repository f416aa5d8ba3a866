package chain

import (
	"encoding/binary"
	"math/rand/v2"
)

// TraceID is a W3C 128-bit trace ID. The zero value is invalid in every format
// this package reads or writes. Its 32-digit lowercase hex form is the chain ID.
type TraceID [16]byte

// SpanID is a W3C 64-bit span (parent) ID. The zero value is invalid.
type SpanID [8]byte

// IsZero reports whether t is the invalid all-zero trace ID.
func (t TraceID) IsZero() bool { return t == TraceID{} }

// IsZero reports whether s is the invalid all-zero span ID.
func (s SpanID) IsZero() bool { return s == SpanID{} }

// AppendHex appends t as 32 lowercase hex digits to dst.
func (t TraceID) AppendHex(dst []byte) []byte { return appendHex(dst, t[:]) }

// AppendHex appends s as 16 lowercase hex digits to dst.
func (s SpanID) AppendHex(dst []byte) []byte { return appendHex(dst, s[:]) }

// String returns t as 32 lowercase hex digits. It allocates; use AppendHex on
// hot paths.
func (t TraceID) String() string {
	var b [32]byte
	return string(t.AppendHex(b[:0]))
}

// String returns s as 16 lowercase hex digits. It allocates; use AppendHex on
// hot paths.
func (s SpanID) String() string {
	var b [16]byte
	return string(s.AppendHex(b[:0]))
}

// Within reports whether t falls in the first share (0 to 1) of the trace
// ID space, so that sampling a share of chains by their ID makes the same
// choice on every hop and every gateway: a chain is kept whole or not at
// all. It compares the ID's low 64 bits, the random part of a W3C trace ID
// and all of a padded 64-bit B3 or Jaeger one, with share × 2^64. A share
// of 1 or more keeps every chain; 0, a negative share or NaN none.
func (t TraceID) Within(share float64) bool {
	switch {
	case share >= 1:
		return true
	case !(share > 0): // also NaN
		return false
	}
	return binary.BigEndian.Uint64(t[8:]) < uint64(share*(1<<64))
}

// NewTraceID returns a random trace ID that is never zero. It is safe for
// concurrent use. The IDs are not secret: the top-level math/rand/v2 source is
// fast and lock-free, and uniqueness is all a trace ID needs.
func NewTraceID() TraceID {
	var t TraceID
	for t.IsZero() {
		binary.BigEndian.PutUint64(t[:8], rand.Uint64())
		binary.BigEndian.PutUint64(t[8:], rand.Uint64())
	}
	return t
}

// NewSpanID returns a random span ID that is never zero. It is safe for
// concurrent use.
func NewSpanID() SpanID {
	var s SpanID
	for s.IsZero() {
		binary.BigEndian.PutUint64(s[:], rand.Uint64())
	}
	return s
}

const hexDigits = "0123456789abcdef"

// appendHex appends src as lowercase hex, growing dst at most once.
func appendHex(dst, src []byte) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, 2*len(src))...)
	for i, b := range src {
		dst[n+2*i] = hexDigits[b>>4]
		dst[n+2*i+1] = hexDigits[b&0x0f]
	}
	return dst
}

// badHex marks a byte that is not a hex digit in the tables below.
const badHex = 0xff

// lowerHex accepts only lowercase hex, as W3C and B3 require; anyHex accepts
// either case, for formats whose reference clients do.
var lowerHex, anyHex = hexTables()

func hexTables() (lower, either *[256]byte) {
	lower, either = new([256]byte), new([256]byte)
	for i := range 256 {
		lower[i], either[i] = badHex, badHex
	}
	for i := range byte(10) {
		lower['0'+i], either['0'+i] = i, i
	}
	for i := range byte(6) {
		lower['a'+i], either['a'+i], either['A'+i] = 10+i, 10+i, 10+i
	}
	return lower, either
}

// decodeHex decodes src into dst; src must be exactly 2*len(dst) digits.
func decodeHex(dst, src []byte, table *[256]byte) bool {
	if len(src) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, lo := table[src[2*i]], table[src[2*i+1]]
		if hi == badHex || lo == badHex {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

// decodeHexPadded decodes 1 to 2*len(dst) digits into dst, right-aligned, so a
// short ID is left-padded with zeros (an odd count gets a leading zero nibble).
func decodeHexPadded(dst, src []byte, table *[256]byte) bool {
	if len(src) == 0 || len(src) > 2*len(dst) {
		return false
	}
	clear(dst)
	for i := range src {
		// Digit k from the right lands in byte len(dst)-1-k/2: the low
		// nibble when k is even, the high nibble when k is odd.
		k := len(src) - 1 - i
		d := table[src[i]]
		if d == badHex {
			return false
		}
		if k%2 == 1 {
			d <<= 4
		}
		dst[len(dst)-1-k/2] |= d
	}
	return true
}
