package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// BoltOptions bound what a Bolt store keeps. Zero means unlimited.
type BoltOptions struct {
	// Retention is how long a record is kept after its call started.
	Retention time.Duration
	// MaxBytes bounds the logical size: the sum of the encoded records'
	// sizes. The file itself does not shrink; see the package doc.
	MaxBytes int64
}

// OpenTimeout is how long OpenBolt waits for the file lock that another
// process holds before giving up with ErrLocked.
const OpenTimeout = time.Second

// ErrLocked is returned by OpenBolt when another process has the file open.
var ErrLocked = errors.New("store: file in use by another process")

// Bucket names. Index buckets map a key ending in a record ID to an empty
// value; see the package doc for their layout.
var (
	bucketRecords = []byte("records")
	bucketRoute   = []byte("by_route")
	bucketTenant  = []byte("by_tenant")
	bucketStatus  = []byte("by_status")
	bucketChain   = []byte("by_chain")
	bucketMeta    = []byte("meta")
	bucketCounts  = []byte("counts")

	metaBytes = []byte("bytes")
	metaCount = []byte("count")
)

// fillAppend is the page fill factor of buckets whose keys arrive in
// order, globally (records) or at the end of one prefix (route, status):
// a page filled to 90% is rarely touched again, and the 10% left absorbs
// the calls that finish out of start order. Tenant and chain keys land
// all over their buckets, so those keep bbolt's default of 50%.
const fillAppend = 0.9

// maxIndexName caps the route or tenant bytes in an index key. A longer
// tenant is indexed by its prefix; readers compare the full value anyway.
const maxIndexName = 255

// arenaKeep is the largest batch arena kept between appends; a batch of
// large bodies gets a temporary one.
const arenaKeep = 8 << 20

// Bolt is the embedded store: one bbolt file holding records and their
// indexes. It is safe for concurrent use; bbolt runs one writing
// transaction at a time, and readers never wait for it.
type Bolt struct {
	db   *bolt.DB
	opt  BoltOptions
	path string

	// Scratch used only inside a writing transaction, which bbolt
	// serialises.
	arena   []byte
	key     []byte
	routes  map[string]int64
	tenants map[string]int64
}

// OpenBolt opens or creates the store file at path, creating its parent
// directories. It fails with ErrLocked, after OpenTimeout, when another
// process has the file open.
func OpenBolt(path string, opt BoltOptions) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("store: cannot open %q: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: OpenTimeout,
		// The map freelist keeps commits cheap once pruning has freed
		// many pages.
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("cannot open %q: %w (waited %s for its lock)", path, ErrLocked, OpenTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("store: cannot open %q: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketRecords, bucketRoute, bucketTenant, bucketStatus, bucketChain, bucketMeta, bucketCounts} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: cannot open %q: %w", path, err)
	}
	return &Bolt{
		db:      db,
		opt:     opt,
		path:    path,
		routes:  map[string]int64{},
		tenants: map[string]int64{},
	}, nil
}

// Close closes the file. Calls after Close fail.
func (b *Bolt) Close() error {
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("store: cannot close %q: %w", b.path, err)
	}
	return nil
}

// buckets are one transaction's handles.
type buckets struct {
	records, route, tenant, status, chain, meta, counts *bolt.Bucket
}

func openBuckets(tx *bolt.Tx) buckets {
	bk := buckets{
		records: tx.Bucket(bucketRecords),
		route:   tx.Bucket(bucketRoute),
		tenant:  tx.Bucket(bucketTenant),
		status:  tx.Bucket(bucketStatus),
		chain:   tx.Bucket(bucketChain),
		meta:    tx.Bucket(bucketMeta),
		counts:  tx.Bucket(bucketCounts),
	}
	if tx.Writable() {
		bk.records.FillPercent = fillAppend
		bk.route.FillPercent = fillAppend
		bk.status.FillPercent = fillAppend
	}
	return bk
}

// Append stores recs in one transaction, which is durable (fsynced) when
// Append returns nil. It sets each record's ID; a record whose Start is
// zero is filed at the time of the append. On error nothing is stored.
// Append does not keep recs.
func (b *Bolt) Append(recs []*Record) error {
	if len(recs) == 0 {
		return nil
	}
	now := time.Now()
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := openBuckets(tx)
		// bbolt keeps a reference to each value until the commit, so the
		// batch is encoded into one arena sized up front: it is never
		// reallocated under the values already put.
		size := 0
		for _, r := range recs {
			size += encodedLen(r)
		}
		arena := b.arena[:0]
		if cap(arena) < size {
			arena = make([]byte, 0, size)
		}
		if size <= arenaKeep {
			b.arena = arena
		}
		clear(b.routes)
		clear(b.tenants)
		var classes [10]int64
		seq := bk.records.Sequence()
		for _, r := range recs {
			seq++
			start := r.Start
			if start.IsZero() {
				start = now
			}
			r.ID = makeID(start, seq)
			off := len(arena)
			arena = appendRecord(arena, r)
			if err := bk.records.Put(r.ID[:], arena[off:]); err != nil {
				return err
			}
			class := statusClass(r.Status, len(r.Error) > 0)
			if err := b.putIndexes(bk, r.ID, r.Chain, r.Route, r.Tenant, class, r.Status); err != nil {
				return err
			}
			b.routes[r.Route]++
			if len(r.Tenant) > 0 {
				b.tenants[string(indexName(r.Tenant))]++
			}
			classes[class]++
		}
		if err := bk.records.SetSequence(seq); err != nil {
			return err
		}
		if err := addCounts(bk.counts, b.routes, b.tenants, &classes); err != nil {
			return err
		}
		return addMeta(bk.meta, int64(len(recs)), int64(len(arena)))
	})
	if err != nil {
		for _, r := range recs {
			r.ID = ID{}
		}
		return fmt.Errorf("store: cannot append %d records: %w", len(recs), err)
	}
	return nil
}

