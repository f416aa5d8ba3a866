package diff

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
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
//	s<len>:<F>…         pairs whose signature is exactly the listed fields, each F preceded by its
//	                    decimal length and ':', in increasing byte order of F ("s1:s8:vmeta.ts")
//	p<old>:<new>        pairs answered with those differing statuses (decimal; -1:-1 for the rest)
//	l<i>  L<i>          old and new latencies in histogram bucket i (decimal; layout in histogram.go)
//	t<tenant>  T<tenant>  compared and differing pairs of tenant (raw bytes)
//
// A path or tenant is always the whole rest of its name, and a field inside
// a signature is length-prefixed, so arbitrary bytes never make two
// meanings share a name; numbers are written canonically (no sign, no
// leading zero) and NewAggregatorFrom reads no other spelling. Absent names
// count zero; Take writes no zero count.
//
// Within one Counts the counts are consistent — a field, a signature's
// pairs or the status pairs never count more pairs than compared, every
// field in a signature counts at least the pairs of its signatures, each
// latency histogram counts exactly the compared pairs — and sums of such
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

// Delta is what an aggregator counted between two Takes. Its maps may be
// nil when empty.
type Delta struct {
	Total Counts // since-start totals part
	// Windows maps a window bucket's start in Unix seconds (a multiple of
	// 10) to its counts.
	Windows map[int64]Counts
	// Samples maps a field name (FieldName, as inside Counts names) to the
	// refs the aggregator kept for that field since the last Take, oldest
	// first.
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

// countNames caches the Counts names of a core's fields and signatures,
// which never change once interned; Take extends it as the core grows.
type countNames struct {
	fields []string // field ID → field name
	count  []string // field ID → "f" + field name
	noise  []string // field ID → "F" + field name
	sigs   []string // signature ID → "s…"
}

// histNames holds the names of the latency histogram buckets, old and new.
var histNames = sync.OnceValue(func() *[2][histBuckets]string {
	var n [2][histBuckets]string
	for i := range histBuckets {
		s := strconv.Itoa(i)
		n[0][i], n[1][i] = "l"+s, "L"+s
	}
	return &n
})

// countNames returns c's name cache, extended to its current tables.
func (c *core) countNames() *countNames {
	n := &c.names
	for id := len(n.fields); id < len(c.fields); id++ {
		f := &c.fields[id]
		name := FieldName(f.path, f.kind)
		if f.other {
			name = otherFieldName(f.kind)
		}
		n.fields = append(n.fields, name)
		n.count = append(n.count, "f"+name)
		n.noise = append(n.noise, "F"+name)
	}
	for id := len(n.sigs); id < len(c.sigs); id++ {
		n.sigs = append(n.sigs, signatureName(n.fields, c.sigs[id].fields))
	}
	return n
}

// signatureName returns the name of the signature of field IDs ids.
func signatureName(fieldNames []string, ids []uint32) string {
	ms := make([]string, len(ids))
	size := 1
	for i, id := range ids {
		ms[i] = fieldNames[id]
		size += len(ms[i]) + 4
	}
	slices.Sort(ms)
	b := make([]byte, 1, size)
	b[0] = 's'
	for _, m := range ms {
		b = strconv.AppendInt(b, int64(len(m)), 10)
		b = append(b, ':')
		b = append(b, m...)
	}
	return string(b)
}

// counts returns s in additive form.
func (n *countNames) counts(s *stats) Counts {
	cs := make(Counts, 4+len(s.fields.ent)+len(s.noise.ent)+len(s.sigs.ent)+len(s.status)+2*len(s.tenants.heap)+32)
	put := func(name string, v uint64) {
		if v != 0 {
			cs[name] = int64(v)
		}
	}
	put("c", s.compared)
	put("o", s.overflow)
	put("n", s.noisePairs)
	put("N", s.noiseDiffering)
	for _, e := range s.fields.ent {
		put(n.count[e.id], e.n)
	}
	for _, e := range s.noise.ent {
		put(n.noise[e.id], e.n)
	}
	for _, e := range s.sigs.ent {
		put(n.sigs[e.id], e.n)
	}
	for k, v := range s.status {
		put(statusName(k), v)
	}
	hn := histNames()
	s.oldLat.each(func(i int, v uint64) { put(hn[0][i], v) })
	s.newLat.each(func(i int, v uint64) { put(hn[1][i], v) })
	for _, e := range s.tenants.heap {
		var b strings.Builder // one allocation for both names
		b.Grow(2 + 2*len(e.name))
		b.WriteByte('t')
		b.WriteString(e.name)
		b.WriteByte('T')
		b.WriteString(e.name)
		tT := b.String()
		put(tT[:len(tT)/2], e.compared)
		put(tT[len(tT)/2:], e.differing)
	}
	return cs
}

func statusName(k statusKey) string {
	return "p" + strconv.Itoa(int(k.old)) + ":" + strconv.Itoa(int(k.new))
}

// Take returns everything added (Add and AddNoise) since the aggregator
// was made or since the last Take, and starts counting afresh: the
// since-start totals, the window buckets' counts and the reservoirs are
// emptied, so that from then on Report, Compared, Baseline, NewSlowerThan
// and MarshalState answer for the pairs added after the Take. All of it
// happens under the aggregator's mutex, so no pair is lost or counted
// twice between two Takes, whatever Adds run concurrently. The field and
// signature tables are kept, so Add still does not allocate for what it
// has met before.
//
// A pair's tenant counts it as differing when, at the time it is added, a
// (path, kind) it differs in is not noise under the aggregator's
// since-start rates (see Aggregator). After a Take the aggregator has no
// noise pairs yet, so until AddNoise is called again every differing pair
// counts as differing for its tenant.
//
// Delta.Samples holds, per field, the refs of the field's reservoir:
// sample IDs for which Add returned true since the last Take and that no
// later pair replaced. Windows that start MaxWindow or more before the
// newest are left out, as Delta.Add would drop them.
func (a *Aggregator) Take() Delta {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.c
	n := c.countNames()
	d := Delta{Total: n.counts(&c.total)}
	for _, b := range c.ring {
		if b == nil || !b.used || b.empty() {
			continue
		}
		if d.Windows == nil {
			d.Windows = make(map[int64]Counts)
		}
		d.Windows[b.epoch*bucketSeconds] = n.counts(&b.stats)
		b.stats.reset() // keeps used and epoch: a pair too old for the slot still counts in the totals only
	}
	pruneWindows(d.Windows)

	for id := range c.fields {
		f := &c.fields[id]
		if len(f.res) == 0 {
			continue
		}
		refs := make([]SampleRef, len(f.res))
		for i, r := range f.res {
			refs[i] = SampleRef{ID: r.id, Time: r.t}
		}
		slices.SortFunc(refs, func(x, y SampleRef) int {
			return cmp.Or(x.Time.Compare(y.Time), strings.Compare(x.ID, y.ID))
		})
		if d.Samples == nil {
			d.Samples = make(map[string][]SampleRef)
		}
		d.Samples[n.fields[id]] = refs
		clear(f.res)
		f.res = f.res[:0]
	}
	c.total.reset()
	return d
}

// empty reports whether b counted nothing since it was last reset.
func (b *bucket) empty() bool { return b.compared == 0 && b.noisePairs == 0 }

// NewAggregatorFrom returns an aggregator whose since-start totals are
// total and whose window ring holds windows (keyed as Delta.Windows;
// windows starting MaxWindow or more before the newest key are ignored),
// with up to opt.Samples sample refs per field taken from samples (keyed
// by field name, newest first as given; lists of fields that count nothing
// are ignored). Report, ReportAgainst, Baseline, NewSlowerThan and
// Compared answer on it as on one aggregator that had added all those
// pairs itself, except that the samples are the refs given and that the
// tenant table keeps the opt.TenantCapacity tenants with the most compared
// pairs (each window bucket the 100 with the most). When the counts name
// more than opt.MaxFields fields, the most counted ones (pairs plus noise
// pairs since start) keep their path and the others are folded into
// OtherPath by kind; signatures beyond MaxSignatures, the least counted
// first, count as overflow; either way the route's differing count stays
// exact.
//
// It rejects counts it cannot interpret — an unknown or non-canonical
// name, a negative count, inconsistent counts such as more differing than
// compared (see Counts) — and window keys that are not multiples of 10,
// with an error naming the offending name. The aggregator can go on
// adding pairs.
func NewAggregatorFrom(route string, opt AggregatorOptions, total Counts, windows map[int64]Counts, samples map[string][]SampleRef) (*Aggregator, error) {
	a := NewAggregator(route, opt)
	c := a.c

	keys := slices.Sorted(maps.Keys(windows))
	for _, k := range keys {
		if k%bucketSeconds != 0 {
			return nil, fmt.Errorf("diff: window key %d is not a multiple of %d seconds", k, bucketSeconds)
		}
	}
	for len(keys) > 0 && !windowKept(keys[0], keys[len(keys)-1]) {
		keys = keys[1:]
	}

	pt, err := parseCounts(total)
	if err != nil {
		return nil, fmt.Errorf("diff: bad counts: %w", err)
	}
	pw := make([]*parsedCounts, len(keys))
	for i, k := range keys {
		if pw[i], err = parseCounts(windows[k]); err != nil {
			return nil, fmt.Errorf("diff: bad counts of window %d: %w", k, err)
		}
	}

	l := loader{c: c, ids: map[string]uint32{}, sigs: map[string]int32{}}
	l.internFields(pt, pw)
	l.apply(&c.total, pt, a.opt.TenantCapacity)
	for i, k := range keys {
		if pw[i].compared == 0 && pw[i].noisePairs == 0 {
			continue // empty: consistent counts then hold nothing else
		}
		b := &bucket{used: true, epoch: k / bucketSeconds}
		l.apply(&b.stats, pw[i], bucketTenantCapacity)
		c.ring[ringIndex(b.epoch)] = b
	}

	for _, name := range slices.Sorted(maps.Keys(samples)) {
		if _, _, _, ok := parseField(name); !ok {
			return nil, fmt.Errorf("diff: sample list %q does not name a field", name)
		}
		id, ok := l.ids[name]
		if !ok {
			continue
		}
		f := &c.fields[id]
		for i, r := range samples[name] {
			if i == a.opt.Samples {
				break
			}
			if r.ID == "" {
				return nil, fmt.Errorf("diff: sample list %q holds an empty ID", name)
			}
			f.res = append(f.res, sampleRef{r.ID, r.Time})
		}
	}
	for id := range c.fields { // OtherPath fields may have gathered several lists
		if f := &c.fields[id]; len(f.res) > a.opt.Samples {
			slices.SortStableFunc(f.res, func(x, y sampleRef) int { return y.t.Compare(x.t) })
			f.res = f.res[:a.opt.Samples]
		}
	}
	return a, nil
}

// parsedCounts is one Counts, interpreted and checked, its zero counts
// dropped.
type parsedCounts struct {
	compared, overflow, noisePairs, noiseDiffering uint64
	fields, noise                                  map[string]uint64 // field name → pairs
	sigs                                           []nameCount       // by count desc, then name
	status                                         []StatusPair      // by count desc, then statuses
	lat                                            [2][]idCount      // histogram buckets, old and new
	tenants                                        []TenantCount     // by compared desc, differing desc, name
}

type nameCount struct {
	name string
	n    uint64
}

func unknownName(name string) error { return fmt.Errorf("unknown name %q", name) }

// parseCounts interprets cs and checks that its counts are consistent.
func parseCounts(cs Counts) (*parsedCounts, error) {
	p := &parsedCounts{fields: map[string]uint64{}, noise: map[string]uint64{}}
	tenants := map[string]*TenantCount{}
	var members []string
	for name, v := range cs {
		if v < 0 {
			return nil, fmt.Errorf("%q counts %d, less than zero", name, v)
		}
		if name == "" {
			return nil, unknownName(name)
		}
		n, body := uint64(v), name[1:]
		switch name[0] {
		case 'c', 'o', 'n', 'N':
			if body != "" {
				return nil, unknownName(name)
			}
			switch name[0] {
			case 'c':
				p.compared = n
			case 'o':
				p.overflow = n
			case 'n':
				p.noisePairs = n
			default:
				p.noiseDiffering = n
			}
		case 'f', 'F':
			if _, _, _, ok := parseField(body); !ok {
				return nil, unknownName(name)
			}
			if n > 0 && name[0] == 'f' {
				p.fields[body] = n
			} else if n > 0 {
				p.noise[body] = n
			}
		case 's':
			var ok bool
			if members, ok = splitSignature(body, members); !ok {
				return nil, unknownName(name)
			}
			if n > 0 {
				p.sigs = append(p.sigs, nameCount{name, n})
			}
		case 'p':
			old, new, ok := parseStatus(body)
			if !ok {
				return nil, unknownName(name)
			}
			if n > 0 {
				p.status = append(p.status, StatusPair{Old: old, New: new, Count: n})
			}
		case 'l', 'L':
			b, ok := atoiCanonical(body)
			if !ok || b >= histBuckets {
				return nil, unknownName(name)
			}
			if i := strings.IndexByte("lL", name[0]); n > 0 {
				p.lat[i] = append(p.lat[i], idCount{uint32(b), n})
			}
		case 't', 'T':
			if body == "" {
				return nil, unknownName(name)
			}
			if n == 0 {
				continue
			}
			t := tenants[body]
			if t == nil {
				t = &TenantCount{Tenant: body}
				tenants[body] = t
			}
			if name[0] == 't' {
				t.Compared = n
			} else {
				t.Differing = n
			}
		default:
			return nil, unknownName(name)
		}
	}
	for _, t := range tenants {
		p.tenants = append(p.tenants, *t)
	}
	slices.SortFunc(p.sigs, func(x, y nameCount) int {
		return cmp.Or(cmp.Compare(y.n, x.n), strings.Compare(x.name, y.name))
	})
	slices.SortFunc(p.status, func(x, y StatusPair) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Old, y.Old), cmp.Compare(x.New, y.New))
	})
	slices.SortFunc(p.tenants, func(x, y TenantCount) int {
		return cmp.Or(cmp.Compare(y.Compared, x.Compared), cmp.Compare(y.Differing, x.Differing), strings.Compare(x.Tenant, y.Tenant))
	})
	return p, p.check(members)
}

