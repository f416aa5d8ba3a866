package shadow

import (
	"fmt"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/store"
	"github.com/cutover/cutover/tally"
)

// SharedStore merges the statistics of every gateway replica that uses
// it (the redis driver): each replica adds what its routes counted since
// its last flush, and reports read the sums.
type SharedStore interface {
	Store
	AddTallies(adds []store.TallyAdd) (int, error)
	Tallies(keys []string) ([]store.Tally, error)
}

var _ SharedStore = (*store.Redis)(nil)

// routeKey names a route's tally; its window buckets are tallies of their
// own (tally.WindowKey).
func routeKey(route string) string { return "diff:" + route }

// sharedOf returns the store as a SharedStore, or nil.
func (m *Mirror) sharedOf() SharedStore {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, _ := m.st.(SharedStore)
	return sh
}

// flushShared adds what r counted since the last flush to r's tallies,
// with what failed to be added before. What fails again is kept for the
// next flush; Delta.Add drops the window buckets that have left the
// report window meanwhile, so it stays bounded.
func (m *Mirror) flushShared(sh SharedStore, r *Route) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	d := r.agg.Take()
	if r.carry != nil {
		older := *r.carry
		older.Add(d)
		d, r.carry = older, nil
	}
	if d.Empty() {
		return nil
	}
	key := routeKey(r.name)
	hasTotal := len(d.Total) > 0 || len(d.Samples) > 0
	var adds []store.TallyAdd
	if hasTotal {
		adds = append(adds, tally.Add(key, &d, diff.DefaultSamples, 0, nil))
	}
	windows, starts := tally.Windows(key, &d)
	adds = append(adds, windows...)
	applied, err := sh.AddTallies(adds)
	if err == nil {
		return nil
	}
	// Keep what was not applied: the adds go in order, totals first.
	if hasTotal && applied > 0 {
		d.Total, d.Samples = nil, nil
		applied--
	}
	for _, s := range starts[:min(applied, len(starts))] {
		delete(d.Windows, s)
	}
	r.carry = &d
	return err
}

// refreshMerged reads r's merged since-start statistics back, for the
// noise baseline a rollout's gate reads.
func (m *Mirror) refreshMerged(sh SharedStore, r *Route) error {
	ts, err := sh.Tallies([]string{routeKey(r.name)})
	if err != nil {
		return err
	}
	agg, err := tally.Aggregator(r.name, diff.AggregatorOptions{Noise: r.set.Load().Noise}, ts[0], nil)
	if err != nil {
		return err
	}
	r.merged.Store(agg)
	return nil
}

// Report returns route r's report over the last since (0: since start).
// On a shared store it is the merged report of every replica, read after
// this replica's latest counts are added; it fails when the store cannot
// be read.
func (m *Mirror) Report(r *Route, now time.Time, since time.Duration) (diff.RouteReport, error) {
	sh := m.sharedOf()
	if sh == nil {
		return r.agg.Report(now, since)
	}
	if since < 0 || since > diff.MaxWindow {
		return diff.RouteReport{}, fmt.Errorf("%w, not %v", diff.ErrWindow, since)
	}
	if err := m.flushShared(sh, r); err != nil {
		m.flushErrs.Add(1)
		return diff.RouteReport{}, fmt.Errorf("%w: %v", ErrStoreUnavailable, err)
	}
	key := routeKey(r.name)
	keys := []string{key}
	var starts []int64
	if since > 0 {
		starts = tally.WindowStarts(now, since)
		for _, s := range starts {
			keys = append(keys, tally.WindowKey(key, s))
		}
	}
	ts, err := sh.Tallies(keys)
	if err != nil {
		return diff.RouteReport{}, fmt.Errorf("%w: %v", ErrStoreUnavailable, err)
	}
	var windows map[int64]store.Tally
	if len(starts) > 0 {
		windows = make(map[int64]store.Tally, len(starts))
		for i, s := range starts {
			windows[s] = ts[i+1]
		}
	}
	agg, err := tally.Aggregator(r.name, diff.AggregatorOptions{Noise: r.set.Load().Noise}, ts[0], windows)
	if err != nil {
		return diff.RouteReport{}, err
	}
	r.merged.Store(agg)
	return agg.Report(now, since)
}

// ErrStoreUnavailable is returned by Report when the shared store cannot
// be reached.
var ErrStoreUnavailable = fmt.Errorf("shadow: the shared store is unreachable")

// Baseline returns the route's since-start noise model: on a shared store,
// every replica's, as last read back (every FlushInterval).
func (r *Route) Baseline() diff.Baseline {
	if agg := r.merged.Load(); agg != nil {
		return agg.Baseline()
	}
	return r.agg.Baseline()
}
