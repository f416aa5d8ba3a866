package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// bucketOf is the documented sticky bucket, computed here independently of
// the router: xxhash64("route:tenant") mod 10000.
func bucketOf(route, tenant string) int {
	return int(xxhash.Sum64String(route+":"+tenant) % 10000)
}

// grayConfig is one migration route with every tenant source, lists, a
// percent and an overlay environment for the new service.
func grayConfig(old, new, featx string, percent string) string {
	return fmt.Sprintf(`debug_headers: true
services:
  order-v1: { targets: [%q] }
  order-v2: { targets: [%q] }
  order-v2-featx: { targets: [%q] }
routes:
  - name: orders
    match: { path_prefix: /api }
    old: order-v1
    new: order-v2
    tenant:
      - header: X-Org-Id
      - query: orgId
      - json: user.orgId
      - path_segment: 3
    gray:
      tenants: ["vip"]
      exclude: ["blocked"]
      percent: %s
environments:
  header: X-Env
  overlays:
    feature-x: { order-v2: order-v2-featx }
`, old, new, featx, percent)
}

// tenantWith finds a tenant whose bucket is below (wantNew) or at least
// (!wantNew) basis.
func tenantWith(t *testing.T, basis int, wantNew bool) string {
	t.Helper()
	for i := range 100000 {
		tenant := fmt.Sprintf("org-%d", i)
		if (bucketOf("orders", tenant) < basis) == wantNew {
			return tenant
		}
	}
	t.Fatal("no such tenant")
	return ""
}

