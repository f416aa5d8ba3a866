package diff

import "time"

// Windows. Besides the since-start totals, an Aggregator keeps a ring of
// ringSize buckets of WindowBucket each, covering MaxWindow. A pair counts
// in the bucket of its Time; a bucket whose slot is needed for a newer
// 10-second interval is emptied and reused (its maps and histogram pages
// kept), so memory stays bounded whatever the uptime. A pair older than
// the interval its slot now holds (more than MaxWindow behind the newest
// pair) counts in the totals only.
//
// Report(now, since) merges the buckets whose start lies within
// [now−since, now]: the window is rounded to whole buckets, from the first
// bucket boundary at or after now−since to the end of the bucket holding
// now (always included, even when since < 10s), so it covers between
// since−10s and since of the past. A window of MaxWindow holds at most
// ringSize buckets: when now−MaxWindow falls on a boundary, that bucket's
// slot already holds now's. Samples are filtered by the same rounded
// window.
const (
	// MaxWindow is the longest window a report can cover.
	MaxWindow = time.Hour
	// WindowBucket is the resolution of windowed reports.
	WindowBucket = 10 * time.Second
	ringSize     = int(MaxWindow / WindowBucket)
)

// maxStatusPairs bounds the distinct (old, new) status pairs kept per
// totals or bucket; further pairs count under StatusPair{Old: -1, New: -1}.
const maxStatusPairs = 128

type statusKey struct{ old, new int32 }

var otherStatus = statusKey{-1, -1}

// counter counts per small integer ID, sparsely: a map from ID to a
// position in a slice, so that reset keeps the storage and counting an ID
// already seen since the last reset never allocates.
type counter struct {
	pos map[uint32]uint32
	ent []idCount
}

type idCount struct {
	id uint32
	n  uint64
}

// add adds n to id's count and returns the new count.
func (c *counter) add(id uint32, n uint64) uint64 {
	if i, ok := c.pos[id]; ok {
		c.ent[i].n += n
		return c.ent[i].n
	}
	if c.pos == nil {
		c.pos = make(map[uint32]uint32)
	}
	c.pos[id] = uint32(len(c.ent))
	c.ent = append(c.ent, idCount{id, n})
	return n
}

func (c *counter) reset() {
	clear(c.pos)
	c.ent = c.ent[:0]
}

// stats holds what one route counted, since start or in one bucket. Field
// and signature IDs index the Aggregator's tables; each counter holds at
// most as many IDs as those tables, and the status and tenant tables are
// bounded too.
type stats struct {
	compared       uint64  // old/new pairs
	overflow       uint64  // differing pairs whose signature did not fit the table
	noisePairs     uint64  // old/secondary pairs
	noiseDiffering uint64  // old/secondary pairs with any difference
	fields         counter // field ID → old/new pairs differing there
	noise          counter // field ID → old/secondary pairs differing there
	// gen counts, per class of generated-looking values (genClasses), field
	// ID → old/new pairs differing there with both values of that class.
	gen            [numGenClasses]counter
	sigs           counter // signature ID → old/new pairs with that signature
	status         map[statusKey]uint64
	oldLat, newLat histogram
	tenants        tenantTable
}

func (s *stats) addStatus(old, new int, n uint64) {
	k := statusKey{clampStatus(old), clampStatus(new)}
	if _, ok := s.status[k]; !ok {
		if s.status == nil {
			s.status = make(map[statusKey]uint64)
		}
		if len(s.status) >= maxStatusPairs {
			k = otherStatus
		}
	}
	s.status[k] += n
}

func clampStatus(s int) int32 {
	if s < 0 || s > 999 {
		return -1
	}
	return int32(s)
}

func (s *stats) reset() {
	s.compared, s.overflow, s.noisePairs, s.noiseDiffering = 0, 0, 0, 0
	s.fields.reset()
	s.noise.reset()
	for i := range s.gen {
		s.gen[i].reset()
	}
	s.sigs.reset()
	clear(s.status)
	s.oldLat.reset()
	s.newLat.reset()
	s.tenants.reset()
}

// bucket is one WindowBucket of the ring; epoch is its start in units of
// WindowBucket since the Unix epoch.
type bucket struct {
	used  bool
	epoch int64
	stats
}

// epochOf returns the WindowBucket interval that holds t.
func epochOf(t time.Time) int64 {
	return floorDiv(t.UnixNano(), int64(WindowBucket))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func ringIndex(e int64) int {
	i := int(e % int64(ringSize))
	if i < 0 {
		i += ringSize
	}
	return i
}

// bucketFor returns the bucket for a pair at t, reusing the slot of an
// older interval, or nil when the slot already holds a newer interval.
func (c *core) bucketFor(t time.Time) *bucket {
	e := epochOf(t)
	b := c.ring[ringIndex(e)]
	if b == nil {
		b = new(bucket)
		c.ring[ringIndex(e)] = b
	}
	switch {
	case b.used && b.epoch == e:
		return b
	case b.used && b.epoch > e:
		return nil
	}
	if b.used {
		b.stats.reset()
	}
	b.used, b.epoch = true, e
	return b
}

// windowEpochs returns the bucket intervals [lo, hi] that Report(now,
// since) merges.
func windowEpochs(now time.Time, since time.Duration) (lo, hi int64) {
	hi = epochOf(now)
	lo = -floorDiv(-now.Add(-since).UnixNano(), int64(WindowBucket))
	return min(lo, hi), hi
}

// view is the merge of stats over a window, indexed densely by field and
// signature ID; Report builds it and derives the RouteReport from it.
type view struct {
	compared, overflow, noisePairs, noiseDiffering uint64
	fields, noise                                  []uint64
	gen                                            [numGenClasses][]uint64
	sigs                                           []uint64
	status                                         map[statusKey]uint64
	oldLat, newLat                                 histogram
	tenants                                        map[string]*tenantView
}

// tenantView is one tenant's merged counts: its differing pairs by
// signature ID, and those that count as differing whatever the noise.
type tenantView struct {
	compared, overflow uint64
	sigs               map[uint32]uint64
}

func newView(nfields, nsigs int) *view {
	v := &view{
		fields:  make([]uint64, nfields),
		noise:   make([]uint64, nfields),
		sigs:    make([]uint64, nsigs),
		status:  map[statusKey]uint64{},
		tenants: map[string]*tenantView{},
	}
	for i := range v.gen {
		v.gen[i] = make([]uint64, nfields)
	}
	return v
}

func (v *view) merge(s *stats) {
	v.compared += s.compared
	v.overflow += s.overflow
	v.noisePairs += s.noisePairs
	v.noiseDiffering += s.noiseDiffering
	for _, e := range s.fields.ent {
		v.fields[e.id] += e.n
	}
	for _, e := range s.noise.ent {
		v.noise[e.id] += e.n
	}
	for i := range s.gen {
		for _, e := range s.gen[i].ent {
			v.gen[i][e.id] += e.n
		}
	}
	for _, e := range s.sigs.ent {
		v.sigs[e.id] += e.n
	}
	for k, n := range s.status {
		v.status[k] += n
	}
	v.oldLat.merge(&s.oldLat)
	v.newLat.merge(&s.newLat)
	for _, e := range s.tenants.heap {
		t := v.tenants[e.name]
		if t == nil {
			t = &tenantView{sigs: map[uint32]uint64{}}
			v.tenants[e.name] = t
		}
		t.compared += e.compared
		t.overflow += e.overflow
		for _, se := range e.sigs.ent {
			t.sigs[se.id] += se.n
		}
	}
}
