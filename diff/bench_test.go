package diff

import (
	"fmt"
	"testing"
	"time"
)

// benchPairs returns pairs shaped like a real route's: most equal, some
// differing in one or a few of a handful of fields, a dozen tenants.
func benchPairs() []*Pair {
	fields := []Difference{
		{Path: "meta.ts", Kind: KindValue}, {Path: "items.#.price", Kind: KindValue},
		{Path: "items.#.sku", Kind: KindMissing}, {Path: "items", Kind: KindOrder},
		{Path: "total", Kind: KindType}, {Path: "", Kind: KindStatus},
	}
	var pairs []*Pair
	for i := range 64 {
		p := &Pair{
			Tenant: fmt.Sprint("tenant-", i%12), Served: "old",
			OldStatus: 200, NewStatus: 200,
			OldLatency: time.Duration(1+i%17) * time.Millisecond, NewLatency: time.Duration(2+i%23) * time.Millisecond,
			SampleID: fmt.Sprint("sample-", i),
		}
		switch i % 4 {
		case 1:
			p.Diffs = fields[i%len(fields) : i%len(fields)+1]
		case 2:
			p.Diffs = []Difference{fields[0], fields[1], fields[1], fields[1]}
		case 3:
			p.Diffs = fields
			p.NewStatus = 500
		}
		pairs = append(pairs, p)
	}
	return pairs
}

// warmUp adds pairs over more than MaxWindow, so every window bucket,
// field, signature and tenant exists and reservoirs are full.
func warmUp(a *Aggregator, pairs []*Pair) {
	for i := range 2 * ringSize * 10 {
		p := pairs[i%len(pairs)]
		p.Time = t0.Add(time.Duration(i) * time.Second) // two hours
		a.Add(p)
		a.AddNoise(p.Time, p.Diffs)
	}
}

func BenchmarkAggregatorAdd(b *testing.B) {
	a := NewAggregator("bench", AggregatorOptions{Seed: 1})
	pairs := benchPairs()
	warmUp(a, pairs)
	start := t0.Add(2 * time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := pairs[i%len(pairs)]
		// 10 000 pairs per second: the window buckets rotate.
		p.Time = start.Add(time.Duration(i) * 100 * time.Microsecond)
		a.Add(p)
	}
}

func BenchmarkAggregatorAddParallel(b *testing.B) {
	a := NewAggregator("bench", AggregatorOptions{Seed: 1})
	warmUp(a, benchPairs())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		pairs := benchPairs()
		now := t0.Add(2 * time.Hour)
		for i := 0; pb.Next(); i++ {
			p := pairs[i%len(pairs)]
			p.Time = now
			a.Add(p)
		}
	})
}

func BenchmarkAggregatorReport(b *testing.B) {
	a := NewAggregator("bench", AggregatorOptions{Seed: 1})
	warmUp(a, benchPairs())
	now := t0.Add(2 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Report(now, 15*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
