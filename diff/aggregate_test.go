package diff

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)

func d(path string, kind Kind) Difference { return Difference{Path: path, Kind: kind} }

// pair returns a 200/200 pair at t0 with latencies of 10 and 12 ms.
func pair(id string, diffs ...Difference) *Pair {
	return &Pair{Time: t0, OldStatus: 200, NewStatus: 200, OldLatency: 10 * time.Millisecond,
		NewLatency: 12 * time.Millisecond, Diffs: diffs, SampleID: id}
}

func mustReport(t *testing.T, a *Aggregator, now time.Time, since time.Duration) RouteReport {
	t.Helper()
	r, err := a.Report(now, since)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func field(t *testing.T, r RouteReport, path string, kind Kind) FieldReport {
	t.Helper()
	for _, f := range r.Fields {
		if f.Path == path && f.Kind == kind {
			return f
		}
	}
	t.Fatalf("no field %q %s in %+v", path, kind, r.Fields)
	return FieldReport{}
}

func TestAggregatorNoiseCancellation(t *testing.T) {
	a := NewAggregator("orders", AggregatorOptions{Seed: 1})
	// 100 old/new pairs: the timestamp always differs, the price in 30.
	for i := range 100 {
		diffs := []Difference{d("meta.ts", KindValue)}
		if i%10 < 3 {
			diffs = append(diffs, d("items.#.price", KindValue), d("items.#.price", KindValue)) // twice: counts once
		}
		a.Add(pair(fmt.Sprint("p", i), diffs...))
	}
	r := mustReport(t, a, t0, 0)
	if r.Compared != 100 || r.Differing != 100 || r.NoisePairs != 0 || r.DiffRate != 1 {
		t.Fatalf("without noise pairs: %+v", r)
	}
	// 50 old/old pairs: the timestamp differs in 49.
	for i := range 50 {
		if i == 0 {
			a.AddNoise(t0, nil)
			continue
		}
		a.AddNoise(t0, []Difference{d("meta.ts", KindValue)})
	}
	r = mustReport(t, a, t0, 0)
	if r.Compared != 100 || r.Differing != 30 || r.DiffRate != 0.3 || r.NoisePairs != 50 || r.NoiseRate != 0.98 {
		t.Fatalf("with noise pairs: compared %d differing %d rate %v noise pairs %d noise rate %v",
			r.Compared, r.Differing, r.DiffRate, r.NoisePairs, r.NoiseRate)
	}
	want := []FieldReport{
		{Path: "items.#.price", Kind: KindValue, Count: 30, Rate: 0.3},
		{Path: "meta.ts", Kind: KindValue, Count: 100, Rate: 1, NoiseRate: 0.98, Noise: true},
	}
	for i := range r.Fields {
		r.Fields[i].Samples = nil
	}
	why := r.Fields[1].Why
	r.Fields[1].Why = nil
	if !reflect.DeepEqual(r.Fields, want) {
		t.Errorf("fields = %+v, want %+v", r.Fields, want)
	}
	// The noise entry says which evidence classed it.
	wantWhy := NoiseEvidence{Rate: 1, NoiseRate: 0.98, NoisePairs: 50, Relative: DefaultRelative, Absolute: DefaultAbsolute,
		Reason: "old and new differ here in 100% of pairs, old and secondary in 98% of 50 pairs: the excess is 2% of the old/new rate, not above the 20% relative threshold"}
	if why == nil || *why != wantWhy {
		t.Errorf("why = %+v, want %+v", why, wantWhy)
	}
	if !slices.Equal(r.Suggest, []string{"meta.ts"}) {
		t.Errorf("suggest = %q", r.Suggest)
	}
}

func TestAggregatorDifferingExactAfterReclassification(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1})
	// 10 pairs only "a", 10 only "b", 10 "a"+"b", 10 equal.
	for range 10 {
		a.Add(pair("x", d("a", KindValue)))
		a.Add(pair("x", d("b", KindMissing)))
		a.Add(pair("x", d("b", KindMissing), d("a", KindValue)))
		a.Add(pair("x"))
	}
	r := mustReport(t, a, t0, 0)
	if r.Compared != 40 || r.Differing != 30 {
		t.Fatalf("compared %d differing %d, want 40 30", r.Compared, r.Differing)
	}
	// Noise pairs where "a" differs as often as between old and new (50%):
	// "a" flips to noise, and only the 20 pairs with "b" still differ.
	for i := range 10 {
		if i%2 == 0 {
			a.AddNoise(t0, []Difference{d("a", KindValue)})
		} else {
			a.AddNoise(t0, nil)
		}
	}
	r = mustReport(t, a, t0, 0)
	if r.Differing != 20 || r.DiffRate != 0.5 {
		t.Fatalf("after a turned noise: differing %d rate %v, want 20 0.5", r.Differing, r.DiffRate)
	}
	if f := field(t, r, "a", KindValue); !f.Noise || f.Count != 20 {
		t.Errorf("a = %+v, want noise with count 20", f)
	}
	if r.Fields[len(r.Fields)-1].Path != "a" {
		t.Errorf("noise field not last: %+v", r.Fields)
	}
	// "b" now turns noise too: nothing differs.
	for range 10 {
		a.AddNoise(t0, []Difference{d("b", KindMissing), d("a", KindValue)})
	}
	r = mustReport(t, a, t0, 0)
	if r.Differing != 0 {
		t.Fatalf("all noise: differing %d", r.Differing)
	}
	// Looser thresholds don't turn them back (rates are below noise), but
	// "b" differing more often again does.
	for range 40 {
		a.Add(pair("y", d("b", KindMissing)))
	}
	r = mustReport(t, a, t0, 0)
	if f := field(t, r, "b", KindMissing); f.Noise {
		t.Fatalf("b still noise: %+v", f)
	}
	if r.Differing != 60 { // 20 from the start, 40 just added
		t.Fatalf("b real again: differing %d, want 60", r.Differing)
	}
}

