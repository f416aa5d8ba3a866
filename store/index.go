package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The secondary indexes (by_route, by_tenant, by_status, by_chain) hold
// blocks, not one key per record: a block is the sorted IDs of the
// records of one route, tenant or status class that started in one
// second, or for by_chain the sorted (trace ID, record ID) pairs of all
// the records of one second. See the package doc for why, and pending.go
// for how a second's entries wait in memory until its block is written.
//
// Block keys end in the second (8 bytes, big-endian Unix seconds) and a
// part (8 bytes): 0 for the block written when the second closed, or the
// first sequence number of the Append that wrote a late record's block.
// Every block is listed under its second and part in the blocks bucket,
// so retention deletes a second's blocks without searching for them.

// Index kinds: the first byte of count keys and of blocks directory items.
const (
	kindRoute  = 'r'
	kindTenant = 't'
	kindClass  = 's'
	kindChain  = 'c'
)

// blockSuffix is the length of a block key's second and part.
const blockSuffix = 16

// chainItemLen is the length of one by_chain pair: trace ID, record ID.
const chainItemLen = 32

// startSec is the second an ID files a call under: its start in Unix
// seconds, with starts before 1970 as 0, as makeID files them.
func startSec(t time.Time) uint64 { return uint64(max(t.UnixNano(), 0)) / uint64(time.Second) }

// idSec is the second of an ID.
func idSec(id []byte) uint64 { return binary.BigEndian.Uint64(id) / uint64(time.Second) }

// cmpID orders IDs byte-wise, as bbolt orders keys.
func cmpID(a, b ID) int { return cmp16((*[16]byte)(&a), (*[16]byte)(&b)) }

// cmp16 compares two 16-byte strings byte-wise, as two big-endian words:
// sorting blocks is most of the cost of writing them.
func cmp16(a, b *[16]byte) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}

// statusClass is the status index's first byte: the hundreds digit, with
// a call that got no answer because of an upstream error filed as 5, the
// class of the 502 or 504 the client saw.
func statusClass(status int, failed bool) int {
	switch {
	case status >= 100:
		return min(status/100, 9)
	case failed:
		return 5
	default:
		return 0
	}
}

// indexName caps b to maxIndexName bytes.
func indexName(b []byte) []byte { return b[:min(len(b), maxIndexName)] }

// appendNamePrefix appends the start of a route or tenant block key: a
// one-byte length and the (capped) name. The length keeps "a" from being
// a prefix of "ab".
func appendNamePrefix(dst, name []byte) []byte {
	name = indexName(name)
	dst = append(dst, byte(len(name)))
	return append(dst, name...)
}

// appendBlockKey appends the second and part of a block key to prefix.
func appendBlockKey(prefix []byte, sec, part uint64) []byte {
	prefix = binary.BigEndian.AppendUint64(prefix, sec)
	return binary.BigEndian.AppendUint64(prefix, part)
}

// walkBlocks calls yield, newest first, with the IDs of the blocks under
// prefix, of seconds up to maxSec, that are below before and not below
// since. It stops when yield returns false or an error. A second's block
// is read in place; a second with late parts is merged in scratch.
func walkBlocks(bk *bolt.Bucket, prefix []byte, maxSec uint64, before, since ID, scratch *[]byte, yield func(ID) (bool, error)) error {
	maxSec = min(maxSec, idSec(before[:]))
	minSec := idSec(since[:])
	// secOf returns the second of a key of this index, or false.
	secOf := func(k []byte) (uint64, bool) {
		if len(k) != len(prefix)+blockSuffix || !bytes.HasPrefix(k, prefix) {
			return 0, false
		}
		return binary.BigEndian.Uint64(k[len(prefix):]), true
	}
	c := bk.Cursor()
	var k, v []byte
	if k, _ = c.Seek(appendBlockKey(slices.Clip(prefix), maxSec+1, 0)); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for {
		sec, ok := secOf(k)
		if !ok || sec < minSec {
			return nil
		}
		block := idBlock(v)
		k, v = c.Prev()
		merged := false
		if s, ok := secOf(k); ok && s == sec {
			block = append(idBlock((*scratch)[:0]), block...)
			for ; ok && s == sec; s, ok = secOf(k) {
				block = append(block, v...)
				k, v = c.Prev()
			}
			*scratch, merged = block, true
		}
		if len(block)%len(ID{}) != 0 {
			return fmt.Errorf("%w: index block of %d bytes", ErrCorrupt, len(block))
		}
		if merged {
			sort.Sort(block)
		}
		// A block is sorted ascending: start below before, walk down.
		i := sort.Search(block.Len(), func(i int) bool { return cmpID(block.id(i), before) >= 0 })
		for i--; i >= 0; i-- {
			id := block.id(i)
			if cmpID(id, since) < 0 {
				return nil
			}
			if more, err := yield(id); !more || err != nil {
				return err
			}
		}
	}
}

