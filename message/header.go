package message

import "bytes"

// Field is one line of a header block, as Scan reads it. Its slices point
// into the block; Start and End are offsets in it.
type Field struct {
	// Name is the field name without the spaces and tabs around it; nil
	// when the line is folded or is not a field line.
	Name []byte
	// Value is the field value without the spaces and tabs around it; on
	// a folded line, the line's text so trimmed.
	Value []byte
	// Line is the whole line without its CR LF or LF.
	Line []byte
	// Start is where Line starts; End is where the next line starts (past
	// this line's LF), or the block's length.
	Start, End int
	// Folded marks a line that starts with a space or a tab: it continues
	// the field line above it (RFC 9112 section 5.2).
	Folded bool
}

// Is reports whether f is a field line named name, ignoring ASCII case.
func (f *Field) Is(name string) bool {
	return f.Name != nil && EqualFold(f.Name, name)
}

// Scanner reads a header block one line at a time; Scan makes one. The
// zero Scanner reads an empty block.
type Scanner struct {
	block []byte
	pos   int
	field Field
}

// Scan returns a Scanner over block, which it reads without copying:
//
//	s := message.Scan(block)
//	for s.Next() {
//		f := s.Field()
//		…
//	}
func Scan(block []byte) Scanner { return Scanner{block: block} }

// Next reads the next line and reports whether there was one: false at
// the end of the block or at an empty line.
func (s *Scanner) Next() bool {
	start := s.pos
	if start >= len(s.block) {
		return false
	}
	end, next := len(s.block), len(s.block)
	if i := bytes.IndexByte(s.block[start:], '\n'); i >= 0 {
		end, next = start+i, start+i+1
	}
	line := s.block[start:end]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) == 0 {
		s.pos = len(s.block)
		return false
	}
	s.pos = next
	s.field = Field{Line: line, Start: start, End: next}
	if line[0] == ' ' || line[0] == '\t' {
		s.field.Folded = true
		s.field.Value = trimOWS(line)
		return true
	}
	if colon := bytes.IndexByte(line, ':'); colon > 0 {
		if name := trimOWS(line[:colon]); len(name) > 0 {
			s.field.Name = name
			s.field.Value = trimOWS(line[colon+1:])
		}
	}
	return true
}

// Field returns the line Next read.
func (s *Scanner) Field() Field { return s.field }

// AppendValues appends to dst the value of the field name in block, and
// reports whether block has that field: the values of its lines (names
// compared ASCII case-insensitively) joined with ", " in order, each
// folded continuation joined to its line with one space.
func AppendValues(dst, block []byte, name string) ([]byte, bool) {
	found, in := false, false
	valueStart := 0 // where the current line's value starts in dst
	s := Scan(block)
	for s.Next() {
		f := &s.field
		switch {
		case f.Folded:
			if in && len(f.Value) > 0 {
				if len(dst) > valueStart {
					dst = append(dst, ' ')
				}
				dst = append(dst, f.Value...)
			}
		case f.Is(name):
			if found {
				dst = append(dst, ", "...)
			}
			valueStart = len(dst)
			dst = append(dst, f.Value...)
			found, in = true, true
		default:
			in = false
		}
	}
	return dst, found
}

// EqualFold reports whether b equals s, ignoring ASCII case.
func EqualFold(b []byte, s string) bool {
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

// trimOWS trims spaces and tabs from both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
