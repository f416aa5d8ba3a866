package diff

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/cutover/cutover/message"
)

// Comparer compares responses, keeping scratch memory (decoders, decode
// buffers, the path stack, element lists, interned paths) from one call to
// the next. It is not safe for concurrent use: keep one per goroutine or
// pool them. NewComparer makes one; the zero value works as well.
type Comparer struct {
	rules  *Compiled
	dst    []Difference
	path   []byte // the current JSON path, written only when reporting
	probe  int    // > 0: only asking whether two values differ
	full   bool   // MaxDifferences reached
	abort  bool   // the work budget is spent
	work   int    // bytes of containers scanned
	budget int
	// emitted counts the differences reported, duplicates included.
	emitted int

	// Scratch stacks for the walk; each call level appends past the
	// levels above it and truncates back. hw* are the high-water marks
	// cleared at the end, so no reference to the bodies outlives a call.
	elems   []gjson.Result
	ents    []objEntry
	used    []bool
	keyed   []keyedElem
	hashed  []hashedElem
	hwElems int
	hwEnts  int
	hwKeyed int

	intern map[string]string // path strings of reported differences

	// vals holds the values of the differences in dst, index for index;
	// vo and vn are the values of the difference being reported.
	vals   []Values
	vo, vn string

	// Joined header values and Content-Encoding lists, old and new.
	hdr [2][]byte
	enc [2][]byte

	// The decoder, and the buffers it decodes into, old and new.
	dec  message.Decoder
	bufs [2][]byte
}

// Interned path strings: at most internMax of them, each at most
// internMaxLen bytes long; the table is emptied when full.
const (
	internMax    = 4096
	internMaxLen = 256
)

// NewComparer returns a Comparer with empty scratch memory.
func NewComparer() *Comparer {
	return &Comparer{intern: make(map[string]string)}
}

// Compare appends to dst[:0] the differences between old and new under
// rules (nil rules compare strictly) and returns the result: each (Path,
// Kind) at most once, sorted by Path then Kind, at most MaxDifferences of
// them (the first ones found). The result is dst's backing array, grown as
// needed. Compare never modifies old or new (nil means the zero Response)
// and keeps no reference to them, to dst or to the result after it
// returns; the Path strings are freshly allocated or interned and safe to
// keep. The package doc states what counts as a difference.
func (c *Comparer) Compare(old, new *Response, rules *Compiled, dst []Difference) []Difference {
	var zero Response
	if old == nil {
		old = &zero
	}
	if new == nil {
		new = &zero
	}
	if rules == nil {
		rules = strictRules
	}
	c.rules, c.dst, c.full, c.probe, c.abort = rules, dst[:0], false, 0, false
	clear(c.vals)
	c.vals = c.vals[:0]

	if old.Status != new.Status {
		// Status first: an error page against a document is one event, not
		// every field of both bodies.
		c.path = AppendStatusPath(c.path[:0], old.Status, new.Status)
		c.addBytes(c.path, KindStatus)
	} else {
		for _, h := range rules.headers {
			c.compareHeader(old.Headers, new.Headers, h)
		}
		c.compareBody(old, new)
	}

	out := c.dst
	c.sortByPathKind(out)
	c.release()
	return out
}

// Values returns the raw JSON values of the differences the last Compare
// returned, index for index (see Values). They are views of the compared
// bodies or of the comparer's decode buffers: valid until the caller
// changes those bodies or calls Compare again, so copy what you keep.
func (c *Comparer) Values() []Values { return c.vals }

// StatusPath returns the path of the status difference between old and
// new: "200→503".
func StatusPath(old, new int) string { return string(AppendStatusPath(nil, old, new)) }

// AppendStatusPath appends StatusPath(old, new) to b.
func AppendStatusPath(b []byte, old, new int) []byte {
	b = strconv.AppendInt(b, int64(old), 10)
	b = append(b, "→"...)
	return strconv.AppendInt(b, int64(new), 10)
}

// ParseStatusPath reads a StatusPath.
func ParseStatusPath(p string) (old, new int, ok bool) {
	o, n, found := strings.Cut(p, "→")
	if !found {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(o)
	b, err2 := strconv.Atoi(n)
	return a, b, err1 == nil && err2 == nil
}

// sortByPathKind sorts differences by path, then kind, and c.vals with
// them: an insertion sort, as the walk finds most differences in path
// order already and it needs no allocation to move two slices together.
func (c *Comparer) sortByPathKind(ds []Difference) {
	vs := c.vals
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && cmpPathKind(ds[j-1], ds[j]) > 0; j-- {
			ds[j-1], ds[j] = ds[j], ds[j-1]
			vs[j-1], vs[j] = vs[j], vs[j-1]
		}
	}
}

// sortByPathKind sorts differences by path, then kind.
func sortByPathKind(ds []Difference) {
	if len(ds) > 1 {
		slices.SortFunc(ds, cmpPathKind)
	}
}

func cmpPathKind(a, b Difference) int {
	if c := strings.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	return cmp.Compare(a.Kind, b.Kind)
}

