package diff

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// compareAndAdd compares old and new with a fresh comparer and adds the
// pair, as a shadow worker does.
func compareAndAdd(a *Aggregator, c *Comparer, at time.Time, tenant, id string, old, new Response) {
	diffs := c.Compare(&old, &new, nil, nil)
	a.Add(&Pair{Time: at, Tenant: tenant, OldStatus: old.Status, NewStatus: new.Status,
		Diffs: diffs, Values: c.Values(), SampleID: id})
}

func jsonResponse(status int, body string) Response {
	return Response{Status: status, Body: []byte(body)}
}

// TestStatusFirst: a pair whose statuses differ counts once, as its status
// pair, with a sample; none of its bodies' fields is counted. Equal error
// statuses are diffed as usual.
func TestStatusFirst(t *testing.T) {
	a := NewAggregator("accounts", AggregatorOptions{Seed: 1})
	c := NewComparer()
	doc := `{"id": 7, "tier": "gold", "balance": 12.5, "createdAt": "2024-01-02T03:04:05Z"}`
	for i := range 100 {
		switch {
		case i%10 < 2: // 20% answered 503 by new
			compareAndAdd(a, c, t0, "acme", fmt.Sprint("s", i), jsonResponse(200, doc), jsonResponse(503, `{"error": "unavailable"}`))
		case i%10 == 2: // both fail, differently
			compareAndAdd(a, c, t0, "acme", fmt.Sprint("s", i), jsonResponse(503, `{"error": "a"}`), jsonResponse(503, `{"error": "b"}`))
		default:
			compareAndAdd(a, c, t0, "acme", fmt.Sprint("s", i), jsonResponse(200, doc), jsonResponse(200, doc))
		}
	}
	r := mustReport(t, a, t0, 0)
	if r.Differing != 30 {
		t.Errorf("differing %d, want 30", r.Differing)
	}
	if len(r.Status) != 1 || r.Status[0].Old != 200 || r.Status[0].New != 503 || r.Status[0].Count != 20 || len(r.Status[0].Samples) == 0 {
		t.Fatalf("status %+v, want one 200→503 ×20 with samples", r.Status)
	}
	if got := FormatStatusPair(r.Status[0]); !strings.HasPrefix(got, "status 200→503 ×20 (sample s") {
		t.Errorf("status pair reads %q", got)
	}
	for _, f := range r.Fields {
		switch {
		case f.Kind == KindStatus && f.Path == "200→503" && f.Count == 20:
		case f.Path == "error" && f.Kind == KindValue && f.Count == 10:
		default:
			t.Errorf("unexpected field %+v", f)
		}
	}
	// A caller that hands the bodies' differences anyway gets the same.
	b := NewAggregator("accounts", AggregatorOptions{Seed: 1})
	b.Add(&Pair{Time: t0, OldStatus: 200, NewStatus: 500, Diffs: []Difference{d("", KindStatus), d("balance", KindMissing)}})
	if r := mustReport(t, b, t0, 0); len(r.Fields) != 1 || r.Fields[0].Path != "200→500" || r.Differing != 1 {
		t.Errorf("fields %+v", r.Fields)
	}
}

