package store

import (
	"fmt"
	"reflect"
	"testing"
	"time"
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
