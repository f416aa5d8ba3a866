package diff

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Counts is an aggregate in additive form: named integer counts, so that
// the counts of several aggregators — gateway replicas that each compare a
// share of the traffic — merge by adding them name by name (a Redis hash
// and HINCRBY), and NewAggregatorFrom builds one report from the sums.
// Take hands out what an aggregator counted since the previous Take: the
// since-start part and one Counts per window bucket.
//
// A name is a binary string: one tag byte, then the tag's operand. F stands
// for a field's name (FieldName): the kind's letter (v t m e o l s h b for
// value … body) followed by the raw path bytes; the OtherPath field of a
// kind is the kind's upper-case letter alone ("V"), so it stays apart from
// a real path "(other)" ("v(other)"); a kind outside Kinds is 'k' (or 'K'
// for its OtherPath field) followed by the kind's byte. The names:
//
//	c  o  n  N          compared pairs; differing pairs whose signature overflowed MaxSignatures;
//	                    noise (old/secondary) pairs; noise pairs with any difference
//	f<F>  F<F>          pairs differing at field F; noise pairs differing at F
//	g<c><F>             pairs differing at F whose values both looked generated, of class c
//	                    (r RFC 3339 time, u Unix time, i UUID, x hex, b base64; see likely.go)
//	s<len>:<F>…         pairs whose signature is exactly the listed fields, each F preceded by its
//	                    decimal length and ':', in increasing byte order of F ("s1:s8:vmeta.ts")
//	p<old>:<new>        pairs answered with those differing statuses (decimal; -1:-1 for the rest)
//	l<i>  L<i>          old and new latencies in histogram bucket i (decimal; layout in histogram.go)
//	t<tenant>           compared pairs of tenant (raw bytes)
//	d<len>:<tenant><S>  differing pairs of tenant whose signature is S, the operand of an s name
//	                    ("d4:acme1:s8:vmeta.ts"); the tenant is length-prefixed
//	T<tenant>           differing pairs of tenant that no d name counts (its table was full):
//	                    differing whatever the noise
//
// A path or tenant is always the whole rest of its name or length-prefixed,
// and a field inside a signature is length-prefixed, so arbitrary bytes never make two
// meanings share a name; numbers are written canonically (no sign, no
// leading zero) and NewAggregatorFrom reads no other spelling. Absent names
// count zero; Take writes no zero count.
//
// Within one Counts the counts are consistent — a field, a signature's
// pairs or the status pairs never count more pairs than compared, every
// field in a signature counts at least the pairs of its signatures, a
// field's generated-looking pairs are at most its pairs, the tenants of a
// signature count at most its pairs, a tenant's differing pairs are at
// most its compared, each latency histogram counts exactly the compared
// pairs — and sums of such
// Counts are too, as long as each Take is added whole: write a Delta in
// one transaction (MULTI/EXEC or a script), or NewAggregatorFrom may find
// the sums inconsistent and reject them.
type Counts map[string]int64

// Add adds o's counts to c, name by name. c must not be nil unless o is
// empty.
func (c Counts) Add(o Counts) {
	for k, n := range o {
		c[k] += n
	}
}

// SampleRef is a stored sample of a field: the Pair.SampleID under which
// the caller stored it, and the pair's time.
type SampleRef struct {
	ID   string
	Time time.Time
}

// String returns r's text form, "<Unix nanoseconds> <ID>", an item of a
// store's recent list (see Delta.RecentLists).
func (r SampleRef) String() string {
	return strconv.FormatInt(r.Time.UnixNano(), 10) + " " + r.ID
}

// ParseSampleRef reads the text form of a SampleRef.
func ParseSampleRef(s string) (SampleRef, bool) {
	ns, id, ok := strings.Cut(s, " ")
	if !ok || id == "" {
		return SampleRef{}, false
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return SampleRef{}, false
	}
	return SampleRef{ID: id, Time: time.Unix(0, n)}, true
}

// RecentLists returns d's sample refs in text form, by field name (and the
// fields' examples, by 'x' and the field's name; see Example), oldest
// first: the items to add to a store's recent lists, whose newest
// AggregatorOptions.Samples NewAggregatorFrom takes back (SampleRefs).
// Nil when d has none.
func (d *Delta) RecentLists() map[string][]string {
	if len(d.Samples) == 0 {
		return nil
	}
	out := make(map[string][]string, len(d.Samples))
	for field, refs := range d.Samples {
		items := make([]string, len(refs))
		for i, r := range refs {
			items[i] = r.String()
		}
		out[field] = items
	}
	return out
}

// SampleRefs reads recent lists, newest first as a store returns them, by
// field name; items that are not a SampleRef's text form are skipped.
func SampleRefs(lists map[string][]string) map[string][]SampleRef {
	out := make(map[string][]SampleRef, len(lists))
	for field, items := range lists {
		refs := make([]SampleRef, 0, len(items))
		for _, it := range items {
			if r, ok := ParseSampleRef(it); ok {
				refs = append(refs, r)
			}
		}
		out[field] = refs
	}
	return out
}

// WindowStarts returns the starts, in Unix seconds, of the window buckets
// (the keys of Delta.Windows) that a report of the last since before now
// reads, oldest first.
func WindowStarts(now time.Time, since time.Duration) []int64 {
	hi := now.Unix() / bucketSeconds * bucketSeconds
	lo := (now.Add(-since).Unix() + bucketSeconds - 1) / bucketSeconds * bucketSeconds
	out := make([]int64, 0, max(0, (hi-lo)/bucketSeconds+1))
	for s := lo; s <= hi; s += bucketSeconds {
		out = append(out, s)
	}
	return out
}