// TestTenantCountsAddUp is the property test: over random pairs, random
// noise and random tenants, the listed tenants' differing counts plus the
// rest add up exactly to the route's, under every classification the
// noise pairs produce as they arrive, in since-start and windowed reports,
// and after the counts went through Take and NewAggregatorFrom.
func TestTenantCountsAddUp(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 99))
		top := 1 + rng.IntN(6)
		a := NewAggregator("r", AggregatorOptions{Seed: 1, TopTenants: top, Noise: Thresholds{AutoNoise: seed%2 == 0}})
		pool := []Difference{d("meta.ts", KindValue), d("items", KindOrder), d("price", KindValue), d("sku", KindMissing), d("total", KindType)}
		noisy := rng.Float64() // how noisy old is against itself
		tenants := []string{"", "a", "b", "c", "d", "e", "f", "g", "h"}
		var sum Delta
		for i := range 600 {
			at := t0.Add(time.Duration(i) * time.Second)
			if rng.IntN(4) == 0 {
				var nd []Difference
				if rng.Float64() < noisy {
					nd = append(nd, pool[rng.IntN(2)])
				}
				a.AddNoise(at, nd)
			} else {
				var ds []Difference
				for _, f := range pool {
					if rng.IntN(4) == 0 {
						ds = append(ds, f)
					}
				}
				st := 200
				if rng.IntN(10) == 0 {
					st = 503
				}
				a.Add(&Pair{Time: at, Tenant: tenants[rng.IntN(len(tenants))], OldStatus: 200, NewStatus: st, Diffs: ds})
			}
			if i%97 == 0 || i == 599 {
				check(t, fmt.Sprintf("seed %d pair %d", seed, i), mustReport(t, a, at, 0))
				check(t, fmt.Sprintf("seed %d pair %d, last minute", seed, i), mustReport(t, a, at, time.Minute))
			}
			if i%150 == 149 {
				sum.Add(a.Take())
				m, err := NewAggregatorFrom("r", AggregatorOptions{Seed: 1, TopTenants: top}, sum.Total, sum.Windows, sum.Samples)
				if err != nil {
					t.Fatal(err)
				}
				check(t, fmt.Sprintf("seed %d merged at %d", seed, i), mustReport(t, m, at, 0))
			}
		}
	}
}

func check(t *testing.T, what string, r RouteReport) {
	t.Helper()
	var compared, differing uint64
	for _, tc := range r.Tenants {
		compared += tc.Compared
		differing += tc.Differing
		if tc.Differing > tc.Compared {
			t.Errorf("%s: tenant %+v", what, tc)
		}
	}
	if rest := r.TenantsRest; rest != nil {
		compared += rest.Compared
		differing += rest.Differing
	}
	if compared != r.Compared || differing != r.Differing {
		t.Errorf("%s: tenants and the rest add up to %d/%d, the route counts %d/%d", what, differing, compared, r.Differing, r.Compared)
	}
}

// TestTenantBugHeadsTenants: a bug confined to one tenant, with a noisy
// timestamp everywhere: that tenant heads the list with all its pairs
// differing, and no other tenant shows a differing pair, even for the
// pairs added before the noise was known.
func TestTenantBugHeadsTenants(t *testing.T) {
	a := NewAggregator("r", AggregatorOptions{Seed: 1})
	for i := range 400 {
		tenant := fmt.Sprint("t", i%5)
		diffs := []Difference{d("meta.ts", KindValue)}
		if tenant == "t3" {
			diffs = append(diffs, d("tier", KindValue))
		}
		p := pair(fmt.Sprint("s", i), diffs...)
		p.Tenant = tenant
		a.Add(p)
		if i >= 100 { // the secondary starts late
			a.AddNoise(t0, []Difference{d("meta.ts", KindValue)})
		}
	}
	r := mustReport(t, a, t0, 0)
	if r.Differing != 80 || len(r.Tenants) == 0 || r.Tenants[0].Tenant != "t3" || r.Tenants[0].Differing != 80 || r.Tenants[0].Compared != 80 {
		t.Fatalf("differing %d, tenants %+v", r.Differing, r.Tenants)
	}
	for _, tc := range r.Tenants[1:] {
		if tc.Differing != 0 {
			t.Errorf("tenant %+v listed with differing pairs", tc)
		}
	}
}

