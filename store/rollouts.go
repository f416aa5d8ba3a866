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
	// bucketRolloutRevs holds each route's revision, 8 bytes big-endian,
	// bumped by every state write.
	bucketRolloutRevs = []byte("rollout_revs")
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
// unchanged; a state write bumps route's revision. PutRollout does not
// keep state or events.
func (b *Bolt) PutRollout(route string, state []byte, events [][]byte) error {
	if state == nil && len(events) == 0 {
		return nil
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		_, err := putRollout(tx, route, state, events)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: cannot put rollout of %q: %w", route, err)
	}
	return nil
}

// PutRolloutIf writes like PutRollout, in one transaction, only when
// route's stored revision is rev and, when token != 0, token is route's
// current fencing token (see Lease). It returns the new revision: rev + 1
// after a state write, rev when state is nil. It fails with ErrFenced
// (checked first) or ErrConflict, writing nothing. A route without state
// has revision 0.
func (b *Bolt) PutRolloutIf(route string, rev, token uint64, state []byte, events [][]byte) (uint64, error) {
	if route == "" {
		return 0, errNoRoute
	}
	// The lease stays as checked until the write commits, as in Redis's
	// script.
	b.local.mu.Lock()
	defer b.local.mu.Unlock()
	if token != 0 && b.local.tokens[route] != token {
		return 0, ErrFenced
	}
	var n uint64
	err := b.db.Update(func(tx *bolt.Tx) error {
		if cur := revision(tx, route); cur != rev {
			return ErrConflict
		}
		var err error
		n, err = putRollout(tx, route, state, events)
		return err
	})
	switch {
	case errors.Is(err, ErrConflict):
		return 0, err
	case err != nil:
		return 0, fmt.Errorf("store: cannot put rollout of %q: %w", route, err)
	}
	return n, nil
}

// RolloutRev returns route's state blob and revision, read together; nil,
// 0 when there is none. A state written before revisions were kept is at
// revision 1.
func (b *Bolt) RolloutRev(route string) ([]byte, uint64, error) {
	var state []byte
	var rev uint64
	err := b.db.View(func(tx *bolt.Tx) error {
		if sb := tx.Bucket(bucketRollouts); sb != nil && route != "" {
			if v := sb.Get([]byte(route)); v != nil {
				state = bytes.Clone(v)
			}
		}
		rev = revision(tx, route)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: cannot read rollout of %q: %w", route, err)
	}
	return state, rev, nil
}

// revision returns route's stored revision: 0 without a state, at least
// 1 with one.
func revision(tx *bolt.Tx, route string) uint64 {
	sb := tx.Bucket(bucketRollouts)
	if sb == nil || route == "" || sb.Get([]byte(route)) == nil {
		return 0
	}
	var rev uint64
	if rb := tx.Bucket(bucketRolloutRevs); rb != nil {
		rev = getUint(rb, []byte(route))
	}
	return max(rev, 1)
}

// putRollout writes state (unless nil) and appends events, returning the
// revision after the write.
func putRollout(tx *bolt.Tx, route string, state []byte, events [][]byte) (uint64, error) {
	if route == "" {
		return 0, errNoRoute
	}
	rev := revision(tx, route)
	if state != nil {
		sb, err := tx.CreateBucketIfNotExists(bucketRollouts)
		if err != nil {
			return 0, err
		}
		if err := sb.Put([]byte(route), state); err != nil {
			return 0, err
		}
		rb, err := tx.CreateBucketIfNotExists(bucketRolloutRevs)
		if err != nil {
			return 0, err
		}
		rev++
		if err := putUint(rb, []byte(route), rev); err != nil {
			return 0, err
		}
	}
	return rev, appendEvents(tx, route, events)
}

// appendEvents appends events to route's history, keeping the newest
// MaxRolloutEvents.
func appendEvents(tx *bolt.Tx, route string, events [][]byte) error {
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
