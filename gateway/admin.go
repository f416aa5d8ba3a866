package gateway

import (
	"github.com/cutover/cutover/internal/buildinfo"

	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/rollout"
	"github.com/cutover/cutover/router"
	"github.com/cutover/cutover/web"
)

// AdminHandler serves the admin API and the dashboard under /ui/. When a
// token is configured every path but /healthz, /readyz and the
// dashboard's files requires "Authorization: Bearer <token>": the probes
// stay open because they reveal nothing and orchestrators call them
// without credentials, and the dashboard's files hold no data (its pages
// read the API with the token). The read-only token (admin.read_token_env)
// is accepted for GET and HEAD only; any other method made with it answers
// 403.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", g.serveReady)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		g.metrics.writeTo(w, g.snap.Load())
		writeRecorderMetrics(w, g.recorder)
		g.mirror.WriteMetrics(w)
		g.rollouts.WriteMetrics(w)
		g.health.writeMetrics(w)
		g.writeMemoryMetrics(w)
		g.tracer.WriteMetrics(w)
	})
	mux.HandleFunc("GET /api/routes", g.serveRoutes)
	mux.HandleFunc("GET /api/routes/{route}/bucket", g.serveBucket)
	mux.HandleFunc("POST /api/reload", g.serveReload)
	mux.HandleFunc("GET /api/records", g.serveRecords)
	mux.HandleFunc("GET /api/records/{id}", g.serveRecord)
	mux.HandleFunc("GET /api/chains/{id}", g.serveChain)
	mux.HandleFunc("GET /api/report", g.serveReport)
	mux.HandleFunc("GET /api/report/series", g.serveSeries)
	mux.HandleFunc("GET /api/access", g.serveAccess)
	mux.Handle(web.Prefix, web.Handler())
	mux.Handle("GET /ui", http.RedirectHandler(web.Prefix, http.StatusMovedPermanently))
	mux.HandleFunc("GET /api/samples/{id}", g.serveSample)
	mux.HandleFunc("GET /api/rollouts", g.serveRollouts)
	mux.HandleFunc("GET /api/rollouts/{route}", g.serveRollout)
	mux.HandleFunc("GET /api/rollouts/{route}/events", g.serveRolloutEvents)
	mux.HandleFunc("POST /api/rollouts/{route}/{action}", g.serveRolloutAction)
	// Go's profiler, for finding where a gateway under load spends its time.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such admin endpoint", "path": r.URL.Path})
	})
	return g.authorize(mux)
}

