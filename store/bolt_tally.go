package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Tallies in the embedded store: the same counters and recent lists as
// Redis's (redis_tally.go), in two buckets. One Bolt is the one replica
// that adds to them, so an add is a read-modify-write in a transaction.
//
//	tallies       <len K uint16><K> 'c' <name>  → count, int64
//	              <len K uint16><K> 'r' <name>  → expiry (unix ns, 0: none), then items, newest first, each uvarint-length-prefixed
//	              <len K uint16><K> 'x'         → the expiry of K's counts and list names (unix ns)
//	tally_expiry  <expiry unix ns><K>           → nothing: the tallies to delete, oldest expiry first
//
// The length prefix keeps one tally's keys apart from every other's,
// whatever bytes the names hold. An expired tally reads as empty; the
// next AddTallies deletes it.
var (
	bucketTallies     = []byte("tallies")
	bucketTallyExpiry = []byte("tally_expiry")
)

// tallyPurgeMax bounds the expired tallies one AddTallies deletes, so an
// add after a long pause does not hold the writer for long.
const tallyPurgeMax = 64

// tallyPrefix returns the prefix of the keys of tally key.
func tallyPrefix(key string) ([]byte, error) {
	if len(key) > 0xffff {
		return nil, fmt.Errorf("tally key of %d bytes, more than 65535", len(key))
	}
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(key)+1), uint16(len(key)))
	return append(p, key...), nil
}

func tallyKey(prefix []byte, tag byte, name string) []byte {
	k := make([]byte, 0, len(prefix)+1+len(name))
	k = append(append(k, prefix...), tag)
	return append(k, name...)
}

// AddTallies applies adds as Redis's does, in one transaction: all of
// them or, on error, none (applied is then 0). Counts add up; each recent
// list keeps its newest Keep items; a TTL > 0 sets the expiry of the
// tally's counts and of the lists the add touches.
func (b *Bolt) AddTallies(adds []TallyAdd) (applied int, err error) {
	if len(adds) == 0 {
		return 0, nil
	}
	now := time.Now()
	err = b.db.Update(func(tx *bolt.Tx) error {
		tb, eb, err := tallyBuckets(tx)
		if err != nil {
			return err
		}
		if err := purgeTallies(tb, eb, now); err != nil {
			return err
		}
		for i := range adds {
			if err := addTally(tb, eb, &adds[i], now); err != nil {
				return fmt.Errorf("tally %q: %w", adds[i].Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: cannot add to tallies: %w", err)
	}
	return len(adds), nil
}

// tallyBuckets returns the buckets of the tallies and their expiries in a
// writing transaction, created when missing.
func tallyBuckets(tx *bolt.Tx) (tallies, expiry *bolt.Bucket, err error) {
	if tallies, err = tx.CreateBucketIfNotExists(bucketTallies); err != nil {
		return nil, nil, err
	}
	expiry, err = tx.CreateBucketIfNotExists(bucketTallyExpiry)
	return tallies, expiry, err
}

// addTally applies a inside a writing transaction.
func addTally(tb, eb *bolt.Bucket, a *TallyAdd, now time.Time) error {
	p, err := tallyPrefix(a.Key)
	if err != nil {
		return err
	}
	if exp := tallyExpiry(tb, p); exp != 0 && exp <= now.UnixNano() {
		if err := deleteTally(tb, eb, p, exp); err != nil {
			return err
		}
	}
	touched := false
	for name, n := range a.Counts {
		if n == 0 {
			continue
		}
		k := tallyKey(p, 'c', name)
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(getInt(tb.Get(k))+n))
		if err := tb.Put(k, v[:]); err != nil {
			return err
		}
		touched = true
	}
	var listExp int64
	if a.TTL > 0 {
		listExp = now.Add(max(a.TTL, time.Millisecond)).UnixNano()
	}
	if a.Keep > 0 {
		for name, items := range a.Recent {
			if len(items) == 0 {
				continue
			}
			k := tallyKey(p, 'r', name)
			old, _ := parseList(tb.Get(k), now)
			list := make([]string, 0, min(a.Keep, len(items)+len(old)))
			for i := len(items) - 1; i >= 0 && len(list) < a.Keep; i-- {
				list = append(list, items[i])
			}
			for _, it := range old {
				if len(list) == a.Keep {
					break
				}
				list = append(list, it)
			}
			if err := tb.Put(k, appendList(nil, listExp, list)); err != nil {
				return err
			}
			touched = true
		}
	}
	if touched && listExp != 0 {
		return setTallyExpiry(tb, eb, p, listExp)
	}
	return nil
}

// getInt reads an 8-byte count; absent is 0.
func getInt(v []byte) int64 {
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func tallyExpiry(tb *bolt.Bucket, p []byte) int64 {
	return getInt(tb.Get(tallyKey(p, 'x', "")))
}

// setTallyExpiry moves the tally of prefix p to expiry exp.
func setTallyExpiry(tb, eb *bolt.Bucket, p []byte, exp int64) error {
	if old := tallyExpiry(tb, p); old != 0 {
		if err := eb.Delete(expiryKey(old, p)); err != nil {
			return err
		}
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(exp))
	if err := tb.Put(tallyKey(p, 'x', ""), v[:]); err != nil {
		return err
	}
	return eb.Put(expiryKey(exp, p), nil)
}

// expiryKey is the tally_expiry key of the tally of prefix p.
func expiryKey(exp int64, p []byte) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(p)), uint64(exp))
	return append(k, p[2:]...)
}

// deleteTally deletes every key of the tally of prefix p, which expires
// at exp.
func deleteTally(tb, eb *bolt.Bucket, p []byte, exp int64) error {
	c := tb.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Seek(p) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return eb.Delete(expiryKey(exp, p))
}

// purgeTallies deletes up to tallyPurgeMax tallies that expired by now.
func purgeTallies(tb, eb *bolt.Bucket, now time.Time) error {
	type expired struct {
		exp int64
		p   []byte
	}
	var gone []expired
	c := eb.Cursor()
	for k, _ := c.First(); k != nil && len(gone) < tallyPurgeMax; k, _ = c.Next() {
		if len(k) < 8 {
			return fmt.Errorf("%w: tally expiry key %x", ErrCorrupt, k)
		}
		exp := int64(binary.BigEndian.Uint64(k))
		if exp > now.UnixNano() {
			break
		}
		p, err := tallyPrefix(string(k[8:]))
		if err != nil {
			return err
		}
		gone = append(gone, expired{exp, p})
	}
	for _, g := range gone {
		if err := deleteTally(tb, eb, g.p, g.exp); err != nil {
			return err
		}
	}
	return nil
}

// appendList encodes a recent list expiring at exp (0: never).
func appendList(dst []byte, exp int64, items []string) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(exp))
	for _, it := range items {
		dst = binary.AppendUvarint(dst, uint64(len(it)))
		dst = append(dst, it...)
	}
	return dst
}