func TestAggregatorSignatureOverflow(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1, MaxFields: 10000})
	// MaxSignatures distinct singletons, then 5 more that overflow.
	for i := range MaxSignatures + 5 {
		a.Add(pair("", d(fmt.Sprint("f", i), KindValue)))
	}
	if n := len(a.c.sigs); n != MaxSignatures {
		t.Fatalf("%d signatures kept", n)
	}
	// Every field turns noise: only the overflowed pairs still differ.
	for i := range MaxSignatures + 5 {
		a.AddNoise(t0, []Difference{d(fmt.Sprint("f", i), KindValue)})
	}
	r := mustReport(t, a, t0, 0)
	if r.Differing != 5 {
		t.Errorf("differing %d, want the 5 overflowed pairs", r.Differing)
	}
}

func TestAggregatorReservoir(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 7, Samples: 3})
	kept := 0
	var late []string
	for i := range 1000 {
		id := fmt.Sprint("s", i)
		keep := a.Add(pair(id, d("x", KindValue)))
		if i < 3 && !keep {
			t.Fatalf("pair %d not kept", i)
		}
		if keep {
			kept++
			if i >= 3 {
				late = append(late, id)
			}
		}
		if n := len(a.c.fields[0].res); n > 3 {
			t.Fatalf("reservoir holds %d", n)
		}
	}
	// Algorithm R keeps the i-th item with probability 3/i: about
	// 3·(H(1000)−H(3)) ≈ 15 replacements.
	if kept < 8 || kept > 30 {
		t.Errorf("%d pairs kept, expected about 18", kept)
	}
	r := mustReport(t, a, t0, 0)
	s := r.Fields[0].Samples
	if len(s) != 3 {
		t.Fatalf("samples %q", s)
	}
	for _, id := range s {
		if !slices.Contains(late, id) && id != "s0" && id != "s1" && id != "s2" {
			t.Errorf("sample %q was never kept", id)
		}
	}
	// A pair entering a second field's reservoir is kept even when the
	// first field's reservoir is full; a pair with no ID is never kept.
	if !a.Add(pair("new", d("x", KindValue), d("y", KindValue))) {
		t.Error("pair with a new field not kept")
	}
	if a.Add(pair("", d("z", KindValue))) {
		t.Error("pair without sample ID kept")
	}
	// An equal pair is never kept.
	if a.Add(pair("eq")) {
		t.Error("equal pair kept")
	}
}

