package diff

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// countNames caches the Counts names of a core's fields and signatures,
// which never change once interned; Take extends it as the core grows.
type countNames struct {
	fields []string                // field ID → field name
	count  []string                // field ID → "f" + field name
	noise  []string                // field ID → "F" + field name
	gen    [numGenClasses][]string // field ID → "g" + class letter + field name
	sigs   []string                // signature ID → "s…"
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
		for k := range n.gen {
			n.gen[k] = append(n.gen[k], "g"+string(genLetters[k])+name)
		}
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
	for k := range s.gen {
		for _, e := range s.gen[k].ent {
			put(n.gen[k][e.id], e.n)
		}
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
		put(tT[len(tT)/2:], e.overflow)
		for _, se := range e.sigs.ent {
			put(tenantSigName(e.name, n.sigs[se.id]), se.n)
		}
	}
	return cs
}

// tenantSigName names the count of tenant's pairs with the signature
// named sig: "d<len(tenant)>:<tenant><sig's operand>".
func tenantSigName(tenant, sig string) string {
	b := make([]byte, 0, 12+len(tenant)+len(sig))
	b = append(b, 'd')
	b = strconv.AppendInt(b, int64(len(tenant)), 10)
	b = append(b, ':')
	b = append(b, tenant...)
	b = append(b, sig[1:]...)
	return string(b)
}

func statusName(k statusKey) string {
	return "p" + strconv.Itoa(int(k.old)) + ":" + strconv.Itoa(int(k.new))
}

// Take returns everything added (Add and AddNoise) since the aggregator
// was made or since the last Take, and starts counting afresh: the
// since-start totals, the window buckets' counts and the reservoirs are
// emptied, so that from then on Report, Compared, Baseline and
// NewSlowerThan answer for the pairs added after the Take. All of it
// happens under the aggregator's mutex, so no pair is lost or counted
// twice between two Takes, whatever Adds run concurrently. The field and
// signature tables are kept, so Add still does not allocate for what it
// has met before.
//
// Delta.Samples holds, per field, the refs of the field's reservoir:
// sample IDs for which Add returned true since the last Take and that no
// later pair replaced; and, under 'x' followed by the field's name, its
// examples (see Example), which travel as sample refs do. Windows that start MaxWindow or more before the
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
		if len(f.ex) > 0 {
			if d.Samples == nil {
				d.Samples = make(map[string][]SampleRef)
			}
			refs := make([]SampleRef, len(f.ex))
			for i, e := range f.ex {
				refs[i] = e.ref()
			}
			d.Samples[string(exampleTag)+n.fields[id]] = refs
			clear(f.ex)
			f.ex = f.ex[:0]
		}
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
