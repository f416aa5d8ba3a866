package diff

import (
	"slices"
	"testing"
	"time"
)

func TestWindowEpochs(t *testing.T) {
	// now = 12:00:05; since 30s → buckets starting 11:59:40, :50, 12:00:00.
	lo, hi := windowEpochs(t0, 30*time.Second)
	if hi-lo != 2 || hi != epochOf(t0) {
		t.Errorf("window [%d, %d], now in %d", lo, hi, epochOf(t0))
	}
	// A window ending on a boundary includes the bucket starting at now−since.
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if lo, hi := windowEpochs(at, 30*time.Second); hi-lo != 3 {
		t.Errorf("window on a boundary [%d, %d]", lo, hi)
	}
	// A window shorter than a bucket still holds now's bucket.
	if lo, hi := windowEpochs(t0, time.Second); lo != hi || hi != epochOf(t0) {
		t.Errorf("1s window [%d, %d]", lo, hi)
	}
	if e := epochOf(time.Unix(-1, 0)); e != -1 {
		t.Errorf("epochOf(-1s) = %d", e)
	}
	if i := ringIndex(-1); i != ringSize-1 {
		t.Errorf("ringIndex(-1) = %d", i)
	}
}

func TestAggregatorWindows(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1})
	add := func(ago time.Duration, id string, diffs ...Difference) {
		p := pair(id, diffs...)
		p.Time = t0.Add(-ago)
		p.Tenant = "t-" + id
		a.Add(p)
	}
	add(5*time.Second, "a", d("x", KindValue))  // 12:00:00 bucket
	add(25*time.Second, "b", d("y", KindValue)) // 11:59:40 bucket
	add(45*time.Second, "c", d("x", KindValue)) // 11:59:20: outside 30s
	add(20*time.Minute, "d", d("z", KindValue))
	add(20*time.Minute, "e")
	a.AddNoise(t0.Add(-20*time.Minute), []Difference{d("x", KindValue)})

	r := mustReport(t, a, t0, 30*time.Second)
	if r.Compared != 2 || r.Differing != 2 || r.NoisePairs != 0 || len(r.Fields) != 2 {
		t.Fatalf("30s window: %+v", r)
	}
	if f := field(t, r, "x", KindValue); f.Count != 1 || f.Rate != 0.5 || !slices.Equal(f.Samples, []string{"a"}) {
		t.Errorf("30s window x = %+v", f)
	}
	if len(r.Tenants) != 2 {
		t.Errorf("30s window tenants %+v", r.Tenants)
	}

	r = mustReport(t, a, t0, 0)
	if r.Compared != 5 || r.NoisePairs != 1 || len(r.Fields) != 3 {
		t.Fatalf("since start: %+v", r)
	}
	// x: 2/5 = 40% against 100% of the one noise pair → noise.
	if f := field(t, r, "x", KindValue); f.Count != 2 || !f.Noise || !slices.Equal(f.Samples, []string{"a", "c"}) {
		t.Errorf("since start x = %+v", f)
	}
	if r.Differing != 2 {
		t.Errorf("since start differing %d, want 2 (y, z)", r.Differing)
	}

	r = mustReport(t, a, t0, time.Hour)
	if r.Compared != 5 || r.NoisePairs != 1 {
		t.Errorf("1h window: compared %d noise %d", r.Compared, r.NoisePairs)
	}

	// An hour later the slots are reused: the old pairs leave the window
	// but stay in the totals.
	later := t0.Add(time.Hour)
	p := pair("f", d("w", KindValue))
	p.Time = later
	slot := a.c.ring[ringIndex(epochOf(later))]
	a.Add(p)
	if a.c.ring[ringIndex(epochOf(later))] != slot {
		t.Error("bucket not reused")
	}
	r = mustReport(t, a, later, 10*time.Second)
	if r.Compared != 1 || len(r.Fields) != 1 || r.Fields[0].Path != "w" {
		t.Errorf("reused bucket: %+v", r)
	}
	r = mustReport(t, a, later, time.Hour)
	if r.Compared != 1 { // "a" is in the bucket 12:00:00, now reused for 13:00:00
		t.Errorf("1h window an hour later: compared %d, want 1", r.Compared)
	}
	if r := mustReport(t, a, later, 0); r.Compared != 6 {
		t.Errorf("since start an hour later: compared %d", r.Compared)
	}

	// A pair older than its slot's bucket counts in the totals only.
	p = pair("g", d("v", KindValue))
	p.Time = t0.Add(-5 * time.Second)
	a.Add(p)
	if r := mustReport(t, a, later, time.Hour); r.Compared != 1 {
		t.Errorf("late pair entered the window: compared %d", r.Compared)
	}
	if r := mustReport(t, a, later, 0); r.Compared != 7 {
		t.Errorf("late pair not in totals: compared %d", r.Compared)
	}

	n := 0
	for _, b := range a.c.ring {
		if b != nil {
			n++
		}
	}
	if n > ringSize {
		t.Errorf("%d buckets", n)
	}
}

func TestAggregatorWindowRingBounded(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1})
	// Three hours at one pair a second: every slot used three times.
	for i := range 3 * 3600 {
		p := pair("x", d("f", KindValue))
		p.Time = t0.Add(time.Duration(i) * time.Second)
		a.Add(p)
	}
	end := t0.Add(3*time.Hour - time.Second)
	if r := mustReport(t, a, end, time.Hour); r.Compared < 3590 || r.Compared > 3610 {
		t.Errorf("1h window holds %d pairs", r.Compared)
	}
	if r := mustReport(t, a, end, 30*time.Second); r.Compared < 20 || r.Compared > 40 {
		t.Errorf("30s window holds %d pairs", r.Compared)
	}
	if r := mustReport(t, a, end, 0); r.Compared != 3*3600 {
		t.Errorf("totals hold %d pairs", r.Compared)
	}
	var sum uint64
	for _, b := range a.c.ring {
		if b == nil || b.compared > 10 || b.epoch < epochOf(end)-int64(ringSize) {
			t.Fatalf("bucket %+v", b)
		}
		sum += b.compared
	}
	// The last pair is at 15:00:04; the ring holds 14:00:10 to 15:00:04.
	if sum != 3595 {
		t.Errorf("the ring holds %d pairs, want 3595", sum)
	}
}
