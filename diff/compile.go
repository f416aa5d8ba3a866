package diff

import (
	"fmt"
	"math"
	"net/textproto"
	"strings"
	"time"
)

// Compiled is a validated, immutable form of Rules, made by Compile. It is
// safe for concurrent use. A nil *Compiled compares strictly.
type Compiled struct {
	// root is the trie of the dotted (anchored) ignore and unordered
	// paths; nil when there are none.
	root *pathNode
	// bare holds the single-segment rules, which match a key of that name
	// at any depth; nil when there are none.
	bare map[string]*bareRule

	epsilon           float64
	headers           []string // canonical names, deduplicated, in rule order
	nullEqualsMissing bool
	numericStrings    bool
	timeTolerance     time.Duration
}

// pathNode is one segment of the anchored rule paths. A node is reached by
// walking the JSON path from the root: an object key through keys, an
// array index ("#") through elem.
type pathNode struct {
	keys      map[string]*pathNode // by unescaped object key
	elem      *pathNode            // the "#" child
	ignore    bool                 // this path and its subtree are ignored
	unordered bool                 // the array at this path is unordered
	key       string               // with unordered: the match key ("" = multiset)
}

// bareRule is what a bare name (a one-segment path) says about every key
// of that name.
type bareRule struct {
	ignore    bool
	unordered bool
	key       string
}

// strictRules is what a nil *Compiled means.
var strictRules = &Compiled{}

// pathSeg is one parsed path segment: an unescaped object key, or the
// array-index marker "#".
type pathSeg struct {
	key  string
	elem bool
}

// CheckPath reports whether p is a valid ignore or unordered path: dotted
// object keys, "#" alone as a segment for any array index, a backslash
// escaping the next character ("a\.b" is the key "a.b", "\#" the key
// "#"). It rejects empty paths and segments and gjson's wildcards,
// queries and modifiers (unescaped "*", "?", "|", a "#" inside a segment,
// "@" at the start of a segment). The error names p; config validation
// adds the line and key.
func CheckPath(p string) error {
	if _, reason := parsePath(p); reason != "" {
		return fmt.Errorf("diff: path %q: %s", p, reason)
	}
	return nil
}

// parsePath splits p into segments, or returns why it cannot.
func parsePath(p string) ([]pathSeg, string) {
	if p == "" {
		return nil, "empty path"
	}
	var segs []pathSeg
	var key []byte
	start := true // at the start of a segment
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '.' {
			if len(key) == 0 {
				return nil, "empty key"
			}
			segs = append(segs, pathSeg{key: string(key)})
			key, start = key[:0], true
			continue
		}
		ch := p[i]
		switch ch {
		case '\\':
			if i+1 == len(p) {
				return nil, "ends in a lone backslash"
			}
			i++
			key = append(key, p[i])
			start = false
			continue
		case '*', '?':
			return nil, fmt.Sprintf(`wildcard "%c" is not supported (escape it as "\%c")`, ch, ch)
		case '|':
			return nil, `"|" is not supported (escape it as "\|")`
		case '@':
			if start {
				return nil, `modifier "@" is not supported (escape it as "\@")`
			}
		case '#':
			end := i+1 == len(p) || p[i+1] == '.'
			if !start || !end {
				return nil, `"#" must be a whole segment, meaning any array index (escape it as "\#" for a key)`
			}
			segs = append(segs, pathSeg{elem: true})
			i++ // the '.' or the end
			key, start = key[:0], true
			if i == len(p)-1 {
				return nil, "empty key" // a trailing '.'
			}
			continue
		}
		key = append(key, ch)
		start = false
	}
	return segs, ""
}

