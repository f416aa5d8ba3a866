package store

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketSamples holds one entry per stored sample, keyed by SampleID so
// that pruning walks them oldest first. The statistics of the comparisons
// are tallies (bolt_tally.go).
var bucketSamples = []byte("samples")

// SampleID identifies a stored comparison sample. The first 4 bytes are
// the Unix second it was compared in, so IDs sort by time; the rest is
// random.
type SampleID [8]byte

// NewSampleID returns a fresh ID for a sample compared at t.
func NewSampleID(t time.Time) SampleID {
	var id SampleID
	binary.BigEndian.PutUint32(id[:4], uint32(t.Unix()))
	binary.BigEndian.PutUint32(id[4:], rand.Uint32())
	return id
}

// Time returns the second the sample was compared in.
func (id SampleID) Time() time.Time { return time.Unix(int64(binary.BigEndian.Uint32(id[:4])), 0) }

// String returns the 16-hex-digit form of the ID.
func (id SampleID) String() string { return hex.EncodeToString(id[:]) }

// ErrBadSampleID is returned by ParseSampleID for text that is not 16 hex
// digits.
var ErrBadSampleID = errors.New("store: bad sample ID")

// ParseSampleID parses the 16-hex-digit form of a SampleID.
func ParseSampleID(s string) (SampleID, error) {
	var id SampleID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("%w %q: want %d hex digits", ErrBadSampleID, s, 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return SampleID{}, fmt.Errorf("%w %q: %w", ErrBadSampleID, s, err)
	}
	return id, nil
}

// Sample is one stored comparison: Data is its encoding, opaque to the
// store.
type Sample struct {
	ID   SampleID
	Data []byte
}

// PutSamples stores samples in one transaction.
func (b *Bolt) PutSamples(samples []Sample) error {
	if len(samples) == 0 {
		return nil
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		sb, err := tx.CreateBucketIfNotExists(bucketSamples)
		if err != nil {
			return err
		}
		for _, s := range samples {
			if err := sb.Put(s.ID[:], s.Data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: cannot store %d samples: %w", len(samples), err)
	}
	return nil
}

// Sample returns the encoding of a stored sample, or ErrNotFound.
func (b *Bolt) Sample(id SampleID) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		if sb := tx.Bucket(bucketSamples); sb != nil {
			out = append([]byte(nil), sb.Get(id[:])...)
		}
		if out == nil {
			return fmt.Errorf("sample %s: %w", id, ErrNotFound)
		}
		return nil
	})
	return out, err
}

// pruneSamples deletes the samples compared before cutoff, oldest first,
// PruneBatch per transaction.
func (b *Bolt) pruneSamples(cutoff time.Time) (int, error) {
	var limit [4]byte
	binary.BigEndian.PutUint32(limit[:], uint32(max(cutoff.Unix(), 0)))
	removed := 0
	for {
		n := 0
		err := b.db.Update(func(tx *bolt.Tx) error {
			sb := tx.Bucket(bucketSamples)
			if sb == nil {
				return nil
			}
			c := sb.Cursor()
			for k, _ := c.First(); k != nil && string(k[:4]) < string(limit[:]) && n < PruneBatch; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		removed += n
		if err != nil || n < PruneBatch {
			return removed, err
		}
	}
}

// bucketDiffState is where embedded stores kept each route's statistics,
// as JSON, before they became tallies.
var bucketDiffState = []byte("diff_state")

// MigrateDiffStates converts the statistics an older embedded store kept
// per route in diff_state into tallies, once: in one transaction it adds
// what convert makes of each route's state and deletes the bucket. A
// state that convert refuses is dropped, its error joined into err, and
// that route's statistics start afresh. It returns how many it converted;
// without the bucket, 0 and nil.
func (b *Bolt) MigrateDiffStates(convert func(route string, state []byte) (TallyAdd, error)) (converted int, err error) {
	var refused []error
	now := time.Now()
	txErr := b.db.Update(func(tx *bolt.Tx) error {
		old := tx.Bucket(bucketDiffState)
		if old == nil {
			return nil
		}
		tb, eb, err := tallyBuckets(tx)
		if err != nil {
			return err
		}
		err = old.ForEach(func(k, v []byte) error {
			add, err := convert(string(k), v)
			if err != nil {
				refused = append(refused, err)
				return nil
			}
			converted++
			return addTally(tb, eb, &add, now)
		})
		if err != nil {
			return err
		}
		return tx.DeleteBucket(bucketDiffState)
	})
	if txErr != nil {
		return 0, fmt.Errorf("store: cannot convert the stored diff statistics: %w", txErr)
	}
	return converted, errors.Join(refused...)
}
