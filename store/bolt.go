package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// BoltOptions bound what a Bolt store keeps. Zero means unlimited.
type BoltOptions struct {
	// Retention is how long a record is kept after its call started.
	Retention time.Duration
	// MaxBytes bounds the logical size: the bytes the records take in
	// the segment files, compressed. The disk holds a little more; see
	// the package doc.
	MaxBytes int64
	// ReadOnly opens the file for reading only, beside other readers:
	// nothing is created, recovered or written, and Append fails. A file
	// a gateway holds still fails with ErrLocked. cutover replay and
	// export read a store file so.
	ReadOnly bool
}

// OpenTimeout is how long OpenBolt waits for the file lock that another
// process holds before giving up with ErrLocked.
const OpenTimeout = time.Second

// ErrLocked is returned by OpenBolt when another process has the file open.
var ErrLocked = errors.New("store: file in use by another process")

// errClosed is returned by Append after Close.
var errClosed = errors.New("store is closed")

// errReadOnly is returned by Append on a store opened ReadOnly.
var errReadOnly = errors.New("store is open read-only")

// Bucket names; see the package doc for their layout.
var (
	bucketRecords  = []byte("records")
	bucketRoute    = []byte("by_route")
	bucketTenant   = []byte("by_tenant")
	bucketStatus   = []byte("by_status")
	bucketChain    = []byte("by_chain")
	bucketMeta     = []byte("meta")
	bucketCounts   = []byte("counts")
	bucketSegments = []byte("segments")
	bucketBlocks   = []byte("blocks")

	metaBytes = []byte("bytes")
	metaCount = []byte("count")
	metaTail  = []byte("tail")
	metaFront = []byte("front")
)

// fillAppend is the page fill factor of buckets whose keys arrive in
// order, globally (records, by_chain, blocks) or at the end of one prefix
// (route, tenant, status): a page filled to 90% is rarely touched again,
// and the 10% left absorbs the calls that finish out of start order and
// the late parts.
const fillAppend = 0.9

// pageSize is the bbolt page size of a new file.
const pageSize = 16 << 10

// maxIndexName caps the route or tenant bytes in an index key. A longer
// tenant is indexed by its prefix; readers compare the full value anyway.
const maxIndexName = 255

// arenaKeep is the largest batch arena (and frame buffer) kept between
// appends: allocating anew each time measured 0.3 µs a record dearer. A
// batch of larger bodies gets a temporary one.
const arenaKeep = 16 << 20

// Bolt is the embedded store: a bbolt file holding the records' entries
// and indexes, and the segment files beside it holding the records. It is
// safe for concurrent use: Appends run one at a time, bbolt runs one
// writing transaction at a time, and readers never wait for either.
type Bolt struct {
	db   *bolt.DB
	seg  *segments
	opt  BoltOptions
	path string

	// pend holds the index entries of the seconds still open.
	pend *pending

	// local holds the leases and watchers of the rollout controller.
	local localReplica

	// races counts the reads retried because a second closed under them.
	races atomic.Uint64

	// wmu serialises Append, so that segment bytes are committed in the
	// order they were written and pend has one writer. The scratch below
	// it is Append's.
	wmu     sync.Mutex
	closed  bool
	frame   []byte            // the encodings of the frame being packed
	arena   []byte            // the batch's bytes as the segment stores them
	places  []place           // where each record lies in arena
	ents    []byte            // the batch's entries, referenced by bbolt until commit
	entEnds []int             // where each entry ends in ents
	secs    []uint64          // each record's start second
	due     []secGroup        // the open seconds the batch closes
	late    map[uint64]*group // the batch's calls for closed seconds
	blocks  blockWriter

	// Scratch used only inside a writing transaction, which bbolt
	// serialises.
	routes  map[string]int64
	tenants map[string]int64
}

