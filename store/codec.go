package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The stored form of a record, what the segment files hold, is a
// hand-written binary encoding, not JSON: Append encodes tens of thousands
// of records per second on one core without allocating, and a decode
// costs one buffer that the record's byte fields share.
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
//	...     ...   version 3 adds 2 byte strings: cohort, decision
//
// Version 1 records still decode, with an empty cohort and decision.
// There is no version 2 or 4: those first bytes mark bbolt entries
// (entry.go), and a stored value must never read as both; nor 5, which
// marks a record compressed on its own (compress.go).
// The ID is the key of the record's entry in bbolt (see entry.go), so it
// is not repeated here. Fields are only ever added at the end, under a new
// version number.
const (
	codecVersion = 3
	fixedLen     = 52

	flagShadow        = 1 << 0
	flagReqTruncated  = 1 << 1
	flagRespTruncated = 1 << 2

	nStrings   = 13
	nStringsV1 = 11 // the strings of a version 1 record
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
		len(r.ReqBody), len(r.RespBody), len(r.Cohort), len(r.Decision),
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
	dst = appendBytes(dst, r.RespBody)
	dst = appendString(dst, r.Cohort)
	return appendString(dst, r.Decision)
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

// fields is a decoded record whose byte strings still point into the
// stored form.
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
	sCohort
	sDecision
)

// parse decodes v into f without copying.
func (f *fields) parse(v []byte) error {
	if len(v) < fixedLen || v[0] != 1 && v[0] != codecVersion {
		return ErrCorrupt
	}
	n := nStrings
	if v[0] == 1 {
		n = nStringsV1
	}
	f.flags = v[1]
	f.status = int(binary.BigEndian.Uint16(v[2:]))
	f.start = int64(binary.BigEndian.Uint64(v[4:]))
	f.latency = int64(binary.BigEndian.Uint64(v[12:]))
	copy(f.chain[:], v[20:36])
	copy(f.span[:], v[36:44])
	copy(f.parent[:], v[44:52])
	p := v[fixedLen:]
	f.str = [nStrings][]byte{}
	for i := range n {
		var ok bool
		if f.str[i], p, ok = cutString(p); !ok {
			return ErrCorrupt
		}
	}
	return nil
}

// decodeRecord decodes the stored form buf of id into a new record, which
// keeps buf: its byte fields share it, so a decode costs the buffer the
// segment was read into and the strings.
func decodeRecord(id, buf []byte) (*Record, error) {
	if len(id) != len(ID{}) {
		return nil, fmt.Errorf("%w: key of %d bytes", ErrCorrupt, len(id))
	}
	var f fields
	if err := f.parse(buf); err != nil {
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
		Cohort:        string(f.str[sCohort]),
		Decision:      string(f.str[sDecision]),
		Status:        f.status,
		Latency:       time.Duration(f.latency),
	}
	if f.start != 0 {
		r.Start = time.Unix(0, f.start).UTC()
	}
	return r, nil
}
