package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// filledAggregator returns an aggregator with a bit of everything.
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

func TestAggregatorStateRoundTrip(t *testing.T) {
	opt := AggregatorOptions{Seed: 3, MaxFields: 8}
	a := filledAggregator(opt)
	b, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	want := mustReport(t, a, t0, 0)
	if want.Compared != 300 || len(want.Fields) == 0 || len(want.Tenants) == 0 || len(want.Status) == 0 {
		t.Fatalf("weak fixture: %+v", want)
	}

	r := NewAggregator("orders", AggregatorOptions{Seed: 9, MaxFields: 8})
	if err := r.RestoreState(b); err != nil {
		t.Fatal(err)
	}
	got := mustReport(t, r, t0, 0)
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("restored report\n%s\nwant\n%s", g, w)
	}
	// The state encodes the same again.
	b2, err := r.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if len(b2) != len(b) {
		t.Errorf("re-encoded state has %d bytes, first %d", len(b2), len(b))
	}
	// Counting continues on top of the restored totals; the window starts empty.
	if w := mustReport(t, r, t0.Add(300*time.Second), time.Hour); w.Compared != 0 {
		t.Errorf("restored window holds %d pairs", w.Compared)
	}
	a.Add(pair("next", d("meta.ts", KindValue)))
	r.Add(pair("next", d("meta.ts", KindValue)))
	ra, rr := mustReport(t, a, t0, 0), mustReport(t, r, t0, 0)
	if ra.Compared != rr.Compared || ra.Differing != rr.Differing || !reflect.DeepEqual(ra.Tenants, rr.Tenants) {
		t.Errorf("after one more pair: %d/%d vs %d/%d", ra.Compared, ra.Differing, rr.Compared, rr.Differing)
	}

	// Smaller bounds fold fields into "(other)" and keep totals exact.
	small := NewAggregator("orders", AggregatorOptions{Seed: 1, MaxFields: 2, Samples: 1})
	if err := small.RestoreState(b); err != nil {
		t.Fatal(err)
	}
	s := mustReport(t, small, t0, 0)
	if s.Compared != want.Compared || s.Differing != want.Differing || s.Latency != want.Latency {
		t.Errorf("folded state: %+v", s)
	}
	for _, f := range s.Fields {
		if len(f.Samples) > 1 {
			t.Errorf("field %q keeps %d samples", f.Path, len(f.Samples))
		}
	}
}

func TestAggregatorRestoreRejects(t *testing.T) {
	a := filledAggregator(AggregatorOptions{Seed: 3})
	good, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(s *aggregatorState)) []byte {
		var s aggregatorState
		if err := json.Unmarshal(good, &s); err != nil {
			t.Fatal(err)
		}
		f(&s)
		b, err := json.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bad := map[string][]byte{
		"empty":          nil,
		"not json":       []byte("garbage"),
		"truncated":      good[:len(good)/2],
		"trailing":       append(bytes.Clone(good), "{}"...),
		"array":          []byte("[1,2]"),
		"unknown key":    bytes.Replace(good, []byte(`"v":1`), []byte(`"v":1,"x":2`), 1),
		"bad kind":       bytes.Replace(good, []byte(`"kind":"value"`), []byte(`"kind":"nope"`), 1),
		"version":        edit(func(s *aggregatorState) { s.Version = 2 }),
		"route":          edit(func(s *aggregatorState) { s.Route = "users" }),
		"field index":    edit(func(s *aggregatorState) { s.Signatures[0].Fields[0] = 99 }),
		"negative index": edit(func(s *aggregatorState) { s.Signatures[0].Fields[0] = -1 }),
		"empty sig":      edit(func(s *aggregatorState) { s.Signatures[0].Fields = nil }),
		"sig count":      edit(func(s *aggregatorState) { s.Signatures[0].Count = s.Compared + 1 }),
		"field count":    edit(func(s *aggregatorState) { s.Fields[0].Count = s.Compared + 1 }),
		"noise count":    edit(func(s *aggregatorState) { s.NoiseDiffering = s.NoisePairs + 1 }),
		"overflow":       edit(func(s *aggregatorState) { s.Overflow = s.Compared + 1 }),
		"duplicate":      edit(func(s *aggregatorState) { s.Fields = append(s.Fields, s.Fields[0]) }),
		"histogram idx":  edit(func(s *aggregatorState) { s.OldLatency[0][0] = histBuckets }),
		"histogram sum":  edit(func(s *aggregatorState) { s.NewLatency[0][1]++ }),
		"status":         edit(func(s *aggregatorState) { s.Status[0].New = s.Status[0].Old }),
		"tenant":         edit(func(s *aggregatorState) { s.Tenants[0].Differing = s.Tenants[0].Compared + 1 }),
		"empty tenant":   edit(func(s *aggregatorState) { s.Tenants[0].Tenant = "" }),
		"other path":     edit(func(s *aggregatorState) { s.Fields[0].Other = true }),
		"empty sample":   edit(func(s *aggregatorState) { s.Fields[0].Samples[0].ID = "" }),
	}
	r := filledAggregator(AggregatorOptions{Seed: 3})
	before := mustReport(t, r, t0, 0)
	beforeWin := mustReport(t, r, t0.Add(300*time.Second), time.Hour)
	for name, b := range bad {
		if err := r.RestoreState(b); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.HasPrefix(err.Error(), "diff: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
	if after := mustReport(t, r, t0, 0); !reflect.DeepEqual(after, before) {
		t.Error("a rejected state changed the totals")
	}
	if after := mustReport(t, r, t0.Add(300*time.Second), time.Hour); !reflect.DeepEqual(after, beforeWin) {
		t.Error("a rejected state changed the window")
	}
}

func FuzzRestoreState(f *testing.F) {
	// A small seed: the fuzzer minimises every new input, byte by byte.
	a := NewAggregator("orders", AggregatorOptions{Seed: 1})
	for i, p := range benchPairs()[:8] {
		p.Time = t0.Add(time.Duration(i) * time.Second)
		a.Add(p)
		a.AddNoise(p.Time, p.Diffs[:min(1, len(p.Diffs))])
	}
	good, _ := a.MarshalState()
	f.Add(good)
	f.Add([]byte(`{"v":1,"route":"orders"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a := NewAggregator("orders", AggregatorOptions{Seed: 1})
		if err := a.RestoreState(b); err != nil {
			return
		}
		// An accepted state reports and keeps counting without panicking.
		a.Add(pair("x", d("meta.ts", KindValue), d("y", KindMissing)))
		if _, err := a.Report(t0, 0); err != nil {
			t.Fatal(err)
		}
	})
}
