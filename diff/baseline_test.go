package diff

import (
	"testing"
	"time"
)

func TestReportAgainstBaseline(t *testing.T) {
	route := NewAggregator("r", AggregatorOptions{Seed: 1})
	// The route has seen meta.ts differ in every old/secondary pair.
	for range 10 {
		route.AddNoise(time.Time{}, []Difference{d("meta.ts", KindValue)})
	}
	step := NewAggregator("r", AggregatorOptions{Seed: 1})
	for i := range 100 {
		diffs := []Difference{d("meta.ts", KindValue)}
		if i%10 == 0 {
			diffs = append(diffs, d("price", KindType))
		}
		step.Add(pair("", diffs...))
	}

	// On its own the step has no old/secondary pair: nothing is noise.
	own := mustReport(t, step, time.Now(), 0)
	if own.Differing != 100 {
		t.Fatalf("own classification: differing %d, want 100", own.Differing)
	}

	r := step.ReportAgainst(route.Baseline())
	if r.Compared != 100 || r.Differing != 10 || r.NoisePairs != 10 || r.NoiseRate != 1 {
		t.Fatalf("against the baseline: compared %d differing %d noise pairs %d noise rate %v, want 100 10 10 1",
			r.Compared, r.Differing, r.NoisePairs, r.NoiseRate)
	}
	if f := field(t, r, "meta.ts", KindValue); !f.Noise || f.NoiseRate != 1 {
		t.Errorf("meta.ts: %+v, want noise at noise rate 1", f)
	}
	if f := field(t, r, "price", KindType); f.Noise || f.Count != 10 {
		t.Errorf("price: %+v, want 10 real", f)
	}

	// An empty baseline classifies nothing as noise.
	if r := step.ReportAgainst(Baseline{}); r.Differing != 100 {
		t.Errorf("empty baseline: differing %d, want 100", r.Differing)
	}
}

func TestNewSlowerThan(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1})
	for i := range 100 {
		p := pair("")
		p.OldLatency = time.Millisecond
		p.NewLatency = time.Duration(i+1) * time.Millisecond
		a.Add(p)
	}
	slower, n := a.NewSlowerThan(90 * time.Millisecond)
	if slower != 10 || n != 100 {
		t.Fatalf("slower than 90ms: %d of %d, want 10 of 100", slower, n)
	}
	if slower, _ := a.NewSlowerThan(time.Second); slower != 0 {
		t.Fatalf("slower than 1s: %d, want 0", slower)
	}
}
