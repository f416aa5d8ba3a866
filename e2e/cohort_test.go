package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cutover/cutover/rollout"
)

// These tests run a chain of three services, A → B → C, each in an old and
// a new version, behind the real binary: A calls B and B calls C through
// the gateway, forwarding only trace context (traceparent, tracestate,
// baggage, as OpenTelemetry's default propagators do) and the environment
// header — never the tenant, which only the entry request carries.

// hdrHops lists the services a chain went through, A first, each with the
// X-Cutover-Side the gateway answered that hop with: "a-new[new; …] | …".
const hdrHops = "X-Hops"

// chainService is one version of one service of the chain. It calls next
// (a path on the gateway, "" for the last service) and answers with the
// next hop's body; regress makes the last service answer a price of the
// wrong type.
func chainService(t *testing.T, name, next string, gateway *atomic.Pointer[string], regress bool) string {
	client := newClient(t)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		hops := name
		body := []byte(`{"price": 10}`)
		if regress {
			body = []byte(`{"price": "10"}`)
		}
		if next != "" {
			req, err := http.NewRequest("GET", "http://"+*gateway.Load()+next, nil)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			for _, h := range []string{"traceparent", "tracestate", "baggage", "X-Env"} {
				for _, v := range r.Header.Values(h) {
					req.Header.Add(h, v)
				}
			}
			resp, err := client.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				http.Error(w, fmt.Sprintf("%s answered %d: %s", next, resp.StatusCode, body), http.StatusBadGateway)
				return
			}
			// The next hop's own entry comes first; mark it with the
			// side header the gateway answered that hop with.
			first, rest, more := strings.Cut(resp.Header.Get(hdrHops), " | ")
			hops += " | " + first + "[" + resp.Header.Get("X-Cutover-Side") + "]"
			if more {
				hops += " | " + rest
			}
		}
		w.Header().Set(hdrHops, hops)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	return hostPort(srv)
}

// cohortChain starts the six services and returns the services block of a
// config and the pointer the services read the gateway's address from.
// regressC makes C's new version answer a price of the wrong type.
func cohortChain(t *testing.T, regressC bool) (services string, gateway *atomic.Pointer[string]) {
	gateway = new(atomic.Pointer[string])
	addr := map[string]string{
		"a-old": chainService(t, "a-old", "/b/price", gateway, false),
		"a-new": chainService(t, "a-new", "/b/price", gateway, false),
		"b-old": chainService(t, "b-old", "/c/price", gateway, false),
		"b-new": chainService(t, "b-new", "/c/price", gateway, false),
		"c-old": chainService(t, "c-old", "", gateway, false),
		"c-new": chainService(t, "c-new", "", gateway, regressC),
		"c-fx":  chainService(t, "c-featx", "", gateway, false),
	}
	var b strings.Builder
	b.WriteString("services:\n")
	for _, name := range []string{"a-old", "a-new", "b-old", "b-new", "c-old", "c-new", "c-fx"} {
		fmt.Fprintf(&b, "  %s: { targets: [%q] }\n", name, addr[name])
	}
	return b.String(), gateway
}

// cohortRoutes is the three routes in cohort checkout at percent, each
// with extra appended (a rollout), A reading the tenant from X-Org-Id.
func cohortRoutes(percent, extra string) string {
	var b strings.Builder
	b.WriteString("debug_headers: true\nroutes:\n")
	for _, s := range []string{"a", "b", "c"} {
		fmt.Fprintf(&b, `  - name: %[1]s
    match: { path_prefix: /%[1]s }
    old: %[1]s-old
    new: %[1]s-new
    tenant: [{ header: X-Org-Id }]
    gray: { cohort: checkout, percent: %[2]s }
%[3]s`, s, percent, extra)
	}
	b.WriteString(`environments:
  header: X-Env
  overlays:
    feature-x: { c-old: c-fx, c-new: c-fx }
  tenants:
    feature-x: ["tagged-1"]
`)
	return b.String()
}

// hop is one service a chain went through and the side header of its hop.
type hop struct{ service, side string }

// runChain sends GET /a/price for tenant and returns the hops.
func runChain(t *testing.T, c *http.Client, g *gatewayProc, tenant string, hdr map[string]string) []hop {
	t.Helper()
	h := map[string]string{"X-Org-Id": tenant}
	for k, v := range hdr {
		h[k] = v
	}
	resp, body := do(t, c, "GET", g.url("/a/price"), nil, h)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("tenant %s: status %d: %s", tenant, resp.StatusCode, body)
	}
	var hops []hop
	for i, part := range strings.Split(resp.Header.Get(hdrHops), " | ") {
		name, side, _ := strings.Cut(strings.TrimSuffix(part, "]"), "[")
		if i == 0 {
			side = resp.Header.Get("X-Cutover-Side")
		}
		hops = append(hops, hop{name, side})
	}
	if len(hops) != 3 {
		t.Fatalf("tenant %s: hops %q", tenant, resp.Header.Get(hdrHops))
	}
	return hops
}

