package store

import (
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/internal/defaults"
)

// Page sizes of Records.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Errors of the read methods.
var (
	ErrNotFound  = errors.New("store: not found")
	ErrBadQuery  = errors.New("store: bad query")
	ErrBadCursor = errors.New("store: bad cursor")
)

// Query selects recorded calls. Empty fields match everything.
type Query struct {
	Route  string
	Tenant string
	// Status is 0 for any call, 1 to 9 for a class (4 matches 400–499),
	// or an exact status from 100 to 999. Class 5 also matches calls that
	// got no answer because of an upstream error (Status 0, Error set):
	// the client saw a 502 or 504 for them, and "which calls failed" is
	// the question a tester asks with it.
	Status int
	// Since keeps calls that started at or after it; zero keeps all.
	Since time.Time
	// Limit is the page size: DefaultLimit when zero or less, at most
	// MaxLimit.
	Limit int
	// Cursor continues from a previous Page.Next.
	Cursor string
}

// Page is one page of Records, newest first. Next, when not empty, is the
// cursor of the following page.
type Page struct {
	Records []*Record
	Next    string
}

// check validates q and returns its page size and the ID its page starts
// before (all 0xff without a cursor), for every driver alike.
func (q *Query) check() (limit int, before ID, err error) {
	if q.Status < 0 || q.Status > 9 && q.Status < 100 || q.Status > 999 {
		return 0, before, fmt.Errorf("%w: status %d is neither a class (1–9) nor a status (100–999)", ErrBadQuery, q.Status)
	}
	limit = q.Limit
	limit = defaults.Positive(limit, DefaultLimit)
	limit = min(limit, MaxLimit)
	for i := range before {
		before[i] = 0xff
	}
	if q.Cursor != "" {
		id, err := ParseID(q.Cursor)
		if err != nil {
			return 0, before, fmt.Errorf("%w %q", ErrBadCursor, q.Cursor)
		}
		before = id
	}
	return limit, before, nil
}

// Records returns the calls that q selects, newest first. With several
// filters it walks the index with the fewest entries (by the per-route,
// per-tenant and per-class counts the store keeps) and filters the
// others, so it never scans all records unless q has no filter.
func (b *Bolt) Records(q Query) (Page, error) {
	limit, before, err := q.check()
	if err != nil {
		return Page{}, err
	}
	var since ID
	if !q.Since.IsZero() {
		since = idAt(q.Since)
	}
	var page Page
	err = b.view(func(tx *bolt.Tx, rd *reads) error {
		page = Page{}
		bk := openBuckets(tx)
		w := pickWalk(bk, &q)
		if w.empty {
			return nil
		}
		visit := func(id ID) (bool, error) {
			var e entry
			found, err := getEntry(bk, id[:], &e)
			if err != nil || !found || !q.matches(&e) {
				return true, err
			}
			if len(page.Records) == limit {
				page.Next = page.Records[limit-1].ID.String()
				return false, nil
			}
			r, err := readRecord(rd, id[:], &e)
			if err != nil {
				return false, err
			}
			page.Records = append(page.Records, r)
			return true, nil
		}
		if w.kind == 0 {
			return walkRecords(bk.records, before, since, visit)
		}
		// The seconds still open first, then the blocks of the closed
		// ones, so the order is newest first throughout.
		ids, front := b.pend.indexIDs(w.kind, w.name, w.class, nil)
		if front != getUint(bk.meta, metaFront) {
			return errRaced
		}
		sortIDsDesc(ids)
		for _, id := range ids {
			if cmpID(id, before) >= 0 {
				continue
			}
			if cmpID(id, since) < 0 {
				return nil
			}
			if more, err := visit(id); !more || err != nil {
				return err
			}
		}
		var scratch []byte
		return walkBlocks(bk.index(w.kind), w.prefix, front, before, since, &scratch, visit)
	})
	if err != nil {
		return Page{}, fmt.Errorf("store: cannot read records: %w", err)
	}
	return page, nil
}

// errRaced is returned, and the read retried, when the blocks of a
// second were written between the start of a read's transaction and its
// look at the seconds still open, so that the two would disagree.
var errRaced = errors.New("store: index written during the read")

// maxRaces bounds the retries of a read. A second closes once a second,
// and its Append updates the seconds still open right after its commit,
// so a read races rarely and twice in a row almost never.
const maxRaces = 100

// view runs fn in a read transaction with access to the segments, again
// while fn reports errRaced.
func (b *Bolt) view(fn func(tx *bolt.Tx, rd *reads) error) error {
	rd := b.seg.beginReads()
	defer rd.done()
	for range maxRaces {
		err := b.db.View(func(tx *bolt.Tx) error { return fn(tx, &rd) })
		if err != errRaced {
			return err
		}
		b.races.Add(1)
		time.Sleep(time.Millisecond)
	}
	return errRaced
}

