// Package tally carries diff statistics between a gateway replica and the
// shared store: what a replica's aggregator counted since its last write
// becomes increments to the store's tallies (diff.Delta → store.TallyAdd),
// and the summed tallies of every replica become one aggregator again
// (store.Tally → diff.Aggregator), from which reports and rollout gates
// read the merged view.
package tally

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/store"
)

// Add returns the increments of d's since-start part to the tally named
// key: its counts, and its sample refs into one recent list per field,
// each keeping the newest keep. extra counts (names outside diff's
// grammar, such as the rollout's calls) are added too.
func Add(key string, d *diff.Delta, keep int, ttl time.Duration, extra map[string]int64) store.TallyAdd {
	a := store.TallyAdd{Key: key, Counts: make(map[string]int64, len(d.Total)+len(extra)), Keep: keep, TTL: ttl}
	for k, v := range d.Total {
		a.Counts[k] = v
	}
	for k, v := range extra {
		a.Counts[k] = v
	}
	if len(d.Samples) > 0 {
		a.Recent = make(map[string][]string, len(d.Samples))
		for field, refs := range d.Samples {
			items := make([]string, len(refs))
			for i, r := range refs {
				items[i] = formatRef(r)
			}
			a.Recent[field] = items
		}
	}
	return a
}

// Merge adds older, an add that failed and is retried, into a, an add
// to the same tally made after it.
func Merge(a *store.TallyAdd, older *store.TallyAdd) {
	for k, v := range older.Counts {
		a.Counts[k] += v
	}
	if len(older.Recent) > 0 && a.Recent == nil {
		a.Recent = make(map[string][]string, len(older.Recent))
	}
	for k, items := range older.Recent {
		a.Recent[k] = append(slices.Clone(items), a.Recent[k]...)
	}
}

// Windows returns the increments of d's window buckets, oldest first,
// each to the tally WindowKey(key, start) expiring after diff.MaxWindow,
// and the buckets' starts in the same order.
func Windows(key string, d *diff.Delta) (adds []store.TallyAdd, starts []int64) {
	starts = slices.Sorted(maps.Keys(d.Windows))
	adds = make([]store.TallyAdd, len(starts))
	for i, s := range starts {
		adds[i] = store.TallyAdd{Key: WindowKey(key, s), Counts: d.Windows[s], TTL: diff.MaxWindow + diff.WindowBucket}
	}
	return adds, starts
}

// WindowKey names the tally of one 10-second window bucket of key.
func WindowKey(key string, bucketStart int64) string {
	return key + ":w:" + strconv.FormatInt(bucketStart, 10)
}

// WindowStarts returns the starts of the window buckets a report of the
// last since before now may read, oldest first.
func WindowStarts(now time.Time, since time.Duration) []int64 {
	step := int64(diff.WindowBucket / time.Second)
	hi := now.Unix() / step * step
	lo := (now.Add(-since).Unix() + step - 1) / step * step
	out := make([]int64, 0, (hi-lo)/step+1)
	for s := lo; s <= hi; s += step {
		out = append(out, s)
	}
	return out
}

// Aggregator rebuilds the merged aggregator from a tally's counts and
// recent lists and from window tallies by bucket start (nil: none); skip
// names counts that are not diff's.
func Aggregator(route string, opt diff.AggregatorOptions, t store.Tally, windows map[int64]store.Tally, skip ...string) (*diff.Aggregator, error) {
	total := make(diff.Counts, len(t.Counts))
	for k, v := range t.Counts {
		total[k] = v
	}
	for _, k := range skip {
		delete(total, k)
	}
	samples := make(map[string][]diff.SampleRef, len(t.Recent))
	for field, items := range t.Recent {
		refs := make([]diff.SampleRef, 0, len(items))
		for _, it := range items {
			if r, ok := parseRef(it); ok {
				refs = append(refs, r)
			}
		}
		samples[field] = refs
	}
	var ws map[int64]diff.Counts
	if len(windows) > 0 {
		ws = make(map[int64]diff.Counts, len(windows))
		for start, w := range windows {
			if len(w.Counts) > 0 {
				ws[start] = diff.Counts(w.Counts)
			}
		}
	}
	agg, err := diff.NewAggregatorFrom(route, opt, total, ws, samples)
	if err != nil {
		return nil, fmt.Errorf("merged statistics of %q: %w", route, err)
	}
	return agg, nil
}

// A sample ref is stored as "<unix nanoseconds> <sample ID>".
func formatRef(r diff.SampleRef) string {
	return strconv.FormatInt(r.Time.UnixNano(), 10) + " " + r.ID
}

func parseRef(s string) (diff.SampleRef, bool) {
	ns, id, ok := strings.Cut(s, " ")
	if !ok || id == "" {
		return diff.SampleRef{}, false
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return diff.SampleRef{}, false
	}
	return diff.SampleRef{ID: id, Time: time.Unix(0, n)}, true
}
