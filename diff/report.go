package diff

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
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
	Route      string        `json:"route"`
	Compared   uint64        `json:"compared"`    // old/new pairs only
	Differing  uint64        `json:"differing"`   // pairs with at least one non-noise difference
	DiffRate   float64       `json:"diff_rate"`   // differing / compared
	NoisePairs uint64        `json:"noise_pairs"` // old/secondary pairs compared
	NoiseRate  float64       `json:"noise_rate"`  // share of old/secondary pairs with any difference
	Percent    float64       `json:"percent"`     // filled by the gateway
	State      string        `json:"state,omitempty"`
	Step       int           `json:"step,omitempty"`
	Fields     []FieldReport `json:"fields"`                   // non-noise first, by count desc, then noise by count desc; ties by path, kind
	Status     []StatusPair  `json:"status"`                   // only pairs whose statuses differ, by count desc
	Latency    Latency       `json:"latency"`                  // over compared pairs
	Tenants    []TenantCount `json:"tenants"`                  // top tenants by differing count
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
	Path      string   `json:"path"`
	Kind      Kind     `json:"kind"`
	Count     uint64   `json:"count"`      // old/new pairs that differed here
	Rate      float64  `json:"rate"`       // count / compared
	NoiseRate float64  `json:"noise_rate"` // this (path, kind)'s rate in old/secondary pairs
	Noise     bool     `json:"noise,omitempty"`
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

func formatStatus(s StatusPair) string {
	if s.Old < 0 && s.New < 0 {
		return "other ×" + strconv.FormatUint(s.Count, 10)
	}
	return fmt.Sprintf("%d → %d ×%d", s.Old, s.New, s.Count)
}

func window(r *Report) string {
	if r.Since == "" {
		return "since start"
	}
	return "last " + r.Since
}

