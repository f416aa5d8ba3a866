package rollout

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cutover/cutover/diff"
)

// Gate constants; the package doc explains each choice.
const (
	// MinFailEvents is how many bad events (differing pairs, errors, slow
	// answers) a rate needs before it can fail a step early.
	MinFailEvents = 5
	// MinNoisePairs is how many old/secondary pairs a route with a
	// secondary needs before its diff gates decide anything.
	MinNoisePairs = 30
	// LatencyFloor is the smallest p99 the latency gate compares: below
	// it a ratio measures scheduling jitter, not the service.
	LatencyFloor = time.Millisecond
	// tailShare is the share of answers above a p99: new's p99 is above
	// max_p99_ratio × old's exactly when more than this share of new's
	// answers are slower than that.
	tailShare = 0.01
	// topPaths is how many differing paths a failure names.
	topPaths = 3
)

// Stats is what one step has counted, the gate's input.
type Stats struct {
	Elapsed   time.Duration
	Compared  uint64 // old/new pairs
	Differing uint64 // of them with a non-noise difference
	// NoiseNeeded is set when the route has a secondary: its diff gates
	// then wait for MinNoisePairs in NoisePairs.
	NoiseNeeded bool
	NoisePairs  uint64
	Fields      []Field // non-noise (path, kind)s, by count desc
	Calls       uint64  // calls to new, served and shadow
	Errors      uint64  // of them 5xx or failed
	// OldP99 and NewP99 are the step's p99 latencies of compared pairs.
	OldP99, NewP99 time.Duration
	// Slower counts pairs whose new latency is above MaxP99Ratio times
	// old's p99 (LatencyFloor at least).
	Slower uint64
}

// Field is one (path, kind) that differed in a step.
type Field struct {
	Path    string    `json:"path"`
	Kind    diff.Kind `json:"kind"`
	Count   uint64    `json:"count"`
	Samples []string  `json:"samples,omitempty"`
}

// Outcome is what the gate decided for a step.
type Outcome int

// Outcomes.
const (
	// Wait: the step lacks samples, time or its noise baseline.
	Wait Outcome = iota
	// Hold: the step has them, but a rate's interval still straddles its
	// limit.
	Hold
	// Advance: every check passes.
	Advance
	// Fail: a rate is above its limit with confidence, or a blocked kind
	// differed.
	Fail
)

// Verdict is the gate's decision with its readings.
type Verdict struct {
	Outcome Outcome
	Reason  string // why it holds or fails, or what it waits for
	Checks  []Check
}

// zFor returns the two-sided normal quantile of a confidence level.
func zFor(confidence float64) float64 {
	return math.Sqrt2 * math.Erfinv(confidence)
}

// Wilson returns the Wilson score interval of k events in n trials at the
// two-sided normal quantile z. With n == 0 it is [0, 1].
func Wilson(k, n uint64, z float64) (lower, upper float64) {
	if n == 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	return max(center-half, 0), min(center+half, 1)
}