// idBlock is a block of IDs, sortable in place.
type idBlock []byte

func (b idBlock) id(i int) ID        { return ID(b[i*len(ID{}):]) }
func (b idBlock) Len() int           { return len(b) / len(ID{}) }
func (b idBlock) Less(i, j int) bool { return cmpID(b.id(i), b.id(j)) < 0 }
func (b idBlock) Swap(i, j int) {
	t := b.id(i)
	copy(b[i*len(ID{}):], b[j*len(ID{}):(j+1)*len(ID{})])
	copy(b[j*len(ID{}):], t[:])
}

// chainBlockIDs calls yield with the IDs that the by_chain blocks of
// seconds up to maxSec hold for trace, in the order of the seconds.
func chainBlockIDs(bk *bolt.Bucket, maxSec uint64, trace [16]byte, yield func(ID)) error {
	c := bk.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != blockSuffix || len(v)%chainItemLen != 0 {
			return fmt.Errorf("%w: chain block %x of %d bytes", ErrCorrupt, k, len(v))
		}
		if binary.BigEndian.Uint64(k) > maxSec {
			return nil
		}
		n := len(v) / chainItemLen
		i := sort.Search(n, func(i int) bool { return bytes.Compare(v[i*chainItemLen:i*chainItemLen+16], trace[:]) >= 0 })
		for ; i < n && bytes.Equal(v[i*chainItemLen:i*chainItemLen+16], trace[:]); i++ {
			yield(ID(v[i*chainItemLen+16:]))
		}
	}
	return nil
}

// blockWriter builds the blocks of one transaction. Keys and values are
// built first and put last: bbolt references a value until the commit,
// and the buffers move while they grow.
type blockWriter struct {
	keys, vals []byte
	puts       []blockPut
	prefix     []byte
	chain      []chainItem
}

// blockPut is one Put: the kind names the bucket (0 the blocks
// directory); key and val are offsets in keys and vals.
type blockPut struct {
	kind     byte
	key, val [2]int
}

func (w *blockWriter) reset() {
	if cap(w.vals) > arenaKeep {
		w.vals = nil
	}
	w.keys, w.vals, w.puts = w.keys[:0], w.vals[:0], w.puts[:0]
}

// addGroup adds the blocks of g, for second sec and part, and their
// directory entry.
func (w *blockWriter) addGroup(sec, part uint64, g *group) {
	first := len(w.puts)
	for name, l := range g.routes {
		if len(*l) > 0 {
			w.addIDs(kindRoute, appendNamePrefix(w.prefix[:0], []byte(name)), sec, part, *l)
		}
	}
	for name, l := range g.tenants {
		if len(*l) > 0 {
			w.addIDs(kindTenant, appendNamePrefix(w.prefix[:0], []byte(name)), sec, part, *l)
		}
	}
	for class, l := range g.classes {
		if len(l) > 0 {
			w.addIDs(kindClass, append(w.prefix[:0], byte(class)), sec, part, l)
		}
	}
	if g.n > 0 {
		// One block of all the chain items, sorted by trace: the lists
		// split by the trace's first byte are sorted one by one and laid
		// end to end, yielding the processor now and then so that
		// requests on a one-core gateway do not wait for a whole second's
		// worth of sorting.
		start := len(w.vals)
		for i := range g.chain {
			w.chain = append(w.chain[:0], g.chain[i]...)
			slices.SortFunc(w.chain, func(a, b chainItem) int {
				if c := cmp16(&a.trace, &b.trace); c != 0 {
					return c
				}
				return cmpID(a.id, b.id)
			})
			for _, c := range w.chain {
				w.vals = append(w.vals, c.trace[:]...)
				w.vals = append(w.vals, c.id[:]...)
			}
			if i%32 == 31 {
				runtime.Gosched()
			}
		}
		w.add(kindChain, nil, sec, part, start)
	}
	// The directory entry lists the blocks: kind, key length, key.
	start := len(w.vals)
	for _, p := range w.puts[first:] {
		w.vals = append(w.vals, p.kind)
		w.vals = binary.AppendUvarint(w.vals, uint64(p.key[1]-p.key[0]))
		w.vals = append(w.vals, w.keys[p.key[0]:p.key[1]]...)
	}
	w.add(0, nil, sec, part, start)
}