// chainSide returns "old" or "new" for a chain served on one side end to
// end, and fails the test for a mixed one.
func chainSide(t *testing.T, tenant string, hops []hop) string {
	t.Helper()
	side := strings.TrimPrefix(hops[0].service, "a-")
	for i, h := range hops {
		want := string(rune('a'+i)) + "-" + side
		if h.service != want {
			t.Fatalf("tenant %s: a mixed chain %v", tenant, hops)
		}
	}
	return side
}

func cohortTenant(i int) string { return fmt.Sprintf("org-%04d", i) }

// TestCohortChainsMoveWhole: at 30% every chain is all-old or all-new and
// new serves the tenants of the documented cohort bucket; a reload to 60%
// moves only old chains, whole; an entry-tagged tenant reaches C's overlay
// without sending the header.
func TestCohortChainsMoveWhole(t *testing.T) {
	t.Parallel()
	services, gw := cohortChain(t, false)
	path := t.TempDir() + "/cutover.yaml"
	writeFileAtomic(t, path, configHead+services+cohortRoutes("30", ""))
	g := startGatewayFile(t, path)
	gw.Store(&g.addr)
	c := newClient(t)

	const tenants = 600
	sweep := func(percent int) map[string]bool {
		isNew := map[string]bool{}
		for i := range tenants {
			tenant := cohortTenant(i)
			hops := runChain(t, c, g, tenant, nil)
			side := chainSide(t, tenant, hops)
			isNew[tenant] = side == "new"
			if want := bucketOf("checkout", tenant) < percent*100; isNew[tenant] != want {
				t.Fatalf("tenant %s (bucket %d) on %s at %d%%", tenant, bucketOf("checkout", tenant), side, percent)
			}
			// A decides by the tenant's bucket, B and C follow the baggage.
			if want := side + "; cohort=checkout; from=bucket"; hops[0].side != want {
				t.Fatalf("tenant %s: A's side header %q, want %q", tenant, hops[0].side, want)
			}
			for _, h := range hops[1:] {
				if want := side + "; cohort=checkout; from=baggage"; h.side != want {
					t.Fatalf("tenant %s: %s's side header %q, want %q", tenant, h.service, h.side, want)
				}
			}
		}
		return isNew
	}
	share := func(m map[string]bool) float64 {
		n := 0
		for _, v := range m {
			if v {
				n++
			}
		}
		return float64(n) / float64(len(m))
	}
	at30 := sweep(30)
	if s := share(at30); math.Abs(s-0.30) > 0.03 {
		t.Fatalf("new serves %.1f%% of chains at 30%%, want 30 ± 3", s*100)
	}
	m := g.metrics(t, nil)
	if got := m[`cutover_cohort_followed_total{cohort="checkout"}`]; got != 2*tenants {
		t.Errorf("cutover_cohort_followed_total = %v, want %d (B and C of every chain)", got, 2*tenants)
	}

	writeFileAtomic(t, path, configHead+services+cohortRoutes("60", ""))
	if resp, body := do(t, c, "POST", g.adminURL("/api/reload"), nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %d %s", resp.StatusCode, body)
	}
	at60 := sweep(60)
	for tenant := range at30 {
		if at30[tenant] && !at60[tenant] {
			t.Fatalf("tenant %s went back to old at 60%%", tenant)
		}
	}
	if s := share(at60); math.Abs(s-0.60) > 0.03 {
		t.Fatalf("new serves %.1f%% of chains at 60%%, want 60 ± 3", s*100)
	}
	t.Logf("new chains: %.1f%% at 30%%, %.1f%% at 60%%", share(at30)*100, share(at60)*100)

	// Entry tagging: the tenant never sends X-Env, yet C's overlay serves.
	hops := runChain(t, c, g, "tagged-1", nil)
	if hops[2].service != "c-featx" {
		t.Fatalf("tagged tenant's chain %v, want C's feature-x overlay", hops)
	}
	var body []byte
	waitFor(t, "the tagged tenant's call to be recorded", func() bool {
		_, body = do(t, c, "GET", g.adminURL("/api/records?route=a&tenant=tagged-1"), nil, nil)
		return strings.Contains(string(body), `"tenant": "tagged-1"`)
	})
	if !strings.Contains(strings.Join(strings.Fields(string(body)), ""), `["X-Env","feature-x"]`) {
		t.Errorf("the recorded call of the tagged tenant lacks the injected X-Env: %s", body)
	}
	var records struct {
		Records []struct {
			Cohort   string `json:"cohort"`
			Decision string `json:"decision"`
		} `json:"records"`
	}
	_, body = do(t, c, "GET", g.adminURL("/api/records?route=b&limit=1"), nil, nil)
	if err := json.Unmarshal(body, &records); err != nil || len(records.Records) != 1 ||
		records.Records[0].Cohort != "checkout" || records.Records[0].Decision != "baggage" {
		t.Errorf("B's recorded call: %v %s, want cohort checkout, decision baggage", err, body)
	}

	// A malformed or oversized baggage is ignored, never a failure.
	for _, bag := range []string{"cutover.cohort.checkout=new,=broken", strings.Repeat("k=v,", 300) + "cutover.cohort.checkout=new"} {
		resp, body := do(t, c, "GET", g.url("/b/price"), nil, map[string]string{"baggage": bag})
		if resp.StatusCode != http.StatusOK || strings.Contains(resp.Header.Get("X-Cutover-Side"), "from=baggage") {
			t.Errorf("baggage %.40q: %d %q %s", bag, resp.StatusCode, resp.Header.Get("X-Cutover-Side"), body)
		}
	}
	if m := g.metrics(t, nil); m[`cutover_baggage_ignored_total{reason="malformed"}`] != 1 || m[`cutover_baggage_ignored_total{reason="oversized"}`] != 1 {
		t.Errorf("cutover_baggage_ignored_total: malformed %v, oversized %v; want 1 and 1",
			m[`cutover_baggage_ignored_total{reason="malformed"}`], m[`cutover_baggage_ignored_total{reason="oversized"}`])
	}

	// cutover bucket --cohort computes the cohort's bucket.
	tenant := cohortTenant(7)
	code, out, errOut := runCLI(t, "bucket", "-c", path, "--cohort", "checkout", "--format", "json", tenant)
	var info struct {
		Bucket int    `json:"bucket"`
		Cohort string `json:"cohort"`
		Side   string `json:"side"`
	}
	if err := json.Unmarshal([]byte(out), &info); code != 0 || err != nil || info.Bucket != bucketOf("checkout", tenant) || info.Cohort != "checkout" {
		t.Errorf("cutover bucket --cohort: exit %d, %+v\n%s%s", code, info, out, errOut)
	}
}

