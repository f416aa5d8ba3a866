package diff

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// comparableReport drops what merged counts cannot reproduce — the
// samples and examples, which each replica's reservoir chose — and
// returns the tenants' counts apart.
func comparableReport(r RouteReport) (RouteReport, map[string]TenantCount) {
	r.Fields = slices.Clone(r.Fields)
	for i := range r.Fields {
		r.Fields[i].Samples, r.Fields[i].Examples = nil, nil
	}
	r.Status = slices.Clone(r.Status)
	for i := range r.Status {
		r.Status[i].Samples = nil
	}
	tenants := map[string]TenantCount{}
	for _, tc := range r.Tenants {
		tenants[tc.Tenant] = tc
	}
	r.Tenants = nil
	return r, tenants
}

func sameReports(t *testing.T, what string, got, want RouteReport) {
	t.Helper()
	g, gt := comparableReport(got)
	w, wt := comparableReport(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
	if !reflect.DeepEqual(gt, wt) {
		t.Errorf("%s: tenants %v, want %v", what, gt, wt)
	}
}

// TestCountsMergeMatchesOneAggregator splits random pairs among three
// replicas that Take at random points, adds up their Deltas and checks
// that the aggregator built from the sums reports what one aggregator
// that added every pair reports.
func TestCountsMergeMatchesOneAggregator(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	opt := AggregatorOptions{Seed: 1, TopTenants: 50}
	start := time.Date(2025, 3, 1, 12, 0, 3, 0, time.UTC)
	const span = 30 * time.Minute
	pool := []Difference{
		d("meta.ts", KindValue), d("items", KindOrder), // noisy
		d("items.#.price", KindValue), d("items.#.sku", KindMissing), d("total", KindType),
		d("", KindStatus), d("", KindBody), d("Content-Type", KindHeader), d(OtherPath, KindExtra),
		d("a:b\x00", KindLength), d("7:vx", KindValue),
	}
	diffs := func(noise bool) []Difference {
		var ds []Difference
		if rng.Float64() < 0.9 {
			ds = append(ds, pool[0])
		}
		if rng.Float64() < 0.3 {
			ds = append(ds, pool[1])
		}
		if !noise || rng.Float64() < 0.02 {
			for range rng.IntN(3) {
				ds = append(ds, pool[2+rng.IntN(len(pool)-2)])
			}
		}
		rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
		return ds
	}
	statuses := [][2]int{{200, 200}, {200, 200}, {200, 200}, {200, 200}, {200, 500}, {404, 200}, {200, 1200}, {0, 502}}
	tenants := []string{"", "", "acme", "globex", "initech", "umbrella", "a:b", "\x00", "ünï"}

	type event struct {
		p     *Pair
		t     time.Time
		noise []Difference
	}
	var events []event
	differedAt := map[fieldKey]map[string]bool{} // sample IDs of the pairs that differed at a field
	for i := range 4000 {
		at := start.Add(time.Duration(rng.Int64N(int64(span))))
		if i%3 == 2 {
			events = append(events, event{t: at, noise: diffs(true)})
			continue
		}
		st := statuses[rng.IntN(len(statuses))]
		p := &Pair{
			Time: at, Tenant: tenants[rng.IntN(len(tenants))], Served: "old",
			OldStatus: st[0], NewStatus: st[1],
			OldLatency: time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond)),
			NewLatency: time.Duration(rng.ExpFloat64() * float64(25*time.Millisecond)),
			Diffs:      diffs(false), SampleID: fmt.Sprint("s", i),
		}
		counted := p.Diffs
		if st[0] != st[1] { // status first
			counted = []Difference{{StatusPath(st[0], st[1]), KindStatus}}
		}
		for _, df := range counted {
			k := fieldKey{df.Path, df.Kind}
			if differedAt[k] == nil {
				differedAt[k] = map[string]bool{}
			}
			differedAt[k][p.SampleID] = true
		}
		events = append(events, event{p: p})
	}

	ref := NewAggregator("orders", opt)
	var replicas [3]*Aggregator
	for i := range replicas {
		o := opt
		o.Seed = uint64(10 + i)
		replicas[i] = NewAggregator("orders", o)
	}
	var sum, retry Delta
	takes := 0
	take := func(a *Aggregator) {
		takes++
		retry.Add(a.Take())
		if rng.IntN(3) > 0 { // else the write "failed": retried with the next
			sum.Add(retry)
			retry = Delta{}
		}
	}
	for _, e := range events {
		a := replicas[rng.IntN(len(replicas))]
		if e.p != nil {
			ref.Add(e.p)
			a.Add(e.p)
		} else {
			ref.AddNoise(e.t, e.noise)
			a.AddNoise(e.t, e.noise)
		}
		if rng.IntN(150) == 0 {
			take(a)
		}
	}
	for _, a := range replicas {
		take(a)
	}
	sum.Add(retry)
	if takes < 20 {
		t.Fatalf("only %d takes", takes)
	}

	merged, err := NewAggregatorFrom("orders", opt, sum.Total, sum.Windows, sum.Samples)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := merged.Compared(), ref.Compared(); got != want {
		t.Fatalf("compared %d, want %d", got, want)
	}

	whole := mustReport(t, ref, start.Add(span), 0)
	noise := 0
	for _, f := range whole.Fields {
		if f.Noise {
			noise++
		}
	}
	if whole.Differing == 0 || whole.Differing == whole.Compared || noise == 0 || noise == len(whole.Fields) ||
		len(whole.Status) < 3 || len(whole.Tenants) != len(tenants)-2 || whole.NoisePairs == 0 {
		t.Fatalf("the reference report tests too little: %+v", whole)
	}

	for _, now := range []time.Time{start.Add(span), start.Add(12*time.Minute + 3*time.Second), start.Add(span + 20*time.Minute)} {
		for _, since := range []time.Duration{0, 5 * time.Second, 10 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, MaxWindow} {
			sameReports(t, fmt.Sprintf("report at %v over %v", now.Sub(start), since),
				mustReport(t, merged, now, since), mustReport(t, ref, now, since))
		}
	}
	base := ref.Baseline()
	if got := merged.Baseline(); !reflect.DeepEqual(got, base) {
		t.Errorf("baseline %+v, want %+v", got, base)
	}
	sameReports(t, "report against the baseline", merged.ReportAgainst(base), ref.ReportAgainst(base))
	for _, d := range []time.Duration{0, time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond, time.Second} {
		gs, gp := merged.NewSlowerThan(d)
		ws, wp := ref.NewSlowerThan(d)
		if gs != ws || gp != wp {
			t.Errorf("NewSlowerThan(%v) = %d, %d, want %d, %d", d, gs, gp, ws, wp)
		}
	}

	// The samples are refs of pairs that differed at the field, up to
	// Samples of them.
	for _, f := range mustReport(t, merged, start.Add(span), 0).Fields {
		if len(f.Samples) == 0 || len(f.Samples) > DefaultSamples {
			t.Errorf("field %q %s has %d samples", f.Path, f.Kind, len(f.Samples))
		}
		for _, id := range f.Samples {
			if !differedAt[fieldKey{f.Path, f.Kind}][id] {
				t.Errorf("field %q %s: sample %s did not differ there", f.Path, f.Kind, id)
			}
		}
	}
}

