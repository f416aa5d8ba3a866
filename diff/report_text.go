package diff

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cutover/cutover/internal/defaults"
)

func formatStatus(s StatusPair) string {
	if s.Old < 0 && s.New < 0 {
		return "status other ×" + strconv.FormatUint(s.Count, 10)
	}
	return fmt.Sprintf("status %d→%d ×%d", s.Old, s.New, s.Count)
}

func window(r *Report) string {
	if r.Since == "" {
		return "since start"
	}
	return "last " + r.Since
}

// FormatStatusPair writes one status pair as reports and the rollout's
// reasons name it: "status 200→503 ×12 (sample <id>)", "noise" added when
// the noise analysis classed it so.
func FormatStatusPair(s StatusPair) string {
	out := formatStatus(s)
	if len(s.Samples) > 0 {
		out += " (sample " + s.Samples[0] + ")"
	}
	if s.Noise {
		out += " noise"
	}
	return out
}

// FormatExample writes an example as "gold → enterprise", an absent side
// as "(absent)".
func FormatExample(e Example) string {
	show := func(v string) string {
		if v == "" {
			return "(absent)"
		}
		return v
	}
	return show(e.Old) + " → " + show(e.New)
}

// NoiseSummary says in words how noise was handled on a route: how many
// paths were cancelled as noise and on what evidence, or that no
// secondary measures it — never a bare "noise rate", which reads like an
// alarm when every old/secondary pair carries a timestamp.
func NoiseSummary(rr *RouteReport) string {
	var cancelled, likely int
	for _, f := range rr.Fields {
		if f.Noise {
			cancelled++
		} else if f.LikelyNoise {
			likely++
		}
	}
	var b strings.Builder
	if rr.NoisePairs == 0 {
		b.WriteString("noise not measured (no old/secondary pairs)")
		if cancelled > 0 {
			fmt.Fprintf(&b, "; %d %s that look generated per call treated as noise (diff.auto_noise)", cancelled, plural(cancelled, "path", "paths"))
		}
		if likely > 0 {
			fmt.Fprintf(&b, "; %d %s look generated per call, likely noise, still counted", likely, plural(likely, "path", "paths"))
		}
		return b.String()
	}
	fmt.Fprintf(&b, "noise: %d %s cancelled as noise, measured on %d old/secondary %s",
		cancelled, plural(cancelled, "path", "paths"), rr.NoisePairs, plural(int(min(rr.NoisePairs, 2)), "pair", "pairs"))
	fmt.Fprintf(&b, " (two copies of old differed somewhere in %s of them)", FormatRate(rr.NoiseRate))
	return b.String()
}

