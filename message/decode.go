package message

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"slices"
)

// MaxCodings is the most codings, identity aside, that Decoder undoes for
// one body: more is ErrUnsupported, so a header cannot make it stack
// decompressors without end.
const MaxCodings = 4

var (
	// ErrUnsupported is returned by Decode for a Content-Encoding that
	// names a coding it does not decode, or more than MaxCodings.
	ErrUnsupported = errors.New("message: unsupported content coding")
	// ErrTooLarge is returned by Decode for a body that decodes to more
	// than the limit.
	ErrTooLarge = errors.New("message: decoded body too large")
)

// coding is a content coding Decoder undoes.
type coding uint8

const (
	codingGzip    coding = iota + 1 // gzip, x-gzip
	codingDeflate                   // deflate: zlib, or raw DEFLATE
)

func (c coding) String() string {
	if c == codingGzip {
		return "gzip"
	}
	return "deflate"
}

// parseCodings reads a Content-Encoding list into dst, in the order the
// codings were applied, and returns how many there are.
func parseCodings(list []byte, dst *[MaxCodings]coding) (int, error) {
	n := 0
	for len(list) > 0 {
		var item []byte
		item, list = nextItem(list)
		var c coding
		switch {
		case len(item) == 0, EqualFold(item, "identity"):
			continue
		case EqualFold(item, "gzip"), EqualFold(item, "x-gzip"):
			c = codingGzip
		case EqualFold(item, "deflate"):
			c = codingDeflate
		default:
			return 0, ErrUnsupported
		}
		if n == MaxCodings {
			return 0, ErrUnsupported
		}
		dst[n] = c
		n++
	}
	return n, nil
}

// IsIdentity reports whether a Content-Encoding list names no coding but
// identity (an empty list included): the body is its content.
func IsIdentity(encoding []byte) bool {
	for len(encoding) > 0 {
		var item []byte
		if item, encoding = nextItem(encoding); len(item) > 0 && !EqualFold(item, "identity") {
			return false
		}
	}
	return true
}

// nextItem splits the first element off a comma-separated list (RFC 9110
// section 5.6.1) and returns it without the spaces and tabs around it.
func nextItem(list []byte) (item, rest []byte) {
	if i := bytes.IndexByte(list, ','); i >= 0 {
		return trimOWS(list[:i]), list[i+1:]
	}
	return trimOWS(list), nil
}

// Decoder decodes bodies by their Content-Encoding, keeping its
// decompressors from one body to the next. It keeps no reference to a
// body after Decode returns. It is not safe for concurrent use; the zero
// value is ready.
type Decoder struct {
	br     bytes.Reader
	stages [MaxCodings]stage
}

// stage undoes one coding of a list. Every stage but the first reads the
// output of the one before through in, which gives the decompressors the
// io.ByteReader they need not to allocate their own.
type stage struct {
	in bufio.Reader
	gz *gzip.Reader
	zl io.ReadCloser
	fl io.ReadCloser
}

// Decode appends to dst body decoded by encoding, a Content-Encoding
// value, and returns the result. At most limit bytes are appended: a
// body that decodes to more fails with ErrTooLarge, and the result then
// holds its first limit bytes. An identity list appends body as it is. A
// list Decode does not support fails with ErrUnsupported and appends
// nothing; a body that does not decode fails with the bytes decoded until
// the failure. The package doc states the codings and the rules.
func (d *Decoder) Decode(dst, body, encoding []byte, limit int) ([]byte, error) {
	var codings [MaxCodings]coding
	n, err := parseCodings(encoding, &codings)
	if err != nil {
		return dst, err
	}
	limit = max(limit, 0)
	if n == 0 {
		if len(body) > limit {
			return append(dst, body[:limit]...), ErrTooLarge
		}
		return append(dst, body...), nil
	}
	d.br.Reset(body)
	defer d.br.Reset(nil)
	var r io.Reader = &d.br
	for i := range n {
		st := &d.stages[i]
		head := body
		if i > 0 {
			st.in.Reset(r)
			r = &st.in
			head, _ = st.in.Peek(2)
		}
		// The codings were applied in order: undo the last one first.
		if r, err = st.open(codings[n-1-i], r, head); err != nil {
			return dst, fmt.Errorf("message: cannot decode %s: %w", codings[n-1-i], err)
		}
	}
	return readAll(dst, r, limit, len(body))
}

// open returns a reader of r decoded from c. head is r's first bytes, at
// least two of them when r has them.
func (st *stage) open(c coding, r io.Reader, head []byte) (io.Reader, error) {
	var err error
	switch {
	case c == codingGzip:
		if st.gz == nil {
			st.gz, err = gzip.NewReader(r)
		} else {
			err = st.gz.Reset(r)
		}
		return st.gz, err
	case isZlibHeader(head):
		if st.zl == nil {
			st.zl, err = zlib.NewReader(r)
		} else {
			err = st.zl.(zlib.Resetter).Reset(r, nil)
		}
		return st.zl, err
	default:
		if st.fl == nil {
			st.fl = flate.NewReader(r)
		} else {
			err = st.fl.(flate.Resetter).Reset(r, nil)
		}
		return st.fl, err
	}
}

// isZlibHeader reports whether h starts with a zlib header that needs no
// preset dictionary (RFC 1950 section 2.2): DEFLATE with a window of at
// most 32 KiB, and a check that makes the two bytes a multiple of 31.
func isZlibHeader(h []byte) bool {
	return len(h) >= 2 && h[0]&0x0f == 8 && h[0]>>4 <= 7 && h[1]&0x20 == 0 &&
		(uint16(h[0])<<8|uint16(h[1]))%31 == 0
}

// readAll appends r to dst up to its end, failing past limit bytes. hint
// is the encoded size, for the first allocation.
func readAll(dst []byte, r io.Reader, limit, hint int) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			grow := max(4*hint, 4<<10, len(dst)-start)
			dst = slices.Grow(dst, min(grow, limit+1-(len(dst)-start)))
		}
		n, err := r.Read(dst[len(dst):min(cap(dst), start+limit+1)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst[:start+limit], ErrTooLarge
		}
		switch {
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, fmt.Errorf("message: cannot decode: %w", err)
		}
	}
}