func TestAggregatorMaxFields(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1, MaxFields: 2})
	a.Add(pair("1", d("a", KindValue), d("b", KindValue)))
	a.Add(pair("2", d("c", KindValue), d("d", KindValue), d("e", KindMissing)))
	a.Add(pair("3", d("a", KindValue), d("f", KindValue)))
	r := mustReport(t, a, t0, 0)
	var got []string
	for _, f := range r.Fields {
		got = append(got, fmt.Sprintf("%s/%s/%d", f.Path, f.Kind, f.Count))
	}
	// "(other)" value counts pairs 2 and 3 once each, not 3 fields.
	want := []string{"(other)/value/2", "a/value/2", "(other)/missing/1", "b/value/1"}
	if !slices.Equal(got, want) {
		t.Errorf("fields %q, want %q", got, want)
	}
	if r.Differing != 3 {
		t.Errorf("differing %d", r.Differing)
	}
	if len(a.c.fields) != 4 {
		t.Errorf("%d fields interned", len(a.c.fields))
	}
}

func TestAggregatorTenants(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1, TopTenants: 3})
	add := func(tenant string, n, differing int) {
		for i := range n {
			p := pair("x")
			if i < differing {
				p = pair("x", d("v", KindValue))
			}
			p.Tenant = tenant
			a.Add(p)
		}
	}
	add("acme", 10, 5)
	add("globex", 20, 5)
	add("initech", 3, 3)
	add("umbrella", 100, 0)
	add("", 50, 50) // no tenant: not listed
	want := []TenantCount{{"globex", 20, 5}, {"acme", 10, 5}, {"initech", 3, 3}}
	if r := mustReport(t, a, t0, 0); !slices.Equal(r.Tenants, want) {
		t.Errorf("tenants %+v, want %+v", r.Tenants, want)
	}

	// Differing is decided when a pair is added: once "v" is noise, new
	// pairs differing only there don't count for their tenant.
	for range 100 {
		a.AddNoise(t0, []Difference{d("v", KindValue)})
	}
	add("hooli", 10, 10)
	r := mustReport(t, a, t0, 0)
	for _, tc := range r.Tenants {
		if tc.Tenant == "hooli" {
			t.Errorf("hooli listed with %+v", tc)
		}
	}
}

func TestTenantTableSpaceSaving(t *testing.T) {
	var tt tenantTable
	const capacity = 10
	// 5 heavy tenants among 1000 light ones.
	for i := range 1000 {
		tt.add(fmt.Sprint("light", i), 1, 0, capacity, true)
		tt.add(fmt.Sprint("heavy", i%5), 1, 1, capacity, true)
	}
	if len(tt.heap) != capacity || len(tt.pos) != capacity {
		t.Fatalf("table holds %d/%d", len(tt.heap), len(tt.pos))
	}
	var counts []TenantCount
	for _, e := range tt.heap {
		counts = append(counts, TenantCount{e.name, e.compared, e.any})
	}
	top := topTenants(counts, 5)
	for i, tc := range top {
		if tc.Tenant != fmt.Sprint("heavy", i) || tc.Differing != 200 || tc.Compared != 200 {
			t.Errorf("top %d = %+v", i, tc)
		}
	}
	for name, i := range tt.pos {
		if tt.heap[i].name != name {
			t.Fatalf("pos[%q] = %d holds %q", name, i, tt.heap[i].name)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { tt.add("heavy1", 1, 1, capacity, true) }); allocs != 0 {
		t.Errorf("counting a known tenant allocates %v times", allocs)
	}
}

func TestAggregatorStatusAndLatency(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1})
	for i := range 100 {
		p := pair("x")
		p.OldLatency = time.Duration(i+1) * time.Millisecond
		p.NewLatency = 2 * time.Duration(i+1) * time.Millisecond
		switch {
		case i < 3:
			p.NewStatus = 500
		case i < 4:
			p.OldStatus, p.NewStatus = 404, 200
		}
		a.Add(p)
	}
	r := mustReport(t, a, t0, 0)
	want := []StatusPair{{Old: 200, New: 500, Count: 3}, {Old: 404, New: 200, Count: 1}}
	if len(r.Status) != len(want) {
		t.Fatalf("status %+v, want %+v", r.Status, want)
	}
	for i, w := range want {
		if g := r.Status[i]; g.Old != w.Old || g.New != w.New || g.Count != w.Count || g.Noise {
			t.Errorf("status %+v, want %+v", r.Status, want)
		}
	}
	l := r.Latency
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"old p50", l.OldP50, 50}, {"old p99", l.OldP99, 99}, {"new p50", l.NewP50, 100}, {"new p99", l.NewP99, 198}} {
		if c.got < c.want*0.98 || c.got > c.want*1.02 {
			t.Errorf("%s = %v ms, want %v ± 2%%", c.name, c.got, c.want)
		}
	}
}

