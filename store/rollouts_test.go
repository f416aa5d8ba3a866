package store

import (
	"fmt"
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// events returns the encodings "prefix-from" … "prefix-(to-1)".
func events(prefix string, from, to int) [][]byte {
	var out [][]byte
	for i := from; i < to; i++ {
		out = append(out, fmt.Appendf(nil, "%s-%d", prefix, i))
	}
	return out
}

func mustEvents(t *testing.T, b *Bolt, route string, limit int) [][]byte {
	t.Helper()
	got, err := b.RolloutEvents(route, limit)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRolloutStates(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	if got, err := b.Rollouts(); err != nil || len(got) != 0 {
		t.Fatalf("Rollouts of a new store = %q, %v", got, err)
	}
	if err := b.PutRollout("orders", []byte("s1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.PutRollout("items", []byte("i1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.PutRollout("orders", []byte("s2"), nil); err != nil {
		t.Fatal(err)
	}
	// A nil state leaves the stored one alone.
	if err := b.PutRollout("orders", nil, events("e", 0, 1)); err != nil {
		t.Fatal(err)
	}
	got, err := b.Rollouts()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"orders": []byte("s2"), "items": []byte("i1")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Rollouts = %q, want %q", got, want)
	}
	// The returned blobs are copies: changing them changes nothing stored.
	got["orders"][0] = 'X'
	if again, _ := b.Rollouts(); string(again["orders"]) != "s2" {
		t.Errorf("state after changing the returned copy = %q", again["orders"])
	}
	if err := b.PutRollout("", []byte("s"), nil); err == nil {
		t.Error("PutRollout with an empty route succeeded")
	}
}

func TestRolloutEventsOrderAndLimit(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	if err := b.PutRollout("orders", []byte("s"), events("o", 0, 3)); err != nil {
		t.Fatal(err)
	}
	if err := b.PutRollout("orders", nil, events("o", 3, 5)); err != nil {
		t.Fatal(err)
	}
	if err := b.PutRollout("items", nil, events("i", 0, 2)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit int
		want  [][]byte
	}{
		{0, events("o", 0, 5)},
		{-1, events("o", 0, 5)},
		{2, events("o", 3, 5)},
		{1, events("o", 4, 5)},
		{5, events("o", 0, 5)},
		{50, events("o", 0, 5)},
	} {
		if got := mustEvents(t, b, "orders", tc.limit); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("RolloutEvents(orders, %d) = %q, want %q", tc.limit, got, tc.want)
		}
	}
	if got := mustEvents(t, b, "items", 0); !reflect.DeepEqual(got, events("i", 0, 2)) {
		t.Errorf("RolloutEvents(items) = %q: routes' histories mixed", got)
	}
	for _, route := range []string{"unknown", ""} {
		if got := mustEvents(t, b, route, 0); got == nil || len(got) != 0 {
			t.Errorf("RolloutEvents(%q) = %#v, want an empty non-nil list", route, got)
		}
	}
}

func TestRolloutEventsCap(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	// 1005 events in calls of 400, 400 and 205: the last call crosses the
	// cap, and the trim must drop exactly the 5 oldest.
	for _, r := range [][2]int{{0, 400}, {400, 800}, {800, 1005}} {
		if err := b.PutRollout("orders", nil, events("o", r[0], r[1])); err != nil {
			t.Fatal(err)
		}
	}
	got := mustEvents(t, b, "orders", 0)
	if want := events("o", 5, 1005); !reflect.DeepEqual(got, want) {
		t.Fatalf("kept %d events from %q to %q, want the %d newest from %q", len(got), got[0], got[len(got)-1], MaxRolloutEvents, want[0])
	}
	// One call larger than the cap keeps the newest of its own events.
	if err := b.PutRollout("items", nil, events("i", 0, MaxRolloutEvents+3)); err != nil {
		t.Fatal(err)
	}
	if got := mustEvents(t, b, "items", 0); !reflect.DeepEqual(got, events("i", 3, MaxRolloutEvents+3)) {
		t.Errorf("one call of %d events kept %d, first %q", MaxRolloutEvents+3, len(got), got[0])
	}
	// The deleted events are gone from the file, not only hidden.
	err := b.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketRolloutEvents).Bucket([]byte("orders")).Stats().KeyN; n != MaxRolloutEvents {
			t.Errorf("bucket holds %d keys, want %d", n, MaxRolloutEvents)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRolloutsSurviveReopen(t *testing.T) {
	b, path := openTest(t, BoltOptions{})
	if err := b.PutRollout("orders", []byte("state-o"), events("o", 0, 3)); err != nil {
		t.Fatal(err)
	}
	if err := b.PutRollout("items", []byte("state-i"), events("i", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	states, err := b.Rollouts()
	if want := map[string][]byte{"orders": []byte("state-o"), "items": []byte("state-i")}; err != nil || !reflect.DeepEqual(states, want) {
		t.Errorf("Rollouts after reopen = %q, %v; want %q", states, err, want)
	}
	if got := mustEvents(t, b, "orders", 0); !reflect.DeepEqual(got, events("o", 0, 3)) {
		t.Errorf("orders events after reopen = %q", got)
	}
	if got := mustEvents(t, b, "items", 0); !reflect.DeepEqual(got, events("i", 0, 1)) {
		t.Errorf("items events after reopen = %q", got)
	}
	// The sequence survives too: a new event sorts after the old ones.
	if err := b.PutRollout("orders", nil, events("o", 3, 4)); err != nil {
		t.Fatal(err)
	}
	if got := mustEvents(t, b, "orders", 0); !reflect.DeepEqual(got, events("o", 0, 4)) {
		t.Errorf("orders events after an append past reopen = %q", got)
	}
}
