package store

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PruneBatch is the most records one pruning transaction deletes. Each
// transaction holds bbolt's single writer lock, so Append waits for at
// most one batch, not for the whole prune.
const PruneBatch = 5000

// Prune deletes, with their index entries, the records that started
// before now minus Retention, then the oldest records until the logical
// size is at most MaxBytes. It returns how many it deleted. Nothing
// prunes by itself: the owner of the store calls Prune periodically.
//
// Deleted pages are reused by later appends; the file does not shrink.
func (b *Bolt) Prune(now time.Time) (removed int, err error) {
	if b.opt.Retention > 0 {
		cutoff := idAt(now.Add(-b.opt.Retention))
		n, err := b.pruneWhile(func(id []byte, _ int64) bool { return bytes.Compare(id, cutoff[:]) < 0 })
		removed += n
		if err != nil {
			return removed, err
		}
	}
	if b.opt.MaxBytes > 0 {
		n, err := b.pruneWhile(func(_ []byte, size int64) bool { return size > b.opt.MaxBytes })
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// pruneWhile deletes the oldest records, PruneBatch per transaction, while
// more(oldest ID, logical size) holds.
func (b *Bolt) pruneWhile(more func(id []byte, size int64) bool) (int, error) {
	removed := 0
	for {
		n, err := b.pruneBatch(more)
		removed += n
		if err != nil {
			return removed, fmt.Errorf("store: cannot prune: %w", err)
		}
		if n < PruneBatch {
			return removed, nil
		}
	}
}

func (b *Bolt) pruneBatch(more func(id []byte, size int64) bool) (int, error) {
	n := 0
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := openBuckets(tx)
		size := int64(getUint(bk.meta, metaBytes))
		clear(b.routes)
		clear(b.tenants)
		var classes [10]int64
		var freed int64
		c := bk.records.Cursor()
		// Re-seeking First after each delete is what bbolt supports:
		// Next after a cursor Delete may skip a key.
		for k, v := c.First(); k != nil && n < PruneBatch && more(k, size-freed); k, v = c.First() {
			var f fields
			if err := f.parse(v, sError+1); err != nil || len(k) != len(ID{}) {
				return fmt.Errorf("%w: key %x", ErrCorrupt, k)
			}
			id := ID(k)
			if err := b.deleteIndexes(bk, id, &f); err != nil {
				return err
			}
			b.routes[string(f.str[sRoute])]--
			if len(f.str[sTenant]) > 0 {
				b.tenants[string(indexName(f.str[sTenant]))]--
			}
			classes[statusClass(f.status, len(f.str[sError]) > 0)]--
			freed += int64(len(v))
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return nil
		}
		if err := addCounts(bk.counts, b.routes, b.tenants, &classes); err != nil {
			return err
		}
		return addMeta(bk.meta, -int64(n), -freed)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
