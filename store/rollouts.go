package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Buckets of the rollout controller: one state blob per route, and per
// route a nested bucket of its events keyed by the nested bucket's
// sequence as 8 bytes big-endian, so that they sort in append order even
// when their timestamps are equal.
var (
	bucketRollouts      = []byte("rollouts")
	bucketRolloutEvents = []byte("rollout_events")
)

// MaxRolloutEvents is how many events PutRollout keeps per route: the
// newest ones.
const MaxRolloutEvents = 1000

// errNoRoute is returned for an empty route, which bbolt cannot key.
var errNoRoute = errors.New("empty route")

// PutRollout replaces route's rollout state blob and appends events (each an
// opaque encoding, in order) to the route's history, in one transaction. The
// history keeps the newest MaxRolloutEvents events per route; older ones are
// deleted in the same transaction. A nil state leaves the stored one
// unchanged. PutRollout does not keep state or events.
func (b *Bolt) PutRollout(route string, state []byte, events [][]byte) error {
	if state == nil && len(events) == 0 {
		return nil
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		if route == "" {
			return errNoRoute
		}
		if state != nil {
			sb, err := tx.CreateBucketIfNotExists(bucketRollouts)
			if err != nil {
				return err
			}
			if err := sb.Put([]byte(route), state); err != nil {
				return err
			}
		}
		if len(events) == 0 {
			return nil
		}
		eb, err := tx.CreateBucketIfNotExists(bucketRolloutEvents)
		if err != nil {
			return err
		}
		rb, err := eb.CreateBucketIfNotExists([]byte(route))
		if err != nil {
			return err
		}
		var seq uint64
		for _, e := range events {
			if seq, err = rb.NextSequence(); err != nil {
				return err
			}
			if err := rb.Put(binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq), e); err != nil {
				return err
			}
		}
		return trimEvents(rb, seq)
	})
	if err != nil {
		return fmt.Errorf("store: cannot put rollout of %q: %w", route, err)
	}
	return nil
}

// trimEvents deletes the events older than the newest MaxRolloutEvents,
// seq being the newest's key. Comparing keys with seq rather than
// counting keys keeps the trim proportional to what it deletes.
func trimEvents(rb *bolt.Bucket, seq uint64) error {
	if seq <= MaxRolloutEvents {
		return nil
	}
	keep := binary.BigEndian.AppendUint64(nil, seq-MaxRolloutEvents+1)
	c := rb.Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, keep) < 0; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Rollouts returns every route's rollout state blob.
func (b *Bolt) Rollouts() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := b.db.View(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketRollouts)
		if sb == nil {
			return nil
		}
		return sb.ForEach(func(k, v []byte) error {
			out[string(k)] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: cannot read rollouts: %w", err)
	}
	return out, nil
}

// RolloutEvents returns the newest limit events of route (limit <= 0: all
// kept), oldest first. A route without events has an empty, non-nil list,
// which encodes to JSON as [].
func (b *Bolt) RolloutEvents(route string, limit int) ([][]byte, error) {
	out := [][]byte{}
	err := b.db.View(func(tx *bolt.Tx) error {
		eb := tx.Bucket(bucketRolloutEvents)
		if eb == nil || route == "" {
			return nil
		}
		rb := eb.Bucket([]byte(route))
		if rb == nil {
			return nil
		}
		c := rb.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			out = append(out, bytes.Clone(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: cannot read rollout events of %q: %w", route, err)
	}
	slices.Reverse(out)
	return out, nil
}
