package recorder

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/internal/defaults"
	"github.com/cutover/cutover/message"
	"github.com/cutover/cutover/store"
)

// Replacements written by redaction.
const (
	// RedactedValue replaces a redacted header value, and (as a JSON
	// string) a redacted JSON value.
	RedactedValue = "[redacted]"
	// Withheld starts the text that replaces a body the JSON rules apply
	// to but that cannot be read with certainty: declared or shaped as
	// JSON, but malformed, cut short where it is malformed, compressed in
	// an encoding the recorder does not decode, or nested deeper than it
	// follows. The text goes on with the body's length and content type:
	// "[withheld: not redactable] 57 bytes of application/json".
	Withheld = "[withheld: not redactable]"
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
	key   ruleKey
	index int  // the key as an array index, or -1
	every bool // "#"
}

func (e *ruleElem) matches(p *pathElem, exactCase bool) bool {
	if p.index >= 0 {
		return e.every || e.index == p.index
	}
	return !e.every && e.key.matches(p.key, exactCase)
}

// ruleKey is a key a rule names, with the byte lengths a body's key can
// have and still match it by case folding.
type ruleKey struct {
	text           []byte
	minLen, maxLen int
}

func newRuleKey(s string) ruleKey {
	k := ruleKey{text: []byte(s), minLen: len(s), maxLen: len(s)}
	for _, c := range k.text {
		switch {
		case c >= utf8.RuneSelf:
			// A non-ASCII letter may fold to one of another length.
			return ruleKey{text: k.text, maxLen: math.MaxInt}
		case c == 'k' || c == 'K' || c == 's' || c == 'S':
			// The Kelvin sign (3 bytes) and the long s (2) fold to these.
			k.maxLen += 2
		}
	}
	return k
}

// matches compares a body's key with the rule's, by Unicode case folding
// unless exactCase: a service that binds "Password" to its password field
// (as Go's encoding/json and many others do) must not see it stored. The
// length bounds spare most comparisons the folding.
func (k *ruleKey) matches(key []byte, exactCase bool) bool {
	switch {
	case len(key) < k.minLen || len(key) > k.maxLen:
		return false
	case string(k.text) == string(key):
		return true
	}
	return !exactCase && bytes.EqualFold(k.text, key)
}

// jsonRules are compiled JSON redaction paths.
type jsonRules struct {
	names     []ruleKey    // bare names, matched at any depth
	paths     [][]ruleElem // dotted paths, matched from the root
	exactCase bool         // keys compared byte for byte, not case-folded
}

