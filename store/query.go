package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cutover/cutover/chain"
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

// Records returns the calls that q selects, newest first. With several
// filters it walks the index with the fewest entries (by the per-route,
// per-tenant and per-class counts the store keeps) and filters the
// others, so it never scans all records unless q has no filter.
func (b *Bolt) Records(q Query) (Page, error) {
	if q.Status < 0 || q.Status > 9 && q.Status < 100 || q.Status > 999 {
		return Page{}, fmt.Errorf("%w: status %d is neither a class (1–9) nor a status (100–999)", ErrBadQuery, q.Status)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	before := ID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if q.Cursor != "" {
		id, err := ParseID(q.Cursor)
		if err != nil {
			return Page{}, fmt.Errorf("%w %q", ErrBadCursor, q.Cursor)
		}
		before = id
	}
	var since ID
	if !q.Since.IsZero() {
		since = idAt(q.Since)
	}
	var page Page
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := openBuckets(tx)
		w := pickWalk(bk, &q)
		if w.empty {
			return nil
		}
		c := w.bucket.Cursor()
		seek := append(append([]byte(nil), w.prefix...), before[:]...)
		k, _ := c.Seek(seek)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, w.prefix); k, _ = c.Prev() {
			rest := k[len(w.prefix):]
			if len(rest) < len(ID{}) {
				return fmt.Errorf("%w: index key of %d bytes", ErrCorrupt, len(k))
			}
			id := rest[:len(ID{})]
			if bytes.Compare(id, since[:]) < 0 {
				break
			}
			if w.exact != 0 && (len(rest) != len(ID{})+2 || int(binary.BigEndian.Uint16(rest[len(ID{}):])) != w.exact) {
				continue
			}
			v := bk.records.Get(id)
			if v == nil {
				return fmt.Errorf("%w: index entry without its record", ErrCorrupt)
			}
			var f fields
			if err := f.parse(v, sError+1); err != nil {
				return err
			}
			if !q.matches(&f) {
				continue
			}
			if len(page.Records) == limit {
				page.Next = page.Records[limit-1].ID.String()
				break
			}
			r, err := decodeRecord(id, v)
			if err != nil {
				return err
			}
			page.Records = append(page.Records, r)
		}
		return nil
	})
	if err != nil {
		return Page{}, fmt.Errorf("store: cannot read records: %w", err)
	}
	return page, nil
}

// walk is the index range a query reads.
type walk struct {
	bucket *bolt.Bucket
	prefix []byte
	exact  int  // an exact status to filter from status keys, or 0
	empty  bool // a filter matches no stored call
}

// pickWalk chooses the index with the fewest entries among q's filters.
func pickWalk(bk buckets, q *Query) walk {
	best := walk{bucket: bk.records}
	bestN := uint64(1<<64 - 1)
	consider := func(w walk, n uint64) {
		if n < bestN {
			best, bestN = w, n
		}
	}
	if q.Route != "" {
		name := []byte(q.Route)
		consider(walk{bucket: bk.route, prefix: namePrefix(name)}, getUint(bk.counts, countKey(countRoute, name)))
	}
	if q.Tenant != "" {
		name := []byte(q.Tenant)
		consider(walk{bucket: bk.tenant, prefix: namePrefix(name)}, getUint(bk.counts, countKey(countTenant, name)))
	}
	if q.Status != 0 {
		class, exact := q.Status, 0
		if q.Status >= 100 {
			class, exact = q.Status/100, q.Status
		}
		consider(walk{bucket: bk.status, prefix: []byte{byte(class)}, exact: exact}, getUint(bk.counts, []byte{countClass, byte(class)}))
	}
	best.empty = bestN == 0
	return best
}

// namePrefix is the part of a route or tenant index key before the ID.
func namePrefix(name []byte) []byte {
	name = indexName(name)
	return append([]byte{byte(len(name))}, name...)
}

// matches reports whether a stored call passes every filter of q except
// Since, which the walk applies to the IDs.
func (q *Query) matches(f *fields) bool {
	if q.Route != "" && string(f.str[sRoute]) != q.Route {
		return false
	}
	if q.Tenant != "" && string(f.str[sTenant]) != q.Tenant {
		return false
	}
	switch {
	case q.Status == 0:
		return true
	case q.Status < 100:
		return statusClass(f.status, len(f.str[sError]) > 0) == q.Status
	default:
		return f.status == q.Status
	}
}

// Chain returns every recorded call of one chain, ordered by start time.
// It returns ErrNotFound when none is stored.
func (b *Bolt) Chain(id chain.TraceID) ([]*Record, error) {
	var recs []*Record
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := openBuckets(tx)
		// Keys lead with their second (see appendChainKey): visit each
		// stored second once and seek the trace inside it.
		c := bk.chain.Cursor()
		prefix := make([]byte, 8+len(id))
		copy(prefix[8:], id[:])
		for k, _ := c.First(); k != nil; {
			sec := binary.BigEndian.Uint64(k)
			binary.BigEndian.PutUint64(prefix, sec)
			for k, _ = c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				rid := k[len(prefix):]
				v := bk.records.Get(rid)
				if v == nil {
					return fmt.Errorf("%w: index entry without its record", ErrCorrupt)
				}
				r, err := decodeRecord(rid, v)
				if err != nil {
					return err
				}
				recs = append(recs, r)
			}
			if k != nil && binary.BigEndian.Uint64(k) == sec {
				k, _ = c.Seek(binary.BigEndian.AppendUint64(nil, sec+1))
			}
		}
		// Seconds ascend, and inside one second a trace's keys ascend by
		// ID, so recs is in start order already.
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
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRecords).Get(id[:])
		if v == nil {
			return fmt.Errorf("%w: record %s", ErrNotFound, id)
		}
		var err error
		r, err = decodeRecord(id[:], v)
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
