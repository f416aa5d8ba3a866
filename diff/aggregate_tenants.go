package diff

import (
	"cmp"
	"slices"
	"strings"
)

// Tenant table capacities: since start, and per 10-second window bucket.
const (
	DefaultTenantCapacity = 1000
	bucketTenantCapacity  = 100
)

// tenantSigsPerEntry bounds the (tenant, signature) counts a tenant table
// keeps: on average this many per entry of its capacity. A tenant's pair
// whose signature finds no room counts in its overflow, as differing
// whatever the noise classification.
const tenantSigsPerEntry = 16

// tenantTable counts compared pairs per tenant, and the tenant's differing
// pairs by signature (the set of (path, kind)s they differed in, as the
// route counts them), in at most max entries, with the Space-Saving
// algorithm (Metwally, Agrawal and El Abbadi, 2005): when the table is
// full, a new tenant takes the place of the entry with the fewest pairs
// with any difference (then fewest compared) and inherits its counts, so
// counts are overestimates by at most the smallest count at the time of
// the eviction, and any tenant whose true count exceeds total/max is in
// the table. Counting by signature lets a report classify a tenant's pairs
// exactly as it classifies the route's (see Aggregator). The entries form
// a min-heap on (any, compared), so an update costs O(log max) and never
// allocates once the tenant and its signatures are in the table; reset
// keeps the entries' storage for reuse.
type tenantTable struct {
	pos  map[string]int32 // name → index in heap
	heap []tenantEntry
	sigs int // (tenant, signature) counts held
}

type tenantEntry struct {
	name     string
	compared uint64
	any      uint64  // pairs with any difference, noise or not: the eviction order
	overflow uint64  // differing pairs not counted in sigs
	sigs     counter // signature ID → the tenant's pairs with that signature
}

func (e *tenantEntry) less(o *tenantEntry) bool {
	if e.any != o.any {
		return e.any < o.any
	}
	return e.compared < o.compared
}

// addSig counts n differing pairs of signature sig (−1: overflowed the
// route's table) for e, an entry of t whose capacity is max.
func (t *tenantTable) addSig(e *tenantEntry, sig int32, n uint64, max int) {
	if sig < 0 {
		e.overflow += n
		return
	}
	if _, ok := e.sigs.pos[uint32(sig)]; !ok {
		if t.sigs >= tenantSigsPerEntry*max {
			e.overflow += n
			return
		}
		t.sigs++
	}
	e.sigs.add(uint32(sig), n)
}

// add counts n pairs, d of them with any difference, for name and returns
// the name as stored in the table and its entry, valid until the next
// call. With clone, a newly stored name is copied, so the table does not
// keep the caller's string.
func (t *tenantTable) add(name string, n, d uint64, max int, clone bool) (string, *tenantEntry) {
	if i, ok := t.pos[name]; ok {
		e := &t.heap[i]
		e.compared += n
		e.any += d
		name = e.name // before down moves another entry to i
		return name, &t.heap[t.down(int(i))]
	}
	if clone {
		name = strings.Clone(name)
	}
	if t.pos == nil {
		t.pos = make(map[string]int32)
	}
	if len(t.heap) < max {
		if len(t.heap) < cap(t.heap) { // reuse a reset entry's counter
			t.heap = t.heap[:len(t.heap)+1]
			e := &t.heap[len(t.heap)-1]
			e.sigs.reset()
			e.name, e.compared, e.any, e.overflow = name, n, d, 0
		} else {
			t.heap = append(t.heap, tenantEntry{name: name, compared: n, any: d})
		}
		t.pos[name] = int32(len(t.heap) - 1)
		return name, &t.heap[t.up(len(t.heap)-1)]
	}
	if len(t.heap) == 0 {
		return name, nil
	}
	e := &t.heap[0]
	delete(t.pos, e.name)
	e.name = name
	e.compared += n
	e.any += d
	t.pos[name] = 0
	return name, &t.heap[t.down(0)]
}

func (t *tenantTable) swap(i, j int) {
	h := t.heap
	h[i], h[j] = h[j], h[i]
	t.pos[h[i].name] = int32(i)
	t.pos[h[j].name] = int32(j)
}

// up moves entry i up to its place and returns where it ends.
func (t *tenantTable) up(i int) int {
	for i > 0 {
		p := (i - 1) / 2
		if !t.heap[i].less(&t.heap[p]) {
			return i
		}
		t.swap(i, p)
		i = p
	}
	return i
}

// down moves entry i down to its place and returns where it ends.
func (t *tenantTable) down(i int) int {
	n := len(t.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return i
		}
		m := l
		if r := l + 1; r < n && t.heap[r].less(&t.heap[l]) {
			m = r
		}
		if !t.heap[m].less(&t.heap[i]) {
			return i
		}
		t.swap(i, m)
		i = m
	}
}

// reset empties the table, keeping its entries' storage.
func (t *tenantTable) reset() {
	clear(t.pos)
	for i := range t.heap {
		t.heap[i].name = "" // for the collector
		t.heap[i].sigs.reset()
	}
	t.heap = t.heap[:0]
	t.sigs = 0
}

// topTenants sorts counts by differing desc, compared desc, name and keeps
// the first k.
func topTenants(counts []TenantCount, k int) []TenantCount {
	slices.SortFunc(counts, func(a, b TenantCount) int {
		if c := cmp.Compare(b.Differing, a.Differing); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Compared, a.Compared); c != 0 {
			return c
		}
		return strings.Compare(a.Tenant, b.Tenant)
	})
	if len(counts) > k {
		counts = counts[:k]
	}
	return counts
}
