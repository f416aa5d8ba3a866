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