// TestTakeConcurrentAdds takes repeatedly while four goroutines add: every
// pair is in exactly one Delta.
func TestTakeConcurrentAdds(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1})
	const workers, per = 4, 5000
	var sum Delta
	takes := 0
	stop := make(chan struct{})
	taken := make(chan struct{})
	go func() {
		defer close(taken)
		for {
			select {
			case <-stop:
				return
			default:
			}
			sum.Add(a.Take())
			takes++
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				p := pair(fmt.Sprint(w, "-", i), d("price", KindValue))
				p.Time = t0.Add(time.Duration(i) * 10 * time.Millisecond) // 50 s: six windows
				p.Tenant = fmt.Sprint("t", i%7)
				a.Add(p)
				if i%5 == 0 {
					a.AddNoise(p.Time, nil)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-taken
	sum.Add(a.Take())
	if takes < 2 {
		t.Logf("only %d takes ran during the adds", takes)
	}
	const pairs = workers * per
	tenants := int64(0)
	for i := range 7 {
		tenants += sum.Total[fmt.Sprint("tt", i)]
	}
	if sum.Total["c"] != pairs || sum.Total["fvprice"] != pairs || sum.Total["s6:vprice"] != pairs ||
		sum.Total["n"] != pairs/5 || tenants != pairs {
		t.Errorf("summed totals %v, want %d pairs", sum.Total, pairs)
	}
	var windowed int64
	for _, c := range sum.Windows {
		windowed += c["c"]
	}
	if windowed != pairs {
		t.Errorf("windows count %d pairs, want %d", windowed, pairs)
	}
	if dl := a.Take(); !dl.Empty() || a.Compared() != 0 {
		t.Error("a Take after the last one is not empty")
	}
	m, err := NewAggregatorFrom("r", AggregatorOptions{}, sum.Total, sum.Windows, sum.Samples)
	if err != nil {
		t.Fatal(err)
	}
	if r := mustReport(t, m, t0.Add(time.Minute), 0); r.Compared != pairs || r.Differing != pairs || r.NoisePairs != pairs/5 {
		t.Errorf("merged report %+v", r)
	}
}

// TestTakeStartsAfresh checks what a Take hands out and leaves behind.
func TestTakeStartsAfresh(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1, Samples: 2})
	for i := range 5 {
		p := pair(fmt.Sprint("p", i), d("a", KindValue))
		p.Time = t0.Add(time.Duration(4-i) * time.Second) // newest first
		a.Add(p)
	}
	a.AddNoise(t0, []Difference{d("a", KindValue)})
	dl := a.Take()
	if dl.Total["c"] != 5 || dl.Total["fva"] != 5 || dl.Total["Fva"] != 1 || dl.Total["N"] != 1 || len(dl.Windows) != 1 {
		t.Fatalf("delta %+v", dl)
	}
	refs := dl.Samples[FieldName("a", KindValue)]
	if len(refs) != 2 || !refs[0].Time.Before(refs[1].Time) {
		t.Errorf("samples %+v, want two, oldest first", refs)
	}
	if a.Compared() != 0 || mustReport(t, a, t0, 0).Compared != 0 || mustReport(t, a, t0, time.Minute).Compared != 0 {
		t.Error("counts survived the Take")
	}
	if dl := a.Take(); !dl.Empty() {
		t.Error("second Take not empty")
	}
	// Afresh: the first pairs are sampled again, a differing pair counts
	// for its tenant by its signature.
	p := pair("q", d("a", KindValue))
	p.Tenant = "acme"
	if !a.Add(p) {
		t.Error("first pair after a Take not sampled")
	}
	dl = a.Take()
	if dl.Total["d4:acme2:va"] != 1 || dl.Total["Tacme"] != 0 || len(dl.Samples["va"]) != 1 || dl.Samples["va"][0].ID != "q" {
		t.Errorf("delta after the Take %+v", dl)
	}

	// Delta.Add keeps the newest refs, as many as the longer list, and
	// drops windows a ring could not hold.
	var sum Delta
	sum.Add(Delta{Samples: map[string][]SampleRef{"va": {{"x", t0}, {"y", t0.Add(2 * time.Second)}}},
		Windows: map[int64]Counts{t0.Unix() - 5 - 3600: {"c": 1}, t0.Unix() - 5 - 3590: {"c": 1}}})
	sum.Add(Delta{Samples: map[string][]SampleRef{"va": {{"z", t0.Add(time.Second)}}},
		Windows: map[int64]Counts{t0.Unix() - 5: {"c": 1}}})
	want := []SampleRef{{"z", t0.Add(time.Second)}, {"y", t0.Add(2 * time.Second)}}
	if !reflect.DeepEqual(sum.Samples["va"], want) || len(sum.Windows) != 2 || sum.Windows[t0.Unix()-5-3590] == nil || sum.Empty() {
		t.Errorf("summed delta %+v", sum)
	}
	if !(&Delta{Total: Counts{"c": 0}}).Empty() {
		t.Error("zero counts are not empty")
	}
}

