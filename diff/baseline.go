package diff

import "time"

// Baseline is a copy of one aggregator's noise model: how many old/secondary
// pairs it compared and, per (path, kind), how many of them differed there.
// A rollout step keeps an aggregator of its own, so that its counts start
// at zero with the step, but classifies noise by the route's since-start
// baseline: a step's first minutes hold too few old/secondary pairs to tell
// a random field from a regression, while the route has been measuring
// them since it started.
type Baseline struct {
	Pairs     uint64 // old/secondary pairs compared
	Differing uint64 // of them, pairs with any difference
	counts    map[fieldKey]uint64
}

// Baseline returns the aggregator's since-start noise model.
func (a *Aggregator) Baseline() Baseline {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.c
	b := Baseline{
		Pairs:     c.total.noisePairs,
		Differing: c.total.noiseDiffering,
		counts:    make(map[fieldKey]uint64, len(c.total.noise.ent)),
	}
	for _, e := range c.total.noise.ent {
		f := &c.fields[e.id]
		b.counts[fieldKey{f.path, f.kind}] = e.n
	}
	return b
}

// ReportAgainst summarises the pairs added since start like Report(now, 0),
// but classifies noise by base instead of by the aggregator's own
// old/secondary pairs: NoisePairs, NoiseRate and every field's NoiseRate
// are base's. With base.Pairs == 0 nothing is noise.
func (a *Aggregator) ReportAgainst(base Baseline) RouteReport {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.c
	v := newView(len(c.fields), len(c.sigs))
	v.merge(&c.total)
	v.noisePairs, v.noiseDiffering = base.Pairs, base.Differing
	for id := range c.fields {
		f := &c.fields[id]
		v.noise[id] = base.counts[fieldKey{f.path, f.kind}]
	}
	return a.build(v, func(time.Time) bool { return true })
}

// NewSlowerThan returns how many of the pairs added since start had a new
// latency above d, and how many pairs there were. A latency within the
// histogram's bucket of d (1/32 of its octave) counts as not slower.
func (a *Aggregator) NewSlowerThan(d time.Duration) (slower, pairs uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := &a.c.total.newLat
	limit := histIndex(int64(d))
	h.each(func(i int, n uint64) {
		if i > limit {
			slower += n
		}
	})
	return slower, h.n
}
