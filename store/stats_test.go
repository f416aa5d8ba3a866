package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Stats describe what a Bolt store holds, for the tests that check
// pruning and reopening.
type Stats struct {
	Records   int64 // records stored
	Bytes     int64 // logical size: the sum of the encoded records
	FileBytes int64 // on disk: the bbolt file and the segment files
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
	if err == nil {
		var seg int64
		seg, err = b.seg.bytes()
		s.FileBytes += seg
	}
	if err != nil {
		return Stats{}, fmt.Errorf("store: cannot read stats: %w", err)
	}
	return s, nil
}
