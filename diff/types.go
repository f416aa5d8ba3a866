package diff

import (
	"fmt"
	"time"
)

// Kind classifies one difference between an old and a new response.
type Kind uint8

// The kinds of difference, as SPEC.md names them.
const (
	KindValue   Kind = iota + 1 // same JSON type, different value
	KindType                    // different JSON types (string vs number, object vs array, null vs anything)
	KindMissing                 // present in old, missing in new
	KindExtra                   // absent in old, present in new
	KindOrder                   // the same array elements in another order
	KindLength                  // arrays of different lengths
	KindStatus                  // different status codes
	KindHeader                  // a header listed in diff.headers differs
	KindBody                    // non-JSON bodies differ, or only one side is JSON
)

var kindNames = [...]string{
	KindValue: "value", KindType: "type", KindMissing: "missing", KindExtra: "extra",
	KindOrder: "order", KindLength: "length", KindStatus: "status", KindHeader: "header", KindBody: "body",
}

// Kinds lists every kind in a stable order.
var Kinds = []Kind{KindValue, KindType, KindMissing, KindExtra, KindOrder, KindLength, KindStatus, KindHeader, KindBody}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("diff: unknown kind %q (want one of value, type, missing, extra, order, length, status, header, body)", s)
}

// MarshalText writes the kind's name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	*k = v
	return err
}

// Difference is one difference between old and new. Path is a dotted JSON
// path with every array index written "#" ("items.#.price"); it is "" for
// the root value and for a non-JSON body, the header's canonical name for a
// header difference, and the two statuses for a status difference
// ("200→503", see StatusPath).
type Difference struct {
	Path string `json:"path"`
	Kind Kind   `json:"kind"`
}

// Values holds the raw JSON values that one Difference found, as Comparer.Values
// returns them: Old is "" when the value is only in new (extra), New ""
// when it is only in old (missing); both are "" for kinds that carry no
// single value (order, length, status, header, body).
type Values struct {
	Old, New string
}

// Response is one side's answer as the comparer needs it. The comparer
// never modifies or keeps it.
type Response struct {
	Status int
	// Headers is the raw header block without the status line:
	// "Name: value\r\n" lines, as fasthttp's ResponseHeader.Header() writes
	// them after its first line.
	Headers []byte
	// Body is the body as it came over the wire; a gzip or deflate
	// Content-Encoding is decoded before comparing.
	Body []byte
}

// Rules say what counts as a difference on one route. The zero value
// compares everything strictly.
type Rules struct {
	// Ignore lists paths whose differences are dropped, with their
	// subtrees: "meta.requestId", "items.#.updatedAt", or a bare name
	// ("updatedAt") that matches a key of that name at any depth.
	Ignore []string
	// Unordered lists arrays compared without regard to order.
	Unordered []Unordered
	// FloatEpsilon: two numbers are equal when they differ by at most this
	// much, absolutely or relative to the larger magnitude.
	FloatEpsilon float64
	// Headers lists response headers compared by value (case-insensitive
	// names, exact values; repeated lines joined with ", ").
	Headers []string
	// NullEqualsMissing: a key that is null on one side and absent on the
	// other is no difference.
	NullEqualsMissing bool
	// NumericStrings: a string that holds a JSON number equals that number
	// ("1" equals 1, "1.50" equals 1.5).
	NumericStrings bool
	// TimeTolerance: two strings that both parse as RFC 3339 times are
	// equal when they are at most this far apart. Zero compares them as
	// strings.
	TimeTolerance time.Duration
}

// Unordered names one array compared as a multiset, or, with Key, by
// matching elements on the value of their Key field. Path follows the
// Ignore syntax, a bare name matching at any depth.
type Unordered struct {
	Path string
	Key  string
}

// MaxDifferences bounds the differences one comparison reports; a pair
// that differs in more places reports the first ones found.
const MaxDifferences = 256
