package store

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/cutover/cutover/chain"
)

// Record is one proxied call: what was sent upstream, what came back, and
// where the call sits in its chain.
//
// Fields whose value comes from the request or the response (Method, URI,
// Tenant, headers, bodies) are byte slices that the record owns: the Set
// helpers copy into them, reusing their capacity, so a pooled record is
// filled on the hot path without allocating. Fields whose value comes from
// the configuration (Route, Side, Target) or from a fixed set (Error) are
// strings, shared and never copied.
//
// A Record is not safe for concurrent use; whoever holds it owns it.
type Record struct {
	// ID is assigned by the store when the record is appended.
	ID ID

	Chain  chain.TraceID
	Span   chain.SpanID
	Parent chain.SpanID // zero for the first call of a chain

	Route  string
	Tenant []byte
	Side   string // "old", "new" or "upstream"
	Target string // the host:port that answered
	Shadow bool   // the call was a shadow copy, its answer never reached the client
	// Cohort is the route's gray.cohort, "" for none. Decision names the
	// rule that chose Side (router.Reason: "bucket", "chain_bucket",
	// "baggage", "listed", "excluded", …); a shadow copy keeps its
	// primary's.
	Cohort   string
	Decision string

	Method []byte
	URI    []byte

	// ReqHeaders and RespHeaders are raw header lines, "Name: value\r\n"
	// each, without the start line; a final empty "\r\n" line is allowed.
	ReqHeaders  []byte
	RespHeaders []byte

	ReqBody       []byte
	RespBody      []byte
	ReqTruncated  bool // ReqBody holds only the first bytes of the body
	RespTruncated bool

	Status  int           // 0 when no response came back
	Start   time.Time     // when the call was sent upstream
	Latency time.Duration // until the upstream's response was read
	Error   string        // "", "timeout", "refused", "reset" or "bad_gateway"
}

// Failed reports whether the call failed: an upstream error, or a status of
// 500 or more.
func (r *Record) Failed() bool { return r.Error != "" || r.Status >= 500 }

// Reset clears r for reuse, keeping the capacity of its buffers.
func (r *Record) Reset() {
	*r = Record{
		Tenant:      r.Tenant[:0],
		Method:      r.Method[:0],
		URI:         r.URI[:0],
		ReqHeaders:  r.ReqHeaders[:0],
		RespHeaders: r.RespHeaders[:0],
		ReqBody:     r.ReqBody[:0],
		RespBody:    r.RespBody[:0],
	}
}

// CopyTo makes dst a copy of r that shares no memory with it: every field
// is copied, and the byte slices into dst's own buffers, reusing their
// capacity, so a pooled dst takes a copy without allocating. A field added
// to Record is copied without a change here, unless it holds memory
// (TestCopyToCopiesEveryField fails until it is copied deeply).
func (r *Record) CopyTo(dst *Record) {
	if dst == r {
		return
	}
	keep := *dst
	*dst = *r
	dst.Tenant = append(keep.Tenant[:0], r.Tenant...)
	dst.Method = append(keep.Method[:0], r.Method...)
	dst.URI = append(keep.URI[:0], r.URI...)
	dst.ReqHeaders = append(keep.ReqHeaders[:0], r.ReqHeaders...)
	dst.RespHeaders = append(keep.RespHeaders[:0], r.RespHeaders...)
	dst.ReqBody = append(keep.ReqBody[:0], r.ReqBody...)
	dst.RespBody = append(keep.RespBody[:0], r.RespBody...)
}

// SetTenant copies b into r.Tenant.
func (r *Record) SetTenant(b []byte) { r.Tenant = append(r.Tenant[:0], b...) }

// SetMethod copies b into r.Method.
func (r *Record) SetMethod(b []byte) { r.Method = append(r.Method[:0], b...) }

// SetURI copies b into r.URI.
func (r *Record) SetURI(b []byte) { r.URI = append(r.URI[:0], b...) }

// SetReqHeaders copies raw header lines into r.ReqHeaders.
func (r *Record) SetReqHeaders(b []byte) { r.ReqHeaders = append(r.ReqHeaders[:0], b...) }

// SetRespHeaders copies raw header lines into r.RespHeaders.
func (r *Record) SetRespHeaders(b []byte) { r.RespHeaders = append(r.RespHeaders[:0], b...) }

// SetReqBody copies at most limit bytes of b into r.ReqBody and sets
// r.ReqTruncated when b was longer. A limit of zero or less keeps no body
// but still flags a non-empty one as truncated.
func (r *Record) SetReqBody(b []byte, limit int) {
	r.ReqBody, r.ReqTruncated = capped(r.ReqBody, b, limit)
}

// SetRespBody copies at most limit bytes of b into r.RespBody and sets
// r.RespTruncated when b was longer.
func (r *Record) SetRespBody(b []byte, limit int) {
	r.RespBody, r.RespTruncated = capped(r.RespBody, b, limit)
}

func capped(dst, b []byte, limit int) ([]byte, bool) {
	limit = max(limit, 0)
	if len(b) <= limit {
		return append(dst[:0], b...), false
	}
	return append(dst[:0], b[:limit]...), true
}

// ID identifies a stored record. It is time-ordered: the first 8 bytes are
// the call's start in Unix nanoseconds, big-endian, and the last 8 a
// sequence number that the store never reuses, so IDs are unique and sort
// by start time byte-wise. Its text form is 32 lowercase hex digits.
type ID [16]byte

// IsZero reports whether id is the zero ID, which no stored record has.
func (id ID) IsZero() bool { return id == ID{} }

// Time returns the start time encoded in id.
func (id ID) Time() time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(id[:8])))
}

// AppendHex appends id as 32 lowercase hex digits to dst.
func (id ID) AppendHex(dst []byte) []byte { return hex.AppendEncode(dst, id[:]) }

// String returns id as 32 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ErrBadID is returned by ParseID for text that is not 32 hex digits.
var ErrBadID = errors.New("store: bad record ID")

// ParseID parses the 32-hex-digit form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return ID{}, fmt.Errorf("%w %q: want %d hex digits", ErrBadID, s, 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("%w %q: %w", ErrBadID, s, err)
	}
	return id, nil
}

// makeID builds the ID of a record that started at start and is the seq-th
// one appended. A start before 1970 sorts as 1970.
func makeID(start time.Time, seq uint64) ID {
	var id ID
	binary.BigEndian.PutUint64(id[:8], uint64(max(start.UnixNano(), 0)))
	binary.BigEndian.PutUint64(id[8:], seq)
	return id
}

// idAt returns the smallest ID at time t, the bound of a time range scan.
func idAt(t time.Time) ID { return makeID(t, 0) }
