package store

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestTallyMergeKeepsOlderItemsFirst(t *testing.T) {
	a := TallyAdd{Key: "k", Counts: map[string]int64{"c": 2}, Recent: map[string][]string{"f": {"3"}}}
	older := TallyAdd{Key: "k", Counts: map[string]int64{"c": 1, "o": 1}, Recent: map[string][]string{"f": {"1", "2"}, "g": {"9"}}}
	a.Merge(&older)
	want := TallyAdd{Key: "k", Counts: map[string]int64{"c": 3, "o": 1}, Recent: map[string][]string{"f": {"1", "2", "3"}, "g": {"9"}}}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("Merge = %+v, want %+v", a, want)
	}
	// Into an add without counts or lists.
	var empty TallyAdd
	empty.Merge(&older)
	if !reflect.DeepEqual(empty.Counts, older.Counts) || !reflect.DeepEqual(empty.Recent, older.Recent) {
		t.Errorf("Merge into an empty add = %+v", empty)
	}
}

// BenchmarkBoltAddTallies is one shadow flush of a busy route on the
// embedded store: its totals (60 counts, 5 sample lists) and one window
// bucket, in one transaction.
func BenchmarkBoltAddTallies(b *testing.B) {
	st, _ := openTest(b, BoltOptions{})
	total := TallyAdd{Key: "diff:orders", Counts: map[string]int64{}, Recent: map[string][]string{}, Keep: 10}
	for i := range 60 {
		total.Counts[fmt.Sprint("fpath.", i)] = 1
	}
	for i := range 5 {
		total.Recent[fmt.Sprint("vpath.", i)] = []string{"1700000000000000000 6b0229966775dc90"}
	}
	window := TallyAdd{Key: "diff:orders:w:1700000000", Counts: total.Counts, TTL: time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.AddTallies([]TallyAdd{total, window}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBoltTalliesSurviveReopenAndExpire: the embedded store's tallies and
// rollout revisions are in the file; an expired tally is deleted by the
// next add, index entry and all.
func TestBoltTalliesSurviveReopenAndExpire(t *testing.T) {
	b, path := openTest(t, BoltOptions{})
	adds := []TallyAdd{
		{Key: "diff:orders", Counts: map[string]int64{"c": 3}, Recent: map[string][]string{"vprice": {"1 a", "2 b"}}, Keep: 10},
		{Key: "diff:orders:w:10", Counts: map[string]int64{"c": 1}, TTL: 30 * time.Millisecond},
	}
	if _, err := b.AddTallies(adds); err != nil {
		t.Fatal(err)
	}
	rev, err := b.PutRolloutIf("orders", 0, 0, []byte("s"), nil)
	if err != nil || rev != 1 {
		t.Fatalf("PutRolloutIf = %d, %v", rev, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.Tallies([]string{"diff:orders"})
	if err != nil || got[0].Counts["c"] != 3 || !reflect.DeepEqual(got[0].Recent["vprice"], []string{"2 b", "1 a"}) {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
	if state, rev, err := b.RolloutRev("orders"); err != nil || string(state) != "s" || rev != 1 {
		t.Fatalf("RolloutRev after reopening = %q, %d, %v", state, rev, err)
	}
	pollUntil(t, 10*time.Second, "the window tally expires", func() bool {
		got, err := b.Tallies([]string{"diff:orders:w:10"})
		return err == nil && len(got[0].Counts) == 0
	})
	if _, err := b.AddTallies([]TallyAdd{{Key: "other", Counts: map[string]int64{"c": 1}}}); err != nil {
		t.Fatal(err)
	}
	var keys int
	err = b.db.View(func(tx *bolt.Tx) error {
		p, _ := tallyPrefix("diff:orders:w:10")
		c := tx.Bucket(bucketTallies).Cursor()
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
			keys++
		}
		return tx.Bucket(bucketTallyExpiry).ForEach(func([]byte, []byte) error { keys++; return nil })
	})
	if err != nil || keys != 0 {
		t.Errorf("%d keys of the expired tally left after the next add (%v)", keys, err)
	}
}