// TestCountsNamesRoundTrip checks that awkward paths and tenants keep
// apart through names, and OtherPath fields from a real path "(other)".
func TestCountsNamesRoundTrip(t *testing.T) {
	paths := []string{"", OtherPath, "a\x00b", "3:vx", ":", "s1:v", "1:v1:v", "ünï.cödé.#", "x\xff", "V", "k"}
	kinds := append(slices.Clone(Kinds), 0, 10, Kind('v'), 255)
	seen := map[string]string{}
	for _, k := range kinds {
		for _, p := range paths {
			name := FieldName(p, k)
			if gp, gk, other, ok := parseField(name); !ok || gp != p || gk != k || other {
				t.Errorf("FieldName(%q, %v) = %q reads back as %q %v %v %v", p, k, name, gp, gk, other, ok)
			}
			if prev, ok := seen[name]; ok {
				t.Errorf("%q names both %s and %q %v", name, prev, p, k)
			}
			seen[name] = fmt.Sprintf("%q %v", p, k)
		}
		name := otherFieldName(k)
		if gp, gk, other, ok := parseField(name); !ok || gp != OtherPath || gk != k || !other {
			t.Errorf("other field of %v = %q reads back as %q %v %v %v", k, name, gp, gk, other, ok)
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("%q names both %s and the other field of %v", name, prev, k)
		}
		seen[name] = "other " + k.String()
	}

	// Through an aggregator: the paths fill MaxFields, two more fields go
	// to OtherPath; every pair differs in all fields, in another order.
	opt := AggregatorOptions{Seed: 1, MaxFields: len(paths), TopTenants: 20}
	a := NewAggregator("r", opt)
	tenants := []string{"t", "T", "a:b", "\x00", "ünï", "1:x", " ", "\xff"}
	all := []Difference{d("zzz", KindValue), d("yyy", KindMissing)}
	for _, p := range paths {
		all = append(all, d(p, KindValue))
	}
	for i, tn := range tenants {
		for j := range i + 1 {
			ds := slices.Clone(all[:2+(i+j)%len(paths)])
			slices.Reverse(ds)
			if i%2 == 0 {
				ds = append(ds, all...) // all fields, duplicated
			}
			p := pair(fmt.Sprint(i, "/", j), ds...)
			p.Tenant = tn
			p.Time = t0.Add(time.Duration(i) * time.Second)
			a.Add(p)
		}
	}
	a.Add(pair("other", d(OtherPath, KindValue))) // the real "(other)" counts more than OtherPath's value field
	want := mustReport(t, a, t0, 0)
	wantW := mustReport(t, a, t0, time.Minute)
	dl := a.Take()
	if dl.Samples[FieldName(OtherPath, KindValue)] == nil || dl.Samples["V"] == nil || dl.Total["fV"] == 0 || dl.Total["fv(other)"] == 0 {
		t.Fatalf("OtherPath fields not apart from the path %q: %v", OtherPath, dl.Total)
	}
	for name := range dl.Total {
		if name[0] == 's' {
			if _, ok := splitSignature(name[1:], nil); !ok {
				t.Errorf("signature name %q does not parse", name)
			}
		}
	}
	m, err := NewAggregatorFrom("r", opt, dl.Total, dl.Windows, dl.Samples)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got, want RouteReport
	}{{mustReport(t, m, t0, 0), want}, {mustReport(t, m, t0, time.Minute), wantW}} {
		if !reflect.DeepEqual(c.got, c.want) { // no noise pairs: tenants and samples are exact too
			t.Errorf("round trip:\n got %+v\nwant %+v", c.got, c.want)
		}
	}
}

