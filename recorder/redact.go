package recorder

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cutover/cutover/message"
	"github.com/cutover/cutover/store"
)

// Replacements written by redaction.
const (
	// RedactedValue replaces a redacted header value, and (as a JSON
	// string) a redacted JSON value.
	RedactedValue = "[redacted]"
	// RedactedTruncated replaces a truncated JSON body that is also
	// malformed: it cannot be read with confidence, so none of it is kept.
	RedactedTruncated = "[redacted: truncated JSON]"
	// RedactedUnreadable replaces a JSON body the recorder will not walk:
	// compressed (Content-Encoding) or nested deeper than it follows.
	RedactedUnreadable = "[redacted: unreadable JSON]"
)

// ErrBadPath is returned by CheckPath.
var ErrBadPath = errors.New("record: bad JSON redaction path")

// CheckPath reports whether p is a JSON redaction path the recorder
// understands: dot-separated keys (a dot inside a key written \.), where
// "#" is every element of an array and a number is that element or a key
// of that name. A path without a dot is a key name matched at any depth.
// gjson's wildcards, queries and modifiers are not supported, so a
// configuration that uses them is refused rather than silently ignored.
func CheckPath(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty", ErrBadPath)
	}
	parts := splitPath(p)
	for _, part := range parts {
		switch {
		case part == "":
			return fmt.Errorf("%w %q: empty key", ErrBadPath, p)
		case strings.ContainsAny(part, "*?|@") || strings.HasPrefix(part, "#") && part != "#":
			return fmt.Errorf("%w %q: wildcards, queries and modifiers are not supported", ErrBadPath, p)
		}
	}
	if len(parts) == 1 && parts[0] == "#" {
		return fmt.Errorf("%w %q: a bare # names no key", ErrBadPath, p)
	}
	return nil
}

// splitPath splits p at the dots that are not escaped.
func splitPath(p string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p) && p[i+1] == '.':
			cur.WriteByte('.')
			i++
		case p[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(p[i])
		}
	}
	return append(parts, cur.String())
}

// ruleElem is one step of a path rule.
type ruleElem struct {
	key   []byte
	index int  // the key as an array index, or -1
	every bool // "#"
}

func (e *ruleElem) matches(p *pathElem) bool {
	if p.index >= 0 {
		return e.every || e.index == p.index
	}
	return !e.every && bytes.Equal(e.key, p.key)
}

// jsonRules are compiled JSON redaction paths.
type jsonRules struct {
	names [][]byte     // bare names, matched at any depth
	paths [][]ruleElem // dotted paths, matched from the root
}

// compileRules compiles paths; a path that CheckPath refuses is returned
// in bad and left out.
func compileRules(paths []string) (rules jsonRules, bad []string) {
	for _, p := range paths {
		if CheckPath(p) != nil {
			bad = append(bad, p)
			continue
		}
		parts := splitPath(p)
		if len(parts) == 1 {
			rules.names = append(rules.names, []byte(parts[0]))
			continue
		}
		rule := make([]ruleElem, len(parts))
		for i, part := range parts {
			rule[i] = ruleElem{key: []byte(part), index: -1, every: part == "#"}
			if n, err := strconv.Atoi(part); err == nil && n >= 0 && part == strconv.Itoa(n) {
				rule[i].index = n
			}
		}
		rules.paths = append(rules.paths, rule)
	}
	return rules, bad
}

func (r *jsonRules) empty() bool { return len(r.names) == 0 && len(r.paths) == 0 }

// match reports whether the value at path is redacted.
func (r *jsonRules) match(path []pathElem) bool {
	if len(path) == 0 {
		return false
	}
	if last := &path[len(path)-1]; last.index < 0 {
		for _, name := range r.names {
			if bytes.Equal(name, last.key) {
				return true
			}
		}
	}
next:
	for _, rule := range r.paths {
		if len(rule) != len(path) {
			continue
		}
		for i := range rule {
			if !rule[i].matches(&path[i]) {
				continue next
			}
		}
		return true
	}
	return false
}

// redactor applies the recorder's rules to records. It is owned by the
// writer goroutine: its scratch buffers are reused from record to record.
type redactor struct {
	dec     decoder
	headers []string // names, compared case-insensitively
	json    jsonRules
	scan    scanner
	buf     []byte
}