// TestGrayRouting runs the real binary with old, new and an overlay
// service, and checks each rule of the decision, each tenant source, the
// environment overlay, and what the admin API, metrics and `cutover bucket`
// say about it.
func TestGrayRouting(t *testing.T) {
	t.Parallel()
	old, nw, featx := newEcho(t, "old"), newEcho(t, "new"), newEcho(t, "featx")
	g := startGateway(t, grayConfig(hostPort(old), hostPort(nw), hostPort(featx), "50"))
	c := newClient(t)
	newTenant, oldTenant := tenantWith(t, 5000, true), tenantWith(t, 5000, false)

	tests := []struct {
		name, method, path, body string
		hdr                      map[string]string
		wantUpstream, wantSide   string
	}{
		{"listed tenant", "GET", "/api/orders", "", map[string]string{"X-Org-Id": "vip"}, "new", "new"},
		{"excluded tenant", "GET", "/api/orders", "", map[string]string{"X-Org-Id": "blocked"}, "old", "old"},
		{"bucket below the percent", "GET", "/api/orders", "", map[string]string{"X-Org-Id": newTenant}, "new", "new"},
		{"bucket above the percent", "GET", "/api/orders", "", map[string]string{"X-Org-Id": oldTenant}, "old", "old"},
		{"query source", "GET", "/api/orders?page=1&orgId=vip", "", nil, "new", "new"},
		{"json body source", "POST", "/api/orders", `{"user":{"orgId":"vip"}}`, map[string]string{"Content-Type": "application/json"}, "new", "new"},
		{"malformed json falls through to the path", "POST", "/api/orgs/blocked/orders", `{"user":{"orgId":"vip"}`, map[string]string{"Content-Type": "application/json"}, "old", "old"},
		{"path segment source", "GET", "/api/orgs/vip/orders", "", nil, "new", "new"},
		{"header wins over the path", "GET", "/api/orgs/vip/orders", "", map[string]string{"X-Org-Id": "blocked"}, "old", "old"},
		{"overlay replaces new", "GET", "/api/orders", "", map[string]string{"X-Org-Id": "vip", "X-Env": "feature-x"}, "featx", "new"},
		{"overlay keeps old when it has no replacement", "GET", "/api/orders", "", map[string]string{"X-Org-Id": "blocked", "X-Env": "feature-x"}, "old", "old"},
		{"unknown environment uses the baseline", "GET", "/api/orders", "", map[string]string{"X-Org-Id": "vip", "X-Env": "nope"}, "new", "new"},
	}
	for _, tt := range tests {
		var body []byte
		if tt.body != "" {
			body = []byte(tt.body)
		}
		resp, data := do(t, c, tt.method, g.url(tt.path), body, tt.hdr)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d: %s", tt.name, resp.StatusCode, data)
		}
		if up, side := resp.Header.Get(hdrUpstream), resp.Header.Get("X-Cutover-Side"); up != tt.wantUpstream || side != tt.wantSide {
			t.Errorf("%s: served by %q with X-Cutover-Side %q, want %q and %q", tt.name, up, side, tt.wantUpstream, tt.wantSide)
		}
		if env := tt.hdr["X-Env"]; env != "" {
			if got := decodeEcho(t, data).Header.Get("X-Env"); got != env {
				t.Errorf("%s: upstream saw X-Env %q, want %q forwarded", tt.name, got, env)
			}
		}
	}

	// Requests without a tenant are bucketed by chain ID: every hop of a
	// chain gets the same side.
	for i := range 20 {
		id := fmt.Sprintf("%032x", 0xabc0000+i)
		want := "old"
		if bucketOf("orders", id) < 5000 {
			want = "new"
		}
		for range 2 {
			resp, _ := do(t, c, "GET", g.url("/api/other"), nil, map[string]string{"X-Chain-Id": id})
			if got := resp.Header.Get("X-Cutover-Side"); got != want {
				t.Fatalf("chain %s: side %q, want %q", id, got, want)
			}
		}
	}

	m := g.metrics(t, nil)
	for series, want := range map[string]float64{
		`cutover_environment_requests_total{environment="feature-x"}`: 2,
		`cutover_environment_unknown_total`:                           1,
		`cutover_tenant_source_total{route="orders",source="query"}`:  1,
		`cutover_tenant_source_total{route="orders",source="json"}`:   1,
		`cutover_tenant_source_total{route="orders",source="none"}`:   40,
	} {
		if m[series] != want {
			t.Errorf("%s = %v, want %v", series, m[series], want)
		}
	}
	if m[`cutover_requests_total{route="orders",side="new",code="2xx"}`] == 0 || m[`cutover_requests_total{route="orders",side="old",code="2xx"}`] == 0 {
		t.Error("cutover_requests_total does not count both sides")
	}

	var routes struct {
		Routes []struct {
			Name     string            `json:"name"`
			Percent  float64           `json:"percent"`
			Gray     map[string]int    `json:"gray"`
			Tenant   []string          `json:"tenant"`
			Requests map[string]uint64 `json:"requests"`
		} `json:"routes"`
	}
	_, body := do(t, c, "GET", g.adminURL("/api/routes"), nil, nil)
	if err := json.Unmarshal(body, &routes); err != nil || len(routes.Routes) != 1 {
		t.Fatalf("/api/routes: %v: %s", err, body)
	}
	r := routes.Routes[0]
	if r.Percent != 50 || r.Gray["tenants"] != 1 || r.Gray["exclude"] != 1 || len(r.Tenant) != 4 || r.Tenant[3] != "path_segment: 3" {
		t.Errorf("/api/routes shows %+v", r)
	}
	if r.Requests["old"]+r.Requests["new"] != 12+40 || r.Requests["new"] == 0 {
		t.Errorf("/api/routes requests %v, want old+new = 52", r.Requests)
	}

	// cutover bucket asks the running gateway and agrees with what served.
	code, out, errOut := runCLI(t, "bucket", "--admin", g.admin, "--route", "orders", oldTenant)
	if code != 0 || !strings.Contains(out, "side     old → order-v1") || !strings.Contains(out, fmt.Sprintf("bucket   %d ", bucketOf("orders", oldTenant))) {
		t.Errorf("cutover bucket %s: exit %d\n%s%s", oldTenant, code, out, errOut)
	}
	code, out, errOut = runCLI(t, "bucket", "vip", "--env", "feature-x", "--admin", g.admin)
	if code != 0 || !strings.Contains(out, "side     new → order-v2-featx   (the tenant is in gray.tenants)") {
		t.Errorf("cutover bucket vip --env feature-x: exit %d\n%s%s", code, out, errOut)
	}
	// With -c the rules come from the file; --format json for scripts.
	code, out, errOut = runCLI(t, "bucket", "-c", g.config, "--format", "json", newTenant)
	var info struct {
		Bucket  int    `json:"bucket"`
		Side    string `json:"side"`
		Service string `json:"service"`
	}
	if err := json.Unmarshal([]byte(out), &info); code != 0 || err != nil || info.Bucket != bucketOf("orders", newTenant) || info.Side != "new" || info.Service != "order-v2" {
		t.Errorf("cutover bucket -c: exit %d, %+v\n%s%s", code, info, out, errOut)
	}
	code, _, errOut = runCLI(t, "bucket", "--admin", g.admin, "--route", "nope", "vip")
	if code != 1 || !strings.Contains(errOut, `no route "nope"`) {
		t.Errorf("cutover bucket on an unknown route: exit %d, stderr %q", code, errOut)
	}
}

