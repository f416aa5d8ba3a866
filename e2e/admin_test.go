package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/loopback"
)

// TestAdminEndpoints checks the probes, the Prometheus metrics and the
// shape of GET /api/routes.
func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	a, b := newEcho(t, "a"), newEcho(t, "b")
	dead := loopback.DeadAddr(t)
	g := startGateway(t, fmt.Sprintf(`services:
  order-v1: { targets: [%q], timeout: 5s }
  order-v2: { targets: [%q] }
  pay: { targets: [%q] }
routes:
  - name: orders
    match: { path_prefix: /api/orders, methods: [GET, POST] }
    old: order-v1
    new: order-v2
  - name: payments
    match: { path_prefix: /api/payments }
    upstream: pay
`, hostPort(a), hostPort(b), dead))
	c := newClient(t)

	for _, p := range []string{"/healthz", "/readyz"} {
		resp, body := do(t, c, "GET", g.adminURL(p), nil, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q: %s", p, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	if resp, _ := do(t, c, "GET", g.adminURL("/no/such/thing"), nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown admin path: %d, want 404", resp.StatusCode)
	}

	const ok2xx = `cutover_requests_total{route="orders",side="old",code="2xx"}`
	send := func(n int) {
		for range n {
			if resp, body := do(t, c, "GET", g.url("/api/orders/7"), nil, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
		}
	}
	send(3)
	m1 := g.metrics(t, nil)
	send(5)
	if resp, _ := do(t, c, "GET", g.url("/api/payments/1"), nil, nil); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("route to a dead service: %d, want 502", resp.StatusCode)
	}
	do(t, c, "GET", g.url("/nowhere"), nil, nil)
	m2 := g.metrics(t, nil)

	if m1[ok2xx] != 3 || m2[ok2xx] != 8 {
		t.Errorf("%s went %v → %v, want 3 → 8", ok2xx, m1[ok2xx], m2[ok2xx])
	}
	for series, want := range map[string]float64{
		`cutover_requests_total{route="payments",side="upstream",code="5xx"}`:    1,
		`cutover_upstream_errors_total{service="pay",reason="refused"}`:          1,
		`cutover_upstream_errors_total{service="pay",reason="timeout"}`:          0,
		`cutover_upstream_errors_total{service="order-v1",reason="refused"}`:     0,
		`cutover_requests_rejected_total{reason="no_route"}`:                     1,
		`cutover_upstream_duration_seconds_count{service="order-v1"}`:            8,
		`cutover_upstream_duration_seconds_bucket{service="order-v1",le="+Inf"}`: 8,
		`cutover_inflight_requests`:                                              0,
	} {
		if got, ok := m2[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	// The histogram is cumulative and its sum is positive.
	prev := -1.0
	for _, le := range []string{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"} {
		v, ok := m2[fmt.Sprintf(`cutover_upstream_duration_seconds_bucket{service="order-v1",le=%q}`, le)]
		if !ok || v < prev {
			t.Errorf("histogram bucket le=%s = %v (present %v), not cumulative after %v", le, v, ok, prev)
		}
		prev = v
	}
	if m2[`cutover_upstream_duration_seconds_sum{service="order-v1"}`] <= 0 {
		t.Errorf("histogram sum is not positive")
	}

	// GET /api/routes: both routes, in file order, with their services,
	// request counts and target health.
	resp, body := do(t, c, "GET", g.adminURL("/api/routes"), nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/api/routes: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["routes"].([]any); !ok {
		t.Fatalf("/api/routes has no routes list: %s", body)
	}
	r := g.routes(t)
	if len(r.Routes) != 2 || r.Routes[0].Name != "orders" || r.Routes[1].Name != "payments" {
		t.Fatalf("routes %+v, want orders and payments in file order", r.Routes)
	}
	o, p := r.Routes[0], r.Routes[1]
	if o.Old != "order-v1" || o.New != "order-v2" || o.Upstream != "" || o.Percent == nil || *o.Percent != 0 {
		t.Errorf("orders route %+v", o)
	}
	if o.Requests["old"] != 8 {
		t.Errorf("orders requests %v, want old: 8", o.Requests)
	}
	if o.Match["path_prefix"] != "/api/orders" {
		t.Errorf("orders match %v", o.Match)
	}
	if len(o.Targets) != 2 || !o.Targets[0].Up || !o.Targets[1].Up {
		t.Errorf("orders targets %+v, want two, up", o.Targets)
	}
	if p.Upstream != "pay" || len(p.Targets) != 1 || p.Targets[0].Up || p.Targets[0].Addr != dead {
		t.Errorf("payments route %+v, want its one target down", p)
	}
	if r.Config.File != g.config || r.Config.LoadedAt == "" || r.Config.LastReloadError != "" {
		t.Errorf("config %+v", r.Config)
	}
}

// TestAdminToken: with CUTOVER_ADMIN_TOKEN set, the API wants the bearer
// token, and the probes stay open.
func TestAdminToken(t *testing.T) {
	t.Parallel()
	const token = "s3cret-t0ken"
	g := startGateway(t, plainConfig(hostPort(newEcho(t, "a"))), "CUTOVER_ADMIN_TOKEN="+token)
	c := newClient(t)
	for _, tc := range []struct {
		method, path, auth string
		want               int
	}{
		{"GET", "/healthz", "", http.StatusOK},
		{"GET", "/readyz", "", http.StatusOK},
		{"GET", "/api/routes", "", http.StatusUnauthorized},
		{"GET", "/api/routes", "Bearer wrong", http.StatusUnauthorized},
		{"GET", "/api/routes", token, http.StatusUnauthorized},
		{"GET", "/api/routes", "Basic " + token, http.StatusUnauthorized},
		{"GET", "/api/routes", "Bearer " + token, http.StatusOK},
		{"GET", "/metrics", "", http.StatusUnauthorized},
		{"GET", "/metrics", "Bearer " + token, http.StatusOK},
		{"POST", "/api/reload", "", http.StatusUnauthorized},
		{"POST", "/api/reload", "Bearer " + token, http.StatusOK},
	} {
		hdr := map[string]string{}
		if tc.auth != "" {
			hdr["Authorization"] = tc.auth
		}
		resp, body := do(t, c, tc.method, g.adminURL(tc.path), nil, hdr)
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s with %q: %d, want %d: %s", tc.method, tc.path, tc.auth, resp.StatusCode, tc.want, body)
		}
		if tc.want == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s: 401 without a Bearer WWW-Authenticate challenge", tc.method, tc.path)
		}
	}
	// The proxy itself needs no token.
	if resp, _ := do(t, c, "GET", g.url("/x"), nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("proxied request: %d", resp.StatusCode)
	}
}
