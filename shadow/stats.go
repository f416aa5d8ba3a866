package shadow

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/store"
)

// A route's statistics live in the store's tallies, whichever the driver:
// every FlushInterval each route's aggregator hands what it counted since
// the last flush (diff.Aggregator.Take) to the tally of its since-start
// totals and to one tally per 10-second window bucket, and reports are
// built from the tallies (diff.NewAggregatorFrom). On Redis the tallies
// sum every replica's counts; on the embedded store they are this
// gateway's, and survive its restarts. The route's aggregator therefore
// holds only what it counted since the last flush, once a store is set.

// legacyStatistics is an embedded store written before statistics became
// tallies (*store.Bolt): SetStore converts what it holds, once.
type legacyStatistics interface {
	MigrateDiffStates(convert func(route string, state []byte) (store.TallyAdd, error)) (int, error)
}

var _ legacyStatistics = (*store.Bolt)(nil)

// legacyTally turns a route's statistics in their former JSON into an
// add to the route's tally.
func legacyTally(route string, state []byte) (store.TallyAdd, error) {
	d, err := diff.LegacyDelta(route, state)
	if err != nil {
		return store.TallyAdd{}, err
	}
	return store.TallyAdd{Key: routeKey(route), Counts: d.Total, Recent: d.RecentLists(), Keep: diff.DefaultSamples}, nil
}

// routeKey names a route's tally of since-start totals.
func routeKey(route string) string { return "diff:" + route }

// windowKey names the tally of one window bucket of the route's tally
// key, starting at bucketStart Unix seconds.
func windowKey(key string, bucketStart int64) string {
	return key + ":w:" + strconv.FormatInt(bucketStart, 10)
}

// windowTTL keeps a window bucket's tally as long as a report can read it.
const windowTTL = diff.MaxWindow + diff.WindowBucket

// routeFlush is what one route adds to its tallies in one flush: its
// totals first (when it has any), then its window buckets, oldest first.
type routeFlush struct {
	r        *Route
	d        diff.Delta
	hasTotal bool
	starts   []int64
	adds     []store.TallyAdd
}

// takeFlush takes what r counted since the last flush, with what a failed
// flush left, as tally adds; nil when there is nothing. Called with
// r.flushMu held.
func (r *Route) takeFlush() *routeFlush {
	d := r.agg.Take()
	if r.carry != nil {
		older := *r.carry
		older.Add(d)
		d, r.carry = older, nil
	}
	if d.Empty() {
		return nil
	}
	f := &routeFlush{r: r, d: d, hasTotal: len(d.Total) > 0 || len(d.Samples) > 0}
	key := routeKey(r.name)
	if f.hasTotal {
		f.adds = append(f.adds, store.TallyAdd{Key: key, Counts: d.Total, Recent: d.RecentLists(), Keep: diff.DefaultSamples})
	}
	f.starts = slices.Sorted(maps.Keys(d.Windows))
	for _, s := range f.starts {
		f.adds = append(f.adds, store.TallyAdd{Key: windowKey(key, s), Counts: d.Windows[s], TTL: windowTTL})
	}
	return f
}

// keep carries what the store did not apply — f.adds[applied:] — to the
// next flush. Delta.Add drops the window buckets that have left the report
// window meanwhile, so what is carried stays bounded. Called with
// r.flushMu held.
func (f *routeFlush) keep(applied int) {
	if applied >= len(f.adds) {
		return
	}
	d := f.d
	if f.hasTotal && applied > 0 {
		d.Total, d.Samples = nil, nil
		applied--
	}
	for _, s := range f.starts[:min(applied, len(f.starts))] {
		delete(d.Windows, s)
	}
	f.r.carry = &d
}

// addStatistics adds what routes counted since the last flush to their
// tallies, in one call to the store.
func addStatistics(st Store, routes []*Route) error {
	// Every route's flush lock is held until the store answered, so that
	// a Report of one of them waits for the carry; taken in name order.
	slices.SortFunc(routes, func(a, b *Route) int { return strings.Compare(a.name, b.name) })
	var flushes []*routeFlush
	var adds []store.TallyAdd
	for _, r := range routes {
		r.flushMu.Lock()
		defer r.flushMu.Unlock()
		if f := r.takeFlush(); f != nil {
			flushes = append(flushes, f)
			adds = append(adds, f.adds...)
		}
	}
	if len(adds) == 0 {
		return nil
	}
	applied, err := st.AddTallies(adds)
	if err != nil {
		for _, f := range flushes {
			f.keep(max(applied, 0))
			applied -= len(f.adds)
		}
	}
	return err
}

