package record

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
)

// DecodedHeader replaces the name of a Content-Encoding header whose body
// was stored decoded, so that the stored headers describe the stored body
// and still say how it travelled.
const DecodedHeader = "X-Cutover-Decoded-Content-Encoding"

// decoder stores gzip and deflate bodies as their content: compressed
// bytes are unreadable in the API, and JSON inside them could not be
// redacted. It is owned by the writer goroutine.
type decoder struct {
	limit int // the most decoded bytes kept; more marks the body truncated
	out   bytes.Buffer
	gz    *gzip.Reader
}

// decode returns body decoded, headers with the Content-Encoding line
// renamed to DecodedHeader, and whether the stored body is cut short.
// A body cut by the recorder's size cap decodes as far as it goes. A body
// with another encoding, several encodings, or bytes that do not decode is
// returned unchanged.
func (d *decoder) decode(body, headers []byte, truncated bool) ([]byte, []byte, bool) {
	if len(body) == 0 || d.limit <= 0 {
		return body, headers, truncated
	}
	line, value := contentEncoding(headers)
	if line < 0 {
		return body, headers, truncated
	}
	var (
		r   io.Reader
		err error
	)
	switch {
	case bytes.EqualFold(value, []byte("gzip")) || bytes.EqualFold(value, []byte("x-gzip")):
		if d.gz == nil {
			d.gz, err = gzip.NewReader(bytes.NewReader(body))
		} else {
			err = d.gz.Reset(bytes.NewReader(body))
		}
		r = d.gz
	case bytes.EqualFold(value, []byte("deflate")):
		// HTTP's deflate is zlib-wrapped (RFC 9110 section 8.4.1.2), but
		// some servers send raw deflate; try both.
		if r, err = zlib.NewReader(bytes.NewReader(body)); err != nil {
			r, err = flate.NewReader(bytes.NewReader(body)), nil
		}
	default:
		return body, headers, truncated
	}
	if err != nil {
		return body, headers, truncated
	}
	d.out.Reset()
	n, err := d.out.ReadFrom(io.LimitReader(r, int64(d.limit)+1))
	switch {
	case err == nil:
	case truncated && n > 0 && (err == io.ErrUnexpectedEOF || err == io.EOF):
		// The compressed bytes were cut at the size cap: keep what
		// decoded, still marked truncated.
	default:
		return body, headers, truncated
	}
	decoded := d.out.Bytes()
	if len(decoded) > d.limit {
		decoded, truncated = decoded[:d.limit], true
	}
	body = append(body[:0], decoded...)
	headers = renameHeader(headers, line, DecodedHeader)
	return body, headers, truncated
}

// contentEncoding finds the Content-Encoding line of a header block and
// returns its start offset and trimmed value, or -1.
func contentEncoding(raw []byte) (int, []byte) {
	for pos := 0; pos < len(raw); {
		end := bytes.IndexByte(raw[pos:], '\n')
		if end < 0 {
			end = len(raw)
		} else {
			end += pos
		}
		name, value, ok := bytes.Cut(raw[pos:end], []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Encoding")) {
			return pos, bytes.TrimSpace(value)
		}
		pos = end + 1
	}
	return -1, nil
}

// renameHeader replaces the name of the header line starting at offset.
func renameHeader(raw []byte, offset int, name string) []byte {
	colon := bytes.IndexByte(raw[offset:], ':')
	out := make([]byte, 0, len(raw)+len(name))
	out = append(out, raw[:offset]...)
	out = append(out, name...)
	out = append(out, raw[offset+colon:]...)
	return append(raw[:0], out...)
}
