package rollout

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/cutover/cutover/diff"
)

// Status returns route's rollout as the API shows it; a cohort member's
// is its cohort's.
func (c *Controller) Status(route string) (Status, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.routes[c.unit(route)]
	if r == nil {
		return Status{}, false
	}
	return r.status(c.opt.Now()), true
}

// Statuses returns every rollout in config order.
func (c *Controller) Statuses() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Status, 0, len(c.order))
	now := c.opt.Now()
	for _, name := range c.order {
		out = append(out, c.routes[name].status(now))
	}
	return out
}

// Events returns route's newest limit transitions (limit <= 0: all kept),
// oldest first.
func (c *Controller) Events(route string, limit int) ([]Event, error) {
	c.mu.Lock()
	if c.st == nil {
		c.recordStarts()
	}
	route = c.unit(route)
	r := c.routes[route]
	st := c.st
	var mem []Event
	if r != nil {
		mem = slices.Clone(r.memory)
	}
	c.mu.Unlock()
	if st == nil {
		if r == nil {
			return nil, fmt.Errorf("%w: route %q has no rollout", ErrNoRollout, route)
		}
		if limit > 0 && len(mem) > limit {
			mem = mem[len(mem)-limit:]
		}
		return mem, nil
	}
	blobs, err := st.RolloutEvents(route, limit)
	if err != nil {
		return nil, err
	}
	if r == nil && len(blobs) == 0 {
		return nil, fmt.Errorf("%w: route %q has no rollout", ErrNoRollout, route)
	}
	out := make([]Event, 0, len(blobs))
	for _, b := range blobs {
		var ev Event
		if err := json.Unmarshal(b, &ev); err != nil {
			return nil, fmt.Errorf("reading rollout events of %q: %w", route, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// stats reads the current step's counts. Called with c.mu held.
func (r *routeRollout) stats() Stats { return r.statsOf(r.counts) }

// statsOf reads counts under r's rules and noise baseline. Called with
// c.mu held.
func (r *routeRollout) statsOf(counts *stepCounts) Stats {
	cfg := r.m.Config()
	var base diff.Baseline
	if r.spec.Baseline != nil {
		base = r.spec.Baseline()
	}
	rep := counts.agg.ReportAgainst(base)
	st := Stats{
		Compared:    rep.Compared,
		Differing:   rep.Differing,
		NoiseNeeded: r.spec.Baseline != nil,
		NoisePairs:  base.Pairs,
		Calls:       counts.calls.Load(),
		Errors:      counts.errors.Load(),
		OldP99:      msDuration(rep.Latency.OldP99),
		NewP99:      msDuration(rep.Latency.NewP99),
	}
	for _, f := range rep.Fields {
		if !f.Noise {
			st.Fields = append(st.Fields, Field{Path: f.Path, Kind: f.Kind, Count: f.Count, Samples: f.Samples})
		}
	}
	line := time.Duration(cfg.MaxP99Ratio * float64(max(st.OldP99, LatencyFloor)))
	st.Slower, _ = counts.agg.NewSlowerThan(line)
	return st
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// status describes r at now. Called with c.mu held.
func (r *routeRollout) status(now time.Time) Status {
	m, cfg := r.m, r.m.Config()
	st := r.stats()
	st.Elapsed = now.Sub(m.StepStarted)
	v := Evaluate(cfg, &st)
	s := Status{
		Route: m.Route, State: m.State, Step: m.Step + 1, Steps: cfg.Steps, Percent: m.Percent(),
		Reason: m.Reason, Since: m.Since, StepStarted: m.StepStarted,
		Counts: StepCounts{
			Compared: st.Compared, Differing: st.Differing, Calls: st.Calls, Errors: st.Errors,
			NoisePairs: st.NoisePairs, OldP99: rounded(st.OldP99), NewP99: rounded(st.NewP99),
		},
		Checks: v.Checks,
		Limits: Limits{
			MinSamples: cfg.MinSamples, MinDuration: cfg.MinDuration.String(), MaxDiffRate: cfg.MaxDiffRate,
			MaxErrorRate: cfg.MaxErrorRate, MaxP99Ratio: cfg.MaxP99Ratio, OnFail: cfg.OnFail,
			BlockKinds: kindNames(cfg.BlockKinds), Confidence: cfg.Confidence,
		},
		Webhook: webhookOrigin(cfg.Webhook),
		Cohort:  r.spec.Cohort,
		Members: r.spec.Members,
	}
	if r.delta != nil {
		leading := r.token != 0
		s.Leading = &leading
	}
	switch {
	case m.Final():
		// The readings the decision was made on, not the frozen counts
		// evaluated again at a later time.
		if len(m.Last) > 0 {
			s.Checks = m.Last
		}
	case m.State == Paused:
		s.WaitingFor = "a resume: the rollout is paused by hand"
	case m.State == Holding && m.Failed:
		s.WaitingFor = "a decision by hand: resume restarts the step, rollback or promote ends the rollout"
	default:
		s.WaitingFor = v.Reason
	}
	return s
}

func rounded(d time.Duration) float64 {
	return float64(d.Round(10*time.Microsecond)) / float64(time.Millisecond)
}

func kindNames(ks []diff.Kind) []string {
	if len(ks) == 0 {
		return nil
	}
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	return out
}