// Delta is what an aggregator counted between two Takes. Its maps may be
// nil when empty.
type Delta struct {
	Total Counts // since-start totals part
	// Windows maps a window bucket's start in Unix seconds (a multiple of
	// 10) to its counts.
	Windows map[int64]Counts
	// Samples maps a field name (FieldName, as inside Counts names) to the
	// refs the aggregator kept for that field since the last Take, oldest
	// first; and 'x' followed by a field name to the field's examples,
	// encoded as refs, which merge and travel the same way.
	Samples map[string][]SampleRef
}

// bucketSeconds is WindowBucket in seconds, the unit of Delta.Windows keys.
const bucketSeconds = int64(WindowBucket / time.Second)

// Add merges o into d, to retry a failed write together with the next one;
// d is the older of the two. Windows that start MaxWindow or more before
// the newest window of the result are dropped, as an aggregator's ring
// could not hold them. Each field keeps as many sample refs as the longer
// of its two lists, the newest, oldest first. Add copies what it keeps of
// o.
func (d *Delta) Add(o Delta) {
	if len(o.Total) > 0 {
		if d.Total == nil {
			d.Total = make(Counts, len(o.Total))
		}
		d.Total.Add(o.Total)
	}
	for k, oc := range o.Windows {
		if d.Windows == nil {
			d.Windows = make(map[int64]Counts, len(o.Windows))
		}
		dc := d.Windows[k]
		if dc == nil {
			dc = make(Counts, len(oc))
			d.Windows[k] = dc
		}
		dc.Add(oc)
	}
	pruneWindows(d.Windows)
	for name, refs := range o.Samples {
		if len(refs) == 0 {
			continue
		}
		if d.Samples == nil {
			d.Samples = make(map[string][]SampleRef, len(o.Samples))
		}
		old := d.Samples[name]
		all := make([]SampleRef, 0, len(old)+len(refs))
		all = append(append(all, old...), refs...)
		slices.SortStableFunc(all, func(x, y SampleRef) int { return x.Time.Compare(y.Time) })
		d.Samples[name] = all[len(all)-max(len(old), len(refs)):]
	}
}

// Empty reports whether d holds no non-zero count and no sample ref.
func (d *Delta) Empty() bool {
	for _, refs := range d.Samples {
		if len(refs) > 0 {
			return false
		}
	}
	for _, c := range d.Windows {
		if !zeroCounts(c) {
			return false
		}
	}
	return zeroCounts(d.Total)
}

func zeroCounts(c Counts) bool {
	for _, n := range c {
		if n != 0 {
			return false
		}
	}
	return true
}

// pruneWindows drops the windows that start MaxWindow or more before the
// newest.
func pruneWindows(w map[int64]Counts) {
	if len(w) > 0 {
		newest := slices.Max(slices.Collect(maps.Keys(w)))
		maps.DeleteFunc(w, func(k int64, _ Counts) bool { return !windowKept(k, newest) })
	}
}

// windowKept reports whether a window starting at k seconds fits in a ring
// whose newest window starts at newest.
func windowKept(k, newest int64) bool {
	return newest-k < int64(ringSize)*bucketSeconds
}

// kindLetters names the kinds in field names; letterKinds is its inverse.
var (
	kindLetters = [...]byte{
		KindValue: 'v', KindType: 't', KindMissing: 'm', KindExtra: 'e', KindOrder: 'o',
		KindLength: 'l', KindStatus: 's', KindHeader: 'h', KindBody: 'b',
	}
	letterKinds = func() (t [256]Kind) {
		for k, l := range kindLetters {
			if l != 0 {
				t[l] = Kind(k)
			}
		}
		return t
	}()
)

func kindLetter(k Kind) byte {
	if int(k) < len(kindLetters) {
		return kindLetters[k]
	}
	return 0
}

// FieldName returns the name under which field (path, kind) is counted,
// the key of Delta.Samples: the kind's letter followed by path (see
// Counts). The OtherPath field of a kind is named apart from path
// OtherPath; FieldName(OtherPath, kind) names the real path "(other)".
func FieldName(path string, kind Kind) string {
	if l := kindLetter(kind); l != 0 {
		return string(l) + path
	}
	return "k" + string([]byte{byte(kind)}) + path
}

// otherFieldName returns the name of the OtherPath field of kind.
func otherFieldName(kind Kind) string {
	if l := kindLetter(kind); l != 0 {
		return string(l - 'a' + 'A')
	}
	return "K" + string([]byte{byte(kind)})
}

// parseField returns the field that a field name stands for; path is
// OtherPath for an OtherPath field.
func parseField(name string) (path string, kind Kind, other, ok bool) {
	if name == "" {
		return "", 0, false, false
	}
	switch b := name[0]; {
	case b == 'k' || b == 'K':
		if len(name) < 2 || kindLetter(Kind(name[1])) != 0 || (b == 'K' && len(name) != 2) {
			return "", 0, false, false
		}
		if b == 'K' {
			return OtherPath, Kind(name[1]), true, true
		}
		return name[2:], Kind(name[1]), false, true
	case letterKinds[b] != 0:
		return name[1:], letterKinds[b], false, true
	case b >= 'A' && b <= 'Z' && letterKinds[b-'A'+'a'] != 0 && len(name) == 1:
		return OtherPath, letterKinds[b-'A'+'a'], true, true
	}
	return "", 0, false, false
}