// TestCountsFoldingKeepsTotalsExact checks that fields beyond MaxFields and
// signatures beyond MaxSignatures, in the replicas or only once merged,
// keep the route's compared and differing counts exact.
func TestCountsFoldingKeepsTotalsExact(t *testing.T) {
	// Two replicas meet 8 fields in opposite orders, with room for 3.
	opt := AggregatorOptions{Seed: 1, MaxFields: 3}
	x, y := NewAggregator("r", opt), NewAggregator("r", opt)
	var sum Delta
	for i := range 8 {
		x.Add(pair("x", d(fmt.Sprint("f", i), KindValue), d("g", Kind(i%3+1))))
		y.Add(pair("y", d(fmt.Sprint("f", 7-i), KindValue)))
		y.Add(pair("y"))
	}
	sum.Add(x.Take())
	sum.Add(y.Take())
	m, err := NewAggregatorFrom("r", opt, sum.Total, sum.Windows, sum.Samples)
	if err != nil {
		t.Fatal(err)
	}
	r := mustReport(t, m, t0, 0)
	var perKind [16]uint64
	for _, f := range r.Fields {
		perKind[f.Kind] += f.Count
	}
	if r.Compared != 24 || r.Differing != 16 || len(r.Fields) != 3+3 || perKind[KindValue] != 16+3 || perKind[KindType] != 3 || perKind[KindMissing] != 2 {
		t.Errorf("folded report %+v", r)
	}

	// Signatures: 13 fields make 8191 sets, more than MaxSignatures.
	var replicas [3]*Aggregator
	for i := range replicas {
		replicas[i] = NewAggregator("r", AggregatorOptions{Seed: 1})
	}
	for set := 1; set < 1<<13; set++ {
		var ds []Difference
		for f := range 13 {
			if set&(1<<f) != 0 {
				ds = append(ds, d(fmt.Sprint("f", f), KindValue))
			}
		}
		replicas[set%3].Add(pair("", ds...))
	}
	sum = Delta{}
	for _, a := range replicas {
		sum.Add(a.Take())
	}
	if sum.Total["o"] != 0 {
		t.Fatalf("replicas overflowed: %d", sum.Total["o"])
	}
	m, err = NewAggregatorFrom("r", AggregatorOptions{}, sum.Total, sum.Windows, sum.Samples)
	if err != nil {
		t.Fatal(err)
	}
	if r := mustReport(t, m, t0, 0); r.Compared != 8191 || r.Differing != 8191 || m.c.total.overflow != 8191-MaxSignatures {
		t.Errorf("compared %d differing %d overflow %d", r.Compared, r.Differing, m.c.total.overflow)
	}
	// And the overflow survives a second round.
	dl := m.Take()
	if dl.Total["o"] != 8191-MaxSignatures {
		t.Errorf("overflow after a second Take: %d", dl.Total["o"])
	}
	if m, err = NewAggregatorFrom("r", AggregatorOptions{}, dl.Total, nil, nil); err != nil || mustReport(t, m, t0, 0).Differing != 8191 {
		t.Errorf("second round: %v", err)
	}
}