// compileRules compiles paths; a path that CheckPath refuses is returned
// in bad and left out.
func compileRules(paths []string, exactCase bool) (rules jsonRules, bad []string) {
	rules.exactCase = exactCase
	for _, p := range paths {
		if CheckPath(p) != nil {
			bad = append(bad, p)
			continue
		}
		parts := splitPath(p)
		if len(parts) == 1 {
			rules.names = append(rules.names, newRuleKey(parts[0]))
			continue
		}
		rule := make([]ruleElem, len(parts))
		for i, part := range parts {
			rule[i] = ruleElem{key: newRuleKey(part), index: -1, every: part == "#"}
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
		for i := range r.names {
			if r.names[i].matches(last.key, r.exactCase) {
				return true
			}
		}
	}
next:
	for _, rule := range r.paths {
		if len(rule) != len(path) {
			continue
		}
		// From the leaf up: the leaf's key tells most paths apart.
		for i := len(rule) - 1; i >= 0; i-- {
			if !rule[i].matches(&path[i], r.exactCase) {
				continue next
			}
		}
		return true
	}
	return false
}

// Rules are the redaction rules applied before a call is stored.
type Rules struct {
	// Headers are header names whose values are replaced, compared
	// case-insensitively. Nil means DefaultRedactHeaders; an empty,
	// non-nil slice redacts no header.
	Headers []string
	// JSON are paths of JSON body values to replace; see CheckPath.
	JSON []string
	// ExactCase compares JSON keys byte for byte; by default they are
	// compared by Unicode case folding, so "Password" is a password.
	ExactCase bool
	// MaxBody caps a gzip or deflate body once decoded; DefaultMaxBody
	// when 0.
	MaxBody int
}

// RulesFor returns the rules of cfg's record section.
func RulesFor(cfg *configs.Config) Rules {
	return Rules{
		Headers:   cfg.Record.Redact.Headers,
		JSON:      cfg.Record.Redact.JSON,
		ExactCase: cfg.Record.Redact.ExactCase,
		MaxBody:   int(cfg.Record.MaxBody),
	}
}

// redactor applies the recorder's rules to records. It is owned by the
// writer goroutine: its scratch buffers are reused from record to record.
type redactor struct {
	dec      decoder
	headers  []string // names, compared case-insensitively
	json     jsonRules
	scan     scanner
	buf      []byte
	ct       []byte         // the body's media type, scratch
	withheld *atomic.Uint64 // bodies withheld, counted for the metrics
}

// newRedactor compiles rules, applying their defaults; the JSON paths
// that CheckPath refuses are returned and skipped. withheld counts the
// bodies it withholds.
func newRedactor(rules Rules, withheld *atomic.Uint64) (*redactor, []string) {
	if rules.Headers == nil {
		rules.Headers = DefaultRedactHeaders
	}
	rules.MaxBody = defaults.Positive(rules.MaxBody, DefaultMaxBody)
	rd := &redactor{dec: decoder{limit: rules.MaxBody}, withheld: withheld}
	for _, h := range rules.Headers {
		rd.headers = append(rd.headers, strings.TrimSpace(h))
	}
	var bad []string
	rd.json, bad = compileRules(rules.JSON, rules.ExactCase)
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
	ct, encoded := contentInfo(rd.ct[:0], headers)
	rd.ct = ct[:0]
	ctJSON := isJSONType(ct)
	if encoded {
		// Compressed bytes cannot be scanned; unless they are declared to
		// be something other than JSON, they may hold a secret.
		if ctJSON || len(ct) == 0 || looksJSON(body) {
			return rd.withhold(body, ct)
		}
		return body
	}
	if !ctJSON && !looksJSON(body) {
		return body
	}
	switch err := rd.scan.scan(body); {
	case err == nil || err == errEOF && truncated:
		if rd.scan.copied == 0 {
			return body
		}
		out := append(rd.scan.out, body[rd.scan.copied:]...)
		rd.scan.out = out
		return append(body[:0], out...)
	default:
		// Malformed (before the cut, if cut), or nested too deep: what a
		// service makes of these bytes cannot be known, so none is kept.
		return rd.withhold(body, ct)
	}
}

// maxWithheldType bounds the content type quoted in a withheld notice.
const maxWithheldType = 100

// withhold replaces body with the Withheld notice, naming its length and
// content type, and counts it.
func (rd *redactor) withhold(body, ct []byte) []byte {
	if rd.withheld != nil {
		rd.withheld.Add(1)
	}
	n := len(body)
	out := append(body[:0], Withheld+" "...)
	out = strconv.AppendInt(out, int64(n), 10)
	out = append(out, " bytes"...)
	if len(ct) > 0 {
		out = append(out, " of "...)
		out = append(out, ct[:min(len(ct), maxWithheldType)]...)
	}
	return out
}

// looksJSON reports whether b starts like a JSON object or array, after a
// byte-order mark, an anti-XSSI prefix and whitespace.
func looksJSON(b []byte) bool {
	b = bytes.TrimLeft(b[skipPrefix(b):], " \t\r\n\x1e")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// isJSONType reports whether a media type names JSON: application/json,
// any +json type, and the streaming kinds (application/x-ndjson,
// application/json-seq, application/jsonl), by "json" anywhere in it.
func isJSONType(mt []byte) bool {
	for i := 0; i+4 <= len(mt); i++ {
		if bytes.EqualFold(mt[i:i+4], []byte("json")) {
			return true
		}
	}
	return false
}

// contentInfo reads Content-Type and Content-Encoding from raw header
// lines: the media type without its parameters (appended to dst, so it
// outlives the call), and whether the body is encoded (compressed).
func contentInfo(dst, raw []byte) (mediaType []byte, encoded bool) {
	value, _ := message.AppendValues(dst, raw, "Content-Type")
	mt, _, _ := bytes.Cut(value, []byte(";"))
	var scratch [64]byte
	enc, _ := message.AppendValues(scratch[:0], raw, "Content-Encoding")
	return bytes.TrimSpace(mt), !message.IsIdentity(enc)
}