// OpenBolt opens or creates the store at path, a bbolt file, and its
// segment directory path + ".segments", creating their parent
// directories. Bytes that a crash left past the last commit are cut off.
// It fails with ErrLocked, after OpenTimeout, when another process has
// the file open.
func OpenBolt(path string, opt BoltOptions) (*Bolt, error) {
	if !opt.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("store: cannot open %q: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:  OpenTimeout,
		ReadOnly: opt.ReadOnly,
		// The map freelist keeps commits cheap once pruning has freed
		// many pages.
		FreelistType: bolt.FreelistMapType,
		// 16 KiB pages split and allocate less often than 4 KiB ones
		// (see the package doc); an existing file keeps its own.
		PageSize: pageSize,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("cannot open %q: %w (waited %s for its lock)", path, ErrLocked, OpenTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("store: cannot open %q: %w", path, err)
	}
	var tail location
	live := map[uint64]bool{}
	var pend *pending
	prepare := db.Update
	if opt.ReadOnly {
		prepare = db.View
	}
	err = prepare(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketRecords, bucketRoute, bucketTenant, bucketStatus, bucketChain, bucketMeta, bucketCounts, bucketSegments, bucketBlocks} {
			if opt.ReadOnly {
				if tx.Bucket(name) == nil {
					return fmt.Errorf("it is not a cutover store (no %s bucket)", name)
				}
				continue
			}
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if err := checkBoltFormat(tx, opt.ReadOnly); err != nil {
			return err
		}
		if _, v := tx.Bucket(bucketRecords).Cursor().First(); v != nil && !isEntry(v) {
			return errors.New("it holds records in a format from before segment files; move it away to start a new store")
		}
		var err error
		if tail, err = parseTail(tx.Bucket(bucketMeta).Get(metaTail)); err != nil {
			return err
		}
		if pend, err = loadPending(tx, time.Now()); err != nil {
			return err
		}
		return tx.Bucket(bucketSegments).ForEach(func(k, _ []byte) error {
			if len(k) == 8 {
				live[binary.BigEndian.Uint64(k)] = true
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: cannot open %q: %w", path, err)
	}
	seg, err := openSegments(path+".segments", tail, func(n uint64) bool { return live[n] }, opt.ReadOnly)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: cannot open %q: %w", path, err)
	}
	return &Bolt{
		db:      db,
		seg:     seg,
		pend:    pend,
		opt:     opt,
		path:    path,
		late:    map[uint64]*group{},
		routes:  map[string]int64{},
		tenants: map[string]int64{},
	}, nil
}

// loadPending rebuilds the index entries of the seconds after the front
// from the records' entries: after a crash they are in no block.
func loadPending(tx *bolt.Tx, now time.Time) (*pending, error) {
	front := getUint(tx.Bucket(bucketMeta), metaFront)
	p := &pending{front: front, newest: front + indexLag, secs: map[uint64]*group{}}
	from := idAt(time.Unix(int64(front+1), 0))
	c := tx.Bucket(bucketRecords).Cursor()
	for k, v := c.Seek(from[:]); k != nil; k, v = c.Next() {
		var e entry
		if len(k) != len(ID{}) {
			return nil, fmt.Errorf("%w: key %x", ErrCorrupt, k)
		}
		if err := e.parse(v); err != nil {
			return nil, fmt.Errorf("record %x: %w", k, err)
		}
		sec := idSec(k)
		p.add(sec, ID(k), string(e.route), e.tenant, e.class(), e.chain)
		p.newest = max(p.newest, min(sec, startSec(now)+maxAhead))
	}
	return p, nil
}

// Close closes the files, after the reads and the Append that are running
// end. Calls after Close fail.
func (b *Bolt) Close() error {
	b.wmu.Lock()
	b.closed = true
	b.wmu.Unlock()
	err := errors.Join(b.db.Close(), b.seg.close())
	if err != nil {
		return fmt.Errorf("store: cannot close %q: %w", b.path, err)
	}
	return nil
}

// buckets are one transaction's handles.
type buckets struct {
	records, route, tenant, status, chain, meta, counts, segments, blocks *bolt.Bucket
}

func openBuckets(tx *bolt.Tx) buckets {
	bk := buckets{
		records:  tx.Bucket(bucketRecords),
		route:    tx.Bucket(bucketRoute),
		tenant:   tx.Bucket(bucketTenant),
		status:   tx.Bucket(bucketStatus),
		chain:    tx.Bucket(bucketChain),
		meta:     tx.Bucket(bucketMeta),
		counts:   tx.Bucket(bucketCounts),
		segments: tx.Bucket(bucketSegments),
		blocks:   tx.Bucket(bucketBlocks),
	}
	if tx.Writable() {
		for _, b := range []*bolt.Bucket{bk.records, bk.route, bk.tenant, bk.status, bk.chain, bk.blocks} {
			b.FillPercent = fillAppend
		}
	}
	return bk
}

// Append stores recs durably: when it returns nil, the records and their
// index entries are on disk and survive a crash. It sets each record's
// ID; a record whose Start is zero is filed at the time of the append. On
// error nothing is stored and the IDs are zero. Append does not keep recs.
//
// The batch is encoded into one buffer, written to the active segment in
// one call and synced; then one bbolt transaction, fsynced by its commit,
// adds the records' entries, the index blocks of the seconds the batch
// closes and the new tail. bbolt never references bytes that are not on
// disk.
func (b *Bolt) Append(recs []*Record) error {
	if len(recs) == 0 {
		return nil
	}
	b.wmu.Lock()
	defer b.wmu.Unlock()
	if err := b.append(recs, time.Now()); err != nil {
		for _, r := range recs {
			r.ID = ID{}
		}
		return fmt.Errorf("store: cannot append %d records: %w", len(recs), err)
	}
	return nil
}

// batch is what the transaction of one Append writes besides the records.
type batch struct {
	now      time.Time
	loc      location // of the whole batch in the segments
	ents     []byte   // the entries, each ending at entEnds[i]
	oldFront uint64
	front    uint64 // the newest closed second after the batch
	newest   uint64
}

func (b *Bolt) append(recs []*Record, now time.Time) error {
	if b.closed {
		return errClosed
	}
	if b.opt.ReadOnly {
		return errReadOnly
	}
	arena := b.encode(recs)
	loc, err := b.seg.write(arena)
	if err != nil {
		return err
	}
	bt := batch{now: now, loc: loc, ents: b.entries(recs, loc), oldFront: b.pend.front}
	b.secs = b.secs[:0]
	for _, r := range recs {
		sec := startSec(startOf(r, now))
		b.secs = append(b.secs, sec)
		bt.newest = max(bt.newest, sec)
	}
	bt.front, bt.newest = b.pend.plan(bt.newest, startSec(now), len(recs))
	b.due = b.pend.due(bt.front, b.due[:0])
	if err := b.db.Update(func(tx *bolt.Tx) error { return b.commit(openBuckets(tx), recs, &bt) }); err != nil {
		return err
	}
	b.seg.committed(loc.end())
	b.pend.commit(bt.front, bt.newest, recs, b.secs)
	return nil
}

// encode returns the batch's bytes as the segment stores them: the
// records' encodings packed into compressed frames of about frameTarget
// bytes (compress.go), in order. It sets places[i] to where record i
// lies in them.
func (b *Bolt) encode(recs []*Record) []byte {
	frame := b.frame[:0]
	arena := b.arena[:0]
	b.places = b.places[:0]
	first := 0
	for i, r := range recs {
		frame = appendRecord(frame, r)
		b.places = append(b.places, place{in: inFrame{n: int64(len(frame))}})
		if len(frame) >= frameTarget || i == len(recs)-1 {
			arena = b.packFrame(arena, frame, b.places[first:])
			frame, first = frame[:0], i+1
		}
	}
	if cap(frame) <= arenaKeep {
		b.frame = frame
	}
	if cap(arena) <= arenaKeep {
		b.arena = arena
	}
	return arena
}

// place is where one record of a batch lies in the batch's bytes: its
// encoding at off, n bytes long, or with framed in the frame there.
type place struct {
	off, n int64
	framed bool
	in     inFrame
}

// packFrame appends to arena the frame of the encodings in frame, whose
// places hold, in in.n, where each one ends, and completes the places. A
// frame that compression would not shrink, of random or already
// compressed bodies, is stored plain: each record's encoding as it is; so
// is one larger than maxDecoded.
func (b *Bolt) packFrame(arena, frame []byte, places []place) []byte {
	at := len(arena)
	size := int64(len(frame))
	if len(frame) <= maxDecoded {
		arena = compress(arena, frame)
		size = int64(len(arena) - at)
	}
	if size >= int64(len(frame)) {
		arena = append(arena[:at], frame...)
		var start int64
		for i := range places {
			end := places[i].in.n
			places[i] = place{off: int64(at) + start, n: end - start}
			start = end
		}
		return arena
	}
	total := int64(len(frame))
	var start, charged int64
	for i := range places {
		end := places[i].in.n
		// Shares in proportion to the encodings, rounded so that they
		// add up to the frame's size exactly.
		share := size*end/total - charged
		charged += share
		places[i] = place{off: int64(at), n: size, framed: true, in: inFrame{off: start, n: end - start, share: share}}
		start = end
	}
	return arena
}

// entries returns the entries of a batch written at loc. They are
// complete before the first Put, so the buffer that bbolt references is
// never reallocated under it.
func (b *Bolt) entries(recs []*Record, loc location) []byte {
	ents := b.ents[:0]
	b.entEnds = b.entEnds[:0]
	for i, r := range recs {
		p := &b.places[i]
		at := location{seg: loc.seg, off: loc.off + p.off, n: p.n}
		var in *inFrame
		if p.framed {
			in = &p.in
		}
		ents = appendEntry(ents, r, at, in)
		b.entEnds = append(b.entEnds, len(ents))
	}
	b.ents = ents
	return ents
}

// commit is the transaction of one Append: it assigns the IDs and adds
// the entries, the blocks of the seconds closing (b.due) and of the late
// calls, the counts and the meta.
func (b *Bolt) commit(bk buckets, recs []*Record, bt *batch) error {
	clear(b.routes)
	clear(b.tenants)
	clear(b.late)
	var classes [10]int64
	var last ID
	seq := bk.records.Sequence()
	part := seq + 1
	off := 0
	for i, r := range recs {
		seq++
		r.ID = makeID(startOf(r, bt.now), seq)
		if err := bk.records.Put(r.ID[:], bt.ents[off:b.entEnds[i]]); err != nil {
			return err
		}
		off = b.entEnds[i]
		class := statusClass(r.Status, len(r.Error) > 0)
		b.routes[r.Route]++
		if len(r.Tenant) > 0 {
			b.tenants[string(indexName(r.Tenant))]++
		}
		classes[class]++
		if cmpID(r.ID, last) > 0 {
			last = r.ID
		}
		if sec := b.secs[i]; sec <= bt.front {
			g := b.late[sec]
			if g == nil {
				g = newGroup()
				b.late[sec] = g
			}
			g.add(r.ID, r.Route, r.Tenant, class, r.Chain)
		}
	}
	if err := bk.records.SetSequence(seq); err != nil {
		return err
	}
	b.blocks.reset()
	for _, d := range b.due {
		b.blocks.addGroup(d.sec, 0, d.g)
	}
	for sec, g := range b.late {
		b.blocks.addGroup(sec, part, g)
	}
	if err := b.blocks.put(bk); err != nil {
		return err
	}
	if bt.front != bt.oldFront {
		if err := putUint(bk.meta, metaFront, bt.front); err != nil {
			return err
		}
	}
	if err := addCounts(bk.counts, b.routes, b.tenants, &classes); err != nil {
		return err
	}
	if err := addMeta(bk.meta, int64(len(recs)), bt.loc.n); err != nil {
		return err
	}
	return putSegment(bk, bt.loc, last)
}

// startOf is the start a record is filed under: its Start, or the time of
// the append for a record without one.
func startOf(r *Record, now time.Time) time.Time {
	if r.Start.IsZero() {
		return now
	}
	return r.Start
}

// putSegment records, in the commit that references a batch written at
// loc, the newest record ID that loc's segment holds (which retention
// compares with the oldest remaining record) and the new end of the
// segments (which OpenBolt cuts the active segment back to).
func putSegment(bk buckets, loc location, last ID) error {
	key := binary.BigEndian.AppendUint64(make([]byte, 0, 8), loc.seg)
	if old := bk.segments.Get(key); len(old) == len(last) && bytes.Compare(old, last[:]) > 0 {
		last = ID(old)
	}
	if err := bk.segments.Put(key, append([]byte(nil), last[:]...)); err != nil {
		return err
	}
	tail := binary.BigEndian.AppendUint64(make([]byte, 0, 16), loc.seg)
	tail = binary.BigEndian.AppendUint64(tail, uint64(loc.end()))
	return bk.meta.Put(metaTail, tail)
}

// parseTail reads the meta tail: the segment and offset where the last
// committed batch ends. A new store has none.
func parseTail(v []byte) (location, error) {
	switch len(v) {
	case 0:
		return location{}, nil
	case 16:
		return location{seg: binary.BigEndian.Uint64(v), off: int64(binary.BigEndian.Uint64(v[8:]) & (1<<63 - 1))}, nil
	default:
		return location{}, fmt.Errorf("%w: meta tail of %d bytes", ErrCorrupt, len(v))
	}
}
