package diff

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
)

// MaxDecoded bounds a body decoded from its Content-Encoding: a body that
// decodes to more than this many bytes is compared as its raw bytes.
const MaxDecoded = 8 << 20

// encoding is a Content-Encoding that Compare decodes.
type encoding uint8

const (
	encNone    encoding = iota // identity, absent, or one Compare does not decode
	encGzip                    // gzip, x-gzip
	encDeflate                 // deflate: zlib, or raw DEFLATE as some servers send
)

// encodingOf returns the Content-Encoding of a raw header block. Several
// codings ("gzip, br") are not decoded.
func (c *Comparer) encodingOf(headers []byte) encoding {
	if len(headers) == 0 {
		return encNone
	}
	v, ok := appendHeader(c.encBuf[:0], headers, "Content-Encoding")
	c.encBuf = v
	if !ok {
		return encNone
	}
	switch {
	case asciiEqualFold(v, "gzip"), asciiEqualFold(v, "x-gzip"):
		return encGzip
	case asciiEqualFold(v, "deflate"):
		return encDeflate
	}
	return encNone
}

// decode returns body decoded from enc into c.bufs[side], or body itself
// when enc is encNone, when decoding fails or when the result is larger
// than MaxDecoded. The decoders are kept in c and reset for each body.
func (c *Comparer) decode(enc encoding, body []byte, side int) []byte {
	if enc == encNone || len(body) == 0 {
		return body
	}
	c.br.Reset(body)
	defer c.br.Reset(nil)
	switch enc {
	case encGzip:
		var err error
		if c.gz == nil {
			c.gz, err = gzip.NewReader(&c.br)
		} else {
			err = c.gz.Reset(&c.br)
		}
		if err != nil {
			return body
		}
		if out, ok := c.readAll(c.gz, side, len(body)); ok {
			return out
		}
		return body
	case encDeflate:
		var err error
		if c.zl == nil {
			var r io.ReadCloser
			r, err = zlib.NewReader(&c.br)
			if err == nil {
				c.zl = r
			}
		} else {
			err = c.zl.(zlib.Resetter).Reset(&c.br, nil)
		}
		if err == nil {
			if out, ok := c.readAll(c.zl, side, len(body)); ok {
				return out
			}
		}
		c.br.Reset(body)
		if c.fl == nil {
			c.fl = flate.NewReader(&c.br)
		} else if c.fl.(flate.Resetter).Reset(&c.br, nil) != nil {
			return body
		}
		if out, ok := c.readAll(c.fl, side, len(body)); ok {
			return out
		}
	}
	return body
}

// readAll reads r to its end into c.bufs[side], reusing its memory. It
// fails on a read error or past MaxDecoded bytes.
func (c *Comparer) readAll(r io.Reader, side, hint int) ([]byte, bool) {
	b := c.bufs[side][:0]
	if cap(b) == 0 {
		b = make([]byte, 0, min(max(4*hint, 4<<10), MaxDecoded+1))
	}
	for {
		if len(b) == cap(b) {
			if len(b) > MaxDecoded {
				c.bufs[side] = b[:0]
				return nil, false
			}
			b = append(b, 0)[:len(b)]
			b = b[:len(b):min(cap(b), MaxDecoded+1)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > MaxDecoded {
			c.bufs[side] = b[:0]
			return nil, false
		}
		if err == io.EOF {
			c.bufs[side] = b
			return b, true
		}
		if err != nil {
			c.bufs[side] = b[:0]
			return nil, false
		}
	}
}

// releaseBuffers drops decode buffers that grew past keepDecoded, so a
// pooled Comparer does not pin the memory of one rare large body.
func (c *Comparer) releaseBuffers() {
	for i := range c.bufs {
		if cap(c.bufs[i]) > keepDecoded {
			c.bufs[i] = nil
		}
	}
}

// keepDecoded is the largest decode buffer a Comparer keeps between calls.
const keepDecoded = 1 << 20

// appendHeader appends to dst the values of every line of the raw header
// block whose name equals name (ASCII case-insensitively), trimmed and
// joined with ", ", and reports whether there was one. Lines end in CRLF
// or LF; the last may lack its end; lines without a colon are skipped.
func appendHeader(dst, block []byte, name string) ([]byte, bool) {
	found := false
	for len(block) > 0 {
		line := block
		if i := bytes.IndexByte(block, '\n'); i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			block = nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 || !asciiEqualFold(trimOWS(line[:colon]), name) {
			continue
		}
		if found {
			dst = append(dst, ", "...)
		}
		dst = append(dst, trimOWS(line[colon+1:])...)
		found = true
	}
	return dst, found
}

// trimOWS trims spaces, tabs and a line's CR from both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// asciiEqualFold reports whether b equals s, ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}