// WriteTable prints r for a terminal: per route a header line and a line
// on noise in words, then the status pairs (a pair whose statuses differ
// counts once, there), at most limit other fields (DefaultLimit when limit
// ≤ 0) as aligned columns PATH KIND COUNT RATE NOISE (noise rate), the
// noise ones marked "noise" and the likely noise ones "likely noise";
// then the fields' examples (one for a noise field), why each noise field is noise, the likely
// noise with its reason, latency percentiles, top tenants with the rest
// summed, and the configuration line that would ignore the noise paths.
func WriteTable(w io.Writer, r *Report, limit int) error {
	limit = defaults.Positive(limit, DefaultLimit)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "cutover diff report, %s, generated %s\n", window(r), r.GeneratedAt.UTC().Format(time.RFC3339))
	if len(r.Routes) == 0 {
		fmt.Fprintln(bw, "\nno routes")
	}
	for i := range r.Routes {
		rr := &r.Routes[i]
		fmt.Fprintf(bw, "\n%s  percent %s", rr.Route, formatPercent(rr.Percent))
		if rr.Cohort != "" {
			fmt.Fprintf(bw, "  cohort %s", rr.Cohort)
		}
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
		fmt.Fprintf(bw, "  compared %d  differing %d  diff rate %s\n", rr.Compared, rr.Differing, FormatRate(rr.DiffRate))
		fmt.Fprintf(bw, "  %s\n", NoiseSummary(rr))
		if len(rr.Status) > 0 {
			fmt.Fprint(bw, "  ")
			for j, s := range rr.Status {
				if j > 0 {
					fmt.Fprint(bw, ", ")
				}
				fmt.Fprint(bw, FormatStatusPair(s))
			}
			fmt.Fprintln(bw)
		}
		fields := bodyFields(rr.Fields)
		shown := fields[:min(len(fields), limit)]
		if len(fields) == 0 {
			fmt.Fprintln(bw, "  no differing fields")
		} else {
			tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  PATH\tKIND\tCOUNT\tRATE\tNOISE")
			for _, f := range shown {
				fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s", displayPath(f.Path), f.Kind, f.Count, FormatRate(f.Rate), FormatRate(f.NoiseRate))
				switch {
				case f.Noise:
					fmt.Fprint(tw, "\tnoise")
				case f.LikelyNoise:
					fmt.Fprint(tw, "\tlikely noise")
				}
				fmt.Fprintln(tw)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if n := len(fields) - limit; n > 0 {
				fmt.Fprintf(bw, "  … %d more %s\n", n, plural(n, "field", "fields"))
			}
		}
		for _, f := range shown {
			if len(f.Examples) == 0 {
				continue
			}
			examples := f.Examples
			if f.Noise || f.LikelyNoise { // one shows what the noise looks like
				examples = examples[:1]
			}
			fmt.Fprintf(bw, "  %s:", displayPath(f.Path))
			for j, e := range examples {
				if j > 0 {
					fmt.Fprint(bw, ",")
				}
				fmt.Fprintf(bw, " %s (sample %s)", FormatExample(e), e.Sample)
			}
			fmt.Fprintln(bw)
		}
		for _, f := range shown {
			if f.Noise && f.Why != nil {
				fmt.Fprintf(bw, "  noise %s: %s\n", displayPath(f.Path), f.Why.Reason)
			} else if f.LikelyNoise {
				fmt.Fprintf(bw, "  likely noise %s: %s; to ignore it: %s\n", displayPath(f.Path), f.LikelyReason, f.SuggestIgnore)
			}
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
			if rest := rr.TenantsRest; rest != nil {
				fmt.Fprintf(bw, ", the rest %d/%d", rest.Differing, rest.Compared)
			}
			fmt.Fprintln(bw, " (differing/compared)")
		}
		if line := IgnoreLine(rr.Suggest); line != "" {
			fmt.Fprintf(bw, "  suggested: %s\n", line)
		}
	}
	return bw.Flush()
}

