package store

import (
	"errors"
	"testing"
	"time"
)

func TestSamplesAndDiffStates(t *testing.T) {
	b, path := openTest(t, BoltOptions{Retention: time.Hour})
	now := time.Now()
	old, fresh := NewSampleID(now.Add(-2*time.Hour)), NewSampleID(now)
	if fresh.Time().Unix() != now.Unix() {
		t.Errorf("ID time %v, want %v", fresh.Time(), now)
	}
	err := b.PutDiffs([]Sample{{ID: old, Data: []byte(`{"old":1}`)}, {ID: fresh, Data: []byte(`{"fresh":1}`)}},
		map[string][]byte{"orders": []byte("state-1")})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PutDiffs(nil, map[string][]byte{"orders": []byte("state-2"), "items": []byte("s")}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Sample(fresh); err != nil || string(got) != `{"fresh":1}` {
		t.Errorf("Sample(fresh) = %s, %v", got, err)
	}
	if _, err := b.Sample(NewSampleID(now)); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown sample: %v, want ErrNotFound", err)
	}
	if _, err := b.Prune(now); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Sample(old); !errors.Is(err, ErrNotFound) {
		t.Errorf("a sample past retention survived Prune: %v", err)
	}
	if _, err := b.Sample(fresh); err != nil {
		t.Errorf("a fresh sample was pruned: %v", err)
	}
	b.Close()

	b, err = OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	states, err := b.DiffStates()
	if err != nil || string(states["orders"]) != "state-2" || string(states["items"]) != "s" || len(states) != 2 {
		t.Errorf("DiffStates after reopen = %q, %v", states, err)
	}
}

func TestParseSampleID(t *testing.T) {
	id := NewSampleID(time.Now())
	if got, err := ParseSampleID(id.String()); err != nil || got != id {
		t.Errorf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", "abc", "zzzzzzzzzzzzzzzz", id.String() + "00"} {
		if _, err := ParseSampleID(bad); !errors.Is(err, ErrBadSampleID) {
			t.Errorf("ParseSampleID(%q) = %v, want ErrBadSampleID", bad, err)
		}
	}
}
