package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/rollout"
	"github.com/cutover/cutover/router"
	"github.com/cutover/cutover/shadow"
)

// rolloutConfig compiles a route's rollout: block; page is the route's
// page on the admin UI that chat notifications link to, or "".
func rolloutConfig(ro *configs.Rollout, page string) *rollout.Config {
	c := &rollout.Config{
		MinSamples:    uint64(ro.MinSamples),
		MinDuration:   ro.MinDuration.D(),
		MaxDiffRate:   float64(*ro.MaxDiffRate) / 100,
		MaxErrorRate:  float64(*ro.MaxErrorRate) / 100,
		MaxP99Ratio:   *ro.MaxP99Ratio,
		OnFail:        ro.OnFail,
		Confidence:    float64(ro.Confidence) / 100,
		Webhook:       ro.Webhook.URL,
		WebhookFormat: ro.Webhook.Format,
		RoutePage:     page,
	}
	for _, p := range ro.Steps {
		c.Steps = append(c.Steps, float64(p))
	}
	for _, name := range ro.BlockKinds {
		// Validation accepted only the names of configs.DiffKinds, which
		// TestDiffKindsAgree keeps equal to diff's.
		if k, err := diff.ParseKind(name); err == nil {
			c.BlockKinds = append(c.BlockKinds, k)
		}
	}
	return c
}

// configureRollouts hands snap's rollouts to the controller and readies
// snap, before it is published, to feed and follow them: each rollout
// route gets its feed, its shadow observer and the controller's percent.
func (g *Gateway) configureRollouts(snap *snapshot) {
	var specs []rollout.RouteSpec
	cohorts := map[string]int{} // cohort → index of its unit in specs
	for _, r := range snap.table.Routes() {
		rc := snap.cfg.Routes[r.Index]
		if rc.Rollout == nil {
			continue
		}
		// A cohort's members ramp as one unit, named for its first member;
		// validation made their rules equal.
		if c := r.Cohort(); c != "" {
			if i, ok := cohorts[c]; ok {
				specs[i].Members = append(specs[i].Members, r.Name)
				continue
			}
			cohorts[c] = len(specs)
		}
		spec := rollout.RouteSpec{
			Name:   r.Name,
			Config: rolloutConfig(rc.Rollout, rollout.RoutePage(snap.cfg.Admin.ExternalURL, r.Name)),
			Noise:  shadow.NoiseThresholds(rc.Diff),
		}
		if rc.Shadow != nil && rc.Shadow.Secondary != "" {
			name := r.Name
			spec.Baseline = func() diff.Baseline {
				if sr := g.mirror.Lookup(name); sr != nil {
					return sr.Baseline()
				}
				return diff.Baseline{}
			}
		}
		if c := r.Cohort(); c != "" {
			spec.Cohort, spec.Members = c, []string{r.Name}
		}
		specs = append(specs, spec)
	}
	g.rollouts.Configure(specs)
	for _, r := range snap.table.Routes() {
		rs := &snap.routes[r.Index]
		rs.rollout = g.rollouts.Feed(r.Name)
		if sr := rs.shadow.Route(); sr != nil {
			if rs.rollout != nil {
				sr.SetObserver(rs.rollout)
			} else {
				sr.SetObserver(nil)
			}
		}
	}
	snap.table = g.rolloutTable(snap.table)
}

// rolloutTable returns t with the controller's percent on every rollout
// route, t itself when none differs.
func (g *Gateway) rolloutTable(t *router.Table) *router.Table {
	for _, r := range t.Routes() {
		if basis, ok := g.rollouts.Percent(r.Name); ok && basis != r.Percent() {
			nt, err := t.WithPercent(r.Name, basis)
			if err != nil {
				// Validation gives every rollout route gray rules.
				g.log.Error("cannot apply the rollout's percent", "route", r.Name, "err", err)
				continue
			}
			t = nt
		}
	}
	return t
}

// applyRolloutPercents publishes a snapshot with the controller's
// percents. The next request decides by them.
func (g *Gateway) applyRolloutPercents() {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	snap := g.snap.Load()
	if snap == nil {
		return // build is still making the first snapshot
	}
	t := g.rolloutTable(snap.table)
	if t == snap.table {
		return
	}
	next := *snap
	next.table = t
	g.snap.Store(&next)
}

// closeRollouts stops the rollout decisions and writes their state; the
// webhooks get until ctx ends to deliver what is queued. Call it after
// closeShadows, whose last comparisons it counts, and before closing the
// store.
func (g *Gateway) closeRollouts(ctx context.Context) error {
	err := g.rollouts.Close(ctx)
	g.stopHealth() // the last user of the store's health
	g.figures.stop()
	return err
}

// Rollouts returns the rollout controller.
func (g *Gateway) Rollouts() *rollout.Controller { return g.rollouts }

func (g *Gateway) serveRollouts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"rollouts": g.rollouts.Statuses()})
}

func (g *Gateway) serveRollout(w http.ResponseWriter, r *http.Request) {
	st, ok := g.rollouts.Status(r.PathValue("route"))
	if !ok {
		g.noRollout(w, r.PathValue("route"))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (g *Gateway) serveRolloutEvents(w http.ResponseWriter, r *http.Request) {
	route := r.PathValue("route")
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "limit must be a number of events, 0 for all kept"})
			return
		}
		limit = n
	}
	evs, err := g.rollouts.Events(route, limit)
	switch {
	case errors.Is(err, rollout.ErrNoRollout):
		g.noRollout(w, route)
		return
	case err != nil:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": err.Error()})
		return
	}
	if evs == nil {
		evs = []rollout.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"route": route, "events": evs})
}

func (g *Gateway) serveRolloutAction(w http.ResponseWriter, r *http.Request) {
	route, action := r.PathValue("route"), r.PathValue("action")
	st, ev, err := g.rollouts.Act(route, action, r.URL.Query().Get("reason"))
	switch {
	case errors.Is(err, rollout.ErrUnknownAction):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
	case errors.Is(err, rollout.ErrNoRollout):
		g.noRollout(w, route)
	case errors.Is(err, rollout.ErrNotApplicable):
		writeJSON(w, http.StatusConflict, map[string]any{"error": err.Error(), "rollout": st})
	case errors.Is(err, rollout.ErrUnavailable):
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"rollout": st, "event": ev})
	}
}

func (g *Gateway) noRollout(w http.ResponseWriter, route string) {
	msg := "no route " + strconv.Quote(route)
	if g.snap.Load().table.Route(route) != nil {
		msg = "route " + strconv.Quote(route) + " has no rollout"
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"error": msg})
}