// TestExamples: each path carries a few recent distinct value pairs with
// their samples, values cut to MaxExampleBytes, and they merge across
// replicas through Take, the recent lists and NewAggregatorFrom.
func TestExamples(t *testing.T) {
	c := NewComparer()
	long := strings.Repeat("é", 100)
	var sum Delta
	for r := range 2 { // two replicas
		a := NewAggregator("r", AggregatorOptions{Seed: uint64(r + 1)})
		for i := range 5 {
			at := t0.Add(time.Duration(10*r+i) * time.Second)
			old := `{"tier": "gold", "n": 1, "note": "` + long + `", "gone": {"a": 1}}`
			new := fmt.Sprintf(`{"tier": "enterprise", "n": %d, "note": "x", "added": [1]}`, 2+i)
			compareAndAdd(a, c, at, "", fmt.Sprintf("r%ds%d", r, i), jsonResponse(200, old), jsonResponse(200, new))
		}
		if r == 0 {
			rep := mustReport(t, a, t0.Add(time.Minute), 0)
			want := map[string]string{
				"tier": "gold → enterprise", "n": "1 → 6", "gone": `{"a": 1} → (absent)`, "added": "(absent) → [1]",
			}
			for _, f := range rep.Fields {
				w, ok := want[f.Path]
				if !ok {
					continue
				}
				if len(f.Examples) == 0 || FormatExample(f.Examples[0]) != w || f.Examples[0].Sample == "" {
					t.Errorf("%s: examples %+v, want first %q", f.Path, f.Examples, w)
				}
				if f.Path == "n" && len(f.Examples) != DefaultExamples {
					t.Errorf("n: %d examples, want %d", len(f.Examples), DefaultExamples)
				}
				if f.Path == "tier" && len(f.Examples) != 1 {
					t.Errorf("tier: one distinct pair gave %+v", f.Examples)
				}
				delete(want, f.Path)
			}
			if len(want) > 0 {
				t.Errorf("no examples for %v", want)
			}
			for _, f := range rep.Fields {
				if f.Path == "note" && (len(f.Examples[0].Old) > MaxExampleBytes+len("…") || !strings.HasSuffix(f.Examples[0].Old, "…")) {
					t.Errorf("note not cut: %q", f.Examples[0].Old)
				}
			}
		}
		sum.Add(a.Take())
	}
	lists := sum.RecentLists()
	for _, items := range lists { // a store hands them back newest first
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	m, err := NewAggregatorFrom("r", AggregatorOptions{}, sum.Total, sum.Windows, SampleRefs(lists))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mustReport(t, m, t0.Add(time.Minute), 0).Fields {
		if f.Path == "n" {
			if len(f.Examples) != DefaultExamples || !strings.HasPrefix(f.Examples[0].Sample, "r1") || FormatExample(f.Examples[0]) != "1 → 6" {
				t.Errorf("merged examples of n: %+v", f.Examples)
			}
			return
		}
	}
	t.Error("merged report lacks n")
}

// TestLikelyNoise: without a secondary, a timestamp near the call's time
// and a UUID that differ on every pair are flagged likely noise with a
// reason and an ignore line; the diff rate stays until AutoNoise. A real
// difference on every pair is not flagged, nor is anything once a
// secondary measures the noise.
func TestLikelyNoise(t *testing.T) {
	build := func(auto, secondary bool) RouteReport {
		a := NewAggregator("r", AggregatorOptions{Seed: 1, Noise: Thresholds{AutoNoise: auto}})
		c := NewComparer()
		for i := range 40 {
			at := t0.Add(time.Duration(i) * time.Second)
			body := func(side int) string {
				ts := at.Add(time.Duration(side*3) * time.Millisecond).UTC().Format(time.RFC3339Nano)
				id := fmt.Sprintf("%08x-1234-4abc-8def-%012x", i, 2*i+side)
				tier := "gold"
				if side == 1 && i%4 == 0 {
					tier = "enterprise"
				}
				return fmt.Sprintf(`{"generatedAt": %q, "requestId": %q, "epoch": %d, "tier": %q, "plan": %q}`,
					ts, id, at.Unix()+int64(side), tier, []string{"basic", "pro"}[side])
			}
			compareAndAdd(a, c, at, "", fmt.Sprint("s", i), jsonResponse(200, body(0)), jsonResponse(200, body(1)))
			if secondary {
				a.AddNoise(at, []Difference{d("generatedAt", KindValue)})
			}
		}
		return mustReport(t, a, t0.Add(time.Minute), 0)
	}
	r := build(false, false)
	likely := map[string]string{}
	for _, f := range r.Fields {
		if f.LikelyNoise {
			likely[f.Path] = f.LikelyReason
			if f.Noise || f.SuggestIgnore != IgnoreLine([]string{f.Path}) {
				t.Errorf("%s: %+v", f.Path, f)
			}
		}
	}
	for path, reason := range map[string]string{"generatedAt": "RFC 3339 times", "requestId": "UUIDs", "epoch": "Unix times"} {
		if !strings.Contains(likely[path], reason) || !strings.Contains(likely[path], "differ in 100% of the pairs") {
			t.Errorf("%s: likely noise reason %q, want one naming %s", path, likely[path], reason)
		}
	}
	if _, ok := likely["plan"]; ok {
		t.Error("plan, a real difference on every pair, flagged likely noise")
	}
	if r.DiffRate != 1 {
		t.Errorf("diff rate %v without auto_noise, want 1", r.DiffRate)
	}
	if s := NoiseSummary(&r); !strings.Contains(s, "3 paths look generated per call, likely noise, still counted") {
		t.Errorf("noise summary %q", s)
	}

	// With auto_noise the generated paths are noise, and say why; plan,
	// a real difference, is not.
	auto := build(true, false)
	for _, f := range auto.Fields {
		if (f.Path == "generatedAt" || f.Path == "requestId" || f.Path == "epoch") && (!f.Noise || f.Why == nil || !strings.Contains(f.Why.Reason, "auto_noise")) {
			t.Errorf("auto_noise: %s %+v", f.Path, f)
		}
		if f.Path == "plan" && f.Noise {
			t.Error("auto_noise silenced plan")
		}
	}
	for _, f := range build(false, true).Fields {
		if f.LikelyNoise {
			t.Errorf("with a secondary, %s flagged likely noise", f.Path)
		}
	}
}

// TestAutoNoiseDiffRate: a route whose pairs differ only in generated
// values and, on a quarter of them, in a real field: auto_noise brings the
// diff rate down to that quarter; off, it reads 100%.
func TestAutoNoiseDiffRate(t *testing.T) {
	for _, auto := range []bool{false, true} {
		a := NewAggregator("r", AggregatorOptions{Seed: 1, Noise: Thresholds{AutoNoise: auto}})
		c := NewComparer()
		for i := range 40 {
			at := t0.Add(time.Duration(i) * time.Second)
			tier := "gold"
			if i%4 == 0 {
				tier = "enterprise"
			}
			old := fmt.Sprintf(`{"token": "%x", "tier": "gold"}`, uint64(0x9f86d081884c7d65)+uint64(i))
			new := fmt.Sprintf(`{"token": "%x", "tier": %q}`, uint64(0xa3b1c2d3e4f50617)+uint64(i), tier)
			compareAndAdd(a, c, at, "", fmt.Sprint("s", i), jsonResponse(200, old), jsonResponse(200, new))
		}
		r := mustReport(t, a, t0.Add(time.Minute), 0)
		want := 1.0
		if auto {
			want = 0.25
		}
		if r.DiffRate != want {
			t.Errorf("auto_noise %v: diff rate %v, want %v (%+v)", auto, r.DiffRate, want, r.Fields)
		}
	}
}

func TestGeneratedClass(t *testing.T) {
	at := time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		old, new string
		want     int
	}{
		{`"2026-12-04T23:00:01Z"`, `"2026-12-04T23:00:02.5+00:00"`, genTime},
		{`"2020-01-01T00:00:00Z"`, `"2020-01-01T00:00:01Z"`, -1}, // far from the call
		{`1796425200`, `1796425201`, genEpoch},
		{`1796425200000`, `"1796425201000"`, genEpoch},
		{`1`, `2`, -1},
		{`"6f1c2a4e-9b7d-4e1a-8c3f-0a1b2c3d4e5f"`, `"0e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b"`, genUUID},
		{`"9f86d081884c7d659a2feaa0c55ad015"`, `"a3b1c2d3e4f5061728394a5b6c7d8e9f"`, genHex},
		{`"deadbeefdeadbeef"`, `"cafebabecafebabe"`, -1}, // letters only: not random hex
		{`"dGhpcyBpcyBhIHRlc3Q9PQ=="`, `"YW5vdGhlciB0b2tlbjEyMw=="`, genBase64},
		{`"gold"`, `"enterprise"`, -1},
		{`"6f1c2a4e-9b7d-4e1a-8c3f-0a1b2c3d4e5f"`, `"9f86d081884c7d659a2feaa0c55ad015"`, -1}, // different classes
		{`"a\u0062cdxyzABCDEF0123456789"`, `"ZYXWVUTSRQ9876543210ab"`, genBase64},
	} {
		if got := generatedClass(c.old, c.new, at); got != c.want {
			t.Errorf("generatedClass(%s, %s) = %d, want %d", c.old, c.new, got, c.want)
		}
	}
}

