package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The stored form of a record is a hand-written binary encoding, not JSON:
// Append runs at tens of thousands of records per second on one core, and
// the readers that filter and prune need a record's route, tenant, status
// and chain without touching its bodies.
//
//	offset  size  field
//	0       1     codecVersion
//	1       1     flags: 1 shadow, 2 request truncated, 4 response truncated
//	2       2     status, big-endian
//	4       8     start, Unix nanoseconds, big-endian two's complement
//	12      8     latency, nanoseconds
//	20      16    chain (trace) ID
//	36      8     span ID
//	44      8     parent span ID
//	52      ...   11 byte strings, each a uvarint length and the bytes:
//	              route, tenant, side, target, error, method, uri,
//	              request headers, response headers, request body,
//	              response body
//
// The ID is the bucket key, so it is not repeated in the value. Fields are
// only ever added at the end, under a new version number.
const (
	codecVersion = 1
	fixedLen     = 52

	flagShadow        = 1 << 0
	flagReqTruncated  = 1 << 1
	flagRespTruncated = 1 << 2

	nStrings = 11
)

// ErrCorrupt is returned for a stored value that does not decode.
var ErrCorrupt = errors.New("store: corrupt record")

// encodedLen returns the exact length of r's encoding, so a batch's arena
// is sized before any record is written into it.
func encodedLen(r *Record) int {
	n := fixedLen
	for _, l := range [nStrings]int{
		len(r.Route), len(r.Tenant), len(r.Side), len(r.Target), len(r.Error),
		len(r.Method), len(r.URI), len(r.ReqHeaders), len(r.RespHeaders),
		len(r.ReqBody), len(r.RespBody),
	} {
		n += uvarintLen(uint64(l)) + l
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// appendRecord appends the stored form of r to dst.
func appendRecord(dst []byte, r *Record) []byte {
	var flags byte
	if r.Shadow {
		flags |= flagShadow
	}
	if r.ReqTruncated {
		flags |= flagReqTruncated
	}
	if r.RespTruncated {
		flags |= flagRespTruncated
	}
	dst = append(dst, codecVersion, flags)
	dst = binary.BigEndian.AppendUint16(dst, uint16(min(max(r.Status, 0), 0xffff)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(startNanos(r.Start)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Latency))
	dst = append(dst, r.Chain[:]...)
	dst = append(dst, r.Span[:]...)
	dst = append(dst, r.Parent[:]...)
	dst = appendString(dst, r.Route)
	dst = appendBytes(dst, r.Tenant)
	dst = appendString(dst, r.Side)
	dst = appendString(dst, r.Target)
	dst = appendString(dst, r.Error)
	dst = appendBytes(dst, r.Method)
	dst = appendBytes(dst, r.URI)
	dst = appendBytes(dst, r.ReqHeaders)
	dst = appendBytes(dst, r.RespHeaders)
	dst = appendBytes(dst, r.ReqBody)
	return appendBytes(dst, r.RespBody)
}

// startNanos is t in Unix nanoseconds, with the zero time as 0 rather than
// the overflowed value UnixNano gives it.
func startNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// fields is a decoded value whose byte strings still point into it. It is
// what filters and pruning read, without copying bodies out.
type fields struct {
	flags   byte
	status  int
	start   int64
	latency int64
	chain   [16]byte
	span    [8]byte
	parent  [8]byte
	str     [nStrings][]byte
}

// Indexes of fields.str, in stored order.
const (
	sRoute = iota
	sTenant
	sSide
	sTarget
	sError
	sMethod
	sURI
	sReqHeaders
	sRespHeaders
	sReqBody
	sRespBody
)

// parse decodes v into f without copying. Only the first n strings are
// read, so a filter stops before the headers and bodies.
func (f *fields) parse(v []byte, n int) error {
	if len(v) < fixedLen || v[0] != codecVersion {
		return ErrCorrupt
	}
	f.flags = v[1]
	f.status = int(binary.BigEndian.Uint16(v[2:]))
	f.start = int64(binary.BigEndian.Uint64(v[4:]))
	f.latency = int64(binary.BigEndian.Uint64(v[12:]))
	copy(f.chain[:], v[20:36])
	copy(f.span[:], v[36:44])
	copy(f.parent[:], v[44:52])
	p := v[fixedLen:]
	for i := range n {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return ErrCorrupt
		}
		f.str[i] = p[k : k+int(l) : k+int(l)]
		p = p[k+int(l):]
	}
	return nil
}

// decodeRecord decodes the stored value v of id into a new record. The
// record's byte fields share one copy of v, so a decode costs one buffer
// and the strings.
func decodeRecord(id, v []byte) (*Record, error) {
	if len(id) != len(ID{}) {
		return nil, fmt.Errorf("%w: key of %d bytes", ErrCorrupt, len(id))
	}
	buf := make([]byte, len(v))
	copy(buf, v)
	var f fields
	if err := f.parse(buf, nStrings); err != nil {
		return nil, err
	}
	r := &Record{
		ID:            ID(id),
		Chain:         f.chain,
		Span:          f.span,
		Parent:        f.parent,
		Route:         string(f.str[sRoute]),
		Tenant:        f.str[sTenant],
		Side:          string(f.str[sSide]),
		Target:        string(f.str[sTarget]),
		Error:         string(f.str[sError]),
		Shadow:        f.flags&flagShadow != 0,
		Method:        f.str[sMethod],
		URI:           f.str[sURI],
		ReqHeaders:    f.str[sReqHeaders],
		RespHeaders:   f.str[sRespHeaders],
		ReqBody:       f.str[sReqBody],
		RespBody:      f.str[sRespBody],
		ReqTruncated:  f.flags&flagReqTruncated != 0,
		RespTruncated: f.flags&flagRespTruncated != 0,
		Status:        f.status,
		Latency:       time.Duration(f.latency),
	}
	if f.start != 0 {
		r.Start = time.Unix(0, f.start).UTC()
	}
	return r, nil
}
