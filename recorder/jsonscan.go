package recorder

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Outcomes of a JSON scan other than success.
var (
	errEOF    = errors.New("record: JSON ends early")
	errSyntax = errors.New("record: malformed JSON")
	errDepth  = errors.New("record: JSON nested too deep")
)

// maxDepth bounds the nesting the scanner follows. It recurses once per
// level, and a body nested deeper than any real API answer is refused
// rather than followed.
const maxDepth = 1000

// redacted replaces every value at a redacted path, whatever its type.
const redacted = `"[redacted]"`

// scanner walks a body of JSON texts and writes it out with the values
// at redacted paths replaced, in a single pass. Bytes outside the replaced
// values are copied unchanged, whitespace included.
//
// It reads what real services accept as JSON, and nothing more: one or
// more texts (RFC 8259) one after another, as in newline-delimited JSON,
// concatenated values and JSON text sequences (RFC 7464, whose record
// separator counts as whitespace); a UTF-8 byte-order mark; an anti-XSSI
// prefix such as ")]}'," before the first text; and a trailing comma
// before a closing bracket or brace. Each text's paths start at its root.
// Anything else is an error, so a body the scanner cannot read is never
// mistaken for one it redacted.
//
// Strictness is what makes truncated bodies safe: the scanner tells a
// body that ends early (errEOF), whose every complete part it has already
// redacted, from one that is broken (errSyntax), which it cannot read
// with confidence. gjson's validator answers only "valid or not", and its
// getters are lenient on both, so it could not make that call.
type scanner struct {
	in     []byte
	pos    int
	rules  *jsonRules
	stack  []pathElem // the path of the value being scanned
	quiet  int        // > 0 inside a redacted value: no matching
	out    []byte     // the rewritten prefix, in[:copied] with replacements
	copied int
}

// pathElem is one step of the current path: an object key (index < 0) or
// an array index.
type pathElem struct {
	key   []byte
	index int
}

// Prefixes a body may carry before its JSON: a UTF-8 byte-order mark,
// then one of the anti-XSSI guards that services put before JSON answers
// so that a <script> tag cannot run them.
var (
	utf8BOM      = []byte("\xef\xbb\xbf")
	xssiPrefixes = [][]byte{[]byte(")]}',"), []byte(")]}'"), []byte("while(1);"), []byte("for(;;);")}
)

// skipPrefix returns the offset of b's JSON after a byte-order mark and an
// anti-XSSI prefix, either of which may be absent.
func skipPrefix(b []byte) int {
	pos := 0
	if bytes.HasPrefix(b, utf8BOM) {
		pos = len(utf8BOM)
	}
	for _, p := range xssiPrefixes {
		if bytes.HasPrefix(b[pos:], p) {
			return pos + len(p)
		}
	}
	return pos
}

// scan rewrites in into s.out. On success or errEOF, s.out+in[s.copied:]
// is the redacted text; s.copied is 0 when nothing was replaced.
func (s *scanner) scan(in []byte) error {
	s.in, s.pos, s.quiet, s.copied = in, skipPrefix(in), 0, 0
	s.out, s.stack = s.out[:0], s.stack[:0]
	for {
		s.ws()
		if s.pos == len(s.in) {
			return nil
		}
		if err := s.value(0); err != nil {
			return err
		}
	}
}

func (s *scanner) ws() {
	for s.pos < len(s.in) {
		switch s.in[s.pos] {
		case ' ', '\t', '\n', '\r', 0x1e: // 0x1e: RFC 7464's record separator
			s.pos++
		default:
			return
		}
	}
}

// value scans one value, replacing it when its path is redacted.
func (s *scanner) value(depth int) error {
	s.ws()
	if s.pos >= len(s.in) {
		return errEOF
	}
	if s.quiet > 0 || !s.rules.match(s.stack) {
		return s.plain(depth)
	}
	start := s.pos
	s.quiet++
	err := s.plain(depth)
	s.quiet--
	if err != nil && err != errEOF {
		return err
	}
	s.out = append(s.out, s.in[s.copied:start]...)
	s.out = append(s.out, redacted...)
	s.copied = s.pos
	if err == errEOF {
		// The value was cut: what was read of it is gone with it.
		s.copied = len(s.in)
	}
	return err
}

func (s *scanner) plain(depth int) error {
	switch c := s.in[s.pos]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		return s.str()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	default:
		return errSyntax
	}
}