// check verifies the invariants that every Counts of one aggregator holds
// and sums of them keep. members is scratch space.
func (p *parsedCounts) check(members []string) error {
	if p.noiseDiffering > p.noisePairs {
		return fmt.Errorf(`"N" counts %d differing noise pairs, more than the %d noise pairs of "n"`, p.noiseDiffering, p.noisePairs)
	}
	for f, n := range p.fields {
		if n > p.compared {
			return fmt.Errorf(`%q counts %d pairs, more than the %d compared of "c"`, "f"+f, n, p.compared)
		}
	}
	for f, n := range p.noise {
		if n > p.noiseDiffering {
			return fmt.Errorf(`%q counts %d noise pairs, more than the %d differing of "N"`, "F"+f, n, p.noiseDiffering)
		}
	}
	if p.overflow > p.compared {
		return fmt.Errorf(`"o" counts %d pairs, more than the %d compared of "c"`, p.overflow, p.compared)
	}
	bySig := map[string]uint64{} // field name → pairs of the signatures holding it
	differing := p.overflow
	for _, s := range p.sigs {
		if differing += s.n; differing > p.compared {
			return fmt.Errorf(`%q and the other signatures count %d differing pairs, more than the %d compared of "c"`, s.name, differing, p.compared)
		}
		members, _ = splitSignature(s.name[1:], members)
		for _, m := range members {
			if bySig[m] += s.n; bySig[m] > p.fields[m] {
				return fmt.Errorf(`%q counts %d pairs, fewer than the %d of its signatures such as %q`, "f"+m, p.fields[m], bySig[m], s.name)
			}
		}
	}
	var status uint64
	for _, s := range p.status {
		if status += s.Count; status > p.compared {
			return fmt.Errorf(`%q and the other status pairs count %d pairs, more than the %d compared of "c"`,
				statusName(statusKey{int32(s.Old), int32(s.New)}), status, p.compared)
		}
	}
	for i, tag := range [2]string{"l", "L"} {
		var sum uint64
		for _, b := range p.lat[i] {
			if sum += b.n; sum > p.compared {
				return fmt.Errorf(`%q and the other latency buckets count %d pairs, more than the %d compared of "c"`, tag+strconv.Itoa(int(b.id)), sum, p.compared)
			}
		}
		if sum != p.compared {
			return fmt.Errorf(`the latency buckets "%s…" count %d pairs, not the %d compared of "c"`, tag, sum, p.compared)
		}
	}
	var tenants uint64
	for _, t := range p.tenants {
		if t.Differing > t.Compared {
			return fmt.Errorf("%q counts %d differing pairs, more than the %d compared of %q", "T"+t.Tenant, t.Differing, t.Compared, "t"+t.Tenant)
		}
		if tenants += t.Compared; tenants > p.compared {
			return fmt.Errorf(`%q and the other tenants count %d pairs, more than the %d compared of "c"`, "t"+t.Tenant, tenants, p.compared)
		}
	}
	return nil
}

