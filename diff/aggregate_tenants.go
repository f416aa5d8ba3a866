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

// tenantTable counts compared and differing pairs per tenant in at most
// max entries, with the Space-Saving algorithm (Metwally, Agrawal and El
// Abbadi, 2005): when the table is full, a new tenant takes the place of
// the entry with the fewest differing pairs (then fewest compared) and
// inherits its counts, so counts are overestimates by at most the smallest
// count at the time of the eviction, and any tenant whose true count
// exceeds total/max is in the table. The entries form a min-heap on
// (differing, compared), so an update costs O(log max) and never allocates
// once the tenant is in the table.
type tenantTable struct {
	pos  map[string]int32 // name → index in heap
	heap []tenantEntry
}

type tenantEntry struct {
	name                string
	compared, differing uint64
}

func (e *tenantEntry) less(o *tenantEntry) bool {
	if e.differing != o.differing {
		return e.differing < o.differing
	}
	return e.compared < o.compared
}

// add counts one pair (n pairs, d of them differing) for name and returns
// the name as stored in the table. With clone, a newly stored name is
// copied, so the table does not keep the caller's string.
func (t *tenantTable) add(name string, n, d uint64, max int, clone bool) string {
	if i, ok := t.pos[name]; ok {
		e := &t.heap[i]
		e.compared += n
		e.differing += d
		name = e.name // before down moves another entry to i
		t.down(int(i))
		return name
	}
	if clone {
		name = strings.Clone(name)
	}
	if t.pos == nil {
		t.pos = make(map[string]int32)
	}
	if len(t.heap) < max {
		t.heap = append(t.heap, tenantEntry{name: name, compared: n, differing: d})
		t.pos[name] = int32(len(t.heap) - 1)
		t.up(len(t.heap) - 1)
		return name
	}
	if len(t.heap) == 0 {
		return name
	}
	e := &t.heap[0]
	delete(t.pos, e.name)
	e.name = name
	e.compared += n
	e.differing += d
	t.pos[name] = 0
	t.down(0)
	return name
}

func (t *tenantTable) swap(i, j int) {
	h := t.heap
	h[i], h[j] = h[j], h[i]
	t.pos[h[i].name] = int32(i)
	t.pos[h[j].name] = int32(j)
}

func (t *tenantTable) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.heap[i].less(&t.heap[p]) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *tenantTable) down(i int) {
	n := len(t.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.heap[r].less(&t.heap[l]) {
			m = r
		}
		if !t.heap[m].less(&t.heap[i]) {
			return
		}
		t.swap(i, m)
		i = m
	}
}

// reset empties the table, keeping its storage.
func (t *tenantTable) reset() {
	clear(t.pos)
	clear(t.heap) // drop the names for the collector
	t.heap = t.heap[:0]
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
