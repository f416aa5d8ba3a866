package rollout

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/diff"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func testConfig() *Config {
	return &Config{
		Steps:        []float64{1, 10, 100},
		MinSamples:   500,
		MinDuration:  time.Minute,
		MaxDiffRate:  0.005,
		MaxErrorRate: 0.01,
		MaxP99Ratio:  1.5,
		OnFail:       OnFailRollback,
		Confidence:   0.95,
	}
}

// clean returns the stats of a step with n pairs and n calls to new, no
// difference, no error, equal latencies.
func clean(n uint64) Stats {
	return Stats{Compared: n, Calls: n, OldP99: 10 * time.Millisecond, NewP99: 10 * time.Millisecond}
}

// reading is one synthetic observation: after at, the step's stats.
type reading struct {
	at    time.Duration // since t0
	stats Stats
	// want is the state after the reading, step its 1-based step, and
	// reason a substring of the machine's reason ("" skips the check).
	want   State
	step   int
	reason string
	fresh  bool // the step changed: counts start over
}

func TestMachine(t *testing.T) {
	withDiffs := func(n, k uint64, fields ...Field) Stats {
		s := clean(n)
		s.Differing = k
		s.Fields = fields
		return s
	}
	withErrors := func(n, k uint64) Stats { s := clean(n); s.Errors = k; return s }
	slow := func(n, slower uint64, newP99 time.Duration) Stats {
		s := clean(n)
		s.Slower, s.NewP99 = slower, newP99
		return s
	}
	hold := func(c *Config) *Config { c.OnFail = OnFailHold; return c }
	blocking := func(c *Config) *Config { c.BlockKinds = []diff.Kind{diff.KindMissing, diff.KindType}; return c }
	noisy := func(s Stats, pairs uint64) Stats { s.NoiseNeeded, s.NoisePairs = true, pairs; return s }

	cases := []struct {
		name     string
		cfg      *Config
		readings []reading
	}{
		{"advances through every step to promoted", testConfig(), []reading{
			{at: 0, stats: Stats{}, want: Pending, step: 1},
			// The step's time starts with its first pair, at t0+1s.
			{at: time.Second, stats: clean(10), want: Progressing, step: 1, reason: "more compared pairs"},
			// 800 clean pairs put the upper bound at 0.48%, below 0.5%,
			// but a minute has not passed.
			{at: 30 * time.Second, stats: clean(800), want: Progressing, step: 1, reason: "31s more time (29s of 1m0s)"},
			{at: time.Minute, stats: clean(800), want: Progressing, step: 1, reason: "1s more time (59s of 1m0s)"},
			{at: time.Minute + time.Second, stats: clean(800), want: Progressing, step: 2, fresh: true, reason: "step 1 (1%) passed: 800 compared pairs in 1m0s; step 2 serves 10%"},
			{at: 2*time.Minute + time.Second, stats: clean(800), want: Progressing, step: 3, fresh: true},
			{at: 3*time.Minute + time.Second, stats: clean(800), want: Promoted, step: 3, reason: "new serves 100%"},
			{at: 4 * time.Minute, stats: withDiffs(800, 800), want: Promoted, step: 3},
		}},
		{"holds while the interval straddles the limit, then advances", testConfig(), []reading{
			// 500 pairs, a minute, no difference: the upper bound is
			// 0.76%, not below 0.5%.
			{at: time.Minute, stats: clean(500), want: Holding, step: 1, reason: "upper bound 0.76% is not yet below the 0.5% limit (about 265 more pairs"},
			{at: 2 * time.Minute, stats: clean(700), want: Holding, step: 1},
			{at: 3 * time.Minute, stats: clean(770), want: Progressing, step: 2, fresh: true},
		}},
		{"a clear regression fails fast, before min_samples", testConfig(), []reading{
			{at: time.Second, stats: withDiffs(50, 4, Field{Path: "price", Kind: diff.KindType, Count: 4}), want: Progressing, step: 1},
			{at: 2 * time.Second, stats: withDiffs(100, 5, Field{Path: "price", Kind: diff.KindType, Count: 5, Samples: []string{"00000001aaaaaaaa"}}), want: RolledBack, step: 1,
				reason: "step 1 (1%) failed: diff rate 5% (5 of 100 pairs): its lower bound 2.15% is above the 0.5% limit at 95% confidence; top paths: price type ×5 (sample 00000001aaaaaaaa)"},
			{at: time.Hour, stats: clean(100000), want: RolledBack, step: 1},
		}},
		{"four bad events never fail, however few the pairs", testConfig(), []reading{
			{at: time.Second, stats: withDiffs(4, 4), want: Progressing, step: 1},
			{at: 2 * time.Second, stats: withErrors(4, 4), want: Progressing, step: 1},
		}},
		{"errors of new fail the step", testConfig(), []reading{
			{at: time.Second, stats: withErrors(20, 6), want: RolledBack, step: 1, reason: "error rate 30% (6 of 20 calls to new)"},
		}},
		{"a step with no call to new cannot pass its error check", testConfig(), []reading{
			{at: time.Hour, stats: Stats{Compared: 5000}, want: Holding, step: 1, reason: "error rate 0% (0 of 0 calls to new)"},
		}},
		{"latency fails on the tail, holds on the ratio alone", testConfig(), []reading{
			// A fifth of new's answers slow, but before min_samples:
			// old's p99 of 100 pairs is too rough a line to fail on.
			{at: time.Second, stats: slow(100, 20, 20*time.Millisecond), want: Progressing, step: 1},
			// p99 twice old's, but only 3 slow answers: not conclusive.
			{at: time.Hour, stats: slow(1000, 3, 20*time.Millisecond), want: Holding, step: 1, reason: "p99 ratio 2.00 (old 10ms, new 20ms) is above the 1.50 limit"},
			{at: 2 * time.Hour, stats: slow(1000, 40, 20*time.Millisecond), want: RolledBack, step: 1, reason: "4% of new's answers (40 of 1000) are slower than 1.50 × old's p99"},
		}},
		{"sub-millisecond p99s compare as 1 ms", testConfig(), []reading{
			{at: time.Hour, stats: Stats{Compared: 1000, Calls: 1000, OldP99: 100 * time.Microsecond, NewP99: 900 * time.Microsecond}, want: Progressing, step: 2, fresh: true},
		}},
		{"on_fail hold stays until a hand moves it", hold(testConfig()), []reading{
			{at: time.Second, stats: withDiffs(100, 10), want: Holding, step: 1, reason: "failed: diff rate 10%"},
			{at: time.Hour, stats: clean(100000), want: Holding, step: 1, reason: "failed: diff rate 10%"},
		}},
		{"a blocked kind fails at its first non-noise occurrence", blocking(testConfig()), []reading{
			{at: time.Second, stats: withDiffs(1000, 1, Field{Path: "customer.email", Kind: diff.KindMissing, Count: 1}), want: RolledBack, step: 1, reason: "customer.email missing ×1"},
		}},
		{"a blocked kind of a noise path does not count", blocking(testConfig()), []reading{
			// Fields lists non-noise fields only; a value difference is
			// not blocked.
			{at: time.Second, stats: withDiffs(1000, 1, Field{Path: "total", Kind: diff.KindValue, Count: 1}), want: Progressing, step: 1},
		}},
		{"without a noise baseline the diff gates wait", blocking(testConfig()), []reading{
			{at: time.Second, stats: noisy(withDiffs(100, 100, Field{Path: "meta.ts", Kind: diff.KindType, Count: 100}), 3), want: Progressing, step: 1, reason: "27 more old/secondary pairs"},
			{at: 2 * time.Second, stats: noisy(withDiffs(100, 100, Field{Path: "meta.ts", Kind: diff.KindType, Count: 100}), 30), want: RolledBack, step: 1},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, ev := NewMachine("orders", tc.cfg, t0)
			if ev.To != Pending || ev.Step != 1 || ev.Percent != 1 || ev.By != ByConfig {
				t.Fatalf("first event %+v", ev)
			}
			if tc.readings[0].at > 0 {
				start(m)
			}
			for i, r := range tc.readings {
				st := r.stats
				_, fresh := m.Observe(t0.Add(r.at), &st)
				if m.State != r.want || m.Step+1 != r.step || fresh != r.fresh {
					t.Fatalf("reading %d: %s step %d fresh %v, want %s step %d fresh %v (reason %q)", i, m.State, m.Step+1, fresh, r.want, r.step, r.fresh, m.Reason)
				}
				if !strings.Contains(m.Reason, r.reason) {
					t.Fatalf("reading %d: reason %q lacks %q", i, m.Reason, r.reason)
				}
			}
		})
	}
}