func (g *Gateway) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if openPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		switch accessOf(&g.snap.Load().cfg.Admin, r) {
		case accessNone:
			w.Header().Set("WWW-Authenticate", `Bearer realm="cutover admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "a valid bearer token is required"})
			return
		case accessRead:
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				writeJSON(w, http.StatusForbidden, map[string]any{"error": "the read-only token allows GET only; " + r.Method + " needs the full-access token"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// openPath reports whether path is served without a token: the probes and
// the dashboard's files.
func openPath(path string) bool {
	return path == "/healthz" || path == "/readyz" || path == "/ui" || strings.HasPrefix(path, web.Prefix)
}

// access is what a request's bearer token allows.
type access int

const (
	accessNone access = iota // no valid token where one is required
	accessRead               // the read-only token: GET and HEAD
	accessFull               // the full-access token, or no token configured
)

func (a access) String() string {
	return [...]string{"none", "read", "full"}[a]
}

// accessOf compares r's bearer token with the configured ones in constant
// time.
func accessOf(cfg *configs.Admin, r *http.Request) access {
	if cfg.Token == "" {
		return accessFull
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return accessNone
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(cfg.Token)) == 1 {
		return accessFull
	}
	if cfg.ReadToken != "" && subtle.ConstantTimeCompare([]byte(got), []byte(cfg.ReadToken)) == 1 {
		return accessRead
	}
	return accessNone
}

// serveAccess answers GET /api/access: what the caller's token allows
// ("full" or "read") and whether tokens are configured, so the dashboard
// can disable the actions a read-only token cannot take.
func (g *Gateway) serveAccess(w http.ResponseWriter, r *http.Request) {
	cfg := &g.snap.Load().cfg.Admin
	writeJSON(w, http.StatusOK, map[string]any{"access": accessOf(cfg, r).String(), "token_required": cfg.Token != "", "replica": g.replica, "version": buildinfo.Version})
}

func (g *Gateway) serveReady(w http.ResponseWriter, r *http.Request) {
	checks := map[string]string{"config": "ok"}
	status := http.StatusOK
	state := "ready"
	if why := g.health.degraded(); why != "" {
		// Still ready: the gateway proxies and routes without its store,
		// and an orchestrator that took every replica out of service
		// while the store is away would stop the traffic cutover exists
		// to keep flowing. cutover_store_up is the signal to alert on.
		checks["store"] = why
		state = "degraded"
	} else if g.health.checked.Load() {
		checks["store"] = "ok"
	}
	if g.draining.Load() {
		checks["server"] = "draining"
		status = http.StatusServiceUnavailable
		state = "draining"
	}
	writeJSON(w, status, map[string]any{"ready": status == http.StatusOK, "status": state, "replica": g.replica, "checks": checks})
}

// routeInfo is one element of GET /api/routes.
type routeInfo struct {
	Name     string            `json:"name"`
	Upstream string            `json:"upstream,omitempty"`
	Old      string            `json:"old,omitempty"`
	New      string            `json:"new,omitempty"`
	Percent  float64           `json:"percent"`
	Gray     *grayInfo         `json:"gray,omitempty"`
	Tenant   []string          `json:"tenant,omitempty"`
	Match    configs.Match     `json:"match"`
	Requests map[string]uint64 `json:"requests"`
	Targets  []targetInfo      `json:"targets"`
	// State and Step are the rollout's; Rollout holds the rest of it.
	State   string          `json:"state,omitempty"`
	Step    int             `json:"step,omitempty"`
	Rollout *rollout.Status `json:"rollout,omitempty"`
}

// grayInfo sizes a route's gray lists; the lists themselves can be long
// and are in the config file.
type grayInfo struct {
	Tenants int    `json:"tenants"`
	Exclude int    `json:"exclude"`
	Cohort  string `json:"cohort,omitempty"`
}

type targetInfo struct {
	Service string `json:"service"`
	Addr    string `json:"addr"`
	Up      bool   `json:"up"`
}

func (g *Gateway) serveRoutes(w http.ResponseWriter, r *http.Request) {
	snap := g.snap.Load()
	now := time.Now()
	out := make([]routeInfo, 0, len(snap.routes))
	for i, rt := range snap.table.Routes() {
		rs := snap.routes[i]
		rc := snap.cfg.Routes[i]
		info := routeInfo{
			Name: rt.Name, Upstream: rt.Upstream, Old: rt.Old, New: rt.New,
			Percent:  float64(rt.Percent()) / 100,
			Match:    rc.Match,
			Requests: map[string]uint64{},
		}
		if st, ok := g.rollouts.Status(rt.Name); ok {
			info.State, info.Step, info.Rollout = string(st.State), st.Step, &st
		}
		if rt.HasGray() {
			info.Gray = &grayInfo{}
			info.Gray.Tenants, info.Gray.Exclude = rt.ListSizes()
			info.Gray.Cohort = rt.Cohort()
		}
		for _, src := range rc.Tenant {
			info.Tenant = append(info.Tenant, describeSource(src))
		}
		for side := range numSides {
			var n uint64
			for class := range 5 {
				n += rs.metrics.requests[side][class].Load()
			}
			if n > 0 || rs.bySide[side] != nil {
				info.Requests[router.Side(side).String()] = n
			}
		}
		for _, name := range []string{rt.Upstream, rt.Old, rt.New} {
			if svc := snap.services[name]; svc != nil {
				for _, t := range svc.Targets() {
					info.Targets = append(info.Targets, targetInfo{Service: name, Addr: t.Addr(), Up: t.Up(now)})
				}
			}
		}
		out = append(out, info)
	}
	g.reloadMu.Lock()
	lastErr := g.lastErr
	g.reloadMu.Unlock()
	cfgInfo := map[string]any{"file": g.path, "loaded_at": snap.loaded.UTC().Format(time.RFC3339)}
	if lastErr != nil {
		cfgInfo["last_reload_error"] = lastErr.Error()
	}
	writeJSON(w, http.StatusOK, map[string]any{"routes": out, "config": cfgInfo})
}

// BucketInfo is the answer of GET /api/routes/R/bucket: how the running
// gray rules place one tenant. cutover bucket prints it.
type BucketInfo struct {
	Route   string  `json:"route"`
	Tenant  string  `json:"tenant"`
	Env     string  `json:"environment,omitempty"`
	Percent float64 `json:"percent"`
	// Bucket is -1 when no bucket decided (listed, excluded, no gray rules).
	Bucket  int    `json:"bucket"`
	Side    string `json:"side"`
	Service string `json:"service"`
	Reason  string `json:"reason"`
	// NewFrom is the lowest percent at which the tenant's bucket is served
	// by new.
	NewFrom float64 `json:"new_from_percent,omitempty"`
	// EnvUnknown is set when Env names no overlay; EnvTagged when Env
	// is the tenant's entry tag (environments.tenants).
	EnvUnknown bool `json:"environment_unknown,omitempty"`
	EnvTagged  bool `json:"environment_tagged,omitempty"`
	// Cohort is the route's gray.cohort: the bucket is then
	// xxhash64("COHORT:TENANT"), the same on every member.
	Cohort string `json:"cohort,omitempty"`
}

// ExplainBucket places tenant on a route of table t.
func ExplainBucket(t *router.Table, r *router.Route, tenant, env string) BucketInfo {
	d := t.Explain(r, tenant, env)
	info := BucketInfo{
		Route: r.Name, Tenant: tenant, Env: env,
		Percent: float64(r.Percent()) / 100,
		Bucket:  d.Bucket, Side: d.Side.String(), Service: d.Service, Reason: d.Reason.String(),
		EnvUnknown: d.EnvUnknown, EnvTagged: d.EnvTagged, Cohort: d.Cohort,
	}
	if d.EnvTagged {
		info.Env = d.Env
	}
	if d.Bucket >= 0 {
		info.NewFrom = float64(d.Bucket+1) / 100
	}
	return info
}

func (g *Gateway) serveBucket(w http.ResponseWriter, r *http.Request) {
	snap := g.snap.Load()
	rt := snap.table.Route(r.PathValue("route"))
	if rt == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no route " + strconv.Quote(r.PathValue("route"))})
		return
	}
	tenant := r.URL.Query().Get("tenant")
	if tenant == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "the tenant query parameter is required"})
		return
	}
	writeJSON(w, http.StatusOK, ExplainBucket(snap.table, rt, tenant, r.URL.Query().Get("env")))
}

// describeSource writes a tenant source as its config line reads.
func describeSource(s *configs.TenantSource) string {
	switch {
	case s.Header != "":
		return "header: " + s.Header
	case s.Query != "":
		return "query: " + s.Query
	case s.Cookie != "":
		return "cookie: " + s.Cookie
	case s.PathSegment > 0:
		return "path_segment: " + strconv.Itoa(s.PathSegment)
	}
	return "json: " + s.JSON
}

func (g *Gateway) serveReload(w http.ResponseWriter, r *http.Request) {
	res, err := g.Reload()
	if err != nil {
		status := http.StatusUnprocessableEntity
		if err == ErrNoConfigFile {
			status = http.StatusConflict
		}
		writeJSON(w, status, map[string]any{"reloaded": false, "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reloaded": true, "changed": res.Changed, "restart_required": res.RestartRequired})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