// WriteTable prints r for a terminal: per route a header line, then at
// most limit fields (DefaultLimit when limit ≤ 0) as aligned columns PATH
// KIND COUNT RATE NOISE (noise rate), the noise ones marked "noise", then
// the differing status pairs, latency percentiles, top tenants and the
// configuration line that would ignore the noise paths.
func WriteTable(w io.Writer, r *Report, limit int) error {
	if limit <= 0 {
		limit = DefaultLimit
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "cutover diff report, %s, generated %s\n", window(r), r.GeneratedAt.UTC().Format(time.RFC3339))
	if len(r.Routes) == 0 {
		fmt.Fprintln(bw, "\nno routes")
	}
	for i := range r.Routes {
		rr := &r.Routes[i]
		fmt.Fprintf(bw, "\n%s  percent %s", rr.Route, formatPercent(rr.Percent))
		if rr.State != "" {
			fmt.Fprintf(bw, "  %s", rr.State)
			if rr.Step > 0 {
				fmt.Fprintf(bw, " step %d", rr.Step)
			}
		}
		if rr.Compared == 0 {
			fmt.Fprintln(bw, "  no compared pairs yet")
			continue
		}
		fmt.Fprintf(bw, "  compared %d  differing %d  diff rate %s  noise rate %s",
			rr.Compared, rr.Differing, FormatRate(rr.DiffRate), FormatRate(rr.NoiseRate))
		if rr.NoisePairs == 0 {
			fmt.Fprint(bw, " (no noise pairs)")
		}
		fmt.Fprintln(bw)
		if len(rr.Fields) == 0 {
			fmt.Fprintln(bw, "  no differing fields")
		} else {
			tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  PATH\tKIND\tCOUNT\tRATE\tNOISE")
			for j, f := range rr.Fields {
				if j == limit {
					break
				}
				fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s", displayPath(f.Path), f.Kind, f.Count, FormatRate(f.Rate), FormatRate(f.NoiseRate))
				if f.Noise {
					fmt.Fprint(tw, "\tnoise")
				}
				fmt.Fprintln(tw)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if n := len(rr.Fields) - limit; n > 0 {
				fmt.Fprintf(bw, "  … %d more %s\n", n, plural(n, "field", "fields"))
			}
		}
		if len(rr.Status) > 0 {
			fmt.Fprint(bw, "  status: ")
			for j, s := range rr.Status {
				if j > 0 {
					fmt.Fprint(bw, ", ")
				}
				fmt.Fprint(bw, formatStatus(s))
			}
			fmt.Fprintln(bw)
		}
		l := rr.Latency
		fmt.Fprintf(bw, "  latency: p50 %s → %s, p99 %s → %s (old → new)\n",
			FormatMs(l.OldP50), FormatMs(l.NewP50), FormatMs(l.OldP99), FormatMs(l.NewP99))
		if len(rr.Tenants) > 0 {
			fmt.Fprint(bw, "  tenants: ")
			for j, t := range rr.Tenants {
				if j > 0 {
					fmt.Fprint(bw, ", ")
				}
				fmt.Fprintf(bw, "%s %d/%d", t.Tenant, t.Differing, t.Compared)
			}
			fmt.Fprintln(bw, " (differing/compared)")
		}
		if line := IgnoreLine(rr.Suggest); line != "" {
			fmt.Fprintf(bw, "  suggested: %s\n", line)
		}
	}
	return bw.Flush()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// mdCell escapes s for a GitHub table cell: '|' and the line breaks that
// would end the row.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

// mdPath renders a path in a table cell: as code, "(root)" for the root.
func mdPath(p string) string {
	switch {
	case p == "":
		return "(root)"
	case p == OtherPath:
		return "_(other)_"
	case strings.Contains(p, "`"):
		return "``" + mdCell(p) + " ``"
	}
	return "`" + mdCell(p) + "`"
}

// WriteMarkdown prints r as GitHub-flavoured Markdown fit to paste in a
// pull request: a summary table of the routes, then per route a table of
// at most limit fields (DefaultLimit when limit ≤ 0) with kinds, counts,
// rates and noise flags, the differing status pairs, the top tenants and
// the suggested ignore line in a yaml block.
func WriteMarkdown(w io.Writer, r *Report, limit int) error {
	if limit <= 0 {
		limit = DefaultLimit
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "## cutover diff report\n\nGenerated %s, %s.\n\n", r.GeneratedAt.UTC().Format(time.RFC3339), window(r))
	if len(r.Routes) == 0 {
		fmt.Fprintln(bw, "No routes.")
		return bw.Flush()
	}
	fmt.Fprintln(bw, "| route | percent | compared | differing | diff rate | noise rate | p99 old | p99 new |")
	fmt.Fprintln(bw, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for i := range r.Routes {
		rr := &r.Routes[i]
		if rr.Compared == 0 {
			fmt.Fprintf(bw, "| %s | %s | 0 | 0 | – | – | – | – |\n", mdCell(rr.Route), formatPercent(rr.Percent))
			continue
		}
		noise := FormatRate(rr.NoiseRate)
		if rr.NoisePairs == 0 {
			noise = "–"
		}
		fmt.Fprintf(bw, "| %s | %s | %d | %d | %s | %s | %s | %s |\n", mdCell(rr.Route), formatPercent(rr.Percent),
			rr.Compared, rr.Differing, FormatRate(rr.DiffRate), noise,
			FormatMs(rr.Latency.OldP99), FormatMs(rr.Latency.NewP99))
	}
	for i := range r.Routes {
		rr := &r.Routes[i]
		fmt.Fprintf(bw, "\n### %s\n\n", strings.ReplaceAll(rr.Route, "\n", " "))
		if rr.Compared == 0 {
			fmt.Fprintln(bw, "No compared pairs yet.")
			continue
		}
		if len(rr.Fields) == 0 {
			fmt.Fprintln(bw, "No differing fields.")
		} else {
			fmt.Fprintln(bw, "| path | kind | count | rate | noise rate | noise |")
			fmt.Fprintln(bw, "| --- | --- | ---: | ---: | ---: | --- |")
			for j, f := range rr.Fields {
				if j == limit {
					break
				}
				flag := ""
				if f.Noise {
					flag = "noise"
				}
				fmt.Fprintf(bw, "| %s | %s | %d | %s | %s | %s |\n", mdPath(f.Path), f.Kind, f.Count,
					FormatRate(f.Rate), FormatRate(f.NoiseRate), flag)
			}
			if n := len(rr.Fields) - limit; n > 0 {
				fmt.Fprintf(bw, "\n… and %d more %s.\n", n, plural(n, "field", "fields"))
			}
		}
		if len(rr.Status) > 0 {
			fmt.Fprintln(bw, "\n| old status | new status | count |")
			fmt.Fprintln(bw, "| ---: | ---: | ---: |")
			for _, s := range rr.Status {
				if s.Old < 0 && s.New < 0 {
					fmt.Fprintf(bw, "| other | other | %d |\n", s.Count)
					continue
				}
				fmt.Fprintf(bw, "| %d | %d | %d |\n", s.Old, s.New, s.Count)
			}
		}
		if len(rr.Tenants) > 0 {
			fmt.Fprintln(bw, "\n| tenant | compared | differing |")
			fmt.Fprintln(bw, "| --- | ---: | ---: |")
			for _, t := range rr.Tenants {
				fmt.Fprintf(bw, "| %s | %d | %d |\n", mdCell(t.Tenant), t.Compared, t.Differing)
			}
		}
		if line := IgnoreLine(rr.Suggest); line != "" {
			fmt.Fprintf(bw, "\nSuggested ignore for the noise paths:\n\n```yaml\n%s\n```\n", line)
		}
	}
	return bw.Flush()
}
