package diff

import (
	"math"
	"strconv"
	"time"
)

// Report is the diff report of GET /api/report and `cutover report`.
type Report struct {
	GeneratedAt time.Time     `json:"generated_at"`
	Since       string        `json:"since,omitempty"` // the window, e.g. "15m0s"; empty = since start
	Routes      []RouteReport `json:"routes"`
}

// RouteReport summarises one route (SPEC.md, "One route's report").
type RouteReport struct {
	Route      string  `json:"route"`
	Compared   uint64  `json:"compared"`    // old/new pairs only
	Differing  uint64  `json:"differing"`   // pairs with at least one non-noise difference
	DiffRate   float64 `json:"diff_rate"`   // differing / compared
	NoisePairs uint64  `json:"noise_pairs"` // old/secondary pairs compared
	NoiseRate  float64 `json:"noise_rate"`  // share of old/secondary pairs with any difference
	Percent    float64 `json:"percent"`     // filled by the gateway
	// Cohort names the route's gray.cohort, whose routes share one
	// percent and one rollout; filled by the gateway.
	Cohort  string        `json:"cohort,omitempty"`
	State   string        `json:"state,omitempty"`
	Step    int           `json:"step,omitempty"`
	Fields  []FieldReport `json:"fields"`  // non-noise first, by count desc, then noise by count desc; ties by path, kind
	Status  []StatusPair  `json:"status"`  // only pairs whose statuses differ, by count desc
	Latency Latency       `json:"latency"` // over compared pairs
	Tenants []TenantCount `json:"tenants"` // top tenants by differing count
	// TenantsRest sums every compared pair not in Tenants — tenants
	// beyond the top list, and pairs without a tenant — so that Tenants
	// and TenantsRest add up to Compared and Differing. Nil when nothing
	// is left over.
	TenantsRest *TenantRest `json:"tenants_rest,omitempty"`
	Suggest     []string    `json:"suggest_ignore,omitempty"` // the noise and likely-noise paths, ready for diff.ignore
}

// TenantRest summarises the pairs that Tenants does not list: Tenants is
// how many other tenants the aggregator's table knows (a lower bound once
// more than its capacity were seen).
type TenantRest struct {
	Tenants   int    `json:"tenants"`
	Compared  uint64 `json:"compared"`
	Differing uint64 `json:"differing"`
}

// FieldReport is one (path, kind) that differed. Path is "" for the root
// value, a status or a non-JSON body, and OtherPath for the (path, kind)s
// beyond AggregatorOptions.MaxFields.
type FieldReport struct {
	Path      string  `json:"path"`
	Kind      Kind    `json:"kind"`
	Count     uint64  `json:"count"`      // old/new pairs that differed here
	Rate      float64 `json:"rate"`       // count / compared
	NoiseRate float64 `json:"noise_rate"` // this (path, kind)'s rate in old/secondary pairs
	Noise     bool    `json:"noise,omitempty"`
	// Why says, for a noise field, which evidence classed it.
	Why     *NoiseEvidence `json:"why,omitempty"`
	Samples []string       `json:"samples"` // sample IDs, newest first
	// Examples are a few recent distinct value pairs, newest first
	// (value, type, missing and extra kinds; see Example).
	Examples []Example `json:"examples,omitempty"`
	// LikelyNoise flags a field that looks like noise while no secondary
	// measures it (see LikelyNoiseMinRate): its values look generated per
	// call. It still counts as differing unless diff.auto_noise is on (then
	// Noise is set too). LikelyReason says why; SuggestIgnore is the
	// configuration line that would silence it.
	LikelyNoise   bool   `json:"likely_noise,omitempty"`
	LikelyReason  string `json:"likely_noise_reason,omitempty"`
	SuggestIgnore string `json:"suggest,omitempty"`
}

// StatusPair counts the pairs answered with one pair of differing statuses;
// Old and New are −1 for the pairs beyond the table's bound. Such a pair
// counts once, as its status difference (the field StatusPath(Old, New) of
// kind status), whose samples and noise flag it carries.
type StatusPair struct {
	Old     int      `json:"old"`
	New     int      `json:"new"`
	Count   uint64   `json:"count"`
	Noise   bool     `json:"noise,omitempty"`
	Samples []string `json:"samples,omitempty"` // newest first
}

// Latency holds latency percentiles in milliseconds, within 2%.
type Latency struct {
	OldP50 float64 `json:"old_p50_ms"`
	OldP99 float64 `json:"old_p99_ms"`
	NewP50 float64 `json:"new_p50_ms"`
	NewP99 float64 `json:"new_p99_ms"`
}

// TenantCount counts one tenant's pairs, Differing classified as the
// route's (see Aggregator); counts may be overestimated once more tenants
// than the table holds were seen.
type TenantCount struct {
	Tenant    string `json:"tenant"`
	Compared  uint64 `json:"compared"`
	Differing uint64 `json:"differing"`
}

// DefaultLimit is the number of fields per route the writers print when
// given limit ≤ 0.
const DefaultLimit = 10

// Exceeds returns the routes whose diff rate is above max (for `cutover
// report --max-diff-rate`), in report order.
func Exceeds(r *Report, max float64) []string {
	var out []string
	for i := range r.Routes {
		if r.Routes[i].DiffRate > max {
			out = append(out, r.Routes[i].Route)
		}
	}
	return out
}

// FormatRate prints a share as a percentage with up to two decimals
// ("0.31%", "12.5%", "0%"); a non-zero share that rounds to 0.00% prints
// "<0.01%".
func FormatRate(r float64) string {
	if r == 0 || math.IsNaN(r) {
		return "0%"
	}
	p := math.Round(r*100*100) / 100
	if p == 0 {
		return "<0.01%"
	}
	return strconv.FormatFloat(p, 'f', -1, 64) + "%"
}

// FormatMs prints milliseconds with up to two decimals ("12.1ms").
func FormatMs(ms float64) string {
	return strconv.FormatFloat(math.Round(ms*100)/100, 'f', -1, 64) + "ms"
}

func formatPercent(p float64) string {
	return strconv.FormatFloat(p, 'f', -1, 64) + "%"
}

func displayPath(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