// refreshMerged reads back the since-start statistics of the routes with
// a secondary, for the noise baseline a rollout's gate reads: only those
// count noise pairs.
func (m *Mirror) refreshMerged(st Store, routes []*Route) error {
	var noisy []*Route
	var keys []string
	for _, r := range routes {
		if r.set.Load().Secondary != nil {
			noisy = append(noisy, r)
			keys = append(keys, routeKey(r.name))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	ts, err := st.Tallies(keys)
	if err != nil {
		return err
	}
	var errs []error
	for i, r := range noisy {
		agg, err := merged(r, ts[i], nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.merged.Store(agg)
	}
	return errors.Join(errs...)
}

// merged builds r's aggregator from its totals' tally and the tallies of
// window buckets by start.
func merged(r *Route, total store.Tally, windows map[int64]store.Tally) (*diff.Aggregator, error) {
	var ws map[int64]diff.Counts
	if len(windows) > 0 {
		ws = make(map[int64]diff.Counts, len(windows))
		for start, w := range windows {
			if len(w.Counts) > 0 {
				ws[start] = w.Counts
			}
		}
	}
	agg, err := diff.NewAggregatorFrom(r.name, diff.AggregatorOptions{Noise: r.set.Load().Noise}, total.Counts, ws, diff.SampleRefs(total.Recent))
	if err != nil {
		return nil, fmt.Errorf("statistics of route %q: %w", r.name, err)
	}
	return agg, nil
}

// Report returns route r's report over the last since (0: since start),
// read from the store after r's latest counts are added to it: on Redis
// the merged report of every replica. It fails with ErrStoreUnavailable
// when the store cannot be written or read. Without a store, it is the
// report of what r counted in memory.
func (m *Mirror) Report(r *Route, now time.Time, since time.Duration) (diff.RouteReport, error) {
	m.mu.Lock()
	st := m.st
	m.mu.Unlock()
	if st == nil {
		return r.agg.Report(now, since)
	}
	if since < 0 || since > diff.MaxWindow {
		return diff.RouteReport{}, fmt.Errorf("%w, not %v", diff.ErrWindow, since)
	}
	agg, err := m.readBack(st, r, now, since, true)
	if err != nil {
		return diff.RouteReport{}, err
	}
	r.merged.Store(agg)
	return agg.Report(now, since)
}

// readBack adds what r counted since the last flush to the store, then
// builds r's aggregator from the tallies of the window buckets within
// since before now and, with total, of its since-start totals.
func (m *Mirror) readBack(st Store, r *Route, now time.Time, since time.Duration, total bool) (*diff.Aggregator, error) {
	if err := addStatistics(st, []*Route{r}); err != nil {
		m.flushErrs.Add(1)
		return nil, fmt.Errorf("%w: %v", ErrStoreUnavailable, err)
	}
	key := routeKey(r.name)
	var keys []string
	if total {
		keys = append(keys, key)
	}
	var starts []int64
	if since > 0 {
		starts = diff.WindowStarts(now, since)
		for _, s := range starts {
			keys = append(keys, windowKey(key, s))
		}
	}
	ts, err := st.Tallies(keys)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStoreUnavailable, err)
	}
	var totals store.Tally
	if total {
		totals, ts = ts[0], ts[1:]
	}
	var windows map[int64]store.Tally
	if len(starts) > 0 {
		windows = make(map[int64]store.Tally, len(starts))
		for i, s := range starts {
			windows[s] = ts[i]
		}
	}
	return merged(r, totals, windows)
}

// ErrStoreUnavailable is returned by Report when the store cannot be
// reached.
var ErrStoreUnavailable = errors.New("shadow: the store is unreachable")

// Baseline returns the route's since-start noise model: with a store, as
// last read back from it (every FlushInterval); without, the route's own.
func (r *Route) Baseline() diff.Baseline {
	if agg := r.merged.Load(); agg != nil {
		return agg.Baseline()
	}
	return r.agg.Baseline()
}