// start gives m its first pair at t0: the first step's time starts.
func start(m *Machine) {
	st := clean(1)
	m.Observe(t0, &st)
}

func TestMachineStepClock(t *testing.T) {
	m, _ := NewMachine("orders", testConfig(), t0.Add(-time.Hour))
	// An hour without traffic does not count toward the first step.
	st := clean(800)
	m.Observe(t0, &st)
	if m.State != Progressing || m.Step != 0 || !m.StepStarted.Equal(t0) {
		t.Fatalf("first traffic: %s step %d started %v, want progressing step 1 from t0", m.State, m.Step+1, m.StepStarted)
	}
	st = clean(800)
	m.Observe(t0.Add(time.Minute), &st)
	if m.Step != 1 || !m.StepStarted.Equal(t0.Add(time.Minute)) {
		t.Fatalf("step %d started %v, want step 2 from t0+1m", m.Step+1, m.StepStarted)
	}
	// The new step's minute counts from its own start.
	st = clean(800)
	m.Observe(t0.Add(90*time.Second), &st)
	if m.Step != 1 || st.Elapsed != 30*time.Second {
		t.Fatalf("step %d after 30 s of it (elapsed %v), want still step 2", m.Step+1, st.Elapsed)
	}
}

func TestMachineManual(t *testing.T) {
	type action struct {
		do      string
		want    State
		step    int
		percent float64
		fresh   bool
		err     bool
	}
	cases := []struct {
		name    string
		prepare func(m *Machine)
		actions []action
	}{
		{"pause keeps the percent and stops decisions; resume continues", func(m *Machine) { advance(m, 1) }, []action{
			{do: "pause", want: Paused, step: 2, percent: 10},
			{do: "tick", want: Paused, step: 2, percent: 10},
			{do: "pause", err: true, want: Paused, step: 2, percent: 10},
			{do: "resume", want: Progressing, step: 2, percent: 10},
		}},
		{"promote jumps to 100% from any state", nil, []action{
			{do: "promote", want: Promoted, step: 3, percent: 100},
			{do: "promote", err: true, want: Promoted, step: 3, percent: 100},
			{do: "resume", err: true, want: Promoted, step: 3, percent: 100},
			{do: "pause", err: true, want: Promoted, step: 3, percent: 100},
			{do: "rollback", want: RolledBack, step: 3, percent: 0},
		}},
		{"rollback takes 0% now; resume restarts at step 1 with fresh counts", func(m *Machine) { advance(m, 1) }, []action{
			{do: "rollback", want: RolledBack, step: 2, percent: 0},
			{do: "rollback", err: true, want: RolledBack, step: 2, percent: 0},
			{do: "tick", want: RolledBack, step: 2, percent: 0},
			{do: "resume", want: Pending, step: 1, percent: 1, fresh: true},
		}},
		{"resume of a failed holding step restarts it with fresh counts", func(m *Machine) {
			m.cfg.OnFail = OnFailHold
			st := clean(100)
			st.Differing = 50
			m.Observe(t0.Add(time.Second), &st)
		}, []action{
			{do: "tick", want: Holding, step: 1, percent: 1},
			{do: "resume", want: Progressing, step: 1, percent: 1, fresh: true},
		}},
		{"resume of a pending rollout is refused", nil, []action{
			{do: "resume", err: true, want: Pending, step: 1, percent: 1},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := NewMachine("orders", testConfig(), t0)
			if tc.name != "resume of a pending rollout is refused" {
				start(m)
			}
			if tc.prepare != nil {
				tc.prepare(m)
			}
			now := t0.Add(time.Hour)
			for i, a := range tc.actions {
				now = now.Add(time.Second)
				var err error
				var ev Event
				fresh := false
				switch a.do {
				case "pause":
					ev, err = m.Pause(now, "")
				case "resume":
					ev, fresh, err = m.Resume(now, "")
				case "promote":
					ev, err = m.Promote(now, "")
				case "rollback":
					ev, err = m.Rollback(now, "bad answers")
				case "tick":
					st := clean(100000)
					m.Observe(now, &st)
				}
				if (err != nil) != a.err || err != nil && !errors.Is(err, ErrNotApplicable) {
					t.Fatalf("action %d %s: err %v, want error %v", i, a.do, err, a.err)
				}
				if m.State != a.want || m.Step+1 != a.step || m.Percent() != a.percent || fresh != a.fresh {
					t.Fatalf("action %d %s: %s step %d at %v%% fresh %v, want %s step %d at %v%% fresh %v",
						i, a.do, m.State, m.Step+1, m.Percent(), fresh, a.want, a.step, a.percent, a.fresh)
				}
				if err == nil && a.do != "tick" && (ev.By != ByHand || ev.To != a.want || ev.Percent != a.percent) {
					t.Fatalf("action %d %s: event %+v", i, a.do, ev)
				}
				if a.do == "rollback" && err == nil && ev.Reason != "rolled back by hand: bad answers" {
					t.Fatalf("rollback reason %q", ev.Reason)
				}
			}
		})
	}
}

// advance moves m forward steps steps with clean readings.
func advance(m *Machine, steps int) {
	at := m.StepStarted
	for range steps {
		at = at.Add(m.cfg.MinDuration)
		st := clean(100000)
		m.Observe(at, &st)
	}
}
