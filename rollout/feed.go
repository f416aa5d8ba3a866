package rollout

import (
	"sync/atomic"

	"github.com/cutover/cutover/diff"
)

// Feed takes one route's evidence as it happens — compared pairs from the
// shadow workers, calls to new from the proxy and the shadow — into the
// counts of the current step. Its methods are safe for concurrent use and
// run on the request path or a shadow worker: they never block on the
// controller, which swaps in fresh counts when a step begins.
type Feed struct {
	cur atomic.Pointer[stepCounts]
	// unit is set on a cohort member's feed: what it counts also counts
	// toward the cohort's step, whose feed unit is.
	unit *Feed
}

// stepCounts is what one step has counted.
type stepCounts struct {
	agg    *diff.Aggregator
	calls  atomic.Uint64
	errors atomic.Uint64
}

func newStepCounts(route string, noise diff.Thresholds) *stepCounts {
	return &stepCounts{agg: diff.NewAggregator(route, diff.AggregatorOptions{Noise: noise, Samples: stepSamples})}
}

// ObservePair counts a compared old/new pair. Its SampleID should be set
// only when the sample is stored.
func (f *Feed) ObservePair(p *diff.Pair) {
	if s := f.cur.Load(); s != nil {
		s.agg.Add(p)
	}
	if f.unit != nil {
		f.unit.ObservePair(p)
	}
}

// ObserveNewCall counts a call to new: served to a client, or a shadow
// copy. failed means a 5xx answer or no answer.
func (f *Feed) ObserveNewCall(failed bool) {
	if s := f.cur.Load(); s != nil {
		s.calls.Add(1)
		if failed {
			s.errors.Add(1)
		}
	}
	if f.unit != nil {
		f.unit.ObserveNewCall(failed)
	}
}
