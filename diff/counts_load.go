package diff

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

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
		if name != "" && name[0] == exampleTag {
			if err := l.examples(name, samples[name]); err != nil {
				return nil, err
			}
			continue
		}
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
	for k := range p.gen {
		for f, n := range p.gen[k] {
			s.gen[k].add(l.ids[f], n)
		}
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
		sigs := p.tenantSigs[t.Tenant]
		d := t.Differing
		for _, sg := range sigs {
			d += sg.n
		}
		_, e := s.tenants.add(t.Tenant, t.Compared, d, tenantCap, false)
		if e == nil {
			continue
		}
		e.overflow += t.Differing
		for _, sg := range sigs {
			s.tenants.addSig(e, l.signature(sg.name), sg.n, tenantCap)
		}
	}
}

// examples loads the example list name ('x' and a field's name), newest
// first, into the field's recent examples; a field that counts nothing
// is left alone.
func (l *loader) examples(name string, refs []SampleRef) error {
	field := name[1:]
	if _, _, _, ok := parseField(field); !ok {
		return fmt.Errorf("diff: example list %q does not name a field", name)
	}
	id, ok := l.ids[field]
	if !ok {
		return nil
	}
	f := &l.c.fields[id]
	for i := len(refs) - 1; i >= 0; i-- { // oldest first, so the newest stay
		e, ok := exampleFromRef(refs[i])
		if !ok {
			return fmt.Errorf("diff: example list %q holds %q, not an example", name, refs[i].ID)
		}
		f.record(e)
	}
	return nil
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
