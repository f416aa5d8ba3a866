package rollout

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/diff"
)

func TestWilson(t *testing.T) {
	z := zFor(0.95)
	if math.Abs(z-1.959964) > 1e-6 {
		t.Fatalf("z for 95%% = %v, want 1.959964", z)
	}
	for _, c := range []struct {
		k, n         uint64
		lower, upper float64
	}{
		// Values from the closed form, checked against published tables.
		{0, 0, 0, 1},
		{0, 500, 0, 0.007624},
		{5, 100, 0.021544, 0.111752},
		{1, 20, 0.008878, 0.236130},
		{50, 50, 0.928651, 1},
	} {
		lo, hi := Wilson(c.k, c.n, z)
		if math.Abs(lo-c.lower) > 1e-5 || math.Abs(hi-c.upper) > 1e-5 {
			t.Errorf("Wilson(%d, %d) = [%.6f, %.6f], want [%.6f, %.6f]", c.k, c.n, lo, hi, c.lower, c.upper)
		}
	}
}

func TestPairsToPass(t *testing.T) {
	z := zFor(0.95)
	// With no event, the upper bound is z²/(n+z²): below 0.5% from 765.
	if got := pairsToPass(0, 500, 0.005, z); got != 765 {
		t.Errorf("pairsToPass(0, 500, 0.5%%) = %d, want 765", got)
	}
	// At the limit or above it never passes.
	if got := pairsToPass(5, 1000, 0.005, z); got != 0 {
		t.Errorf("pairsToPass at the limit = %d, want 0", got)
	}
	// At 0.2% the bound passes at the answer, not half-way to it.
	n := pairsToPass(2, 1000, 0.005, z)
	_, at := Wilson(uint64(math.Round(0.002*float64(n))), n, z)
	_, half := Wilson(uint64(math.Round(0.002*float64(n/2))), n/2, z)
	if !(at < 0.005) || half < 0.005 || n <= 1000 {
		t.Errorf("pairsToPass(2, 1000) = %d: upper %.5f there, %.5f at half", n, at, half)
	}
}

// TestGateErrorRates measures, by simulation with a fixed seed, how often
// the gate rolls back a service that is within its limit, and how soon it
// catches one that is not — the figures docs/rollout.md quotes. The decision
// is taken after every differing pair, as often as it could change.
func TestGateErrorRates(t *testing.T) {
	z := zFor(0.95)
	rng := rand.New(rand.NewPCG(1, 2))
	const limit = 0.005
	run := func(rate float64, trials, pairs int) (failed int, meanPairs float64) {
		total := 0
		for range trials {
			var k uint64
			for n := uint64(1); n <= uint64(pairs); n++ {
				if rng.Float64() >= rate {
					continue
				}
				k++
				if c := rateCheck("diff_rate", "diff rate", "pairs", k, n, limit, z, 0.95); c.Status == CheckFail {
					failed++
					total += int(n)
					break
				}
			}
		}
		if failed > 0 {
			meanPairs = float64(total) / float64(failed)
		}
		return failed, meanPairs
	}
	// A service at half the limit, watched over 20000 pairs.
	failed, _ := run(limit/2, 2000, 20000)
	falseRate := float64(failed) / 2000
	t.Logf("at half the limit: rolled back in %.2f%% of 2000 steps of 20000 pairs", falseRate*100)
	if falseRate > 0.015 {
		t.Errorf("a service at half the limit is rolled back in %.2f%% of steps, want under 1.5%%", falseRate*100)
	}
	// A 5% regression against a 0.5% limit.
	failed, mean := run(0.05, 2000, 300)
	t.Logf("a 5%% regression: caught within 300 pairs in %d of 2000 steps, after %.0f pairs on average", failed, mean)
	if failed < 1990 || mean > 150 {
		t.Errorf("a 5%% regression caught in %d of 2000 steps within 300 pairs, after %.0f on average; want ≥ 1990 and ≤ 150", failed, mean)
	}
}

// TestGateNamesStatusFirst: when new answers errors, the failure names the
// status pair, as the pairs counted it, ahead of any body path.
func TestGateNamesStatusFirst(t *testing.T) {
	st := Stats{
		Elapsed: 10 * time.Minute, OldP99: 10 * time.Millisecond, NewP99: 10 * time.Millisecond, Compared: 100, Differing: 14,
		Fields: []Field{
			{Path: "200→503", Kind: diff.KindStatus, Count: 12, Samples: []string{"0af31c"}},
			{Path: "tier", Kind: diff.KindValue, Count: 2},
		},
		Calls: 100,
	}
	v := Evaluate(testConfig(), &st)
	if v.Outcome != Fail {
		t.Fatalf("outcome %v: %s", v.Outcome, v.Reason)
	}
	if want := "top paths: status 200→503 ×12 (sample 0af31c), tier value ×2"; !strings.Contains(v.Reason, want) {
		t.Errorf("reason %q lacks %q", v.Reason, want)
	}
}