// splitSignature appends the field names of a signature name's operand to
// dst[:0]; ok is false unless they are canonical: at least one,
// length-prefixed, valid and in strictly increasing byte order.
func splitSignature(s string, dst []string) (fields []string, ok bool) {
	dst = dst[:0]
	for s != "" {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return dst, false
		}
		n, ok := atoiCanonical(s[:i])
		if !ok || n == 0 || n > len(s)-i-1 {
			return dst, false
		}
		f := s[i+1 : i+1+n]
		if _, _, _, ok := parseField(f); !ok || (len(dst) > 0 && f <= dst[len(dst)-1]) {
			return dst, false
		}
		dst = append(dst, f)
		s = s[i+1+n:]
	}
	return dst, len(dst) > 0
}

// parseStatus reads "<old>:<new>": statuses from -1 to 999 that differ, or
// -1:-1.
func parseStatus(s string) (old, new int, ok bool) {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return 0, 0, false
	}
	old, ok1 := parseStatusCode(s[:i])
	new, ok2 := parseStatusCode(s[i+1:])
	return old, new, ok1 && ok2 && (old != new || old == -1)
}

func parseStatusCode(s string) (int, bool) {
	if s == "-1" {
		return -1, true
	}
	n, ok := atoiCanonical(s)
	return n, ok && n <= 999
}

