package store

import (
	"fmt"
	"reflect"
	"testing"
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