func (s *scanner) object(depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	s.pos++
	s.ws()
	if s.pos < len(s.in) && s.in[s.pos] == '}' {
		s.pos++
		return nil
	}
	for {
		s.ws()
		if s.pos >= len(s.in) {
			return errEOF
		}
		if s.in[s.pos] == '}' {
			s.pos++ // after a trailing comma
			return nil
		}
		if s.in[s.pos] != '"' {
			return errSyntax
		}
		keyStart := s.pos
		if err := s.str(); err != nil {
			return err
		}
		key := s.in[keyStart+1 : s.pos-1]
		if s.quiet == 0 && bytes.IndexByte(key, '\\') >= 0 {
			// Compare rules with the key's text, not its escaped form,
			// so "pass\u0077ord" is still a password.
			key = unescape(key)
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		s.stack = append(s.stack, pathElem{key: key, index: -1})
		err := s.value(depth)
		s.stack = s.stack[:len(s.stack)-1]
		if err != nil {
			return err
		}
		if done, err := s.next('}'); done || err != nil {
			return err
		}
	}
}

func (s *scanner) array(depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	s.pos++
	s.ws()
	if s.pos < len(s.in) && s.in[s.pos] == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		s.ws()
		if i > 0 && s.pos < len(s.in) && s.in[s.pos] == ']' {
			s.pos++ // after a trailing comma
			return nil
		}
		s.stack = append(s.stack, pathElem{index: i})
		err := s.value(depth)
		s.stack = s.stack[:len(s.stack)-1]
		if err != nil {
			return err
		}
		if done, err := s.next(']'); done || err != nil {
			return err
		}
	}
}

// expect consumes c after optional whitespace.
func (s *scanner) expect(c byte) error {
	s.ws()
	if s.pos >= len(s.in) {
		return errEOF
	}
	if s.in[s.pos] != c {
		return errSyntax
	}
	s.pos++
	return nil
}

// next consumes the ',' between members or the closing byte, reporting
// whether the container ended.
func (s *scanner) next(closing byte) (bool, error) {
	s.ws()
	if s.pos >= len(s.in) {
		return false, errEOF
	}
	c := s.in[s.pos]
	s.pos++
	switch c {
	case ',':
		return false, nil
	case closing:
		return true, nil
	default:
		return false, errSyntax
	}
}

func (s *scanner) str() error {
	s.pos++ // the opening quote
	for s.pos < len(s.in) {
		c := s.in[s.pos]
		switch {
		case c == '"':
			s.pos++
			return nil
		case c == '\\':
			if s.pos+1 >= len(s.in) {
				return errEOF
			}
			switch s.in[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				for i := 2; i < 6; i++ {
					if s.pos+i >= len(s.in) {
						return errEOF
					}
					if !isHex(s.in[s.pos+i]) {
						return errSyntax
					}
				}
				s.pos += 6
			default:
				return errSyntax
			}
		case c < 0x20:
			return errSyntax
		default:
			s.pos++
		}
	}
	return errEOF
}

func (s *scanner) literal(lit string) error {
	n := min(len(lit), len(s.in)-s.pos)
	if string(s.in[s.pos:s.pos+n]) != lit[:n] {
		return errSyntax
	}
	s.pos += n
	if n < len(lit) {
		return errEOF
	}
	return nil
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. A text
// may end right after a digit; anywhere else the number was cut.
func (s *scanner) number() error {
	if s.in[s.pos] == '-' {
		s.pos++
	}
	if s.pos >= len(s.in) {
		return errEOF
	}
	if s.in[s.pos] == '0' {
		s.pos++
	} else if err := s.digits(); err != nil {
		return err
	}
	if s.pos < len(s.in) && s.in[s.pos] == '.' {
		s.pos++
		if err := s.digits(); err != nil {
			return err
		}
	}
	if s.pos < len(s.in) && (s.in[s.pos] == 'e' || s.in[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.in) && (s.in[s.pos] == '+' || s.in[s.pos] == '-') {
			s.pos++
		}
		return s.digits()
	}
	return nil
}

// digits scans one or more decimal digits.
func (s *scanner) digits() error {
	start := s.pos
	for s.pos < len(s.in) && s.in[s.pos] >= '0' && s.in[s.pos] <= '9' {
		s.pos++
	}
	switch {
	case s.pos > start:
		return nil
	case s.pos == len(s.in):
		return errEOF
	default:
		return errSyntax
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unescape decodes the escapes of a scanned (so well-formed) JSON string
// body. Lone surrogates become U+FFFD, as encoding/json does.
func unescape(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(raw[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if pair := utf16.DecodeRune(r, hex4(raw[i+3:i+7])); pair != utf8.RuneError {
					r = pair
					i += 6
				}
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, raw[i])
		}
	}
	return out
}

func hex4(b []byte) rune {
	n, _ := strconv.ParseUint(string(b), 16, 32)
	return rune(n)
}