// appendChainKey appends the chain index key of a record: the second of
// its start (the first 8 bytes of a key, big-endian Unix seconds), then the
// trace ID, then the record ID.
//
// Trace IDs are random, so an index keyed by trace alone takes each new
// entry at a random place in one ever-growing tree: every commit rewrites
// about one page per record, and appends slow down as the store fills.
// Leading with the second keeps each commit's inserts inside the current
// second's slice of the tree, a few hundred pages at most. Chain pays for
// it with two seeks per stored second.
func appendChainKey(dst []byte, id ID, trace [16]byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(id.Time().Unix()))
	dst = append(dst, trace[:]...)
	return append(dst, id[:]...)
}

// putIndexes adds the index entries of one record.
func (b *Bolt) putIndexes(bk buckets, id ID, trace [16]byte, route string, tenant []byte, class, status int) error {
	b.key = appendNameKey(b.key[:0], []byte(route), id)
	if err := bk.route.Put(b.key, nil); err != nil {
		return err
	}
	if len(tenant) > 0 {
		b.key = appendNameKey(b.key[:0], tenant, id)
		if err := bk.tenant.Put(b.key, nil); err != nil {
			return err
		}
	}
	b.key = appendStatusKey(b.key[:0], class, id, status)
	if err := bk.status.Put(b.key, nil); err != nil {
		return err
	}
	b.key = appendChainKey(b.key[:0], id, trace)
	return bk.chain.Put(b.key, nil)
}

// deleteIndexes removes the index entries of one record.
func (b *Bolt) deleteIndexes(bk buckets, id ID, f *fields) error {
	b.key = appendNameKey(b.key[:0], f.str[sRoute], id)
	if err := bk.route.Delete(b.key); err != nil {
		return err
	}
	if len(f.str[sTenant]) > 0 {
		b.key = appendNameKey(b.key[:0], f.str[sTenant], id)
		if err := bk.tenant.Delete(b.key); err != nil {
			return err
		}
	}
	b.key = appendStatusKey(b.key[:0], statusClass(f.status, len(f.str[sError]) > 0), id, f.status)
	if err := bk.status.Delete(b.key); err != nil {
		return err
	}
	b.key = appendChainKey(b.key[:0], id, f.chain)
	return bk.chain.Delete(b.key)
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

// appendNameKey appends a route or tenant index key: a one-byte length,
// the (capped) name and the record ID. The length keeps "a" from being a
// prefix of "ab".
func appendNameKey(dst, name []byte, id ID) []byte {
	name = indexName(name)
	dst = append(dst, byte(len(name)))
	dst = append(dst, name...)
	return append(dst, id[:]...)
}

// appendStatusKey appends a status index key: the class, the record ID and
// the exact status, so one class is a single time-ordered range and an
// exact status is filtered from the key alone.
func appendStatusKey(dst []byte, class int, id ID, status int) []byte {
	dst = append(dst, byte(class))
	dst = append(dst, id[:]...)
	return binary.BigEndian.AppendUint16(dst, uint16(min(max(status, 0), 0xffff)))
}

// Count keys: one per route, tenant and status class, kept so a query can
// walk the index with the fewest entries.
const (
	countRoute  = 'r'
	countTenant = 't'
	countClass  = 's'
)

func countKey(kind byte, name []byte) []byte {
	return append([]byte{kind}, indexName(name)...)
}

// addCounts adds the deltas to the count bucket, deleting counts that
// reach zero so pruned tenants leave nothing behind.
func addCounts(bk *bolt.Bucket, routes, tenants map[string]int64, classes *[10]int64) error {
	for name, d := range routes {
		if err := addUint(bk, countKey(countRoute, []byte(name)), d, true); err != nil {
			return err
		}
	}
	for name, d := range tenants {
		if err := addUint(bk, countKey(countTenant, []byte(name)), d, true); err != nil {
			return err
		}
	}
	for class, d := range classes {
		if d != 0 {
			if err := addUint(bk, []byte{countClass, byte(class)}, d, true); err != nil {
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
	return bk.Put(key, binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(n)))
}

func getUint(bk *bolt.Bucket, key []byte) uint64 {
	v := bk.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// Stats describe what the store holds.
type Stats struct {
	Records   int64 // records stored
	Bytes     int64 // logical size: the sum of the encoded records
	FileBytes int64 // the file's size, which never shrinks
}

// Stats returns the current counts.
func (b *Bolt) Stats() (Stats, error) {
	var s Stats
	err := b.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		s.Records = int64(getUint(meta, metaCount))
		s.Bytes = int64(getUint(meta, metaBytes))
		s.FileBytes = tx.Size()
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("store: cannot read stats: %w", err)
	}
	return s, nil
}