// Compile validates r and returns its compiled form. Errors name the
// offending rule: `diff: ignore path "items..x": empty key`. It rejects
// invalid paths (see CheckPath), an unordered path listed twice, an
// unordered key that is not one field name, a negative or NaN
// FloatEpsilon, a negative TimeTolerance and header names that are not
// HTTP tokens.
func Compile(r Rules) (*Compiled, error) {
	c := &Compiled{
		epsilon:           r.FloatEpsilon,
		nullEqualsMissing: r.NullEqualsMissing,
		numericStrings:    r.NumericStrings,
		timeTolerance:     r.TimeTolerance,
	}
	if math.IsNaN(r.FloatEpsilon) || r.FloatEpsilon < 0 {
		return nil, fmt.Errorf("diff: float_epsilon %v: must be a number >= 0", r.FloatEpsilon)
	}
	if r.TimeTolerance < 0 {
		return nil, fmt.Errorf("diff: time_tolerance %v: must not be negative", r.TimeTolerance)
	}
	for _, p := range r.Ignore {
		segs, reason := parsePath(p)
		if reason != "" {
			return nil, fmt.Errorf("diff: ignore path %q: %s", p, reason)
		}
		if b := c.bareFor(segs); b != nil {
			b.ignore = true
			continue
		}
		c.nodeFor(segs).ignore = true
	}
	seen := make(map[string]bool, len(r.Unordered))
	for _, u := range r.Unordered {
		segs, reason := parsePath(u.Path)
		if reason != "" {
			return nil, fmt.Errorf("diff: unordered path %q: %s", u.Path, reason)
		}
		canon := canonicalPath(segs)
		if seen[canon] {
			return nil, fmt.Errorf("diff: unordered path %q: listed twice", u.Path)
		}
		seen[canon] = true
		key := ""
		if u.Key != "" {
			ks, reason := parsePath(u.Key)
			switch {
			case reason != "":
				return nil, fmt.Errorf("diff: unordered path %q: key %q: %s", u.Path, u.Key, reason)
			case len(ks) != 1 || ks[0].elem:
				return nil, fmt.Errorf("diff: unordered path %q: key %q must be one field name (escape a '.' in it as \"\\.\")", u.Path, u.Key)
			}
			key = ks[0].key
		}
		if b := c.bareFor(segs); b != nil {
			b.unordered, b.key = true, key
			continue
		}
		n := c.nodeFor(segs)
		n.unordered, n.key = true, key
	}
	for _, h := range r.Headers {
		if !isToken(h) {
			return nil, fmt.Errorf("diff: header %q: not a valid header name", h)
		}
		name := textproto.CanonicalMIMEHeaderKey(h)
		dup := false
		for _, have := range c.headers {
			dup = dup || have == name
		}
		if !dup {
			c.headers = append(c.headers, name)
		}
	}
	return c, nil
}

// bareFor returns the bare rule for a one-key path, or nil when segs is
// anchored. A lone "#" is anchored: it names the root array's elements.
func (c *Compiled) bareFor(segs []pathSeg) *bareRule {
	if len(segs) != 1 || segs[0].elem {
		return nil
	}
	if c.bare == nil {
		c.bare = make(map[string]*bareRule)
	}
	b := c.bare[segs[0].key]
	if b == nil {
		b = &bareRule{}
		c.bare[segs[0].key] = b
	}
	return b
}

// nodeFor returns the trie node for segs, making the missing ones.
func (c *Compiled) nodeFor(segs []pathSeg) *pathNode {
	if c.root == nil {
		c.root = &pathNode{}
	}
	n := c.root
	for _, s := range segs {
		if s.elem {
			if n.elem == nil {
				n.elem = &pathNode{}
			}
			n = n.elem
			continue
		}
		if n.keys == nil {
			n.keys = make(map[string]*pathNode)
		}
		next := n.keys[s.key]
		if next == nil {
			next = &pathNode{}
			n.keys[s.key] = next
		}
		n = next
	}
	return n
}

// canonicalPath writes segs back as a path with the escapes Compare uses,
// so two spellings of one path compare equal.
func canonicalPath(segs []pathSeg) string {
	var b []byte
	for i, s := range segs {
		if i > 0 {
			b = append(b, '.')
		}
		if s.elem {
			b = append(b, '#')
			continue
		}
		b = appendPathKey(b, s.key)
	}
	return string(b)
}

// isToken reports whether s is an RFC 9110 token, the syntax of a header
// name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