// pairsToPass estimates how many trials in all a rate observed as k of n
// needs before its upper bound falls below limit, if it stays at k/n; 0
// when it never will.
func pairsToPass(k, n uint64, limit, z float64) uint64 {
	p := 0.0
	if n > 0 {
		p = float64(k) / float64(n)
	}
	if p >= limit {
		return 0
	}
	upper := func(m uint64) float64 {
		_, u := Wilson(uint64(math.Round(p*float64(m))), m, z)
		return u
	}
	hi := max(n, 1)
	for upper(hi) >= limit {
		if hi > 1<<40 {
			return 0
		}
		hi *= 2
	}
	lo := hi / 2
	for lo+1 < hi {
		mid := lo + (hi-lo)/2
		if upper(mid) < limit {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// Evaluate applies cfg's gate to a step's stats. A rate fails the step
// early when it has at least MinFailEvents events and the lower bound of
// its Wilson interval is above the limit; it passes when its upper bound
// is below the limit. The step advances when it has MinSamples compared
// pairs, MinDuration of time, and every check passes.
func Evaluate(cfg *Config, st *Stats) Verdict {
	z := zFor(cfg.Confidence)
	noiseReady := !st.NoiseNeeded || st.NoisePairs >= MinNoisePairs
	var checks []Check
	add := func(c Check) { checks = append(checks, c) }

	samples := Check{Name: "samples", Count: st.Compared, N: cfg.MinSamples, Value: float64(st.Compared), Limit: float64(cfg.MinSamples)}
	if st.Compared >= cfg.MinSamples {
		samples.Status, samples.Detail = CheckPass, fmt.Sprintf("%d compared pairs, %d needed", st.Compared, cfg.MinSamples)
	} else {
		samples.Status, samples.Detail = CheckWait, fmt.Sprintf("%d more compared pairs (%d of %d)", cfg.MinSamples-st.Compared, st.Compared, cfg.MinSamples)
	}
	add(samples)

	duration := Check{Name: "duration", Value: st.Elapsed.Seconds(), Limit: cfg.MinDuration.Seconds()}
	if st.Elapsed >= cfg.MinDuration {
		duration.Status, duration.Detail = CheckPass, fmt.Sprintf("%s in the step, %s needed", roundDuration(st.Elapsed), cfg.MinDuration)
	} else {
		duration.Status, duration.Detail = CheckWait, fmt.Sprintf("%s more time (%s of %s)", roundDuration(cfg.MinDuration-st.Elapsed), roundDuration(st.Elapsed), cfg.MinDuration)
	}
	add(duration)

	if st.NoiseNeeded {
		c := Check{Name: "noise_baseline", Count: st.NoisePairs, N: MinNoisePairs, Value: float64(st.NoisePairs), Limit: MinNoisePairs}
		if noiseReady {
			c.Status, c.Detail = CheckPass, fmt.Sprintf("%d old/secondary pairs measure the noise", st.NoisePairs)
		} else {
			c.Status, c.Detail = CheckWait, fmt.Sprintf("%d more old/secondary pairs to know the noise (%d of %d)", MinNoisePairs-st.NoisePairs, st.NoisePairs, MinNoisePairs)
		}
		add(c)
	}

	diffRate := rateCheck("diff_rate", "diff rate", "pairs", st.Differing, st.Compared, cfg.MaxDiffRate, z, cfg.Confidence)
	if !noiseReady && diffRate.Status == CheckFail {
		diffRate.Status = CheckWait
		diffRate.Detail += "; undecided until the noise is known"
	}
	if diffRate.Status == CheckFail && len(st.Fields) > 0 {
		diffRate.Detail += "; top paths: " + fieldList(st.Fields)
	}
	add(diffRate)

	if len(cfg.BlockKinds) > 0 {
		c := Check{Name: "block_kinds", Limit: 0}
		var blocked []Field
		for _, f := range st.Fields {
			for _, k := range cfg.BlockKinds {
				if f.Kind == k {
					blocked = append(blocked, f)
					c.Count += f.Count
				}
			}
		}
		c.Value = float64(c.Count)
		switch {
		case len(blocked) > 0 && noiseReady:
			c.Status, c.Detail = CheckFail, "a blocked kind differed: "+fieldList(blocked)
		case len(blocked) > 0:
			c.Status, c.Detail = CheckWait, "a blocked kind differed; undecided until the noise is known"
		default:
			c.Status, c.Detail = CheckPass, "no difference of kind "+kindList(cfg.BlockKinds)
		}
		add(c)
	}

	add(rateCheck("error_rate", "error rate", "calls to new", st.Errors, st.Calls, cfg.MaxErrorRate, z, cfg.Confidence))
	add(latencyCheck(cfg, st, z))

	v := Verdict{Checks: checks}
	var waits, holds []string
	for _, c := range checks {
		switch c.Status {
		case CheckFail:
			if v.Outcome != Fail {
				v.Outcome, v.Reason = Fail, c.Detail
			}
		case CheckWait:
			if c.Name == "samples" || c.Name == "duration" || c.Name == "noise_baseline" {
				waits = append(waits, c.Detail)
			} else {
				holds = append(holds, c.Detail)
			}
		}
	}
	switch {
	case v.Outcome == Fail:
	case len(waits) > 0:
		v.Outcome, v.Reason = Wait, strings.Join(waits, ", ")
	case len(holds) > 0:
		v.Outcome, v.Reason = Hold, strings.Join(holds, "; ")
	default:
		v.Outcome, v.Reason = Advance, "every check passed"
	}
	return v
}

// rateCheck reads k events of n against limit.
func rateCheck(name, label, of string, k, n uint64, limit, z, confidence float64) Check {
	lower, upper := Wilson(k, n, z)
	c := Check{Name: name, Count: k, N: n, Value: ratio(k, n), Lower: lower, Upper: upper, Limit: limit}
	reading := fmt.Sprintf("%s %s (%d of %d %s)", label, diff.FormatRate(c.Value), k, n, of)
	switch {
	case k >= MinFailEvents && lower > limit:
		c.Status = CheckFail
		c.Detail = fmt.Sprintf("%s: its lower bound %s is above the %s limit at %s confidence", reading, diff.FormatRate(lower), diff.FormatRate(limit), diff.FormatRate(confidence))
	case n > 0 && upper < limit:
		c.Status = CheckPass
		c.Detail = fmt.Sprintf("%s: its upper bound %s is below the %s limit", reading, diff.FormatRate(upper), diff.FormatRate(limit))
	default:
		c.Status = CheckWait
		c.Detail = fmt.Sprintf("%s: its upper bound %s is not yet below the %s limit", reading, diff.FormatRate(upper), diff.FormatRate(limit))
		if need := pairsToPass(k, n, limit, z); need > n {
			c.Detail += fmt.Sprintf(" (about %d more %s at this rate)", need-n, of)
		} else if n > 0 {
			c.Detail += " and will not be at this rate"
		}
	}
	return c
}

// latencyCheck compares new's p99 with old's. The step advances on the
// ratio of the two p99s; it fails when new's share of answers above
// max_p99_ratio × old's p99 is above 1% with confidence — exactly the
// statement that new's p99 is above that line — but not before the step
// has MinSamples pairs: old's p99 of a hundred pairs is its second
// largest value, and slow answers come in bursts (a collection, a busy
// core) that a few hundred pairs average out.
func latencyCheck(cfg *Config, st *Stats, z float64) Check {
	oldP99, newP99 := max(st.OldP99, LatencyFloor), max(st.NewP99, LatencyFloor)
	r := float64(newP99) / float64(oldP99)
	lower, upper := Wilson(st.Slower, st.Compared, z)
	c := Check{Name: "p99_ratio", Count: st.Slower, N: st.Compared, Value: r, Lower: lower, Upper: upper, Limit: cfg.MaxP99Ratio}
	reading := fmt.Sprintf("p99 ratio %.2f (old %s, new %s)", r, fmtMs(st.OldP99), fmtMs(st.NewP99))
	switch {
	case st.Compared >= cfg.MinSamples && st.Slower >= MinFailEvents && lower > tailShare:
		c.Status = CheckFail
		c.Detail = fmt.Sprintf("%s: %s of new's answers (%d of %d) are slower than %.2f × old's p99, lower bound %s above 1%%",
			reading, diff.FormatRate(ratio(st.Slower, st.Compared)), st.Slower, st.Compared, cfg.MaxP99Ratio, diff.FormatRate(lower))
	case st.Compared > 0 && r <= cfg.MaxP99Ratio:
		c.Status, c.Detail = CheckPass, fmt.Sprintf("%s, limit %.2f", reading, cfg.MaxP99Ratio)
	case st.Compared == 0:
		c.Status, c.Detail = CheckWait, "p99 ratio: no compared pair yet"
	default:
		c.Status, c.Detail = CheckWait, fmt.Sprintf("%s is above the %.2f limit, not yet with confidence", reading, cfg.MaxP99Ratio)
	}
	return c
}

// fieldList names the most frequent differing (path, kind)s, with a
// sample each: "a.b value ×12 (sample 0123…), …". A status difference,
// which a pair whose statuses differ counts as instead of its bodies'
// fields, reads "status 200→503 ×12 (sample …)".
func fieldList(fs []Field) string {
	var b strings.Builder
	for i, f := range fs[:min(len(fs), topPaths)] {
		if i > 0 {
			b.WriteString(", ")
		}
		path := f.Path
		if path == "" {
			path = "(root)"
		}
		if f.Kind == diff.KindStatus {
			fmt.Fprintf(&b, "status %s ×%d", path, f.Count)
		} else {
			fmt.Fprintf(&b, "%s %s ×%d", path, f.Kind, f.Count)
		}
		if len(f.Samples) > 0 {
			fmt.Fprintf(&b, " (sample %s)", f.Samples[0])
		}
	}
	return b.String()
}

func kindList(ks []diff.Kind) string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.String()
	}
	return strings.Join(names, ", ")
}

func ratio(k, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

func fmtMs(d time.Duration) string { return diff.FormatMs(float64(d) / float64(time.Millisecond)) }
