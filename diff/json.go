package diff

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// Walk limits.
const (
	// maxDepth: containers nested deeper than this are not walked; two
	// different ones there are one body difference at the root.
	maxDepth = 1000
	// maxParseDepth: a body nesting deeper than this is not parsed at all
	// (the validator recurses) and compares as bytes.
	maxParseDepth = 10000
	// sortAbove: objects and keyed arrays with more entries than this are
	// sorted for binary search instead of scanned.
	sortAbove = 16
	// maxMatchProbes bounds the element comparisons one unordered array may
	// spend on matching; elements still unmatched then are paired in order.
	maxMatchProbes = 1 << 17
	// probeCost is what one element comparison while matching is charged
	// to the work budget, besides the containers it scans.
	probeCost = 64
	// The walk's work budget, in bytes of containers scanned (gjson scans
	// a container each time it is entered, and equality probes re-enter
	// subtrees): workBase plus workPerByte times the two bodies' length.
	// A pathological pair (deep nesting and many arrays) that exhausts it
	// stops the walk with a body difference at the root.
	workBase    = 64 << 20
	workPerByte = 32
)

// JSON types as Compare distinguishes them: true and false are one type.
const (
	jNull uint8 = iota
	jBool
	jNumber
	jString
	jObject
	jArray
)

func jsonType(r gjson.Result) uint8 {
	switch r.Type {
	case gjson.Null:
		return jNull
	case gjson.False, gjson.True:
		return jBool
	case gjson.Number:
		return jNumber
	case gjson.String:
		return jString
	}
	if r.Raw != "" && r.Raw[0] == '[' {
		return jArray
	}
	return jObject
}

// objEntry is one member of the new side's object, for lookup by key.
type objEntry struct {
	key  string
	val  gjson.Result
	used bool
}

// keyedElem is one array element that has the unordered rule's key field.
type keyedElem struct {
	key  string // raw JSON of the key's value
	idx  int
	used bool
}

// isJSON reports whether b (trimmed, non-empty) is one valid JSON value
// that is shallow enough to parse.
func (c *Comparer) isJSON(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if len(b) > maxParseDepth && tooDeep(b, maxParseDepth) {
		return false
	}
	return gjson.ValidBytes(b)
}

