package diff

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	return &Report{
		GeneratedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Since:       "15m0s",
		Routes: []RouteReport{{
			Route: "orders", Compared: 12000, Differing: 37, DiffRate: 37.0 / 12000,
			NoisePairs: 600, NoiseRate: 0.9, Percent: 10, State: "progressing", Step: 3,
			Fields: []FieldReport{
				{Path: "items.#.price", Kind: KindValue, Count: 35, Rate: 35.0 / 12000, Samples: []string{"a"},
					Examples: []Example{{Old: "10", New: "10.5", Sample: "a"}, {Old: "3", New: "3.25", Sample: "b"}}},
				{Path: "200→500", Kind: KindStatus, Count: 2, Rate: 2.0 / 12000, Samples: []string{"s5"}},
				{Path: "a|b", Kind: KindMissing, Count: 1, Rate: 1.0 / 12000, Examples: []Example{{Old: "x", Sample: "c"}}},
				{Path: "meta.ts", Kind: KindValue, Count: 11900, Rate: 11900.0 / 12000, NoiseRate: 0.99, Noise: true,
					Why: &NoiseEvidence{Rate: 11900.0 / 12000, NoiseRate: 0.99, NoisePairs: 600, Relative: 0.2, Absolute: 0.0003, Reason: "the excess is 0.17% of the old/new rate, not above the 20% relative threshold"}},
				{Path: "items.#.updatedAt", Kind: KindValue, Count: 5000, Rate: 5000.0 / 12000, NoiseRate: 0.4, Noise: true},
			},
			Status:      []StatusPair{{Old: 200, New: 500, Count: 2, Samples: []string{"s5"}}, {Old: 404, New: 200, Count: 1}},
			Latency:     Latency{OldP50: 5.1, OldP99: 12.1, NewP50: 6, NewP99: 14.004},
			Tenants:     []TenantCount{{Tenant: "1001", Compared: 5000, Differing: 30}, {Tenant: "acme", Compared: 200, Differing: 7}},
			TenantsRest: &TenantRest{Tenants: 40, Compared: 6800, Differing: 0},
			Suggest:     []string{"meta.ts", "items.#.updatedAt"},
		}, {Route: "users", Percent: 0.5}},
	}
}

const wantTable = `cutover diff report, last 15m0s, generated 2025-03-01T12:00:00Z

orders  percent 10%  progressing step 3  compared 12000  differing 37  diff rate 0.31%
  noise: 2 paths cancelled as noise, measured on 600 old/secondary pairs (two copies of old differed somewhere in 90% of them)
  status 200→500 ×2 (sample s5), status 404→200 ×1
  PATH               KIND     COUNT  RATE    NOISE
  items.#.price      value    35     0.29%   0%
  a|b                missing  1      0.01%   0%
  meta.ts            value    11900  99.17%  99%  noise
  items.#.updatedAt  value    5000   41.67%  40%  noise
  items.#.price: 10 → 10.5 (sample a), 3 → 3.25 (sample b)
  a|b: x → (absent) (sample c)
  noise meta.ts: the excess is 0.17% of the old/new rate, not above the 20% relative threshold
  latency: p50 5.1ms → 6ms, p99 12.1ms → 14ms (old → new)
  tenants: 1001 30/5000, acme 7/200, the rest 0/6800 (differing/compared)
  suggested: diff: { ignore: ["meta.ts", "items.#.updatedAt"] }

users  percent 0.5%  no compared pairs yet
`