func TestNewAggregatorFromRejects(t *testing.T) {
	good := func() Counts {
		return Counts{"c": 2, "l5": 2, "L7": 1, "L9": 1, "fvprice": 1, "s6:vprice": 1, "p200:500": 1,
			"tacme": 2, "Tacme": 1, "n": 3, "N": 1, "Fvprice": 1, "gxvprice": 1}
	}
	if _, err := NewAggregatorFrom("r", AggregatorOptions{}, good(), map[int64]Counts{1700000000: good()},
		map[string][]SampleRef{"vprice": {{"a", t0}}, "vnone": {{"b", t0}}, "xvprice": {{"a\x1f1\x1f2", t0}}}); err != nil {
		t.Fatalf("good counts: %v", err)
	}
	for _, c := range []struct {
		set  Counts
		want string
	}{
		{Counts{"x": 1}, `unknown name "x"`},
		{Counts{"": 1}, `unknown name ""`},
		{Counts{"cc": 1}, `unknown name "cc"`},
		{Counts{"c": -1}, `"c" counts -1, less than zero`},
		{Counts{"fqprice": 1}, `"fqprice"`},
		{Counts{"fVx": 1}, `"fVx"`},
		{Counts{"fk\x01x": 1}, `"fk\x01x"`},                     // value has a letter,
		{Counts{"s6:vprice3:vab": 1}, `"s6:vprice3:vab"`},       // out of order
		{Counts{"s06:vprice": 1}, `"s06:vprice"`},               // leading zero
		{Counts{"s7:vprice": 1}, `"s7:vprice"`},                 // too long
		{Counts{"s": 1}, `unknown name "s"`},                    // no field
		{Counts{"s6:vprice6:vprice": 1}, `"s6:vprice6:vprice"`}, // twice
		{Counts{"p200:200": 1}, `"p200:200"`},                   // same status
		{Counts{"p0200:500": 1}, `"p0200:500"`},                 // leading zero
		{Counts{"p200:1000": 1}, `"p200:1000"`},                 // beyond 999
		{Counts{"l99999": 1}, `unknown name "l99999"`},          // no such bucket
		{Counts{"L05": 1}, `unknown name "L05"`},                // leading zero
		{Counts{"t": 1}, `unknown name "t"`},                    // no tenant
		{Counts{"gqvprice": 1}, `unknown name "gqvprice"`},      // no such class
		{Counts{"gx": 1}, `unknown name "gx"`},                  // no field
		{Counts{"d4:acme": 1}, `unknown name "d4:acme"`},        // no signature
		{Counts{"d9:acme6:vprice": 1}, `unknown name`},          // tenant longer than the name
		{Counts{"d0:6:vprice": 1}, `unknown name`},              // empty tenant
		{Counts{"gxvprice": 2}, `"gxvprice" counts 2 pairs, more than the 1 of "fvprice"`},
		{Counts{"d4:acme6:vprice": 1, "d7:initech6:vprice": 1, "tinitech": 0}, `"s6:vprice" counts 1 pairs, fewer than the 2 its tenants count`},
		{Counts{"d4:acme6:vprice": 2}, `"s6:vprice" counts 1 pairs, fewer than the 2 its tenants count`},
		{Counts{"fvprice": 3}, `"fvprice" counts 3 pairs, more than the 2 compared`},
		{Counts{"Fvprice": 2}, `"Fvprice" counts 2 noise pairs`},
		{Counts{"s6:vprice": 2}, `"fvprice" counts 1 pairs, fewer than the 2 of its signatures`},
		{Counts{"s5:vname": 1}, `"fvname" counts 0 pairs`},
		{Counts{"o": 2}, `"s6:vprice" and the other signatures count 3 differing pairs, more than the 2 compared`},
		{Counts{"N": 4}, `"N" counts 4 differing noise pairs, more than the 3`},
		{Counts{"Tacme": 3}, `"Tacme" counts 3 differing pairs, more than the 2 compared of "tacme"`},
		{Counts{"tglobex": 1}, `"tglobex" and the other tenants count 3 pairs`},
		{Counts{"l5": 1}, `the latency buckets "l…" count 1 pairs, not the 2 compared`},
		{Counts{"p500:200": 2}, `the other status pairs count 3 pairs`},
	} {
		cs := good()
		cs.Add(Counts{})
		for k, v := range c.set {
			cs[k] = v
		}
		_, err := NewAggregatorFrom("r", AggregatorOptions{}, cs, nil, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %s", c.set, err, c.want)
		}
		if _, err := NewAggregatorFrom("r", AggregatorOptions{}, nil, map[int64]Counts{1700000000: cs}, nil); err == nil ||
			!strings.Contains(err.Error(), "window 1700000000") {
			t.Errorf("%v in a window: error %v", c.set, err)
		}
	}
	for _, c := range []struct {
		windows map[int64]Counts
		samples map[string][]SampleRef
		want    string
	}{
		{map[int64]Counts{1700000005: good()}, nil, "window key 1700000005 is not a multiple of 10"},
		{nil, map[string][]SampleRef{"q": {{"a", t0}}}, `sample list "q" does not name a field`},
		{nil, map[string][]SampleRef{"vprice": {{"", t0}}}, `sample list "vprice" holds an empty ID`},
		{nil, map[string][]SampleRef{"xq": {{"a\x1f1\x1f2", t0}}}, `example list "xq" does not name a field`},
		{nil, map[string][]SampleRef{"xvprice": {{"a", t0}}}, `example list "xvprice" holds "a", not an example`},
	} {
		if _, err := NewAggregatorFrom("r", AggregatorOptions{}, good(), c.windows, c.samples); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %s", err, c.want)
		}
	}
}