// TestGrayReloadUnderLoad raises the percent from 10 to 20 by a reload
// while clients keep sending requests for 1000 tenants. No request fails,
// no tenant ever goes back from new to old, and the tenants served by new
// are exactly those whose documented bucket is below the percent: the
// reload moved only tenants that were old.
func TestGrayReloadUnderLoad(t *testing.T) {
	t.Parallel()
	old, nw, featx := newEcho(t, "old"), newEcho(t, "new"), newEcho(t, "featx")
	path := t.TempDir() + "/cutover.yaml"
	writeFileAtomic(t, path, configHead+grayConfig(hostPort(old), hostPort(nw), hostPort(featx), "10"))
	g := startGatewayFile(t, path)
	const tenants = 1000
	tenant := func(i int) string { return fmt.Sprintf("tenant-%04d", i) }
	expected := func(basis int) map[string]bool {
		m := map[string]bool{}
		for i := range tenants {
			if bucketOf("orders", tenant(i)) < basis {
				m[tenant(i)] = true
			}
		}
		return m
	}
	sweep := func() map[string]bool {
		c := newClient(t)
		m := map[string]bool{}
		for i := range tenants {
			resp, data := do(t, c, "GET", g.url("/api/orders"), nil, map[string]string{"X-Org-Id": tenant(i)})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, data)
			}
			if resp.Header.Get(hdrUpstream) == "new" {
				m[tenant(i)] = true
			}
		}
		return m
	}
	at10 := sweep()
	if want := expected(1000); !sameSet(at10, want) {
		t.Fatalf("at 10%% new serves %d tenants, the documented hash says %d: %s", len(at10), len(want), setDiff(at10, want))
	}

	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		mu       sync.Mutex
		seenNew  = map[string]bool{}
		flips    []string
		failed   atomic.Int64
		requests atomic.Int64
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t)
			for i := w; ; i = (i + 4) % tenants {
				select {
				case <-stop:
					return
				default:
				}
				resp, _, err := tryDo(c, "GET", g.url("/api/orders"), nil, map[string]string{"X-Org-Id": tenant(i)})
				requests.Add(1)
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				isNew := resp.Header.Get(hdrUpstream) == "new"
				mu.Lock()
				if seenNew[tenant(i)] && !isNew && len(flips) < 10 {
					flips = append(flips, tenant(i))
				}
				seenNew[tenant(i)] = seenNew[tenant(i)] || isNew
				mu.Unlock()
			}
		}()
	}
	waitFor(t, "load to run", func() bool { return requests.Load() > 500 })
	writeFileAtomic(t, path, configHead+grayConfig(hostPort(old), hostPort(nw), hostPort(featx), "20"))
	waitFor(t, "the reload to 20%", func() bool {
		var r routesReply
		_, body := do(t, newClient(t), "GET", g.adminURL("/api/routes"), nil, nil)
		return json.Unmarshal(body, &r) == nil && len(r.Routes) == 1 && r.Routes[0].Percent != nil && *r.Routes[0].Percent == 20
	})
	n := requests.Load()
	waitFor(t, "load after the reload", func() bool { return requests.Load() > n+500 })
	close(stop)
	wg.Wait()

	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed during the reload", failed.Load(), requests.Load())
	}
	if len(flips) > 0 {
		t.Errorf("tenants went back from new to old while the percent rose: %v", flips)
	}
	at20 := sweep()
	if want := expected(2000); !sameSet(at20, want) {
		t.Fatalf("at 20%% new serves %d tenants, the documented hash says %d: %s", len(at20), len(want), setDiff(at20, want))
	}
	for tn := range at10 {
		if !at20[tn] {
			t.Errorf("tenant %s was new at 10%% and is old at 20%%", tn)
		}
	}
	t.Logf("%d requests during the reload, none failed; new served %d tenants at 10%% and %d at 20%%, a superset",
		requests.Load(), len(at10), len(at20))
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func setDiff(got, want map[string]bool) string {
	var extra, missing []string
	for k := range got {
		if !want[k] && len(extra) < 5 {
			extra = append(extra, k)
		}
	}
	for k := range want {
		if !got[k] && len(missing) < 5 {
			missing = append(missing, k)
		}
	}
	return fmt.Sprintf("unexpected %v, missing %v", extra, missing)
}
