package diff

import (
	"errors"
	"testing"
	"time"
)

func TestSeries(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1})
	add := func(ago time.Duration, lat time.Duration, diffs ...Difference) {
		p := pair("s", diffs...)
		p.Time = t0.Add(-ago)
		p.OldLatency, p.NewLatency = lat, 2*lat
		a.Add(p)
	}
	// now = 12:00:05: buckets 11:59:40, :50 and 12:00:00 in a 30s window.
	add(5*time.Second, 10*time.Millisecond, d("x", KindValue))
	add(5*time.Second, 10*time.Millisecond)
	add(25*time.Second, 20*time.Millisecond, d("y", KindValue), d("n", KindValue))
	add(25*time.Second, 20*time.Millisecond, d("n", KindValue))
	add(45*time.Second, time.Millisecond, d("x", KindValue)) // outside the window
	// n differs in every noise pair: noise, so the pair differing only
	// there does not count.
	for range 40 {
		a.AddNoise(t0.Add(-25*time.Second), []Difference{d("n", KindValue)})
	}

	pts, err := a.Series(t0, 30*time.Second, WindowBucket)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 3 {
		t.Fatalf("%d points, want 3: %+v", len(pts), pts)
	}
	want := []struct {
		start              time.Time
		compared, differed uint64
		oldP99             float64
	}{
		{time.Date(2025, 3, 1, 11, 59, 40, 0, time.UTC), 2, 1, 20},
		{time.Date(2025, 3, 1, 11, 59, 50, 0, time.UTC), 0, 0, 0},
		{time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), 2, 1, 10},
	}
	for i, w := range want {
		p := pts[i]
		if !p.T.Equal(w.start) || p.Compared != w.compared || p.Differing != w.differed {
			t.Errorf("point %d = %+v, want start %s compared %d differing %d", i, p, w.start, w.compared, w.differed)
		}
		if w.oldP99 > 0 && (p.OldP99 < w.oldP99*0.97 || p.OldP99 > w.oldP99*1.03 || p.NewP99 < 2*w.oldP99*0.97) {
			t.Errorf("point %d p99 old %v new %v, want about %v and twice that", i, p.OldP99, p.NewP99, w.oldP99)
		}
	}
	if pts[0].NoisePairs != 40 {
		t.Errorf("first point noise pairs %d, want 40", pts[0].NoisePairs)
	}

	// The points add up to the report of the same window.
	r := mustReport(t, a, t0, 30*time.Second)
	var compared, differing uint64
	for _, p := range pts {
		compared += p.Compared
		differing += p.Differing
	}
	if compared != r.Compared || differing != r.Differing {
		t.Errorf("points sum to %d/%d, the report says %d/%d", differing, compared, r.Differing, r.Compared)
	}

	// A 20s step merges two buckets per point, aligned on multiples of 20s.
	pts, err = a.Series(t0, 30*time.Second, 2*WindowBucket)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 || pts[0].Compared != 2 || pts[1].Compared != 2 || pts[1].T.Second() != 0 {
		t.Errorf("20s points %+v", pts)
	}

	for _, bad := range []struct{ since, step time.Duration }{
		{0, WindowBucket}, {2 * time.Hour, WindowBucket}, {time.Minute, 15 * time.Second}, {time.Minute, 0},
	} {
		if _, err := a.Series(t0, bad.since, bad.step); !errors.Is(err, ErrWindow) && !errors.Is(err, ErrSeriesStep) {
			t.Errorf("Series(since %v, step %v) = %v, want an error", bad.since, bad.step, err)
		}
	}
}
