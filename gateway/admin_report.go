package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/shadow"
	"github.com/cutover/cutover/store"
)

// Report returns the diff report of every shadowed route, or of the one
// named route, over the last since (0: since start).
func (g *Gateway) Report(route string, since time.Duration, now time.Time) (*diff.Report, error) {
	snap := g.snap.Load()
	rep := &diff.Report{GeneratedAt: now.UTC(), Routes: []diff.RouteReport{}}
	if since > 0 {
		rep.Since = since.String()
	}
	found := false
	for _, r := range snap.table.Routes() {
		sh := snap.routes[r.Index].shadow
		if route != "" && r.Name != route {
			continue
		}
		found = true
		if sh == nil {
			continue
		}
		rr, err := g.mirror.Report(sh.Route(), now, since)
		if err != nil {
			return nil, err
		}
		rr.Percent = float64(r.Percent()) / 100
		if gray := snap.cfg.Routes[r.Index].Gray; gray != nil {
			rr.Cohort = gray.Cohort
		}
		if st, ok := g.rollouts.Status(r.Name); ok {
			rr.State, rr.Step = string(st.State), st.Step
		}
		rep.Routes = append(rep.Routes, rr)
	}
	if route != "" && !found {
		return nil, fmt.Errorf("%w: %q", errUnknownRoute, route)
	}
	if route != "" && len(rep.Routes) == 0 {
		return nil, fmt.Errorf("%w: route %q has no shadow block, so nothing is compared", errNotShadowed, route)
	}
	return rep, nil
}

var (
	errUnknownRoute = errors.New("no such route")
	errNotShadowed  = errors.New("not shadowed")
)

// serveReport answers GET /api/report?route=R&since=DURATION.
func (g *Gateway) serveReport(w http.ResponseWriter, r *http.Request) {
	var since time.Duration
	if s := r.URL.Query().Get("since"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": fmt.Sprintf("since %q: want a duration back from now, such as 15m", s)})
			return
		}
		if d > diff.MaxWindow {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": fmt.Sprintf("since %q: the sliding window keeps the last %s; leave since out for totals since start", s, diff.MaxWindow)})
			return
		}
		since = d
	}
	rep, err := g.Report(r.URL.Query().Get("route"), since, time.Now())
	switch {
	case errors.Is(err, errUnknownRoute), errors.Is(err, errNotShadowed):
		writeJSON(w, http.StatusNotFound, map[string]any{"error": err.Error()})
		return
	case errors.Is(err, shadow.ErrStoreUnavailable):
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": err.Error()})
		return
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// serveSample answers GET /api/samples/ID: one compared pair, both calls
// as recorded (redacted) and their differences.
func (g *Gateway) serveSample(w http.ResponseWriter, r *http.Request) {
	id, err := store.ParseSampleID(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	data, err := g.mirror.Sample(id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]any{"error": fmt.Sprintf("no sample %s (samples are kept for store.retention)", id)})
		return
	case err != nil:
		g.log.Error("reading a sample failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, json.RawMessage(data))
}