// release drops every reference to the caller's memory.
func (c *Comparer) release() {
	c.dst, c.rules = nil, nil
	clear(c.elems[:c.hwElems])
	clear(c.ents[:c.hwEnts])
	clear(c.keyed[:c.hwKeyed])
	c.hwElems, c.hwEnts, c.hwKeyed = 0, 0, 0
	c.elems, c.ents, c.keyed, c.used = c.elems[:0], c.ents[:0], c.keyed[:0], c.used[:0]
	c.path = c.path[:0]
	c.releaseBuffers()
}

// compareHeader compares the joined values of header name.
func (c *Comparer) compareHeader(oldBlock, newBlock []byte, name string) {
	var okOld, okNew bool
	c.hdr[0], okOld = message.AppendValues(c.hdr[0][:0], oldBlock, name)
	c.hdr[1], okNew = message.AppendValues(c.hdr[1][:0], newBlock, name)
	if okOld != okNew || !bytes.Equal(c.hdr[0], c.hdr[1]) {
		c.add(name, KindHeader)
	}
}

// compareBody decodes both bodies and compares them.
func (c *Comparer) compareBody(old, new *Response) {
	encOld, encNew := c.contentEncoding(old.Headers, 0), c.contentEncoding(new.Headers, 1)
	if bytes.EqualFold(encOld, encNew) && bytes.Equal(old.Body, new.Body) {
		return // the same bytes in the same codings decode the same way
	}
	ob, nb := c.decode(encOld, old.Body, 0), c.decode(encNew, new.Body, 1)
	if bytes.Equal(ob, nb) {
		return
	}
	ot, nt := trimJSONSpace(ob), trimJSONSpace(nb)
	if len(ot) == 0 && len(nt) == 0 {
		return
	}
	if !c.isJSON(ot) || !c.isJSON(nt) {
		c.add("", KindBody)
		return
	}
	c.compareJSON(unsafeString(ot), unsafeString(nt))
}

// trimJSONSpace trims JSON's whitespace (space, tab, CR, LF) from both
// ends of b.
func trimJSONSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// unsafeString views b as a string without copying. The string must not
// outlive b or be kept past the call.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// emit reports a difference of kind k at the current path. It returns
// true when the walk must stop: always while probing (the answer is "they
// differ"), or when MaxDifferences is reached.
func (c *Comparer) emit(k Kind) bool {
	if c.probe > 0 || c.abort {
		return true
	}
	return c.addBytes(c.path, k)
}

// emitValues reports a difference of kind k at the current path whose
// values are old and new (raw JSON, "" for an absent side).
func (c *Comparer) emitValues(k Kind, old, new string) bool {
	if c.probe > 0 || c.abort {
		return true
	}
	c.vo, c.vn = old, new
	stop := c.addBytes(c.path, k)
	c.vo, c.vn = "", ""
	return stop
}

// add reports a difference at a path given as a string.
func (c *Comparer) add(path string, k Kind) bool {
	if c.full {
		return true
	}
	c.emitted++
	for i := range c.dst {
		if c.dst[i].Kind == k && c.dst[i].Path == path {
			return false
		}
	}
	c.dst = append(c.dst, Difference{Path: path, Kind: k})
	c.vals = append(c.vals, Values{})
	c.full = len(c.dst) >= MaxDifferences
	return c.full
}

// addBytes reports a difference at a path given as bytes, making its
// string only when the (path, kind) is new.
func (c *Comparer) addBytes(path []byte, k Kind) bool {
	if c.full {
		return true
	}
	c.emitted++
	for i := range c.dst {
		if c.dst[i].Kind == k && c.dst[i].Path == string(path) {
			return false
		}
	}
	c.dst = append(c.dst, Difference{Path: c.pathString(path), Kind: k})
	c.vals = append(c.vals, Values{Old: c.vo, New: c.vn})
	c.full = len(c.dst) >= MaxDifferences
	return c.full
}

// pathString returns path as a string, interned when short.
func (c *Comparer) pathString(path []byte) string {
	if len(path) == 0 {
		return ""
	}
	if len(path) > internMaxLen {
		return string(path)
	}
	if s, ok := c.intern[string(path)]; ok {
		return s
	}
	if c.intern == nil || len(c.intern) >= internMax {
		c.intern = make(map[string]string)
	}
	s := string(path)
	c.intern[s] = s
	return s
}

// pushKey appends an object key to the path and returns the length to
// truncate back to. While probing the path is not kept.
func (c *Comparer) pushKey(key string) int {
	mark := len(c.path)
	if c.probe > 0 {
		return mark
	}
	if mark > 0 {
		c.path = append(c.path, '.')
	}
	c.path = appendPathKey(c.path, key)
	return mark
}

// pushElem appends the array-index segment "#" to the path.
func (c *Comparer) pushElem() int {
	mark := len(c.path)
	if c.probe > 0 {
		return mark
	}
	if mark > 0 {
		c.path = append(c.path, '.', '#')
	} else {
		c.path = append(c.path, '#')
	}
	return mark
}

// pop truncates the path back to mark.
func (c *Comparer) pop(mark int) { c.path = c.path[:mark] }

// appendPathKey appends key to b, escaping '.', '#', '\\', '*' and '?'
// with a backslash as gjson paths do.
func appendPathKey(b []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		switch key[i] {
		case '.', '#', '\\', '*', '?':
			b = append(b, '\\')
		}
		b = append(b, key[i])
	}
	return b
}
