package store

import (
	"encoding/binary"
	"fmt"
)

// An entry is what the records bucket holds for one record: where its
// encoding lies in the segment files, and the fields that filtering,
// index deletion and the logical size need, so that Records filters and
// Prune deletes without reading a segment. Only returning a record reads
// its segment.
//
//	offset  size  field
//	0       1     entryVersion, or entryFramed
//	1       1     flags: 1 the call failed with an upstream error
//	2       2     status, big-endian
//	4       16    chain (trace) ID
//	20      ...   uvarints: segment number, offset in the segment,
//	              length: of the encoded record, or with entryFramed of
//	              the compressed frame that holds it (compress.go)
//	...     ...   entryFramed only, uvarints: the record's offset and
//	              length in the frame's decompressed bytes, and its share
//	              of the frame's length
//	...     ...   two byte strings, each a uvarint length and the bytes:
//	              route, tenant
//
// An entry is about 50 bytes against 2 KiB or more for a record with its
// bodies; see the package doc for why that matters to bbolt. Route and
// tenant are whole, not capped like their index keys, so filters stay
// exact.
//
// A record's share is the part of its frame's bytes charged to it, in
// proportion to its encoding, so that the shares of a frame's records add
// up to the frame's length: the logical size that MaxBytes bounds is the
// sum of the stored records' sizes, a share for a framed record and the
// encoding's length for a plain one, and Prune subtracts exactly what
// Append added.
const (
	// entryVersion is not codecVersion, so a file written when the
	// records bucket held whole records is recognised rather than
	// misread.
	entryVersion = 2
	// entryFramed is not a flag of entryVersion: a release that knows no
	// frames refuses such an entry as corrupt instead of reading its
	// frame as a record.
	entryFramed = 4
	entryFixed  = 20

	entryFailed = 1 << 0
)

// entry is a decoded entry. route and tenant point into the value it was
// parsed from, which is valid only inside its transaction.
type entry struct {
	failed bool
	status int
	chain  [16]byte
	loc    location // the encoding, or with framed its frame
	framed bool
	in     inFrame // with framed: where the encoding lies in its frame
	route  []byte
	tenant []byte
}

// inFrame is where a record's encoding lies in the decompressed bytes of
// its frame, and its share of the frame's length.
type inFrame struct {
	off, n int64
	share  int64
}

// size is what the record adds to the logical size.
func (e *entry) size() int64 {
	if e.framed {
		return e.in.share
	}
	return e.loc.n
}

// location is where a record's encoding lies: segment number, offset and
// length in bytes.
type location struct {
	seg uint64
	off int64
	n   int64
}

// end is the offset just past the record.
func (l location) end() int64 { return l.off + l.n }

// class is the record's status index class.
func (e *entry) class() int { return statusClass(e.status, e.failed) }

// appendEntry appends the entry of r to dst: its encoding is at loc, or
// with in non-nil in the frame at loc.
func appendEntry(dst []byte, r *Record, loc location, in *inFrame) []byte {
	var flags byte
	if len(r.Error) > 0 {
		flags |= entryFailed
	}
	version := byte(entryVersion)
	if in != nil {
		version = entryFramed
	}
	dst = append(dst, version, flags)
	dst = binary.BigEndian.AppendUint16(dst, uint16(min(max(r.Status, 0), 0xffff)))
	dst = append(dst, r.Chain[:]...)
	dst = binary.AppendUvarint(dst, loc.seg)
	dst = binary.AppendUvarint(dst, uint64(loc.off))
	dst = binary.AppendUvarint(dst, uint64(loc.n))
	if in != nil {
		dst = binary.AppendUvarint(dst, uint64(in.off))
		dst = binary.AppendUvarint(dst, uint64(in.n))
		dst = binary.AppendUvarint(dst, uint64(in.share))
	}
	dst = appendString(dst, r.Route)
	return appendBytes(dst, r.Tenant)
}

// parse decodes v into e without copying.
func (e *entry) parse(v []byte) error {
	if len(v) < entryFixed || !isEntry(v) {
		return fmt.Errorf("%w: entry of %d bytes, version %d", ErrCorrupt, len(v), firstByte(v))
	}
	e.framed = v[0] == entryFramed
	e.failed = v[1]&entryFailed != 0
	e.status = int(binary.BigEndian.Uint16(v[2:]))
	copy(e.chain[:], v[4:entryFixed])
	p := v[entryFixed:]
	var nums [6]uint64
	count := 3
	if e.framed {
		count = 6
	}
	for i := range count {
		x, k := binary.Uvarint(p)
		if k <= 0 {
			return fmt.Errorf("%w: entry location", ErrCorrupt)
		}
		nums[i], p = x, p[k:]
	}
	// Bounds far past any segment or record keep a damaged entry from
	// asking a reader for an absurd buffer.
	if nums[1] > 1<<48 || nums[2] > 1<<32 || nums[3] > maxDecoded || nums[4] > maxDecoded || nums[5] > nums[2] {
		return fmt.Errorf("%w: entry location out of range", ErrCorrupt)
	}
	e.loc = location{seg: nums[0], off: int64(nums[1]), n: int64(nums[2])}
	e.in = inFrame{off: int64(nums[3]), n: int64(nums[4]), share: int64(nums[5])}
	var ok bool
	if e.route, p, ok = cutString(p); !ok {
		return fmt.Errorf("%w: entry route", ErrCorrupt)
	}
	if e.tenant, _, ok = cutString(p); !ok {
		return fmt.Errorf("%w: entry tenant", ErrCorrupt)
	}
	return nil
}

// cutString splits a uvarint-length-prefixed byte string off p; the string
// is capped so that appending to it never writes over what follows.
func cutString(p []byte) (s, rest []byte, ok bool) {
	l, k := binary.Uvarint(p)
	if k <= 0 || l > uint64(len(p)-k) {
		return nil, nil, false
	}
	end := k + int(l)
	return p[k:end:end], p[end:], true
}

// isEntry reports whether v is an entry of a version this release reads.
// Other first bytes are records from before segment files (codec.go) or
// entries of a later release.
func isEntry(v []byte) bool {
	return len(v) > 0 && (v[0] == entryVersion || v[0] == entryFramed)
}

func firstByte(v []byte) int {
	if len(v) == 0 {
		return -1
	}
	return int(v[0])
}