func newRedactor(headers, paths []string, maxBody int) (*redactor, []string) {
	rd := &redactor{dec: decoder{limit: maxBody}}
	for _, h := range headers {
		rd.headers = append(rd.headers, strings.TrimSpace(h))
	}
	var bad []string
	rd.json, bad = compileRules(paths)
	rd.scan.rules = &rd.json
	return rd, bad
}

// record decodes compressed bodies in r, then redacts r, in place.
func (rd *redactor) record(r *store.Record) {
	r.ReqBody, r.ReqHeaders, r.ReqTruncated = rd.dec.decode(r.ReqBody, r.ReqHeaders, r.ReqTruncated)
	r.RespBody, r.RespHeaders, r.RespTruncated = rd.dec.decode(r.RespBody, r.RespHeaders, r.RespTruncated)
	r.ReqBody = rd.body(r.ReqBody, r.ReqHeaders, r.ReqTruncated)
	r.RespBody = rd.body(r.RespBody, r.RespHeaders, r.RespTruncated)
	r.ReqHeaders = rd.headerLines(r.ReqHeaders)
	r.RespHeaders = rd.headerLines(r.RespHeaders)
}

// headerLines replaces the value of every line whose name is redacted,
// keeping the line's ending. Lines that match no rule are not touched.
func (rd *redactor) headerLines(raw []byte) []byte {
	if len(rd.headers) == 0 {
		return raw
	}
	out, copied, folded := rd.buf[:0], 0, false
	s := message.Scan(raw)
	for s.Next() {
		switch f := s.Field(); {
		case f.Folded:
			// An obsolete folded continuation (RFC 9112 section 5.2)
			// of a redacted header goes with it.
			if folded {
				out = append(out, raw[copied:f.Start]...)
				copied = f.End
			}
		case f.Name != nil && rd.redactedHeader(f.Name):
			out = append(out, raw[copied:f.Start+bytes.IndexByte(f.Line, ':')+1]...)
			out = append(out, " "+RedactedValue...)
			copied = f.Start + len(f.Line)
			folded = true
		default:
			folded = false
		}
	}
	if copied == 0 {
		return raw
	}
	out = append(out, raw[copied:]...)
	rd.buf = out
	return append(raw[:0], out...)
}

func (rd *redactor) redactedHeader(name []byte) bool {
	for _, h := range rd.headers {
		if message.EqualFold(name, h) {
			return true
		}
	}
	return false
}

// body redacts one body by the JSON rules. See the package doc for which
// bodies are JSON and what happens to truncated and unreadable ones.
func (rd *redactor) body(body, headers []byte, truncated bool) []byte {
	if rd.json.empty() || len(body) == 0 {
		return body
	}
	ctJSON, encoded := contentInfo(headers)
	if encoded && (ctJSON || looksJSON(body)) {
		return append(body[:0], RedactedUnreadable...)
	}
	if !ctJSON && !looksJSON(body) {
		return body
	}
	err := rd.scan.scan(body)
	switch {
	case err == nil || err == errEOF && truncated:
		if rd.scan.copied == 0 {
			return body
		}
		out := append(rd.scan.out, body[rd.scan.copied:]...)
		rd.scan.out = out
		return append(body[:0], out...)
	case err == errDepth:
		return append(body[:0], RedactedUnreadable...)
	case truncated:
		return append(body[:0], RedactedTruncated...)
	default:
		// A complete body that is not JSON is stored as it came.
		return body
	}
}

// looksJSON reports whether b starts, after whitespace, like a JSON object
// or array.
func looksJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// contentInfo reads Content-Type and Content-Encoding from raw header
// lines: whether the body is declared JSON (application/json, any
// +json type, text/json), and whether it is encoded (compressed).
func contentInfo(raw []byte) (ctJSON, encoded bool) {
	var scratch [64]byte
	value, _ := message.AppendValues(scratch[:0], raw, "Content-Type")
	mt, _, _ := bytes.Cut(value, []byte(";"))
	mt = bytes.TrimSpace(mt)
	ctJSON = len(mt) > 5 && (mt[len(mt)-5] == '/' || mt[len(mt)-5] == '+') &&
		bytes.EqualFold(mt[len(mt)-4:], []byte("json"))
	value, _ = message.AppendValues(scratch[:0], raw, "Content-Encoding")
	return ctJSON, !message.IsIdentity(value)
}
