package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/router"
	"github.com/cutover/cutover/shadow"
)

// figureSlots is the number of WindowBucket slots a route's figures keep:
// the last diff.MaxWindow, as the diff aggregate's window ring.
const figureSlots = int(diff.MaxWindow / diff.WindowBucket)

// figureEvery is how often the sampler reads the route counters: a bucket
// gets what was answered within a second of its interval.
const figureEvery = time.Second

// figures keeps, per route and per diff.WindowBucket of the last
// diff.MaxWindow, what this replica answered (requests and 5xx answers,
// in all and by new) and the percent served by new, for the series
// endpoint. A sampler reads the route counters every figureEvery and adds
// what they gained to the bucket of the moment; nothing on the request
// path changes. The figures are this replica's: replicas do not share
// them. Memory is bounded: one ring of figureSlots slots per route name
// seen. It is safe for concurrent use.
type figures struct {
	mu     sync.Mutex
	routes map[string]*routeFigures
	stopc  chan struct{}
	done   chan struct{}
}

type routeFigures struct {
	last  [numSides][5]uint64 // the counters at the previous sample
	slots [figureSlots]figureSlot
}

// figureSlot is one WindowBucket of a route's figures; epoch is its start
// in units of WindowBucket since the Unix epoch, 0 when unused.
type figureSlot struct {
	epoch                  int64
	requests, errors       uint64
	newRequests, newErrors uint64
	percent                float64 // at the bucket's last sample
}

// start runs the sampler until stop.
func (f *figures) start(g *Gateway) {
	f.routes = map[string]*routeFigures{}
	f.stopc, f.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(f.done)
		t := time.NewTicker(figureEvery)
		defer t.Stop()
		for {
			select {
			case <-f.stopc:
				return
			case now := <-t.C:
				if snap := g.snap.Load(); snap != nil {
					f.sample(snap, now)
				}
			}
		}
	}()
}

// stop ends the sampler, if one runs.
func (f *figures) stop() {
	if f.stopc != nil {
		close(f.stopc)
		<-f.done
		f.stopc = nil
	}
}

// sample adds what each route of snap answered since the last sample to
// the bucket of now.
func (f *figures) sample(snap *snapshot, now time.Time) {
	epoch := now.UnixNano() / int64(diff.WindowBucket)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range snap.table.Routes() {
		rf := f.routes[r.Name]
		if rf == nil {
			rf = &routeFigures{}
			f.routes[r.Name] = rf
		}
		s := &rf.slots[epoch%int64(figureSlots)]
		if s.epoch != epoch {
			*s = figureSlot{epoch: epoch}
		}
		m := snap.routes[r.Index].metrics
		for side := range numSides {
			for class := range 5 {
				v := m.requests[side][class].Load()
				d := v - rf.last[side][class]
				rf.last[side][class] = v
				s.requests += d
				if router.Side(side) == router.SideNew {
					s.newRequests += d
				}
				if class == 4 {
					s.errors += d
					if router.Side(side) == router.SideNew {
						s.newErrors += d
					}
				}
			}
		}
		s.percent = float64(r.Percent()) / 100
	}
}

// seriesPoint is one point of GET /api/report/series.
type seriesPoint struct {
	T           time.Time `json:"t"`
	Compared    uint64    `json:"compared"`
	Differing   uint64    `json:"differing"`
	NoisePairs  uint64    `json:"noise_pairs"`
	Requests    uint64    `json:"requests"`
	Errors      uint64    `json:"errors"`
	NewRequests uint64    `json:"new_requests"`
	NewErrors   uint64    `json:"new_errors"`
	OldP99      float64   `json:"old_p99_ms"`
	NewP99      float64   `json:"new_p99_ms"`
	// Percent is null for a point before the sampler's first reading.
	Percent *float64 `json:"percent"`
}

// fill adds this replica's figures to points of step each.
func (f *figures) fill(route string, points []seriesPoint, step time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rf := f.routes[route]
	if rf == nil {
		return
	}
	per := int64(step / diff.WindowBucket)
	for i := range points {
		p := &points[i]
		first := p.T.UnixNano() / int64(diff.WindowBucket)
		var latest int64
		for e := first; e < first+per; e++ {
			s := &rf.slots[e%int64(figureSlots)]
			if s.epoch != e || e == 0 {
				continue
			}
			p.Requests += s.requests
			p.Errors += s.errors
			p.NewRequests += s.newRequests
			p.NewErrors += s.newErrors
			if e > latest {
				latest = e
				pct := s.percent
				p.Percent = &pct
			}
		}
	}
}

// seriesPoints returns route's figures over the last since before now, in
// points of step: compared and differing pairs and p99 latencies from the
// diff aggregate (every replica's on a shared store), requests, errors and
// percent from this replica's sampler.
func (g *Gateway) seriesPoints(route string, now time.Time, since, step time.Duration) ([]seriesPoint, error) {
	snap := g.snap.Load()
	r := snap.table.Route(route)
	if r == nil {
		return nil, fmt.Errorf("%w: %q", errUnknownRoute, route)
	}
	var pts []diff.SeriesPoint
	var err error
	if sh := snap.routes[r.Index].shadow.Route(); sh != nil {
		pts, err = g.mirror.Series(sh, now, since, step)
	} else {
		// Not shadowed: the points of an empty aggregate give the times.
		pts, err = diff.NewAggregator(route, diff.AggregatorOptions{}).Series(now, since, step)
	}
	if err != nil {
		return nil, err
	}
	out := make([]seriesPoint, len(pts))
	for i, p := range pts {
		out[i] = seriesPoint{T: p.T, Compared: p.Compared, Differing: p.Differing, NoisePairs: p.NoisePairs, OldP99: p.OldP99, NewP99: p.NewP99}
	}
	g.figures.fill(route, out, step)
	return out, nil
}

// serveSeries answers GET /api/report/series?route=R&since=1h&step=10s.
func (g *Gateway) serveSeries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	route := q.Get("route")
	if route == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "the route query parameter is required"})
		return
	}
	since, step := diff.MaxWindow, diff.WindowBucket
	for _, p := range []struct {
		name string
		dst  *time.Duration
	}{{"since", &since}, {"step", &step}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": fmt.Sprintf("%s %q: want a duration such as 10s", p.name, s)})
			return
		}
		*p.dst = d
	}
	pts, err := g.seriesPoints(route, time.Now(), since, step)
	switch {
	case errors.Is(err, errUnknownRoute):
		writeJSON(w, http.StatusNotFound, map[string]any{"error": err.Error()})
		return
	case errors.Is(err, shadow.ErrStoreUnavailable):
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": err.Error()})
		return
	case errors.Is(err, diff.ErrWindow), errors.Is(err, diff.ErrSeriesStep):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": fmt.Sprintf("since %s, step %s: %v", since, step, err)})
		return
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"route": route, "since": since.String(), "step": step.String(), "points": pts})
}
