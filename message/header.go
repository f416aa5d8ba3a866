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
	line, next := nextLine(s.block, s.pos)
	if len(line) == 0 {
		s.pos = len(s.block)
		return false
	}
	f := &s.field
	f.Line, f.Start, f.End = line, s.pos, next
	s.pos = next
	f.Name, f.Value, f.Folded = nil, nil, false
	if folded(line) {
		f.Folded, f.Value = true, trimOWS(line)
		return true
	}
	if name, colon := fieldName(line); name != nil {
		f.Name, f.Value = name, trimOWS(line[colon+1:])
	}
	return true
}

// nextLine returns the line of block that starts at pos, without its CR
// LF or LF, and where the line after it starts. An empty line is the end
// of the block, and so is pos at its end.
func nextLine(block []byte, pos int) (line []byte, next int) {
	line, next = block[min(pos, len(block)):], len(block)
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line, next = line[:i], pos+i+1
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, next
}

// folded reports whether a line continues the field line above it.
func folded(line []byte) bool { return line[0] == ' ' || line[0] == '\t' }

// fieldName returns the name of a line that is not folded, and the
// offset of its colon; a nil name when it is not a field line. The name
// has no space or tab before it, since the line is not folded, nor after
// it, since they are trimmed.
func fieldName(line []byte) ([]byte, int) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, colon
	}
	name := line[:colon]
	for name[len(name)-1] == ' ' || name[len(name)-1] == '\t' {
		name = name[:len(name)-1]
	}
	return name, colon
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
	// The loop is Scanner.Next's, unrolled so that only the lines of the
	// field have their value trimmed: a lookup is on the comparison's
	// hot path.
	for pos := 0; ; {
		line, next := nextLine(block, pos)
		if len(line) == 0 {
			return dst, found
		}
		pos = next
		if folded(line) {
			if value := trimOWS(line); in && len(value) > 0 {
				if len(dst) > valueStart {
					dst = append(dst, ' ')
				}
				dst = append(dst, value...)
			}
			continue
		}
		n, colon := fieldName(line)
		if in = n != nil && EqualFold(n, name); !in {
			continue
		}
		if found {
			dst = append(dst, ", "...)
		}
		valueStart = len(dst)
		dst = append(dst, trimOWS(line[colon+1:])...)
		found = true
	}
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

// TrimOWS trims the optional whitespace of RFC 9110 §5.6.3 (spaces and
// tabs) from both ends of b, as header values and list members are read.
func TrimOWS(b []byte) []byte { return trimOWS(b) }

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
