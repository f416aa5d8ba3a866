package shadow

import (
	"fmt"
	"time"

	"github.com/cutover/cutover/diff"
)

// Series returns route r's figures over the last since before now, in
// points of step (see diff.Aggregator.Series). With a store they are read
// from the window tallies after this replica's latest counts are added (on
// Redis: every replica's); it fails when the store cannot be read. The
// aggregator it builds is its own: the one Report and the noise baseline
// keep in r.merged is left alone.
func (m *Mirror) Series(r *Route, now time.Time, since, step time.Duration) ([]diff.SeriesPoint, error) {
	m.mu.Lock()
	st := m.st
	m.mu.Unlock()
	if st == nil {
		return r.agg.Series(now, since, step)
	}
	if since <= 0 || since > diff.MaxWindow {
		return nil, fmt.Errorf("%w, not %v", diff.ErrWindow, since)
	}
	agg, err := m.readBack(st, r, now, since, false)
	if err != nil {
		return nil, err
	}
	return agg.Series(now, since, step)
}