// walkRecords calls visit with the IDs of the records bucket below before
// and not below since, newest first.
func walkRecords(bk *bolt.Bucket, before, since ID, visit func(ID) (bool, error)) error {
	c := bk.Cursor()
	k, _ := c.Seek(before[:])
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil; k, _ = c.Prev() {
		if len(k) != len(ID{}) {
			return fmt.Errorf("%w: key %x", ErrCorrupt, k)
		}
		id := ID(k)
		if cmpID(id, since) < 0 {
			return nil
		}
		if more, err := visit(id); !more || err != nil {
			return err
		}
	}
	return nil
}

// walk is the index a query reads: the records bucket when kind is 0.
type walk struct {
	kind   byte
	name   string // route or tenant
	class  int
	prefix []byte // of the index's block keys
	empty  bool   // a filter matches no stored call
}

// pickWalk chooses the index with the fewest entries among q's filters.
func pickWalk(bk buckets, q *Query) walk {
	var best walk
	bestN := uint64(1<<64 - 1)
	consider := func(w walk, n uint64) {
		if n < bestN {
			best, bestN = w, n
		}
	}
	if q.Route != "" {
		name := []byte(q.Route)
		consider(walk{kind: kindRoute, name: q.Route, prefix: appendNamePrefix(nil, name)}, getUint(bk.counts, countKey(kindRoute, name)))
	}
	if q.Tenant != "" {
		name := []byte(q.Tenant)
		consider(walk{kind: kindTenant, name: q.Tenant, prefix: appendNamePrefix(nil, name)}, getUint(bk.counts, countKey(kindTenant, name)))
	}
	if q.Status != 0 {
		class := q.Status
		if q.Status >= 100 {
			class = q.Status / 100
		}
		consider(walk{kind: kindClass, class: class, prefix: []byte{byte(class)}}, getUint(bk.counts, []byte{kindClass, byte(class)}))
	}
	best.empty = bestN == 0
	return best
}

// matches reports whether a stored call passes every filter of q except
// Since, which the walk applies to the IDs.
func (q *Query) matches(e *entry) bool {
	if q.Route != "" && string(e.route) != q.Route {
		return false
	}
	if q.Tenant != "" && string(e.tenant) != q.Tenant {
		return false
	}
	switch {
	case q.Status == 0:
		return true
	case q.Status < 100:
		return e.class() == q.Status
	default:
		return e.status == q.Status
	}
}

// getEntry reads the entry of the record id. Indexes keep the IDs of
// pruned records until their whole second is pruned, and the seconds still
// open may name records newer than the transaction, so a missing entry is
// not an error: found is false.
func getEntry(bk buckets, id []byte, e *entry) (found bool, err error) {
	v := bk.records.Get(id)
	if v == nil {
		return false, nil
	}
	return true, e.parse(v)
}

// readRecord reads the record that e locates from its segment, and checks
// that it is the call e describes.
func readRecord(rd *reads, id []byte, e *entry) (*Record, error) {
	buf, err := rd.record(e)
	if err != nil {
		return nil, err
	}
	r, err := decodeRecord(id, buf)
	if err != nil {
		return nil, err
	}
	if r.Chain != e.chain || r.Status != e.status || string(r.Tenant) != string(e.tenant) {
		return nil, fmt.Errorf("%w: record %x in segment %s does not match its entry", ErrCorrupt, id, segmentName(e.loc.seg))
	}
	return r, nil
}

// Chain returns every recorded call of one chain, ordered by start time.
// It returns ErrNotFound when none is stored.
func (b *Bolt) Chain(id chain.TraceID) ([]*Record, error) {
	var recs []*Record
	err := b.view(func(tx *bolt.Tx, rd *reads) error {
		recs = recs[:0]
		bk := openBuckets(tx)
		ids, front := b.pend.chainIDs(id, nil)
		if front != getUint(bk.meta, metaFront) {
			return errRaced
		}
		if err := chainBlockIDs(bk.chain, front, id, func(rid ID) { ids = append(ids, rid) }); err != nil {
			return err
		}
		// IDs sort by start.
		slices.SortFunc(ids, cmpID)
		for _, rid := range ids {
			var e entry
			found, err := getEntry(bk, rid[:], &e)
			if err != nil {
				return err
			}
			if !found || e.chain != id {
				continue
			}
			r, err := readRecord(rd, rid[:], &e)
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: cannot read chain %s: %w", id, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: chain %s", ErrNotFound, id)
	}
	return recs, nil
}

// Get returns one record by its ID, or ErrNotFound.
func (b *Bolt) Get(id ID) (*Record, error) {
	var r *Record
	err := b.view(func(tx *bolt.Tx, rd *reads) error {
		var e entry
		found, err := getEntry(openBuckets(tx), id[:], &e)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: record %s", ErrNotFound, id)
		}
		r, err = readRecord(rd, id[:], &e)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("store: cannot read record %s: %w", id, err)
	}
	return r, nil
}