// tooDeep reports whether the JSON text b nests deeper than limit.
func tooDeep(b []byte, limit int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			if depth++; depth > limit {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// compareJSON walks two valid JSON texts.
func (c *Comparer) compareJSON(old, new string) {
	c.work, c.budget, c.abort = 0, workBase+workPerByte*(len(old)+len(new)), false
	c.value(gjson.Parse(old), gjson.Parse(new), c.rules.root, "", 1)
}

// spend charges the walk for scanning two containers; past the budget it
// reports a body difference at the root and aborts the walk.
func (c *Comparer) spend(a, b gjson.Result) bool {
	return c.charge(len(a.Raw) + len(b.Raw))
}

// charge adds n to the work done; past the budget it reports a body
// difference at the root and aborts the walk.
func (c *Comparer) charge(n int) bool {
	if c.abort {
		return true
	}
	c.work += n
	if c.work <= c.budget {
		return false
	}
	c.abort = true
	c.add("", KindBody)
	return true
}

// value compares a and b at the current path. n is the rule trie node of
// the path (nil when no anchored rule goes this deep), name the key the
// values sit under ("" for the root and array elements), depth the nesting
// of a and b (the root is 1). It returns true when the walk must stop:
// while probing, when a and b differ; otherwise when MaxDifferences is
// reached.
func (c *Comparer) value(a, b gjson.Result, n *pathNode, name string, depth int) bool {
	if a.Raw == b.Raw {
		return false
	}
	if c.abort {
		return true
	}
	ta, tb := jsonType(a), jsonType(b)
	if ta != tb {
		if c.rules.numericStrings {
			switch {
			case ta == jString && tb == jNumber && isJSONNumber(a.Str):
				return c.numbers(a.Str, parseFloat(a.Str), b.Raw, b.Num)
			case ta == jNumber && tb == jString && isJSONNumber(b.Str):
				return c.numbers(a.Raw, a.Num, b.Str, parseFloat(b.Str))
			}
		}
		return c.emitValues(KindType, a.Raw, b.Raw)
	}
	switch ta {
	case jNull:
		return false
	case jBool:
		if a.Type == b.Type {
			return false
		}
		return c.emitValues(KindValue, a.Raw, b.Raw)
	case jNumber:
		return c.numbers(a.Raw, a.Num, b.Raw, b.Num)
	case jString:
		if c.stringsEqual(a.Str, b.Str) {
			return false
		}
		return c.emitValues(KindValue, a.Raw, b.Raw)
	}
	if depth > maxDepth {
		if c.probe > 0 {
			return true
		}
		return c.add("", KindBody)
	}
	if c.spend(a, b) {
		return true
	}
	if ta == jObject {
		return c.object(a, b, n, depth)
	}
	return c.array(a, b, n, name, depth)
}

// numbers reports a value difference unless the two numbers are equal.
func (c *Comparer) numbers(ra string, fa float64, rb string, fb float64) bool {
	if c.numbersEqual(ra, fa, rb, fb) {
		return false
	}
	return c.emitValues(KindValue, ra, rb)
}

// numbersEqual compares two JSON number literals ra and rb whose float64
// values are fa and fb: integer literals exactly as decimal integers,
// others by float64 value, and then within FloatEpsilon.
func (c *Comparer) numbersEqual(ra string, fa float64, rb string, fb float64) bool {
	if isIntLiteral(ra) && isIntLiteral(rb) {
		if ra == rb || isZeroLiteral(ra) && isZeroLiteral(rb) {
			return true
		}
	} else if fa == fb {
		return true
	}
	eps := c.rules.epsilon
	if eps == 0 {
		return false
	}
	d := math.Abs(fa - fb)
	return d <= eps || d <= eps*math.Max(math.Abs(fa), math.Abs(fb))
}

// isIntLiteral reports whether the number literal s has no fraction and no
// exponent.
func isIntLiteral(s string) bool {
	return !strings.ContainsAny(s, ".eE")
}

func isZeroLiteral(s string) bool { return s == "0" || s == "-0" }

// parseFloat parses a valid JSON number; out of range it is ±Inf.
func parseFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// isJSONNumber reports whether s is exactly a JSON number (RFC 8259:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?).
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}

// stringsEqual compares two unescaped strings, within TimeTolerance when
// both are RFC 3339 times.
func (c *Comparer) stringsEqual(a, b string) bool {
	if a == b {
		return true
	}
	tol := c.rules.timeTolerance
	if tol <= 0 || !looksLikeTime(a) || !looksLikeTime(b) {
		return false
	}
	ta, err := time.Parse(time.RFC3339Nano, a)
	if err != nil {
		return false
	}
	tb, err := time.Parse(time.RFC3339Nano, b)
	if err != nil {
		return false
	}
	d := ta.Sub(tb) // saturates at the Duration bounds
	if d < 0 {
		d = -d // -minDuration stays negative: too far apart
	}
	return d >= 0 && d <= tol
}

// looksLikeTime is a cheap filter before time.Parse, which allocates its
// error: "2006-01-02T15:04:05Z" is the shortest RFC 3339 time.
func looksLikeTime(s string) bool {
	return len(s) >= 20 && s[4] == '-' && s[7] == '-' && s[13] == ':' && s[16] == ':'
}

// child returns the rule node of key under n and whether the key's
// subtree is ignored, by an anchored path or a bare name.
func (c *Comparer) child(n *pathNode, key string) (*pathNode, bool) {
	if c.rules.bare != nil {
		if b := c.rules.bare[key]; b != nil && b.ignore {
			return nil, true
		}
	}
	if n == nil || n.keys == nil {
		return nil, false
	}
	ch := n.keys[key]
	return ch, ch != nil && ch.ignore
}

// object compares two objects, key order aside.
func (c *Comparer) object(a, b gjson.Result, n *pathNode, depth int) bool {
	base := len(c.ents)
	b.ForEach(func(k, v gjson.Result) bool {
		c.ents = append(c.ents, objEntry{key: k.Str, val: v})
		return true
	})
	c.hwEnts = max(c.hwEnts, len(c.ents))
	ents := c.ents[base:len(c.ents):len(c.ents)]
	sorted := len(ents) > sortAbove
	if sorted {
		slices.SortStableFunc(ents, func(x, y objEntry) int { return strings.Compare(x.key, y.key) })
	}
	nullOK := c.rules.nullEqualsMissing
	lo, stop := 0, false
	a.ForEach(func(k, v gjson.Result) bool {
		key := k.Str
		j := findEntry(ents, key, &lo, sorted)
		if j >= 0 {
			ents[j].used = true
			if v.Raw == ents[j].val.Raw {
				return true
			}
		}
		child, ignored := c.child(n, key)
		if ignored {
			return true
		}
		if j < 0 {
			if nullOK && v.Type == gjson.Null {
				return true
			}
			mark := c.pushKey(key)
			stop = c.emitValues(KindMissing, v.Raw, "")
			c.pop(mark)
		} else {
			mark := c.pushKey(key)
			stop = c.value(v, ents[j].val, child, key, depth+1)
			c.pop(mark)
		}
		return !stop
	})
	for i := 0; i < len(ents) && !stop; i++ {
		e := &ents[i]
		if e.used || nullOK && e.val.Type == gjson.Null {
			continue
		}
		if _, ignored := c.child(n, e.key); ignored {
			continue
		}
		mark := c.pushKey(e.key)
		stop = c.emitValues(KindExtra, "", e.val.Raw)
		c.pop(mark)
	}
	c.ents = c.ents[:base]
	return stop
}

// findEntry returns the index of the first unused entry with key, or -1.
// Unsorted, *lo is the first entry that may be unused.
func findEntry(ents []objEntry, key string, lo *int, sorted bool) int {
	if sorted {
		j, _ := slices.BinarySearchFunc(ents, key, func(e objEntry, k string) int { return strings.Compare(e.key, k) })
		for ; j < len(ents) && ents[j].key == key; j++ {
			if !ents[j].used {
				return j
			}
		}
		return -1
	}
	for *lo < len(ents) && ents[*lo].used {
		*lo++
	}
	for j := *lo; j < len(ents); j++ {
		if !ents[j].used && ents[j].key == key {
			return j
		}
	}
	return -1
}

// unorderedFor returns whether the array at the current path is unordered,
// by an anchored path or by the bare name of its key, and its match key.
func (c *Comparer) unorderedFor(n *pathNode, name string) (bool, string) {
	if n != nil && n.unordered {
		return true, n.key
	}
	if name != "" && c.rules.bare != nil {
		if b := c.rules.bare[name]; b != nil && b.unordered {
			return true, b.key
		}
	}
	return false, ""
}

// appendElems appends the elements of the array arr to dst.
func appendElems(dst []gjson.Result, arr gjson.Result) []gjson.Result {
	arr.ForEach(func(_, v gjson.Result) bool {
		dst = append(dst, v)
		return true
	})
	return dst
}

// array compares two arrays under the ordered, unordered or keyed rule.
func (c *Comparer) array(a, b gjson.Result, n *pathNode, name string, depth int) bool {
	unordered, key := c.unorderedFor(n, name)
	var en *pathNode // the rule node of the elements
	if n != nil {
		en = n.elem
	}
	base := len(c.elems)
	c.elems = appendElems(c.elems, a)
	mid := len(c.elems)
	c.elems = appendElems(c.elems, b)
	c.hwElems = max(c.hwElems, len(c.elems))
	olds, news := c.elems[base:mid:mid], c.elems[mid:len(c.elems):len(c.elems)]
	var stop bool
	switch {
	case en != nil && en.ignore: // every element is ignored
		if key == "" && len(olds) != len(news) {
			stop = c.emit(KindLength)
		}
	case !unordered:
		stop = c.ordered(olds, news, en, depth)
	case key == "":
		stop = c.multiset(olds, news, en, depth)
	default:
		stop = c.keyedArray(olds, news, key, en, depth)
	}
	c.elems = c.elems[:base]
	return stop
}

// ordered compares arrays index by index; equal lengths that hold the same
// elements in another order are one order difference.
func (c *Comparer) ordered(olds, news []gjson.Result, en *pathNode, depth int) bool {
	if len(olds) != len(news) {
		if c.emit(KindLength) {
			return true
		}
		m := min(len(olds), len(news))
		return c.pairs(olds[:m], news[:m], en, depth)
	}
	if c.probe > 0 || len(olds) == 1 {
		return c.pairs(olds, news, en, depth)
	}
	// Compare index-wise; when that finds differences but the arrays hold
	// the same elements, take them back and report one order difference.
	emitted, mark := c.emitted, len(c.dst)
	if c.pairs(olds, news, en, depth) {
		return true
	}
	if c.emitted == emitted {
		return false
	}
	base := len(c.used)
	uo, _ := c.match(olds, news, en, depth, true)
	same := !slices.Contains(uo, false)
	c.used = c.used[:base]
	if !same {
		return false
	}
	clear(c.dst[mark:])
	c.dst = c.dst[:mark]
	clear(c.vals[mark:])
	c.vals = c.vals[:mark]
	return c.emit(KindOrder)
}

// pairs compares olds[i] with news[i] at the elements' path.
func (c *Comparer) pairs(olds, news []gjson.Result, en *pathNode, depth int) bool {
	mark := c.pushElem()
	defer c.pop(mark)
	for i := range olds {
		if c.value(olds[i], news[i], en, "", depth+1) {
			return true
		}
	}
	return false
}

// match pairs each old element with the first unused new element, in
// index order, that it does not differ from, and returns the used flags of
// both sides, which live on c.used above its length at the call (the
// caller truncates it back). With stopEarly it gives up at the first old
// element left unmatched. Larger arrays are matched by hash bucket (see
// hash.go) with the same result.
func (c *Comparer) match(olds, news []gjson.Result, en *pathNode, depth int, stopEarly bool) (uo, un []bool) {
	base := len(c.used)
	total := len(olds) + len(news)
	c.used = slices.Grow(c.used, total)[:base+total]
	flags := c.used[base : base+total : base+total]
	clear(flags)
	uo, un = flags[:len(olds)], flags[len(olds):]
	budget := maxMatchProbes
	c.probe++
	defer func() { c.probe-- }()
	if len(olds)*len(news) <= matchHashAbove {
		lo := 0
		for i := range olds {
			for lo < len(news) && un[lo] {
				lo++
			}
			for j := lo; j < len(news) && budget > 0; j++ {
				if un[j] {
					continue
				}
				budget--
				if c.charge(probeCost) {
					return uo, un
				}
				if !c.value(olds[i], news[j], en, "", depth+1) {
					uo[i], un[j] = true, true
					break
				}
			}
			if !uo[i] && stopEarly {
				break
			}
		}
		return uo, un
	}
	hbase := len(c.hashed)
	for j := range news {
		c.hashed = append(c.hashed, hashedElem{h: c.hashValue(news[j], en, "", depth+1), idx: j})
	}
	hn := c.hashed[hbase:len(c.hashed):len(c.hashed)]
	slices.SortFunc(hn, func(x, y hashedElem) int {
		if x.h != y.h {
			if x.h < y.h {
				return -1
			}
			return 1
		}
		return x.idx - y.idx
	})
	for i := range olds {
		h := c.hashValue(olds[i], en, "", depth+1)
		k, _ := slices.BinarySearchFunc(hn, h, func(e hashedElem, h uint64) int {
			switch {
			case e.h < h:
				return -1
			case e.h > h:
				return 1
			}
			return 0
		})
		for ; k < len(hn) && hn[k].h == h && budget > 0; k++ {
			j := hn[k].idx
			if un[j] {
				continue
			}
			budget--
			if c.charge(probeCost) {
				break
			}
			if !c.value(olds[i], news[j], en, "", depth+1) {
				uo[i], un[j] = true, true
				break
			}
		}
		if !uo[i] && stopEarly {
			break
		}
	}
	c.hashed = c.hashed[:hbase]
	return uo, un
}

// multiset compares arrays as multisets: equal elements are matched, the
// rest are paired in order and compared, and a length difference is
// reported.
func (c *Comparer) multiset(olds, news []gjson.Result, en *pathNode, depth int) bool {
	base := len(c.used)
	probing := c.probe > 0
	if probing && len(olds) != len(news) {
		return true
	}
	uo, un := c.match(olds, news, en, depth, probing)
	var stop bool
	switch {
	case probing:
		stop = slices.Contains(uo, false)
	case len(olds) != len(news):
		stop = c.emit(KindLength)
	}
	if !stop && !probing {
		stop = c.leftovers(olds, news, uo, un, en, depth, false)
	}
	c.used = c.used[:base]
	return stop
}

// leftovers pairs the unmatched elements of both sides in order and
// compares them at the elements' path. With excess, an unmatched element
// left without a partner is missing or extra there.
func (c *Comparer) leftovers(olds, news []gjson.Result, uo, un []bool, en *pathNode, depth int, excess bool) bool {
	mark := c.pushElem()
	defer c.pop(mark)
	i, j := 0, 0
	for {
		for i < len(olds) && uo[i] {
			i++
		}
		for j < len(news) && un[j] {
			j++
		}
		if i == len(olds) || j == len(news) {
			break
		}
		if c.value(olds[i], news[j], en, "", depth+1) {
			return true
		}
		i++
		j++
	}
	if !excess {
		return false
	}
	if i < len(olds) && c.emitValues(KindMissing, olds[i].Raw, "") {
		return true
	}
	return j < len(news) && c.emitValues(KindExtra, "", news[j].Raw)
}

// fieldRaw returns the raw JSON of the first member key of obj.
func fieldRaw(obj gjson.Result, key string) (raw string, ok bool) {
	if obj.Type != gjson.JSON || obj.Raw[0] != '{' {
		return "", false
	}
	obj.ForEach(func(k, v gjson.Result) bool {
		if k.Str == key {
			raw, ok = v.Raw, true
			return false
		}
		return true
	})
	return raw, ok
}

// keyedArray compares arrays whose elements are matched on the raw JSON of
// their key field; elements without it are matched as a multiset among
// themselves.
func (c *Comparer) keyedArray(olds, news []gjson.Result, key string, en *pathNode, depth int) bool {
	kbase, ebase := len(c.keyed), len(c.elems)
	for i, e := range olds {
		if raw, ok := fieldRaw(e, key); ok {
			c.keyed = append(c.keyed, keyedElem{key: raw, idx: i})
		} else {
			c.elems = append(c.elems, e)
		}
	}
	kmid, emid := len(c.keyed), len(c.elems)
	for j, e := range news {
		if raw, ok := fieldRaw(e, key); ok {
			c.keyed = append(c.keyed, keyedElem{key: raw, idx: j})
		} else {
			c.elems = append(c.elems, e)
		}
	}
	c.hwKeyed = max(c.hwKeyed, len(c.keyed))
	c.hwElems = max(c.hwElems, len(c.elems))
	ko, kn := c.keyed[kbase:kmid:kmid], c.keyed[kmid:len(c.keyed):len(c.keyed)]
	eo, en2 := c.elems[ebase:emid:emid], c.elems[emid:len(c.elems):len(c.elems)]
	stop := c.keyedPairs(olds, news, ko, kn, en, depth)
	if !stop {
		ubase := len(c.used)
		probing := c.probe > 0
		uo, un := c.match(eo, en2, en, depth, probing)
		if probing {
			stop = len(eo) != len(en2) || slices.Contains(uo, false)
		} else {
			stop = c.leftovers(eo, en2, uo, un, en, depth, true)
		}
		c.used = c.used[:ubase]
	}
	c.keyed, c.elems = c.keyed[:kbase], c.elems[:ebase]
	return stop
}

// keyedPairs matches the keyed elements ko (of olds) and kn (of news) on
// their keys, the k-th old element with a key to the k-th new one, and
// compares the pairs; the unmatched are missing or extra.
func (c *Comparer) keyedPairs(olds, news []gjson.Result, ko, kn []keyedElem, en *pathNode, depth int) bool {
	sorted := len(kn) > sortAbove
	if sorted {
		slices.SortStableFunc(kn, func(x, y keyedElem) int { return strings.Compare(x.key, y.key) })
	}
	mark := c.pushElem()
	defer c.pop(mark)
	lo := 0
	for i := range ko {
		j := findKeyed(kn, ko[i].key, &lo, sorted)
		if j < 0 {
			if c.emitValues(KindMissing, olds[ko[i].idx].Raw, "") {
				return true
			}
			continue
		}
		kn[j].used = true
		if c.value(olds[ko[i].idx], news[kn[j].idx], en, "", depth+1) {
			return true
		}
	}
	for j := range kn {
		if !kn[j].used && c.emitValues(KindExtra, "", news[kn[j].idx].Raw) {
			return true
		}
	}
	return false
}

// findKeyed is findEntry for keyed elements.
func findKeyed(kn []keyedElem, key string, lo *int, sorted bool) int {
	if sorted {
		j, _ := slices.BinarySearchFunc(kn, key, func(e keyedElem, k string) int { return strings.Compare(e.key, k) })
		for ; j < len(kn) && kn[j].key == key; j++ {
			if !kn[j].used {
				return j
			}
		}
		return -1
	}
	for *lo < len(kn) && kn[*lo].used {
		*lo++
	}
	for j := *lo; j < len(kn); j++ {
		if !kn[j].used && kn[j].key == key {
			return j
		}
	}
	return -1
}