func TestAggregatorEmptyReport(t *testing.T) {
	a := NewAggregator("empty", AggregatorOptions{})
	r := mustReport(t, a, t0, 0)
	if r.Route != "empty" || r.Compared != 0 || r.Fields == nil || r.Status == nil || r.Tenants == nil {
		t.Errorf("empty report %+v", r)
	}
	if _, err := a.Report(t0, MaxWindow+time.Second); err == nil {
		t.Error("window above MaxWindow accepted")
	}
	if _, err := a.Report(t0, -time.Second); err == nil {
		t.Error("negative window accepted")
	}
	if _, err := a.Report(t0, MaxWindow); err != nil {
		t.Error(err)
	}
}

func TestAggregatorSetThresholds(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1})
	for i := range 100 {
		if i < 10 {
			a.Add(pair("x", d("v", KindValue)))
		} else {
			a.Add(pair("x"))
		}
		if i < 9 {
			a.AddNoise(t0, []Difference{d("v", KindValue)})
		} else {
			a.AddNoise(t0, nil)
		}
	}
	if r := mustReport(t, a, t0, 0); r.Differing != 0 { // 10% vs 9%: noise
		t.Fatalf("differing %d under default thresholds", r.Differing)
	}
	a.SetThresholds(Thresholds{Relative: 0.05, Absolute: 0.001})
	if r := mustReport(t, a, t0, 0); r.Differing != 10 {
		t.Fatalf("differing %d under looser thresholds", r.Differing)
	}
}

func TestAggregatorConcurrent(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1})
	var wg sync.WaitGroup
	const workers, each = 8, 500
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p := pair(fmt.Sprint(w, "-", i), d(fmt.Sprint("f", i%7), KindValue))
				p.Time = t0.Add(time.Duration(i) * 50 * time.Millisecond)
				p.Tenant = fmt.Sprint("t", w)
				a.Add(p)
				if i%10 == 0 {
					a.AddNoise(p.Time, []Difference{d("f0", KindValue)})
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			if _, err := a.Report(t0.Add(time.Duration(i)*time.Second), time.Minute); err != nil {
				t.Error(err)
			}
			_ = a.Baseline()
		}
	}()
	wg.Wait()
	r := mustReport(t, a, t0, 0)
	if r.Compared != workers*each || r.NoisePairs != workers*each/10 {
		t.Errorf("compared %d noise pairs %d", r.Compared, r.NoisePairs)
	}
}

// TestAggregatorAddAllocs checks that Add does not allocate once the
// fields, signatures, tenants and window buckets it meets are known.
func TestAggregatorAddAllocs(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1})
	pairs := benchPairs()
	warmUp(a, pairs)
	i := 0
	now := t0.Add(2 * time.Hour)
	allocs := testing.AllocsPerRun(1000, func() {
		p := pairs[i%len(pairs)]
		p.Time = now.Add(time.Duration(i) * 37 * time.Millisecond)
		a.Add(p)
		a.AddNoise(p.Time, p.Diffs)
		i++
	})
	if allocs != 0 {
		t.Errorf("Add allocates %v times per pair", allocs)
	}
}

// filledAggregator returns an aggregator of 300 pairs of several kinds,
// tenants and latencies, with noise pairs.
func filledAggregator(opt AggregatorOptions) *Aggregator {
	a := NewAggregator("orders", opt)
	for i := range 300 {
		p := pair(fmt.Sprint("s", i))
		p.Time = t0.Add(time.Duration(i) * time.Second)
		p.Tenant = fmt.Sprint("t", i%7)
		p.OldLatency = time.Duration(1+i%50) * time.Millisecond
		p.NewLatency = time.Duration(1+i%70) * time.Millisecond
		switch i % 5 {
		case 0:
			p.Diffs = []Difference{d("meta.ts", KindValue)}
		case 1:
			p.Diffs = []Difference{d("meta.ts", KindValue), d("items.#.price", KindValue)}
		case 2:
			p.Diffs = []Difference{d("", KindStatus), d("f"+fmt.Sprint(i%11), KindMissing)}
			p.NewStatus = 500
		}
		a.Add(p)
		if i%3 == 0 {
			a.AddNoise(p.Time, []Difference{d("meta.ts", KindValue)})
		}
	}
	return a
}