// atoiCanonical reads a decimal number written without sign or leading
// zero, of at most 9 digits.
func atoiCanonical(s string) (int, bool) {
	if s == "" || len(s) > 9 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// loader applies parsed counts to a core.
type loader struct {
	c       *core
	ids     map[string]uint32 // field name → field ID
	sigs    map[string]int32  // signature name → signature ID, or −1 for overflow
	members []string
}

// internFields interns every field the counts name, the most counted since
// start first, so that those keep their path when there are more than
// MaxFields.
func (l *loader) internFields(total *parsedCounts, windows []*parsedCounts) {
	weight := map[string]uint64{} // field name → pairs and noise pairs since start
	for i, p := range append([]*parsedCounts{total}, windows...) {
		for _, m := range [2]map[string]uint64{p.fields, p.noise} {
			for f, n := range m {
				if i > 0 {
					n = 0 // a window's field only needs to exist
				}
				weight[f] += n
			}
		}
	}
	names := slices.Sorted(maps.Keys(weight))
	slices.SortStableFunc(names, func(x, y string) int { return cmp.Compare(weight[y], weight[x]) })
	for _, name := range names {
		path, kind, other, _ := parseField(name)
		if other {
			l.ids[name] = l.c.otherField(kind)
		} else {
			l.ids[name] = l.c.intern(path, kind)
		}
	}
}

// apply sets s to p's counts, keeping the tenantCap tenants with the most
// compared pairs.
func (l *loader) apply(s *stats, p *parsedCounts, tenantCap int) {
	s.compared, s.overflow = p.compared, p.overflow
	s.noisePairs, s.noiseDiffering = p.noisePairs, p.noiseDiffering
	for f, n := range p.fields {
		s.fields.add(l.ids[f], n)
	}
	for f, n := range p.noise {
		s.noise.add(l.ids[f], n)
	}
	for _, sg := range p.sigs {
		if id := l.signature(sg.name); id < 0 {
			s.overflow += sg.n
		} else {
			s.sigs.add(uint32(id), sg.n)
		}
	}
	for _, sp := range p.status {
		s.addStatus(sp.Old, sp.New, sp.Count)
	}
	for i, h := range [2]*histogram{&s.oldLat, &s.newLat} {
		for _, b := range p.lat[i] {
			h.addBucket(int(b.id), b.n)
		}
	}
	for i, t := range p.tenants {
		if i == tenantCap {
			break
		}
		s.tenants.add(t.Tenant, t.Compared, t.Differing, tenantCap, false)
	}
}

// signature returns the ID of the signature named name (already checked),
// or −1 when the table is full.
func (l *loader) signature(name string) int32 {
	if id, ok := l.sigs[name]; ok {
		return id
	}
	l.members, _ = splitSignature(name[1:], l.members)
	set := l.c.beginSet()
	for _, m := range l.members {
		set = l.c.addToSet(set, l.ids[m])
	}
	id := l.c.signature(set)
	l.sigs[name] = id
	return id
}
