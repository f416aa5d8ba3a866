package record

import (
	"bytes"
	"errors"
	"io"

	"github.com/cutover/cutover/message"
)

// DecodedHeader replaces the name of a Content-Encoding header whose body
// was stored decoded, so that the stored headers describe the stored body
// and still say how it travelled.
const DecodedHeader = "X-Cutover-Decoded-Content-Encoding"

// decoder stores compressed bodies as their content: compressed bytes
// are unreadable in the API, and JSON inside them could not be redacted.
// It is owned by the writer goroutine.
type decoder struct {
	limit int // the most decoded bytes kept; more marks the body truncated
	dec   message.Decoder
	enc   []byte // the Content-Encoding list
	out   []byte // the decoded body
	hdr   []byte // the renamed header lines
}

// decode returns body decoded by its Content-Encoding list (see package
// message), headers with every Content-Encoding line renamed to
// DecodedHeader, and whether the stored body is cut short. A body cut by
// the recorder's size cap decodes as far as it goes. A body whose list
// names a coding that is not decoded, or whose bytes do not decode, is
// returned unchanged.
func (d *decoder) decode(body, headers []byte, truncated bool) ([]byte, []byte, bool) {
	if len(body) == 0 || d.limit <= 0 {
		return body, headers, truncated
	}
	var found bool
	d.enc, found = message.AppendValues(d.enc[:0], headers, "Content-Encoding")
	if !found || message.IsIdentity(d.enc) {
		return body, headers, truncated
	}
	out, err := d.dec.Decode(d.out[:0], body, d.enc, d.limit)
	d.out = out
	switch {
	case err == nil:
	case errors.Is(err, message.ErrTooLarge):
		truncated = true
	case truncated && len(out) > 0 && errors.Is(err, io.ErrUnexpectedEOF):
		// The compressed bytes were cut at the size cap: keep what
		// decoded, still marked truncated.
	default:
		return body, headers, truncated
	}
	body = append(body[:0], out...)
	return body, d.rename(headers), truncated
}

// rename replaces the name of every Content-Encoding line in headers with
// DecodedHeader, in place.
func (d *decoder) rename(headers []byte) []byte {
	out, copied := d.hdr[:0], 0
	s := message.Scan(headers)
	for s.Next() {
		if f := s.Field(); f.Is("Content-Encoding") {
			out = append(out, headers[copied:f.Start]...)
			out = append(out, DecodedHeader...)
			copied = f.Start + bytes.IndexByte(f.Line, ':')
		}
	}
	out = append(out, headers[copied:]...)
	d.hdr = out
	return append(headers[:0], out...)
}
