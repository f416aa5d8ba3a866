package store

import (
	"reflect"
	"testing"
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
