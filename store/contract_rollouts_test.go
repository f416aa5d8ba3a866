package store

import (
	"reflect"
	"testing"
)

// rolloutHistory is the rollout history both drivers implement.
type rolloutHistory interface {
	PutRollout(route string, state []byte, events [][]byte) error
	Rollouts() (map[string][]byte, error)
	RolloutEvents(route string, limit int) ([][]byte, error)
}

var (
	_ rolloutHistory = (*Bolt)(nil)
	_ rolloutHistory = (*Redis)(nil)
)

func historyEvents(t *testing.T, h rolloutHistory, route string, limit int) [][]byte {
	t.Helper()
	got, err := h.RolloutEvents(route, limit)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestContractRolloutStates(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		h := s.(rolloutHistory)
		if got, err := h.Rollouts(); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("Rollouts of a new store = %#v, %v; want an empty map", got, err)
		}
		for _, p := range []struct{ route, state string }{{"orders", "s1"}, {"items", "i1"}, {"orders", "s2"}} {
			if err := h.PutRollout(p.route, []byte(p.state), nil); err != nil {
				t.Fatal(err)
			}
		}
		// A nil state leaves the stored one alone; an empty one is a state.
		if err := h.PutRollout("orders", nil, events("e", 0, 1)); err != nil {
			t.Fatal(err)
		}
		if err := h.PutRollout("empty", []byte{}, nil); err != nil {
			t.Fatal(err)
		}
		// Events alone do not make a state.
		if err := h.PutRollout("stateless", nil, events("e", 0, 1)); err != nil {
			t.Fatal(err)
		}
		got, err := h.Rollouts()
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := got["empty"]; !ok || len(e) != 0 {
			t.Errorf("empty state read back as %q, %v", e, ok)
		}
		delete(got, "empty")
		want := map[string][]byte{"orders": []byte("s2"), "items": []byte("i1")}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Rollouts = %q, want %q", got, want)
		}
		// The returned blobs are copies.
		got["orders"][0] = 'X'
		if again, _ := h.Rollouts(); string(again["orders"]) != "s2" {
			t.Errorf("state after changing the returned copy = %q", again["orders"])
		}
	})
}

func TestContractRolloutEmptyRoute(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		h := s.(rolloutHistory)
		if err := h.PutRollout("", []byte("s"), nil); err == nil {
			t.Error("PutRollout of a state with an empty route succeeded")
		}
		if err := h.PutRollout("", nil, events("e", 0, 1)); err == nil {
			t.Error("PutRollout of events with an empty route succeeded")
		}
		// Nothing to write is no error, whatever the route.
		if err := h.PutRollout("", nil, nil); err != nil {
			t.Errorf("PutRollout of nothing = %v", err)
		}
		if got, err := h.Rollouts(); err != nil || len(got) != 0 {
			t.Errorf("Rollouts after the refused writes = %q, %v", got, err)
		}
	})
}

func TestContractRolloutEventsOrderAndLimit(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		h := s.(rolloutHistory)
		if err := h.PutRollout("orders", []byte("s"), events("o", 0, 3)); err != nil {
			t.Fatal(err)
		}
		if err := h.PutRollout("orders", nil, events("o", 3, 5)); err != nil {
			t.Fatal(err)
		}
		if err := h.PutRollout("items", nil, events("i", 0, 2)); err != nil {
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
			if got := historyEvents(t, h, "orders", tc.limit); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("RolloutEvents(orders, %d) = %q, want %q", tc.limit, got, tc.want)
			}
		}
		if got := historyEvents(t, h, "items", 0); !reflect.DeepEqual(got, events("i", 0, 2)) {
			t.Errorf("RolloutEvents(items) = %q: routes' histories mixed", got)
		}
		for _, route := range []string{"unknown", ""} {
			if got := historyEvents(t, h, route, 0); got == nil || len(got) != 0 {
				t.Errorf("RolloutEvents(%q) = %#v, want an empty non-nil list", route, got)
			}
		}
		// The returned events are copies.
		got := historyEvents(t, h, "items", 0)
		got[0][0] = 'X'
		if again := historyEvents(t, h, "items", 0); string(again[0]) != "i-0" {
			t.Errorf("event after changing the returned copy = %q", again[0])
		}
	})
}

func TestContractRolloutEventsCap(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		h := s.(rolloutHistory)
		// 1005 events in calls of 400, 400 and 205: the last call crosses
		// the cap, and the trim must drop exactly the 5 oldest.
		for _, r := range [][2]int{{0, 400}, {400, 800}, {800, 1005}} {
			if err := h.PutRollout("orders", nil, events("o", r[0], r[1])); err != nil {
				t.Fatal(err)
			}
		}
		got := historyEvents(t, h, "orders", 0)
		if want := events("o", 5, 1005); !reflect.DeepEqual(got, want) {
			t.Fatalf("kept %d events from %q to %q, want the %d newest from %q", len(got), got[0], got[len(got)-1], MaxRolloutEvents, want[0])
		}
		// One call larger than the cap keeps the newest of its own events.
		if err := h.PutRollout("items", nil, events("i", 0, MaxRolloutEvents+3)); err != nil {
			t.Fatal(err)
		}
		if got := historyEvents(t, h, "items", 0); !reflect.DeepEqual(got, events("i", 3, MaxRolloutEvents+3)) {
			t.Errorf("one call of %d events kept %d, first %q", MaxRolloutEvents+3, len(got), got[0])
		}
		// Appending after the cap still keeps the newest, in order.
		if err := h.PutRollout("items", nil, events("i", MaxRolloutEvents+3, MaxRolloutEvents+5)); err != nil {
			t.Fatal(err)
		}
		if got := historyEvents(t, h, "items", 3); !reflect.DeepEqual(got, events("i", MaxRolloutEvents+2, MaxRolloutEvents+5)) {
			t.Errorf("newest 3 after an append past the cap = %q", got)
		}
		if got := historyEvents(t, h, "items", 0); len(got) != MaxRolloutEvents {
			t.Errorf("kept %d events after an append past the cap, want %d", len(got), MaxRolloutEvents)
		}
	})
}