// countsBenchAggregator adds 1000 pairs over 20 fields and 12 tenants in one
// minute (six or seven window buckets), with 250 noise pairs.
func countsBenchAggregator(a *Aggregator, pairs []*Pair) {
	for i, p := range pairs {
		p.Time = t0.Add(time.Duration(i) * 60 * time.Millisecond)
		a.Add(p)
		if i%4 == 0 {
			a.AddNoise(p.Time, p.Diffs[:min(1, len(p.Diffs))])
		}
	}
}

func countsBenchPairs() []*Pair {
	var fields []Difference
	for i := range 20 {
		fields = append(fields, d(fmt.Sprint("items.#.field", i), Kinds[i%len(Kinds)]))
	}
	pairs := make([]*Pair, 1000)
	for i := range pairs {
		p := pair(fmt.Sprint("sample-", i))
		p.Tenant = fmt.Sprint("tenant-", i%12)
		p.OldLatency = time.Duration(1+i%17) * time.Millisecond
		p.NewLatency = time.Duration(2+i%23) * time.Millisecond
		if i%3 > 0 {
			p.Diffs = []Difference{fields[i%20], fields[(i/20)%20]}
		}
		if i%50 == 0 {
			p.NewStatus = 500
		}
		pairs[i] = p
	}
	return pairs
}

