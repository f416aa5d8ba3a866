package diff

import "github.com/cutover/cutover/message"

// MaxDecoded bounds a body decoded from its Content-Encoding: a body that
// decodes to more than this many bytes is compared as its raw bytes.
const MaxDecoded = 8 << 20

// contentEncoding reads the Content-Encoding list of a raw header block
// into c.enc[side].
func (c *Comparer) contentEncoding(headers []byte, side int) []byte {
	c.enc[side], _ = message.AppendValues(c.enc[side][:0], headers, "Content-Encoding")
	return c.enc[side]
}

// decode returns body decoded by the Content-Encoding list enc into
// c.bufs[side], or body itself when enc is identity, names a coding that
// is not decoded, or when decoding fails or gives more than MaxDecoded
// bytes.
func (c *Comparer) decode(enc, body []byte, side int) []byte {
	if len(body) == 0 || message.IsIdentity(enc) {
		return body
	}
	out, err := c.dec.Decode(c.bufs[side][:0], body, enc, MaxDecoded)
	c.bufs[side] = out[:0]
	if err != nil {
		return body
	}
	return out
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
