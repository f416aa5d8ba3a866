package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/diff"
)

func cmdReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("report", "report [--admin URL] [--route R] [--since 15m] [--format table|json|markdown] [--max-diff-rate X]",
		"Print the diff report of a running gateway: per shadowed route, the old/new pairs\n"+
			"compared, the share that differ once noise is cancelled, how noise was handled,\n"+
			"the status pairs that differ (a pair whose statuses differ counts once, there),\n"+
			"and the JSON fields that differ with their kind, rate, noise rate and examples\n"+
			"(old → new); latency, and the top tenants with the rest summed. Noise fields say\n"+
			"why they are noise; without a secondary, fields whose values look generated per\n"+
			"call are flagged likely noise. A diff.ignore line is suggested for both.\n"+
			"With --max-diff-rate the command is a CI gate: it exits 3 when any route's diff\n"+
			"rate is above X, after printing the report.", stderr)
	route := fs.String("route", "", "report only this `route`")
	since := fs.String("since", "", "only pairs compared in this last `duration` (up to "+diff.MaxWindow.String()+"); default: since start")
	format := fs.String("format", "table", "output `format`: table, json or markdown (for a pull request)")
	limit := fs.Int("limit", 10, "fields listed per route in table and markdown output")
	maxRate := fs.String("max-diff-rate", "", "exit 3 when a route's diff rate is above this `rate`: a percentage (0.5%) or a share (0.005)")
	base, tokenEnv := adminFlags(fs)
	pos, code, ok := parseInterspersed(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		fmt.Fprintf(stderr, "cutover report: unexpected argument %q (use --route to pick a route)\n", pos[0])
		return exitUsage
	}
	if !formatKnown(fs, *format, "table", "json", "markdown") {
		return exitUsage
	}
	threshold := -1.0
	if *maxRate != "" {
		v, err := parseRate(*maxRate)
		if err != nil {
			fmt.Fprintln(stderr, "cutover report:", err)
			return exitUsage
		}
		threshold = v
	}
	q := url.Values{}
	if *route != "" {
		q.Set("route", *route)
	}
	if *since != "" {
		if _, err := time.ParseDuration(*since); err != nil {
			fmt.Fprintf(stderr, "cutover report: --since %q: want a duration such as 15m\n", *since)
			return exitUsage
		}
		q.Set("since", *since)
	}
	path := "/api/report"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var rep diff.Report
	if err := newAdminClient(*base, *tokenEnv).get(path, &rep); err != nil {
		fmt.Fprintln(stderr, "cutover report:", err)
		return exitError
	}
	var err error
	switch *format {
	case "json":
		if code := printJSON(stdout, &rep); code != exitOK {
			return code
		}
	case "markdown":
		err = diff.WriteMarkdown(stdout, &rep, *limit)
	default:
		err = diff.WriteTable(stdout, &rep, *limit)
	}
	if err != nil {
		fmt.Fprintln(stderr, "cutover report:", err)
		return exitError
	}
	if threshold >= 0 {
		if over := diff.Exceeds(&rep, threshold); len(over) > 0 {
			fmt.Fprintf(stderr, "cutover report: diff rate above %s on %s\n", fmtRate(threshold), strings.Join(over, ", "))
			return exitOverThreshold
		}
	}
	return exitOK
}

// parseRate reads a rate written as a percentage ("0.5%") or as a share
// from 0 to 1 ("0.005").
func parseRate(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if pct {
		v /= 100
	}
	if err != nil || !(v >= 0 && v <= 1) {
		return 0, fmt.Errorf("--max-diff-rate %q: want a percentage (0.5%%) or a share from 0 to 1 (0.005)", s)
	}
	return v, nil
}

func fmtRate(v float64) string { return strconv.FormatFloat(v*100, 'f', -1, 64) + "%" }
