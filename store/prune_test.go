package store

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/cutover/cutover/chain"
	bolt "go.etcd.io/bbolt"
)

// assertOnly checks that exactly keep remain, in every index and in the
// embedded store's stats.
func assertOnly(t *testing.T, b *Bolt, keep []*Record) {
	t.Helper()
	s, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	size := storedBytes(t, b, keep)
	if s.Records != int64(len(keep)) || s.Bytes != size {
		t.Errorf("Stats = %+v, want %d records of %d bytes", s, len(keep), size)
	}
	assertKept(t, b, keep)
}

func TestPruneBySize(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	recs := contractPruneData(t, b, 100)
	// Room for the 30 newest and half the next: they stay.
	b.opt.MaxBytes = storedBytes(t, b, recs[70:]) + storedBytes(t, b, recs[69:70])/2
	removed, err := b.Prune(queryEpoch)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 70 {
		t.Errorf("Prune removed %d, want 70", removed)
	}
	assertOnly(t, b, recs[70:])
}

func TestPruneAgeThenSize(t *testing.T) {
	b, _ := openTest(t, BoltOptions{Retention: time.Hour})
	recs := contractPruneData(t, b, 100)
	b.opt.MaxBytes = storedBytes(t, b, recs[90:]) + storedBytes(t, b, recs[89:90])/2
	removed, err := b.Prune(queryEpoch.Add(100 * time.Minute))
	if err != nil || removed != 90 {
		t.Fatalf("Prune = %d, %v; want 90", removed, err)
	}
	assertOnly(t, b, recs[90:])
}

func TestPruneManyBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("appends more than one prune batch")
	}
	b, _ := openTest(t, BoltOptions{Retention: time.Minute})
	n := PruneBatch*2 + 17
	recs := make([]*Record, n)
	for i := range recs {
		recs[i] = &Record{Chain: chain.TraceID{0: 1}, Route: "r", Start: queryEpoch.Add(time.Duration(i) * time.Millisecond)}
	}
	for i := 0; i < n; i += 1000 {
		mustAppend(t, b, recs[i:min(i+1000, n)]...)
	}
	keep := 5
	// Everything but the newest keep started more than a minute before
	// now.
	removed, err := b.Prune(recs[n-keep].Start.Add(time.Minute))
	if err != nil || removed != n-keep {
		t.Fatalf("Prune = %d, %v; want %d", removed, err, n-keep)
	}
	assertOnly(t, b, recs[n-keep:])
}

// TestPruneHoldsTheCap: a store written to well past its MaxBytes, pruned
// between writes as the gateway's retention loop does, never holds more
// than its cap after a prune, on disk too, and what it keeps is the
// newest. The records are JSON calls, compressed in frames: the cap
// counts the compressed bytes.
func TestPruneHoldsTheCap(t *testing.T) {
	const batch = 25
	recs := jsonRecords(20*batch, 3)
	b, path := openTest(t, BoltOptions{})
	b.seg.limit = 16 << 10 // segments rotate, and pruning deletes them
	mustAppend(t, b, recs[:batch]...)
	first, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	capBytes := first.Bytes * 40 / batch // room for about 40 records
	b.opt.MaxBytes = capBytes
	for round := 1; round < 20; round++ {
		mustAppend(t, b, recs[round*batch:(round+1)*batch]...)
		if _, err := b.Prune(queryEpoch); err != nil {
			t.Fatal(err)
		}
		s, err := b.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if s.Bytes > capBytes {
			t.Fatalf("round %d: %d bytes stored after a prune, over the cap of %d", round, s.Bytes, capBytes)
		}
		if round > 1 && (s.Records < 30 || s.Records > 50) {
			t.Fatalf("round %d: %d records kept, want the about 40 that fit", round, s.Records)
		}
		// The segments hold the cap, the pruned part of the oldest
		// segment and the active one's overshoot of a batch.
		if disk := diskBytes(t, path) - fileSize(t, path); disk > capBytes+b.seg.limit+first.Bytes {
			t.Fatalf("round %d: segments take %d bytes on disk, over the cap of %d and a segment", round, disk, capBytes)
		}
		page, err := b.Records(Query{Limit: MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		newest := recs[:(round+1)*batch]
		for i, r := range page.Records {
			if w := newest[len(newest)-1-i]; r.ID != w.ID || !bytes.Equal(r.RespBody, w.RespBody) {
				t.Fatalf("round %d: record %d is %v, want %v, the newest", round, i, r.ID, w.ID)
			}
		}
	}
}

// storedBytes is what recs, appended to b, add to its logical size: the
// sizes their entries charge.
func storedBytes(t *testing.T, b *Bolt, recs []*Record) int64 {
	t.Helper()
	var total int64
	err := b.db.View(func(tx *bolt.Tx) error {
		for _, r := range recs {
			var e entry
			if found, err := getEntry(openBuckets(tx), r.ID[:], &e); err != nil || !found {
				return fmt.Errorf("entry of %s: found %t, %w", r.ID, found, err)
			}
			total += e.size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}
