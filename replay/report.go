package replay

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/diff"
)

// Report is the report of a replay: the shape of GET /api/report, one
// route report per recorded route, plus the replay block.
type Report struct {
	diff.Report
	Replay Summary `json:"replay"`
}

// Summary is the replay block of a Report.
type Summary struct {
	Target   string `json:"target"`
	Baseline string `json:"baseline,omitempty"`
	Total    int64  `json:"total"` // calls the source selected
	Sent     uint64 `json:"sent"`  // calls sent to the target, failed ones included
	// Skipped counts the calls not sent, by reason (SkipMethod, …).
	Skipped map[string]uint64 `json:"skipped"`
	Errors  uint64            `json:"errors"` // sent calls that got no answer
	// ErrorKinds counts the errors by kind: unreachable, timeout,
	// connection, body_too_large, error.
	ErrorKinds map[string]uint64 `json:"error_kinds,omitempty"`
	DurationS  float64           `json:"duration_s"`
	Rate       float64           `json:"rate"` // answered calls a second
	Latency    struct {
		P50 float64 `json:"p50_ms"`
		P99 float64 `json:"p99_ms"`
	} `json:"latency"` // of the target's answers
	// NoiseMeasured is false without a baseline: then fields that differ
	// because recordings are old (timestamps, random IDs) are not told
	// apart from real differences.
	NoiseMeasured bool `json:"noise_measured"`
	Interrupted   bool `json:"interrupted,omitempty"`
}

// NoNoiseNote is what a report without a baseline says about noise.
const NoNoiseNote = "noise not measured: without --baseline, fields that differ only because the recording is old (timestamps, random IDs) count as differences"

func (r *Runner) report(interrupted bool) *Report {
	now := time.Now()
	rep := &Report{Report: diff.Report{GeneratedAt: now.UTC(), Routes: []diff.RouteReport{}}}
	r.mu.Lock()
	names := slices.Sorted(maps.Keys(r.aggs))
	aggs := make([]*diff.Aggregator, len(names))
	for i, n := range names {
		aggs[i] = r.aggs[n]
	}
	r.mu.Unlock()
	for _, a := range aggs {
		// A since-start report never fails.
		rr, _ := a.Report(now, 0)
		rep.Routes = append(rep.Routes, rr)
	}
	s := &rep.Replay
	s.Target, s.Baseline = r.opt.Target, r.opt.Baseline
	s.Total, s.Sent, s.Errors = r.total.Load(), r.sent.Load(), r.failures.Load()
	r.skipMu.Lock()
	s.Skipped = maps.Clone(r.skipped)
	if len(r.errKinds) > 0 {
		s.ErrorKinds = maps.Clone(r.errKinds)
	}
	r.skipMu.Unlock()
	elapsed := time.Since(r.started)
	s.DurationS = math.Round(elapsed.Seconds()*1000) / 1000
	if elapsed > 0 {
		s.Rate = math.Round(float64(s.Sent-s.Errors)/elapsed.Seconds()*10) / 10
	}
	s.Latency.P50, s.Latency.P99 = r.lat.quantile(0.5), r.lat.quantile(0.99)
	s.NoiseMeasured = r.baseline != nil
	s.Interrupted = interrupted
	return rep
}

// WriteTable writes the report as cutover report does, then the replay
// block.
func WriteTable(w io.Writer, rep *Report, limit int) error {
	if err := diff.WriteTable(w, &rep.Report, limit); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n"+summaryText(&rep.Replay, ""))
	return err
}

// WriteMarkdown writes the report as cutover report --format markdown
// does, then the replay block as a list.
func WriteMarkdown(w io.Writer, rep *Report, limit int) error {
	if err := diff.WriteMarkdown(w, &rep.Report, limit); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n### Replay\n\n"+summaryText(&rep.Replay, "- "))
	return err
}

func summaryText(s *Summary, bullet string) string {
	var b strings.Builder
	line := func(format string, args ...any) {
		b.WriteString(bullet)
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	what := "replayed to " + s.Target
	if s.Baseline != "" {
		what += ", baseline " + s.Baseline
	}
	if s.Interrupted {
		what += " (interrupted)"
	}
	line("%s", what)
	line("calls    %d selected, %d sent, %d errors%s, skipped %s", s.Total, s.Sent, s.Errors, kinds(s.ErrorKinds), skippedText(s.Skipped))
	line("pace     %.1f calls/s over %.1fs; target latency p50 %s, p99 %s", s.Rate, s.DurationS, diff.FormatMs(s.Latency.P50), diff.FormatMs(s.Latency.P99))
	if !s.NoiseMeasured {
		line("noise    %s", NoNoiseNote)
	}
	return b.String()
}

func kinds(m map[string]uint64) string {
	if len(m) == 0 {
		return ""
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func skippedText(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		what := k
		if k == SkipMethod {
			what = "writes (--allow-writes sends them)"
		}
		parts = append(parts, fmt.Sprintf("%d %s", m[k], what))
	}
	return strings.Join(parts, ", ")
}

// latencies is a bounded log-scale histogram of the target's latencies:
// 2% wide buckets from 10 µs to about an hour.
type latencies struct {
	mu     sync.Mutex
	counts [latBuckets]uint64
	n      uint64
}

const (
	latBuckets = 1000
	latMin     = 10e-6 // seconds
	latGrowth  = 1.02
)

func (l *latencies) add(d time.Duration) {
	i := 0
	if s := d.Seconds(); s > latMin {
		i = min(int(math.Log(s/latMin)/math.Log(latGrowth))+1, latBuckets-1)
	}
	l.mu.Lock()
	l.counts[i]++
	l.n++
	l.mu.Unlock()
}

// quantile returns the q-quantile in milliseconds (the bucket's middle).
func (l *latencies) quantile(q float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(l.n)))
	var seen uint64
	for i, c := range l.counts {
		seen += c
		if seen >= max(rank, 1) {
			if i == 0 {
				return latMin * 1000
			}
			lo := latMin * math.Pow(latGrowth, float64(i-1))
			return math.Round(lo*(1+latGrowth)/2*1e6) / 1e3
		}
	}
	return 0
}
