package diff

import (
	"math"
	"math/bits"

	"github.com/cespare/xxhash/v2"
	"github.com/tidwall/gjson"
)

// Matching the elements of an unordered array pairs each old element with
// the first unused new element, in index order, that it does not differ
// from. Done naively that is one deep comparison per pair of elements. For
// larger arrays the new elements are first bucketed by a hash that is
// equal for any two values that do not differ under the rules (it is
// blind to whatever the rules make lenient: every number hashes alike with
// a FloatEpsilon, every RFC 3339-looking string alike with a
// TimeTolerance), so only elements of the same bucket are compared. The
// matching is the same as the naive one, only faster.

// matchHashAbove: arrays whose element-pair count is above this are
// matched by bucket. A variable so that tests can force either way.
var matchHashAbove = 64

// hashedElem is one new element's hash and index.
type hashedElem struct {
	h   uint64
	idx int
}

// Hash seeds of the JSON types and of the lenient classes.
const (
	hNull   uint64 = 0x9e3779b97f4a7c15
	hFalse  uint64 = 0xc2b2ae3d27d4eb4f
	hTrue   uint64 = 0x165667b19e3779f9
	hNumber uint64 = 0xd6e8feb86659fd93
	hString uint64 = 0xa0761d6478bd642f
	hTime   uint64 = 0xe7037ed1a0b428db
	hObject uint64 = 0x8ebc6af09c88c6e3
	hArray  uint64 = 0x589965cc75374cc3
	hSet    uint64 = 0x1d8e4e27c47d124f
	hDeep   uint64 = 0x2d358dccaa6c78a5
)

// mixHash is a 64-bit finalizer (splitmix64's).
func mixHash(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// hashValue hashes v, an element at the path of rule node n (name as in
// value), so that two values that do not differ hash alike.
func (c *Comparer) hashValue(v gjson.Result, n *pathNode, name string, depth int) uint64 {
	switch jsonType(v) {
	case jNull:
		return hNull
	case jBool:
		if v.Type == gjson.True {
			return hTrue
		}
		return hFalse
	case jNumber:
		return c.hashNumber(v.Num)
	case jString:
		s := v.Str
		if c.rules.numericStrings && isJSONNumber(s) {
			return c.hashNumber(parseFloat(s))
		}
		if c.rules.timeTolerance > 0 && looksLikeTime(s) {
			return hTime
		}
		return mixHash(xxhash.Sum64String(s) ^ hString)
	}
	if depth > maxDepth {
		return mixHash(xxhash.Sum64String(v.Raw) ^ hDeep)
	}
	c.work += len(v.Raw)
	if jsonType(v) == jObject {
		h := hObject
		nullOK := c.rules.nullEqualsMissing
		v.ForEach(func(k, e gjson.Result) bool {
			if nullOK && e.Type == gjson.Null {
				return true
			}
			child, ignored := c.child(n, k.Str)
			if ignored {
				return true
			}
			kh := xxhash.Sum64String(k.Str)
			h += mixHash(bits.RotateLeft64(kh, 17) ^ c.hashValue(e, child, k.Str, depth+1))
			return true
		})
		return h
	}
	unordered, key := c.unorderedFor(n, name)
	var en *pathNode
	if n != nil {
		en = n.elem
	}
	count := uint64(0)
	h := hArray
	if unordered {
		h = hSet
	}
	ignored := en != nil && en.ignore
	v.ForEach(func(_, e gjson.Result) bool {
		count++
		switch {
		case ignored:
		case unordered:
			h += mixHash(c.hashValue(e, en, "", depth+1))
		default:
			h = mixHash(h ^ c.hashValue(e, en, "", depth+1))
		}
		return true
	})
	if ignored && key != "" {
		return hSet // a keyed array of ignored elements never differs
	}
	return mixHash(h ^ count)
}

// hashNumber hashes a number by its float64 value, the coarsest equality
// numbers have (two integer literals equal as integers are equal as
// floats); with a FloatEpsilon all numbers hash alike.
func (c *Comparer) hashNumber(f float64) uint64 {
	if c.rules.epsilon > 0 {
		return hNumber
	}
	if f == 0 {
		f = 0 // -0
	}
	return mixHash(math.Float64bits(f) ^ hNumber)
}
