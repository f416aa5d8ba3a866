package tally

import (
	"reflect"
	"testing"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/store"
)

func TestRefRoundTrip(t *testing.T) {
	r := diff.SampleRef{ID: "6b0229966775dc90", Time: time.Unix(1700000000, 123456789)}
	got, ok := parseRef(formatRef(r))
	if !ok || got.ID != r.ID || !got.Time.Equal(r.Time) {
		t.Errorf("round trip of %+v gave %+v, %v", r, got, ok)
	}
	for _, bad := range []string{"", "123", "x id", "123 "} {
		if _, ok := parseRef(bad); ok {
			t.Errorf("parseRef(%q) accepted", bad)
		}
	}
}

func TestMergeKeepsOlderItemsFirst(t *testing.T) {
	a := store.TallyAdd{Key: "k", Counts: map[string]int64{"c": 2}, Recent: map[string][]string{"f": {"3"}}}
	older := store.TallyAdd{Key: "k", Counts: map[string]int64{"c": 1, "o": 1}, Recent: map[string][]string{"f": {"1", "2"}, "g": {"9"}}}
	Merge(&a, &older)
	want := store.TallyAdd{Key: "k", Counts: map[string]int64{"c": 3, "o": 1}, Recent: map[string][]string{"f": {"1", "2", "3"}, "g": {"9"}}}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("Merge = %+v, want %+v", a, want)
	}
}

func TestWindowStartsCoverTheReportWindow(t *testing.T) {
	now := time.Unix(1700000015, 0) // 5 s into a bucket
	got := WindowStarts(now, 30*time.Second)
	want := []int64{1699999990, 1700000000, 1700000010}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WindowStarts = %v, want %v", got, want)
	}
	if n := len(WindowStarts(now, diff.MaxWindow)); n != 360 {
		t.Errorf("a full window reads %d buckets, want 360", n)
	}
}

// A delta taken from an aggregator, added and rebuilt, reports the same.
func TestAddThenAggregator(t *testing.T) {
	now := time.Unix(1700000000, 0)
	agg := diff.NewAggregator("r", diff.AggregatorOptions{Seed: 1})
	for i := range 50 {
		p := diff.Pair{Time: now, OldStatus: 200, NewStatus: 200, SampleID: "s" + string(rune('a'+i%26))}
		if i%5 == 0 {
			p.Diffs = []diff.Difference{{Path: "price", Kind: diff.KindType}}
		}
		agg.Add(&p)
	}
	d := agg.Take()
	add := Add("diff:r", &d, 10, 0, map[string]int64{"\xffx": 7})
	if add.Counts["\xffx"] != 7 || len(add.Recent) != 1 {
		t.Fatalf("add: %+v", add)
	}
	// Recent lists come back newest first, as Redis keeps them.
	tl := store.Tally{Counts: add.Counts, Recent: map[string][]string{}}
	for k, items := range add.Recent {
		rev := make([]string, len(items))
		for i, it := range items {
			rev[len(items)-1-i] = it
		}
		tl.Recent[k] = rev
	}
	merged, err := Aggregator("r", diff.AggregatorOptions{}, tl, nil, "\xffx")
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := merged.Report(now, 0)
	if rep.Compared != 50 || rep.Differing != 10 || len(rep.Fields) != 1 || len(rep.Fields[0].Samples) == 0 {
		t.Errorf("merged report: %+v", rep)
	}
	if _, err := Aggregator("r", diff.AggregatorOptions{}, tl, nil); err == nil {
		t.Error("a count outside diff's grammar was not refused")
	}
}
