package shadow

import (
	"fmt"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/store"
	"github.com/cutover/cutover/tally"
)

// Series returns route r's figures over the last since before now, in
// points of step (see diff.Aggregator.Series). On a shared store they are
// every replica's, read from the window tallies after this replica's
// latest counts are added; it fails when the store cannot be read. The
// merged aggregator it builds is its own: the one Report and the noise
// baseline keep in r.merged is left alone.
func (m *Mirror) Series(r *Route, now time.Time, since, step time.Duration) ([]diff.SeriesPoint, error) {
	sh := m.sharedOf()
	if sh == nil {
		return r.agg.Series(now, since, step)
	}
	if since <= 0 || since > diff.MaxWindow {
		return nil, fmt.Errorf("%w, not %v", diff.ErrWindow, since)
	}
	if err := m.flushShared(sh, r); err != nil {
		m.flushErrs.Add(1)
		return nil, fmt.Errorf("%w: %v", ErrStoreUnavailable, err)
	}
	key := routeKey(r.name)
	starts := tally.WindowStarts(now, since)
	keys := make([]string, len(starts))
	for i, s := range starts {
		keys[i] = tally.WindowKey(key, s)
	}
	ts, err := sh.Tallies(keys)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStoreUnavailable, err)
	}
	windows := make(map[int64]store.Tally, len(starts))
	for i, s := range starts {
		windows[s] = ts[i]
	}
	agg, err := tally.Aggregator(r.name, diff.AggregatorOptions{Noise: r.set.Load().Noise}, store.Tally{}, windows)
	if err != nil {
		return nil, err
	}
	return agg.Series(now, since, step)
}