var errBadList = errors.New("malformed tally list")

// parseList decodes a recent list; an expired one is empty.
func parseList(v []byte, now time.Time) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	if len(v) < 8 {
		return nil, errBadList
	}
	if exp := int64(binary.BigEndian.Uint64(v)); exp != 0 && exp <= now.UnixNano() {
		return nil, nil
	}
	var out []string
	for v = v[8:]; len(v) > 0; {
		n, w := binary.Uvarint(v)
		if w <= 0 || n > uint64(len(v)-w) {
			return nil, errBadList
		}
		out = append(out, string(v[w:w+int(n)]))
		v = v[w+int(n):]
	}
	return out, nil
}

// Tallies reads the tallies of keys, in their order, in one read
// transaction (a snapshot, unlike Redis's two reads). A missing or
// expired tally has empty, non-nil maps.
func (b *Bolt) Tallies(keys []string) ([]Tally, error) {
	out := make([]Tally, len(keys))
	now := time.Now()
	err := b.db.View(func(tx *bolt.Tx) error {
		tb := tx.Bucket(bucketTallies)
		for i, key := range keys {
			t := Tally{Counts: map[string]int64{}, Recent: map[string][]string{}}
			out[i] = t
			p, err := tallyPrefix(key)
			if err != nil {
				return err
			}
			if tb == nil {
				continue
			}
			if exp := tallyExpiry(tb, p); exp != 0 && exp <= now.UnixNano() {
				continue
			}
			c := tb.Cursor()
			for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
				if len(k) == len(p) {
					return fmt.Errorf("%w: tally key %x", ErrCorrupt, k)
				}
				name := string(k[len(p)+1:])
				switch k[len(p)] {
				case 'c':
					if len(v) != 8 {
						return fmt.Errorf("%w: count %q of tally %q", ErrCorrupt, name, key)
					}
					t.Counts[name] = getInt(v)
				case 'r':
					items, err := parseList(v, now)
					if err != nil {
						return fmt.Errorf("%w: list %q of tally %q", ErrCorrupt, name, key)
					}
					if len(items) > 0 {
						t.Recent[name] = items
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: cannot read tallies: %w", err)
	}
	return out, nil
}