const wantMarkdown = "## cutover diff report\n" + `
Generated 2025-03-01T12:00:00Z, last 15m0s.

| route | percent | compared | differing | diff rate | p99 old | p99 new |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
| orders | 10% | 12000 | 37 | 0.31% | 12.1ms | 14ms |
| users | 0.5% | 0 | 0 | – | – | – |

### orders

Noise: 2 paths cancelled as noise, measured on 600 old/secondary pairs (two copies of old differed somewhere in 90% of them).

| old status | new status | count | sample |
| ---: | ---: | ---: | --- |
| 200 | 500 | 2 | ` + "`s5`" + ` |
| 404 | 200 | 1 |  |

| path | kind | count | rate | noise rate | noise | example |
| --- | --- | ---: | ---: | ---: | --- | --- |
| ` + "`items.#.price`" + ` | value | 35 | 0.29% | 0% |  | 10 → 10.5 |
| ` + "`a\\|b`" + ` | missing | 1 | 0.01% | 0% |  | x → (absent) |
| ` + "`meta.ts`" + ` | value | 11900 | 99.17% | 99% | noise |  |
| ` + "`items.#.updatedAt`" + ` | value | 5000 | 41.67% | 40% | noise |  |

- ` + "`meta.ts`" + ` is noise: the excess is 0.17% of the old/new rate, not above the 20% relative threshold

| tenant | compared | differing |
| --- | ---: | ---: |
| 1001 | 5000 | 30 |
| acme | 200 | 7 |
| _the rest (40 tenants, and pairs without one)_ | 6800 | 0 |

Suggested ignore for the noise paths:

` + "```yaml\n" + `diff: { ignore: ["meta.ts", "items.#.updatedAt"] }
` + "```" + `

### users

No compared pairs yet.
`

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	if err := WriteTable(&b, sampleReport(), 4); err != nil {
		t.Fatal(err)
	}
	if b.String() != wantTable {
		t.Errorf("WriteTable:\n%s\nwant:\n%s", b.String(), wantTable)
	}
	// The default limit shows every field here.
	b.Reset()
	if err := WriteTable(&b, sampleReport(), 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "items.#.updatedAt  value    5000   41.67%  40%  noise\n") || strings.Contains(b.String(), "more field") {
		t.Errorf("WriteTable with the default limit:\n%s", b.String())
	}
	b.Reset()
	if err := WriteTable(&b, &Report{GeneratedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}, 0); err != nil {
		t.Fatal(err)
	}
	if b.String() != "cutover diff report, since start, generated 2025-03-01T12:00:00Z\n\nno routes\n" {
		t.Errorf("empty report: %q", b.String())
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b strings.Builder
	if err := WriteMarkdown(&b, sampleReport(), 4); err != nil {
		t.Fatal(err)
	}
	if b.String() != wantMarkdown {
		t.Errorf("WriteMarkdown:\n%s\nwant:\n%s", b.String(), wantMarkdown)
	}
	r := &Report{Routes: []RouteReport{{Route: "a|b\nc", Compared: 1,
		Fields: []FieldReport{{Path: "x`y", Kind: KindValue, Count: 1, Rate: 1}, {Path: OtherPath, Kind: KindType, Count: 1, Rate: 1}}}}}
	b.Reset()
	if err := WriteMarkdown(&b, r, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| a\\|b c | 0% | 1 |", "| ``x`y `` | value |", "| _(other)_ | type |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("WriteMarkdown lacks %q:\n%s", want, b.String())
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestWritersReportErrors(t *testing.T) {
	if err := WriteTable(failWriter{}, sampleReport(), 0); err == nil {
		t.Error("WriteTable hid a write error")
	}
	if err := WriteMarkdown(failWriter{}, sampleReport(), 0); err == nil {
		t.Error("WriteMarkdown hid a write error")
	}
}

func TestExceeds(t *testing.T) {
	r := &Report{Routes: []RouteReport{
		{Route: "a", DiffRate: 0.01}, {Route: "b", DiffRate: 0.005}, {Route: "c", DiffRate: 0.2}, {Route: "d"},
	}}
	for _, tc := range []struct {
		max  float64
		want []string
	}{{0.005, []string{"a", "c"}}, {0, []string{"a", "b", "c"}}, {0.2, nil}, {1, nil}} {
		if got := Exceeds(r, tc.max); !slices.Equal(got, tc.want) {
			t.Errorf("Exceeds(%v) = %q, want %q", tc.max, got, tc.want)
		}
	}
}

func TestFormatRate(t *testing.T) {
	for r, want := range map[float64]string{
		0: "0%", 0.0031: "0.31%", 1: "100%", 0.125: "12.5%", 0.00001: "<0.01%", 0.00004: "<0.01%",
		0.0001: "0.01%", 0.99999: "100%", 0.123456: "12.35%",
	} {
		if got := FormatRate(r); got != want {
			t.Errorf("FormatRate(%v) = %q, want %q", r, got, want)
		}
	}
}

// TestRouteReportJSON checks the keys SPEC.md names.
func TestRouteReportJSON(t *testing.T) {
	a := filledAggregator(AggregatorOptions{Seed: 1})
	r := mustReport(t, a, t0, 0)
	r.Percent, r.State = 10, "progressing"
	b, err := json.Marshal(&Report{GeneratedAt: t0, Routes: []RouteReport{r}})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		GeneratedAt string           `json:"generated_at"`
		Routes      []map[string]any `json:"routes"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	route := m.Routes[0]
	for _, k := range []string{"route", "compared", "differing", "diff_rate", "noise_rate", "percent", "state", "fields", "status", "latency", "tenants", "suggest_ignore"} {
		if _, ok := route[k]; !ok {
			t.Errorf("route report lacks %q: %s", k, b)
		}
	}
	f := route["fields"].([]any)[0].(map[string]any)
	for _, k := range []string{"path", "kind", "count", "rate", "noise_rate", "samples"} {
		if _, ok := f[k]; !ok {
			t.Errorf("field lacks %q: %v", k, f)
		}
	}
	if kind := f["kind"]; kind != "value" && kind != "missing" && kind != "status" {
		t.Errorf("kind %v", kind)
	}
	for _, k := range []string{"old_p50_ms", "old_p99_ms", "new_p50_ms", "new_p99_ms"} {
		if _, ok := route["latency"].(map[string]any)[k]; !ok {
			t.Errorf("latency lacks %q", k)
		}
	}
	s := route["status"].([]any)[0].(map[string]any)
	if s["old"] != 200.0 || s["new"] != 500.0 {
		t.Errorf("status %v", s)
	}
	var back RouteReport
	if err := json.Unmarshal(b[strings.Index(string(b), `[{`)+1:len(b)-2], &back); err != nil {
		t.Fatal(err)
	}
	if back.Compared != r.Compared || len(back.Fields) != len(r.Fields) || back.Fields[0].Kind != r.Fields[0].Kind {
		t.Errorf("round trip: %+v", back)
	}

	// Rendering a real report works too.
	var sb strings.Builder
	if err := WriteTable(&sb, &Report{GeneratedAt: t0, Routes: []RouteReport{r}}, 3); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "noise") || !strings.Contains(sb.String(), "status 200→500 ×60 (sample ") {
		t.Errorf("table of a real report:\n%s", sb.String())
	}
}

// TestReportNamesTheCohort: a route of a cohort says so in the table and
// in Markdown, since its percent and rollout are the cohort's.
func TestReportNamesTheCohort(t *testing.T) {
	r := &Report{Routes: []RouteReport{{Route: "orders", Cohort: "checkout", Percent: 30}}}
	var table, md strings.Builder
	if err := WriteTable(&table, r, 0); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, r, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "orders  percent 30%  cohort checkout") {
		t.Errorf("table does not name the cohort:\n%s", table.String())
	}
	if !strings.Contains(md.String(), "| orders (cohort checkout) |") {
		t.Errorf("markdown does not name the cohort:\n%s", md.String())
	}
}