// TestCohortRolloutRollsBackTogether: with a rollout on the cohort and a
// regression in C alone, A, B and C go back to old together.
func TestCohortRolloutRollsBackTogether(t *testing.T) {
	t.Parallel()
	services, gw := cohortChain(t, true)
	ro := `    shadow: { percent: 100 }
    rollout: { steps: [10, 50, 100], min_samples: 100, min_duration: 1s, max_diff_rate: 1%, max_p99_ratio: 50 }
`
	g := startGateway(t, services+cohortRoutes("0", ro))
	gw.Store(&g.addr)
	c := newClient(t)

	st := g.rollout(t, "c")
	if st.Route != "a" || st.Cohort != "checkout" || strings.Join(st.Members, ",") != "a,b,c" {
		t.Fatalf("C's rollout: route %q cohort %q members %v, want the cohort's unit a with a, b, c", st.Route, st.Cohort, st.Members)
	}
	i := 0
	waitFor(t, "the cohort's rollout to roll back", func() bool {
		for range 20 {
			chainSide(t, cohortTenant(i%600), runChain(t, c, g, cohortTenant(i%600), nil))
			i++
		}
		st = g.rollout(t, "b")
		return st.State == rollout.RolledBack
	})
	t.Logf("rolled back after %d chains: %s", i, st.Reason)
	for _, route := range []string{"a", "b", "c"} {
		if s := g.rollout(t, route); s.State != rollout.RolledBack || s.Percent != 0 {
			t.Errorf("%s: %s at %v%%, want rolled_back at 0", route, s.State, s.Percent)
		}
	}
	for _, r := range g.routes(t).Routes {
		if r.Percent == nil || *r.Percent != 0 {
			t.Errorf("/api/routes: %s at %v, want 0", r.Name, r.Percent)
		}
	}
	for n := range 100 {
		if side := chainSide(t, cohortTenant(n), runChain(t, c, g, cohortTenant(n), nil)); side != "old" {
			t.Fatalf("after the rollback tenant %s is served by %s", cohortTenant(n), side)
		}
	}
	// The report and the dashboard name the cohort a route moves with.
	if rep := g.report(t, "?route=c"); len(rep.Routes) != 1 || rep.Routes[0].Cohort != "checkout" {
		t.Errorf("/api/report?route=c: %+v, want route c in cohort checkout", rep.Routes)
	}
	browser := newBrowser(t)
	tb := newTab(t, browser)
	tb.do("the overview", chromedp.Navigate(g.adminURL("/ui/")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-route="b"] .cohort`)))
	if got := tb.text(`tr[data-route="b"] .cohort`); got != "cohort checkout" {
		t.Errorf("overview shows %q for route b, want cohort checkout", got)
	}
	tb.do("route c's page", chromedp.Navigate(g.adminURL("/ui/routes/c")),
		chromedp.WaitVisible(chromedp.CSS(`.page-head .cohort`)))
	if got := tb.text(`.page-head .cohort`); !strings.Contains(got, "cohort checkout (moves with a, b)") {
		t.Errorf("route c's page shows %q, want its cohort and the routes it moves with", got)
	}
	tb.check(g.admin)
}