// bodyFields returns the fields other than status differences, which
// reports show as status pairs.
func bodyFields(fs []FieldReport) []FieldReport {
	out := make([]FieldReport, 0, len(fs))
	for _, f := range fs {
		if f.Kind != KindStatus {
			out = append(out, f)
		}
	}
	return out
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
// pull request: a summary table of the routes, then per route the noise
// in words, the differing status pairs with a sample, a table of at most
// limit other fields (DefaultLimit when limit ≤ 0) with kinds, counts,
// rates, noise flags and examples, why each noise field is noise, the
// top tenants with the rest summed, and the suggested ignore line in a
// yaml block.
func WriteMarkdown(w io.Writer, r *Report, limit int) error {
	limit = defaults.Positive(limit, DefaultLimit)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "## cutover diff report\n\nGenerated %s, %s.\n\n", r.GeneratedAt.UTC().Format(time.RFC3339), window(r))
	if len(r.Routes) == 0 {
		fmt.Fprintln(bw, "No routes.")
		return bw.Flush()
	}
	fmt.Fprintln(bw, "| route | percent | compared | differing | diff rate | p99 old | p99 new |")
	fmt.Fprintln(bw, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for i := range r.Routes {
		rr := &r.Routes[i]
		if rr.Compared == 0 {
			fmt.Fprintf(bw, "| %s | %s | 0 | 0 | – | – | – |\n", mdCell(routeLabel(rr)), formatPercent(rr.Percent))
			continue
		}
		fmt.Fprintf(bw, "| %s | %s | %d | %d | %s | %s | %s |\n", mdCell(routeLabel(rr)), formatPercent(rr.Percent),
			rr.Compared, rr.Differing, FormatRate(rr.DiffRate),
			FormatMs(rr.Latency.OldP99), FormatMs(rr.Latency.NewP99))
	}
	for i := range r.Routes {
		rr := &r.Routes[i]
		fmt.Fprintf(bw, "\n### %s\n\n", strings.ReplaceAll(rr.Route, "\n", " "))
		if rr.Compared == 0 {
			fmt.Fprintln(bw, "No compared pairs yet.")
			continue
		}
		fmt.Fprintf(bw, "%s.\n\n", mdCell(capitalize(NoiseSummary(rr))))
		if len(rr.Status) > 0 {
			fmt.Fprintln(bw, "| old status | new status | count | sample |")
			fmt.Fprintln(bw, "| ---: | ---: | ---: | --- |")
			for _, s := range rr.Status {
				sample := ""
				if len(s.Samples) > 0 {
					sample = "`" + mdCell(s.Samples[0]) + "`"
				}
				if s.Old < 0 && s.New < 0 {
					fmt.Fprintf(bw, "| other | other | %d | %s |\n", s.Count, sample)
					continue
				}
				fmt.Fprintf(bw, "| %d | %d | %d | %s |\n", s.Old, s.New, s.Count, sample)
			}
			fmt.Fprintln(bw)
		}
		fields := bodyFields(rr.Fields)
		if len(fields) == 0 {
			fmt.Fprintln(bw, "No differing fields.")
		} else {
			fmt.Fprintln(bw, "| path | kind | count | rate | noise rate | noise | example |")
			fmt.Fprintln(bw, "| --- | --- | ---: | ---: | ---: | --- | --- |")
			for j, f := range fields {
				if j == limit {
					break
				}
				flag := ""
				switch {
				case f.Noise:
					flag = "noise"
				case f.LikelyNoise:
					flag = "likely noise"
				}
				example := ""
				if len(f.Examples) > 0 {
					example = mdCell(FormatExample(f.Examples[0]))
				}
				fmt.Fprintf(bw, "| %s | %s | %d | %s | %s | %s | %s |\n", mdPath(f.Path), f.Kind, f.Count,
					FormatRate(f.Rate), FormatRate(f.NoiseRate), flag, example)
			}
			if n := len(fields) - limit; n > 0 {
				fmt.Fprintf(bw, "\n… and %d more %s.\n", n, plural(n, "field", "fields"))
			}
			var why []string
			for _, f := range fields[:min(len(fields), limit)] {
				if f.Noise && f.Why != nil {
					why = append(why, fmt.Sprintf("- %s is noise: %s", mdPath(f.Path), mdCell(f.Why.Reason)))
				} else if f.LikelyNoise {
					why = append(why, fmt.Sprintf("- %s is likely noise: %s", mdPath(f.Path), mdCell(f.LikelyReason)))
				}
			}
			if len(why) > 0 {
				fmt.Fprintf(bw, "\n%s\n", strings.Join(why, "\n"))
			}
		}
		if len(rr.Tenants) > 0 {
			fmt.Fprintln(bw, "\n| tenant | compared | differing |")
			fmt.Fprintln(bw, "| --- | ---: | ---: |")
			for _, t := range rr.Tenants {
				fmt.Fprintf(bw, "| %s | %d | %d |\n", mdCell(t.Tenant), t.Compared, t.Differing)
			}
			if rest := rr.TenantsRest; rest != nil {
				fmt.Fprintf(bw, "| _the rest (%d %s, and pairs without one)_ | %d | %d |\n", rest.Tenants, plural(rest.Tenants, "tenant", "tenants"), rest.Compared, rest.Differing)
			}
		}
		if line := IgnoreLine(rr.Suggest); line != "" {
			fmt.Fprintf(bw, "\nSuggested ignore for the noise paths:\n\n```yaml\n%s\n```\n", line)
		}
	}
	return bw.Flush()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// routeLabel names a route with its cohort, if it has one.
func routeLabel(rr *RouteReport) string {
	if rr.Cohort == "" {
		return rr.Route
	}
	return rr.Route + " (cohort " + rr.Cohort + ")"
}
