package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PruneBatch is the most records one pruning transaction deletes. Each
// transaction holds bbolt's single writer lock, so Append waits for at
// most one batch, not for the whole prune.
const PruneBatch = 5000

// Prune deletes the records that started before now minus Retention,
// then the oldest records until the logical size is at most MaxBytes, and
// returns how many it deleted. Then it deletes the index blocks and the
// segment files that no remaining record is in, so the disk shrinks with
// the records. Nothing prunes by itself: the owner of the store calls
// Prune periodically.
func (b *Bolt) Prune(now time.Time) (removed int, err error) {
	if b.opt.Retention > 0 {
		cutoff := idAt(now.Add(-b.opt.Retention))
		n, err := b.pruneWhile(func(id []byte, _ int64) bool { return bytes.Compare(id, cutoff[:]) < 0 })
		removed += n
		if err != nil {
			return removed, err
		}
		if _, err := b.pruneSamples(now.Add(-b.opt.Retention)); err != nil {
			return removed, fmt.Errorf("store: cannot prune samples: %w", err)
		}
	}
	if b.opt.MaxBytes > 0 {
		n, err := b.pruneWhile(func(_ []byte, size int64) bool { return size > b.opt.MaxBytes })
		removed += n
		if err != nil {
			return removed, err
		}
	}
	// Also when nothing was deleted now: an earlier pass may have ended
	// early, or a crash kept a segment file from being removed.
	if err := b.dropBlocks(); err != nil {
		return removed, fmt.Errorf("store: cannot prune: %w", err)
	}
	if err := b.dropSegments(); err != nil {
		return removed, fmt.Errorf("store: cannot prune: %w", err)
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

// pruneBatch deletes up to PruneBatch records in one transaction. Their
// entries hold everything it needs; it reads no segment. Index blocks
// keep the IDs until dropBlocks deletes their whole second; readers skip
// IDs whose entry is gone.
func (b *Bolt) pruneBatch(more func(id []byte, size int64) bool) (int, error) {
	// A read first: most passes find nothing to delete, and a write
	// transaction costs a commit and its fsync even when it changes
	// nothing.
	due := false
	err := b.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketRecords).Cursor().First()
		due = k != nil && more(k, int64(getUint(tx.Bucket(bucketMeta), metaBytes)))
		return nil
	})
	if err != nil || !due {
		return 0, err
	}
	n := 0
	err = b.db.Update(func(tx *bolt.Tx) error {
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
			var e entry
			if len(k) != len(ID{}) {
				return fmt.Errorf("%w: key %x", ErrCorrupt, k)
			}
			if err := e.parse(v); err != nil {
				return fmt.Errorf("record %x: %w", k, err)
			}
			b.routes[string(e.route)]--
			if len(e.tenant) > 0 {
				b.tenants[string(indexName(e.tenant))]--
			}
			classes[e.class()]--
			freed += e.size()
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

// dropBlocks deletes the index blocks of the seconds before the oldest
// remaining record's, PruneBatch directory entries per transaction. Blocks
// of the oldest second stay, naming some deleted records, until a later
// pass has pruned the whole second.
func (b *Bolt) dropBlocks() error {
	// oldestSec is the oldest remaining record's second.
	oldestSec := func(tx *bolt.Tx) uint64 {
		if k, _ := tx.Bucket(bucketRecords).Cursor().First(); k != nil {
			return idSec(k)
		}
		return 1<<64 - 1
	}
	for {
		// A read first, as in pruneBatch.
		due := false
		err := b.db.View(func(tx *bolt.Tx) error {
			k, _ := tx.Bucket(bucketBlocks).Cursor().First()
			due = len(k) == blockSuffix && binary.BigEndian.Uint64(k) < oldestSec(tx)
			return nil
		})
		if err != nil || !due {
			return err
		}
		n := 0
		err = b.db.Update(func(tx *bolt.Tx) error {
			bk := openBuckets(tx)
			cutoff := oldestSec(tx)
			c := bk.blocks.Cursor()
			for k, v := c.First(); k != nil && n < PruneBatch; k, v = c.First() {
				if len(k) != blockSuffix {
					return fmt.Errorf("%w: blocks key %x", ErrCorrupt, k)
				}
				if binary.BigEndian.Uint64(k) >= cutoff {
					return nil
				}
				if err := deleteListed(bk, v); err != nil {
					return err
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil || n < PruneBatch {
			return err
		}
	}
}

// deleteListed deletes the blocks that a directory entry lists.
func deleteListed(bk buckets, v []byte) error {
	for len(v) > 0 {
		kind := v[0]
		l, k := binary.Uvarint(v[1:])
		if kind != kindRoute && kind != kindTenant && kind != kindClass && kind != kindChain || k <= 0 || l > uint64(len(v)-1-k) {
			return fmt.Errorf("%w: blocks entry", ErrCorrupt)
		}
		key := v[1+k : 1+k+int(l)]
		if err := bk.index(kind).Delete(key); err != nil {
			return err
		}
		v = v[1+k+int(l):]
	}
	return nil
}

// dropSegments deletes the segments that hold no remaining record: those,
// other than the active one, whose newest record is older than the oldest
// remaining record. Records are appended nearly in start order and pruned
// oldest first, so segments go in the order they were written, a few
// seconds of out-of-order starts after their last record.
//
// A segment that qualifies keeps qualifying, since only the active
// segment takes new records. Its key goes from bbolt first, then its
// file, so a crash between the two leaves a file that OpenBolt removes.
func (b *Bolt) dropSegments() error {
	active := b.seg.active.Load()
	var drop []uint64
	find := func(tx *bolt.Tx) error {
		oldest, _ := tx.Bucket(bucketRecords).Cursor().First()
		c := tx.Bucket(bucketSegments).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			n := binary.BigEndian.Uint64(k)
			if n >= active {
				break
			}
			if oldest == nil || bytes.Compare(v, oldest) < 0 {
				drop = append(drop, n)
			}
		}
		return nil
	}
	// A read first, as in pruneBatch.
	if err := b.db.View(find); err != nil || len(drop) == 0 {
		return err
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		segs := tx.Bucket(bucketSegments)
		for _, n := range drop {
			if err := segs.Delete(binary.BigEndian.AppendUint64(nil, n)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return b.seg.remove(drop)
}
