package diff

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// Examples. Each (path, kind) keeps its DefaultExamples most recent
// distinct value pairs, taken from pairs whose sample it keeps, so that a
// report says "tier: gold → enterprise" without opening a sample. Values
// are cut to MaxExampleBytes; an example is at most about 3 ×
// MaxExampleBytes bytes with its sample ID.
const (
	DefaultExamples = 3
	MaxExampleBytes = 64
)

// Example is one value pair of a field, with the sample it came from. A
// string value is shown without its quotes when the other side is a
// string too or absent; any other value as its JSON (so "1" against 1
// shows the quotes). Old is empty for an extra value, New for a
// missing one; a value cut short ends in "…".
type Example struct {
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
	Sample string `json:"sample"`
	time   time.Time
}

// hasExamples reports whether kind's differences carry values.
func hasExamples(k Kind) bool {
	switch k {
	case KindValue, KindType, KindMissing, KindExtra:
		return true
	}
	return false
}

// newExample renders v, found in the pair sample at t.
func newExample(v Values, sample string, t time.Time) Example {
	old, new := v.Old, v.New
	isString := func(raw string) bool { return len(raw) > 1 && raw[0] == '"' }
	if (isString(old) || old == "") && (isString(new) || new == "") {
		old, new = unquote(old), unquote(new)
	}
	return Example{Old: clip(old), New: clip(new), Sample: sample, time: t}
}

func unquote(raw string) string {
	if raw == "" {
		return ""
	}
	if s := gjson.Parse(raw).Str; s != "" {
		return s
	}
	return raw // keep `""` visible
}

// clip cuts s to MaxExampleBytes at a character boundary, marking the cut,
// and replaces control characters (a multi-line JSON value included) by
// spaces. It always returns a fresh string.
func clip(s string) string {
	var b strings.Builder
	b.Grow(min(len(s), MaxExampleBytes+3))
	for i, r := range s {
		n := utf8.RuneLen(r)
		if n < 0 {
			n = 1
		}
		if i+n > MaxExampleBytes {
			b.WriteString("…")
			break
		}
		if r < ' ' || r == 0x7f {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

// record adds e to the field's recent examples unless it holds the same
// values already, dropping the oldest beyond DefaultExamples.
func (f *fieldInfo) record(e Example) {
	for i := range f.ex {
		if f.ex[i].Old == e.Old && f.ex[i].New == e.New {
			f.ex[i].Sample, f.ex[i].time = e.Sample, e.time
			return
		}
	}
	if len(f.ex) == DefaultExamples {
		copy(f.ex, f.ex[1:])
		f.ex = f.ex[:len(f.ex)-1]
	}
	f.ex = append(f.ex, e)
}

// Examples travel with the sample refs (Delta.Samples, a store's recent
// lists) under the name exampleTag + the field's name, each as a SampleRef
// whose ID is "<sample>\x1f<old>\x1f<new>": clip leaves no control
// character in the values, and sample IDs have none.
const (
	exampleTag = 'x'
	exampleSep = "\x1f"
)

func (e Example) ref() SampleRef {
	return SampleRef{ID: e.Sample + exampleSep + e.Old + exampleSep + e.New, Time: e.time}
}

func exampleFromRef(r SampleRef) (Example, bool) {
	sample, rest, ok1 := strings.Cut(r.ID, exampleSep)
	old, new, ok2 := strings.Cut(rest, exampleSep)
	if !ok1 || !ok2 || sample == "" {
		return Example{}, false
	}
	return Example{Old: old, New: new, Sample: sample, time: r.Time}, true
}