func BenchmarkTake(b *testing.B) {
	a := NewAggregator("bench", AggregatorOptions{Seed: 1})
	pairs := countsBenchPairs()
	countsBenchAggregator(a, pairs)
	a.Take() // names cached, as in a running gateway
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		countsBenchAggregator(a, pairs)
		b.StartTimer()
		a.Take()
	}
}

func BenchmarkNewAggregatorFrom(b *testing.B) {
	a := NewAggregator("bench", AggregatorOptions{Seed: 1})
	countsBenchAggregator(a, countsBenchPairs())
	dl := a.Take()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewAggregatorFrom("bench", AggregatorOptions{Seed: 1}, dl.Total, dl.Windows, dl.Samples); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTenantTableAddReturnsItsName: add returns the name of the tenant it
// counted, also when the update moved another entry into its place.
func TestTenantTableAddReturnsItsName(t *testing.T) {
	var tt tenantTable
	for _, name := range []string{"a", "b", "c", "d"} {
		tt.add(name, 1, 0, 10, false)
	}
	for range 3 {
		for _, name := range []string{"a", "b", "c", "d"} {
			if got, e := tt.add(name, 1, 1, 10, false); got != name || e.name != name {
				t.Fatalf("add(%q) returned %q and the entry of %q", name, got, e.name)
			}
		}
	}
}

func ExampleAggregator_Take() {
	a := NewAggregator("orders", AggregatorOptions{Seed: 1})
	at := time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)
	a.Add(&Pair{Time: at, Tenant: "acme", OldStatus: 200, NewStatus: 500, OldLatency: time.Millisecond, NewLatency: time.Millisecond,
		Diffs: []Difference{{Path: "200→500", Kind: KindStatus}}, SampleID: "s1"})
	a.Add(&Pair{Time: at, Tenant: "acme", OldStatus: 200, NewStatus: 200, OldLatency: time.Millisecond, NewLatency: time.Millisecond,
		Diffs: []Difference{{Path: "meta.ts", Kind: KindValue}}, SampleID: "s2"})
	a.AddNoise(at, []Difference{{Path: "meta.ts", Kind: KindValue}})
	d := a.Take()
	for _, name := range slices.Sorted(maps.Keys(d.Total)) {
		fmt.Printf("%q %d\n", name, d.Total[name])
	}
	fmt.Println(slices.Collect(maps.Keys(d.Windows)), d.Samples[FieldName("meta.ts", KindValue)][0].ID)

	merged := Delta{}
	merged.Add(d) // and the Deltas of the other replicas
	b, err := NewAggregatorFrom("orders", AggregatorOptions{}, merged.Total, merged.Windows, merged.Samples)
	if err != nil {
		panic(err)
	}
	r, _ := b.Report(at, 0)
	fmt.Printf("%d %d %q %v %v\n", r.Compared, r.Differing, r.Fields[0].Path, r.Fields[0].Noise, r.Tenants)
	// Output:
	// "Fvmeta.ts" 1
	// "L509" 2
	// "N" 1
	// "c" 2
	// "d4:acme10:s200→500" 1
	// "d4:acme8:vmeta.ts" 1
	// "fs200→500" 1
	// "fvmeta.ts" 1
	// "l509" 2
	// "n" 1
	// "p200:500" 1
	// "s10:s200→500" 1
	// "s8:vmeta.ts" 1
	// "tacme" 2
	// [1740830400] s2
	// 2 1 "200→500" false [{acme 2 1}]
}