// addIDs adds one block: ids, which the group keeps sorted.
func (w *blockWriter) addIDs(kind byte, prefix []byte, sec, part uint64, ids []ID) {
	w.prefix = prefix
	start := len(w.vals)
	for _, id := range ids {
		w.vals = append(w.vals, id[:]...)
	}
	w.add(kind, prefix, sec, part, start)
}

// add records a Put of the key prefix, sec, part and of the value from
// valStart to the end of vals.
func (w *blockWriter) add(kind byte, prefix []byte, sec, part uint64, valStart int) {
	keyStart := len(w.keys)
	w.keys = appendBlockKey(append(w.keys, prefix...), sec, part)
	w.puts = append(w.puts, blockPut{kind: kind, key: [2]int{keyStart, len(w.keys)}, val: [2]int{valStart, len(w.vals)}})
}

// put writes the blocks.
func (w *blockWriter) put(bk buckets) error {
	for _, p := range w.puts {
		if err := bk.index(p.kind).Put(w.keys[p.key[0]:p.key[1]], w.vals[p.val[0]:p.val[1]]); err != nil {
			return err
		}
	}
	return nil
}

// index returns the bucket of an index kind, or the blocks directory for
// any other.
func (bk buckets) index(kind byte) *bolt.Bucket {
	switch kind {
	case kindRoute:
		return bk.route
	case kindTenant:
		return bk.tenant
	case kindClass:
		return bk.status
	case kindChain:
		return bk.chain
	default:
		return bk.blocks
	}
}

// countKey is the counts bucket key of a route or tenant.
func countKey(kind byte, name []byte) []byte {
	return append([]byte{kind}, indexName(name)...)
}

// addCounts adds the deltas to the count bucket, deleting counts that
// reach zero so pruned tenants leave nothing behind.
func addCounts(bk *bolt.Bucket, routes, tenants map[string]int64, classes *[10]int64) error {
	for name, d := range routes {
		if err := addUint(bk, countKey(kindRoute, []byte(name)), d, true); err != nil {
			return err
		}
	}
	for name, d := range tenants {
		if err := addUint(bk, countKey(kindTenant, []byte(name)), d, true); err != nil {
			return err
		}
	}
	for class, d := range classes {
		if d != 0 {
			if err := addUint(bk, []byte{kindClass, byte(class)}, d, true); err != nil {
				return err
			}
		}
	}
	return nil
}

func addMeta(bk *bolt.Bucket, count, bytes int64) error {
	if err := addUint(bk, metaCount, count, false); err != nil {
		return err
	}
	return addUint(bk, metaBytes, bytes, false)
}

// addUint adds d to the big-endian counter at key, never below zero.
func addUint(bk *bolt.Bucket, key []byte, d int64, dropZero bool) error {
	n := max(int64(getUint(bk, key))+d, 0)
	if n == 0 && dropZero {
		return bk.Delete(key)
	}
	return putUint(bk, key, uint64(n))
}

func putUint(bk *bolt.Bucket, key []byte, n uint64) error {
	return bk.Put(key, binary.BigEndian.AppendUint64(make([]byte, 0, 8), n))
}

func getUint(bk *bolt.Bucket, key []byte) uint64 {
	v := bk.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}
