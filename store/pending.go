package store

import (
	"cmp"
	"slices"
	"sync"
)

// A second's index entries wait in memory while calls that started in it
// may still arrive: until a call that started indexLag seconds later has
// been appended. Then the second closes and its blocks are written, in
// sorted order, by the Append that closed it. A call that arrives for a
// closed second (it took longer than indexLag, or its batch waited) gets
// blocks of its own, a late part, in its Append's transaction.
//
// The front (meta "front") is the newest closed second: every record that
// started in a second up to the front is in the index blocks, in the same
// transaction that moved the front past it; the records after it are
// found again by OpenBolt in the records bucket, whose entries hold what
// the indexes need, so a crash loses no index entry.
const indexLag = 2

// maxAhead bounds, in seconds, how far past the clock a call's start may
// move the front, so a wrong clock cannot close seconds still being
// recorded and make every call late.
const maxAhead = 60

// maxPending bounds the records waiting in memory. Past it, the oldest
// seconds are closed early, which costs only late parts.
const maxPending = 1 << 18

// group is the index entries of the records that started in one second,
// as one set of blocks holds them. The ID lists are kept sorted as records
// arrive, and the chain items are split by the first byte of their trace,
// so closing a second sorts only small lists: one sort of a whole second's
// entries takes several milliseconds of CPU at tens of thousands of calls a
// second, and on a gateway with one core, requests would wait behind it.
type group struct {
	n       int
	routes  map[string]*[]ID
	tenants map[string]*[]ID
	classes [10][]ID
	chain   [256][]chainItem // by trace[0]
}

type chainItem struct {
	trace [16]byte
	id    ID
}

func newGroup() *group {
	return &group{routes: map[string]*[]ID{}, tenants: map[string]*[]ID{}}
}

// add files one record. route and tenant are capped as index names; the
// map keys are copies only when a name is new to the group.
func (g *group) add(id ID, route string, tenant []byte, class int, trace [16]byte) {
	appendTo(g.routes, route[:min(len(route), maxIndexName)], id)
	if len(tenant) > 0 {
		t := indexName(tenant)
		if l := g.tenants[string(t)]; l != nil {
			*l = insertSorted(*l, id)
		} else {
			g.tenants[string(t)] = &[]ID{id}
		}
	}
	g.classes[class] = insertSorted(g.classes[class], id)
	g.chain[trace[0]] = append(g.chain[trace[0]], chainItem{trace, id})
	g.n++
}

func appendTo(m map[string]*[]ID, name string, id ID) {
	if l := m[name]; l != nil {
		*l = insertSorted(*l, id)
	} else {
		m[name] = &[]ID{id}
	}
}

// insertSorted adds id to the sorted ids. Calls arrive nearly in start
// order, which is ID order, so id almost always goes at or near the end.
func insertSorted(ids []ID, id ID) []ID {
	i := len(ids)
	for i > 0 && cmpID(ids[i-1], id) > 0 {
		i--
	}
	return slices.Insert(ids, i, id)
}

// reset empties g for reuse, keeping its buffers, and forgets the names
// it did not see since the last reset.
func (g *group) reset() {
	for _, m := range []map[string]*[]ID{g.routes, g.tenants} {
		for name, l := range m {
			if len(*l) == 0 {
				delete(m, name)
			}
			*l = (*l)[:0]
		}
	}
	for i := range g.classes {
		g.classes[i] = g.classes[i][:0]
	}
	for i := range g.chain {
		g.chain[i] = g.chain[i][:0]
	}
	g.n = 0
}

// pending holds the index entries of the seconds after the front. Append,
// which Bolt.wmu serialises, is its only writer: it reads it without the
// lock and changes it under mu after its commit. Readers copy what they
// need under mu's read lock.
type pending struct {
	mu     sync.RWMutex
	front  uint64 // the newest closed second
	newest uint64 // the newest start second seen, at most maxAhead past the clock
	secs   map[uint64]*group
	n      int
	free   []*group
}

// secGroup is one second's group.
type secGroup struct {
	sec uint64
	g   *group
}

// plan returns the front and newest second after a batch whose newest
// start is batchNewest arrives at nowSec. It changes nothing.
func (p *pending) plan(batchNewest, nowSec uint64, batch int) (front, newest uint64) {
	newest = max(p.newest, min(batchNewest, nowSec+maxAhead))
	front = p.front
	if newest > indexLag {
		front = max(front, newest-indexLag)
	}
	if p.n+batch > maxPending {
		// Keep the newest seconds, about half the bound, and close the
		// rest.
		secs := make([]uint64, 0, len(p.secs))
		for s := range p.secs {
			secs = append(secs, s)
		}
		slices.Sort(secs)
		kept := 0
		for i := len(secs) - 1; i >= 0; i-- {
			if kept += p.secs[secs[i]].n; kept > maxPending/2 {
				front = max(front, secs[i])
				break
			}
		}
	}
	return front, newest
}

// due appends to dst the groups of the seconds up to front, oldest first.
func (p *pending) due(front uint64, dst []secGroup) []secGroup {
	for s, g := range p.secs {
		if s <= front {
			dst = append(dst, secGroup{s, g})
		}
	}
	slices.SortFunc(dst, func(a, b secGroup) int { return cmp.Compare(a.sec, b.sec) })
	return dst
}

// commit applies a committed Append: the seconds up to front were written
// as blocks, and recs, of which those after front wait now.
func (p *pending) commit(front, newest uint64, recs []*Record, secs []uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for s, g := range p.secs {
		if s <= front {
			delete(p.secs, s)
			p.n -= g.n
			if len(p.free) < 4 {
				g.reset()
				p.free = append(p.free, g)
			}
		}
	}
	p.front, p.newest = front, newest
	for i, r := range recs {
		if secs[i] > front {
			p.add(secs[i], r.ID, r.Route, r.Tenant, statusClass(r.Status, len(r.Error) > 0), r.Chain)
		}
	}
}

// add files one record under its second; the caller holds mu or owns p.
func (p *pending) add(sec uint64, id ID, route string, tenant []byte, class int, trace [16]byte) {
	g := p.secs[sec]
	if g == nil {
		if n := len(p.free); n > 0 {
			g, p.free = p.free[n-1], p.free[:n-1]
		} else {
			g = newGroup()
		}
		p.secs[sec] = g
	}
	g.add(id, route, tenant, class, trace)
	p.n++
}

// indexIDs appends to dst the IDs that wait for the blocks of one index
// (kind, with name for routes and tenants, class for status) and returns
// the front they are after.
func (p *pending) indexIDs(kind byte, name string, class int, dst []ID) ([]ID, uint64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, g := range p.secs {
		switch kind {
		case kindRoute:
			if l := g.routes[name[:min(len(name), maxIndexName)]]; l != nil {
				dst = append(dst, *l...)
			}
		case kindTenant:
			if l := g.tenants[name[:min(len(name), maxIndexName)]]; l != nil {
				dst = append(dst, *l...)
			}
		case kindClass:
			dst = append(dst, g.classes[class]...)
		}
	}
	return dst, p.front
}

// chainIDs appends to dst the IDs of trace's records that wait, and
// returns the front they are after.
func (p *pending) chainIDs(trace [16]byte, dst []ID) ([]ID, uint64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, g := range p.secs {
		for _, c := range g.chain[trace[0]] {
			if c.trace == trace {
				dst = append(dst, c.id)
			}
		}
	}
	return dst, p.front
}

// sortIDsDesc sorts ids newest first.
func sortIDsDesc(ids []ID) { slices.SortFunc(ids, func(a, b ID) int { return cmpID(b, a) }) }
