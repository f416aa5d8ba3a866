package store

import (
	"testing"
	"time"

	"github.com/cutover/cutover/chain"
)

// assertOnly checks that exactly keep remain, in every index and in the
// embedded store's stats.
func assertOnly(t *testing.T, b *Bolt, keep []*Record) {
	t.Helper()
	s, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	var bytes int64
	for _, r := range keep {
		bytes += int64(encodedLen(r))
	}
	if s.Records != int64(len(keep)) || s.Bytes != bytes {
		t.Errorf("Stats = %+v, want %d records of %d bytes", s, len(keep), bytes)
	}
	assertKept(t, b, keep)
}

func TestPruneBySize(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	recs := contractPruneData(t, b, 100)
	size := int64(encodedLen(recs[50]))
	// Room for 30 records and a half: the 30 newest stay.
	b.opt.MaxBytes = 30*size + size/2
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
	size := int64(encodedLen(recs[50]))
	b.opt.MaxBytes = 10 * size
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
// than its cap after a prune, and what it keeps is the newest.
func TestPruneHoldsTheCap(t *testing.T) {
	body := make([]byte, 1000)
	one := int64(encodedLen(&Record{Chain: chain.TraceID{0: 1}, Route: "r", Start: queryEpoch, RespBody: body}))
	capBytes := 40*one + one/2
	b, _ := openTest(t, BoltOptions{MaxBytes: capBytes})
	var last *Record
	for round := range 20 {
		recs := make([]*Record, 25)
		for i := range recs {
			recs[i] = &Record{Chain: chain.TraceID{0: 1}, Route: "r", Start: queryEpoch.Add(time.Duration(round*25+i) * time.Millisecond), RespBody: body}
		}
		mustAppend(t, b, recs...)
		last = recs[len(recs)-1]
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
		if round > 1 && s.Records != 40 {
			t.Fatalf("round %d: %d records kept, want the 40 that fit", round, s.Records)
		}
	}
	if _, err := b.Get(last.ID); err != nil {
		t.Errorf("the newest record is gone: %v", err)
	}
}