func TestSampleRefText(t *testing.T) {
	r := SampleRef{ID: "6b0229966775dc90", Time: time.Unix(1700000000, 123456789)}
	got, ok := ParseSampleRef(r.String())
	if !ok || got.ID != r.ID || !got.Time.Equal(r.Time) {
		t.Errorf("round trip of %+v gave %+v, %v", r, got, ok)
	}
	for _, bad := range []string{"", "123", "x id", "123 "} {
		if _, ok := ParseSampleRef(bad); ok {
			t.Errorf("ParseSampleRef(%q) accepted", bad)
		}
	}
}

func TestWindowStartsCoverTheReportWindow(t *testing.T) {
	now := time.Unix(1700000015, 0) // 5 s into a bucket
	got := WindowStarts(now, 30*time.Second)
	want := []int64{1699999990, 1700000000, 1700000010}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WindowStarts = %v, want %v", got, want)
	}
	if n := len(WindowStarts(now, MaxWindow)); n != 360 {
		t.Errorf("a full window reads %d buckets, want 360", n)
	}
}

// A delta's recent lists, read back newest first as a store keeps them,
// give NewAggregatorFrom the samples back.
func TestRecentListsRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 0)
	agg := NewAggregator("r", AggregatorOptions{Seed: 1})
	for i := range 50 {
		p := Pair{Time: now.Add(time.Duration(i) * time.Millisecond), OldStatus: 200, NewStatus: 200, SampleID: "s" + string(rune('a'+i%26))}
		if i%5 == 0 {
			p.Diffs = []Difference{{Path: "price", Kind: KindType}}
		}
		agg.Add(&p)
	}
	d := agg.Take()
	lists := d.RecentLists()
	if len(lists) != 1 {
		t.Fatalf("RecentLists = %q, want one field's", lists)
	}
	for k, items := range lists {
		slices.Reverse(items)
		lists[k] = append(items, "not a ref")
	}
	merged, err := NewAggregatorFrom("r", AggregatorOptions{}, d.Total, nil, SampleRefs(lists))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := merged.Report(now, 0)
	if rep.Compared != 50 || rep.Differing != 10 || len(rep.Fields) != 1 || len(rep.Fields[0].Samples) != 10 {
		t.Errorf("merged report: %+v", rep)
	}
}
