package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/router"
	"github.com/cutover/cutover/web"
)

func newAdminTestGateway(t *testing.T, admin string) *Gateway {
	t.Helper()
	cfg, err := configs.Parse("t.yaml", []byte(admin+`
services:
  v1: { targets: ["127.0.0.1:9001"] }
  v2: { targets: ["127.0.0.1:9002"] }
routes:
  - name: orders
    old: v1
    new: v2
    shadow: { percent: 100 }
    rollout: { steps: [5, 100], min_samples: 1000 }
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := build(cfg, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = g.closeShadows(context.Background())
		_ = g.closeRollouts(context.Background())
	})
	return g
}

func adminCall(h http.Handler, method, path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestAdminRoles: the dashboard's files are open, the API needs a token,
// and the read-only token reads but never acts.
func TestAdminRoles(t *testing.T) {
	t.Setenv("CUTOVER_TEST_FULL", "full")
	t.Setenv("CUTOVER_TEST_READ", "read")
	g := newAdminTestGateway(t, "admin: { token_env: CUTOVER_TEST_FULL, read_token_env: CUTOVER_TEST_READ }\n")
	h := g.AdminHandler()

	ui := adminCall(h, "GET", "/ui/routes/orders", "")
	if ui.Code != http.StatusOK || ui.Header().Get("Content-Security-Policy") != web.ContentSecurityPolicy || ui.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /ui/routes/orders without a token: %d %v", ui.Code, ui.Header())
	}
	if r := adminCall(h, "GET", "/ui", ""); r.Code != http.StatusMovedPermanently || r.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d to %q", r.Code, r.Header().Get("Location"))
	}
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/api/routes", "", http.StatusUnauthorized},
		{"GET", "/api/routes", "wrong", http.StatusUnauthorized},
		{"GET", "/api/routes", "read", http.StatusOK},
		{"GET", "/api/routes", "full", http.StatusOK},
		{"GET", "/api/report/series?route=orders", "read", http.StatusOK},
		{"POST", "/api/rollouts/orders/pause", "read", http.StatusForbidden},
		{"POST", "/api/reload", "read", http.StatusForbidden},
		{"POST", "/api/rollouts/orders/pause", "full", http.StatusOK},
	} {
		if r := adminCall(h, tc.method, tc.path, tc.token); r.Code != tc.want {
			t.Errorf("%s %s with token %q: %d, want %d: %s", tc.method, tc.path, tc.token, r.Code, tc.want, r.Body)
		}
	}
	for token, want := range map[string]string{"read": "read", "full": "full"} {
		var v struct {
			Access        string `json:"access"`
			TokenRequired bool   `json:"token_required"`
		}
		r := adminCall(h, "GET", "/api/access", token)
		if err := json.Unmarshal(r.Body.Bytes(), &v); err != nil || v.Access != want || !v.TokenRequired {
			t.Errorf("/api/access with %q: %s", token, r.Body)
		}
	}
}

// TestSeries: the series endpoint joins the diff aggregate's pairs with
// the sampler's requests, errors and percent, bucket by bucket.
func TestSeries(t *testing.T) {
	g := newAdminTestGateway(t, "")
	h := g.AdminHandler()
	now := time.Now()
	agg := g.mirror.Lookup("orders").Aggregator()
	for i := range 4 {
		p := &diff.Pair{Time: now, OldStatus: 200, NewStatus: 200, OldLatency: 10 * time.Millisecond, NewLatency: 20 * time.Millisecond}
		if i == 0 {
			p.Diffs = []diff.Difference{{Path: "price", Kind: diff.KindType}}
		}
		agg.Add(p)
	}
	snap := g.snap.Load()
	m := snap.routes[snap.table.Route("orders").Index].metrics
	m.count(router.SideNew, 200)
	m.count(router.SideNew, 503)
	m.count(router.SideOld, 502)
	g.figures.sample(snap, now)

	r := adminCall(h, "GET", "/api/report/series?route=orders&since=1m&step=10s", "")
	var v struct {
		Points []seriesPoint `json:"points"`
	}
	if err := json.Unmarshal(r.Body.Bytes(), &v); err != nil || r.Code != http.StatusOK {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	if len(v.Points) < 6 || len(v.Points) > 7 {
		t.Fatalf("%d points for a minute at 10s", len(v.Points))
	}
	// Summed: the sampler's own tick may put the counts in the next bucket.
	var last seriesPoint
	for _, p := range v.Points {
		last.Compared += p.Compared
		last.Differing += p.Differing
		last.OldP99, last.NewP99 = max(last.OldP99, p.OldP99), max(last.NewP99, p.NewP99)
		last.Requests += p.Requests
		last.Errors += p.Errors
		last.NewRequests += p.NewRequests
		last.NewErrors += p.NewErrors
		if p.Percent != nil {
			last.Percent = p.Percent
		}
	}
	if last.Compared != 4 || last.Differing != 1 || last.OldP99 < 9 || last.NewP99 < 19 {
		t.Errorf("the points sum to %+v: want 4 compared, 1 differing, p99 about 10 and 20 ms", last)
	}
	if last.Requests != 3 || last.Errors != 2 || last.NewRequests != 2 || last.NewErrors != 1 || last.Percent == nil || *last.Percent != 5 {
		t.Errorf("the points sum to %+v: want 3 requests, 2 errors, 2 by new with 1 error, at 5%%", last)
	}
	if v.Points[0].Percent != nil || v.Points[0].Compared != 0 {
		t.Errorf("the first point %+v: want nothing, no percent before the first sample", v.Points[0])
	}

	for path, want := range map[string]int{
		"/api/report/series":                          http.StatusBadRequest,
		"/api/report/series?route=nope":               http.StatusNotFound,
		"/api/report/series?route=orders&step=15s":    http.StatusBadRequest,
		"/api/report/series?route=orders&since=2h":    http.StatusBadRequest,
		"/api/report/series?route=orders&since=-1m":   http.StatusBadRequest,
		"/api/report/series?route=orders&since=fortn": http.StatusBadRequest,
	} {
		if r := adminCall(h, "GET", path, ""); r.Code != want || !strings.Contains(r.Body.String(), "error") {
			t.Errorf("GET %s: %d, want %d: %s", path, r.Code, want, r.Body)
		}
	}
}