// TestComparerValues: the values come index for index with the sorted
// differences.
func TestComparerValues(t *testing.T) {
	c := NewComparer()
	// The reordered tags are found index by index first, then taken back
	// as one order difference: their values go with them.
	got := c.Compare(&Response{Body: []byte(`{"z": 1, "a": "x", "m": [1], "gone": true, "tags": ["p", "q"]}`)},
		&Response{Body: []byte(`{"z": 2, "a": "y", "m": [1, 2], "new": null, "tags": ["q", "p"]}`)}, nil, nil)
	vals := c.Values()
	want := map[Difference]Values{
		d("a", KindValue): {`"x"`, `"y"`}, d("gone", KindMissing): {`true`, ""}, d("m", KindLength): {},
		d("new", KindExtra): {"", "null"}, d("tags", KindOrder): {}, d("z", KindValue): {"1", "2"},
	}
	if len(got) != len(want) || len(vals) != len(got) {
		t.Fatalf("got %v with values %v", got, vals)
	}
	for i, df := range got {
		if vals[i] != want[df] {
			t.Errorf("%v: values %+v, want %+v", df, vals[i], want[df])
		}
	}
}

// FuzzCountsNames: any name with any count, added to consistent counts,
// and any example list item are either rejected with an error or give an
// aggregator whose Take round-trips to the same report.
func FuzzCountsNames(f *testing.F) {
	for _, name := range []string{"d4:acme2:va", "gxva", "griva", "Tacme", "d0:", "d1:a", "s2:va", "xva"} {
		f.Add(name, int64(1), "s\x1fold\x1fnew")
	}
	f.Fuzz(func(t *testing.T, name string, n int64, item string) {
		cs := Counts{"c": 3, "l5": 3, "L5": 3, "fva": 2, "s2:va": 2, "tacme": 3, "d4:acme2:va": 1, "gxva": 1}
		cs[name] += n
		a, err := NewAggregatorFrom("r", AggregatorOptions{Seed: 1}, cs, nil, map[string][]SampleRef{"xva": {{item, t0}}})
		if err != nil {
			return
		}
		want := mustReport(t, a, t0, 0)
		d := a.Take()
		b, err := NewAggregatorFrom("r", AggregatorOptions{Seed: 1}, d.Total, nil, nil)
		if err != nil {
			t.Fatalf("a Take of accepted counts is rejected: %v", err)
		}
		got := mustReport(t, b, t0, 0)
		if got.Compared != want.Compared || got.Differing != want.Differing || len(got.Tenants) != len(want.Tenants) {
			t.Fatalf("round trip: %+v, want %+v", got, want)
		}
		for i := range got.Tenants {
			if got.Tenants[i] != want.Tenants[i] {
				t.Fatalf("round trip tenants: %+v, want %+v", got.Tenants, want.Tenants)
			}
		}
	})
}
