package router

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/cutover/cutover/configs"
)

func pct(s string) configs.Percent {
	p, err := configs.ParsePercent(s)
	if err != nil {
		panic(err)
	}
	return p
}

// grayTable has one migration route with every tenant source and the
// feature-x overlay, plus a plain route and an ungated migration route.
func grayTable(percent string) *Table {
	return New([]*configs.Route{
		{
			Name:  "orders",
			Match: configs.Match{PathPrefix: "/api/orgs"},
			Old:   "order-v1", New: "order-v2",
			Tenant: []*configs.TenantSource{
				{Header: "X-Org-Id"}, {Query: "orgId"}, {Cookie: "org"}, {JSON: "user.orgId"}, {PathSegment: 3},
			},
			Gray: &configs.Gray{Tenants: []string{"1001", "both"}, Exclude: []string{"42", "both"}, Percent: pct(percent)},
		},
		{Name: "static", Match: configs.Match{PathPrefix: "/static"}, Upstream: "cdn", Tenant: []*configs.TenantSource{{Header: "X-Org-Id"}}},
		{Name: "ungated", Match: configs.Match{PathPrefix: "/ungated"}, Old: "u-v1", New: "u-v2"},
	}, configs.Environments{
		Header:   "X-Env",
		Overlays: map[string]map[string]string{"feature-x": {"order-v2": "order-v2-featx", "cdn": "cdn-featx"}},
	})
}

// tenantAt returns a tenant whose bucket on route orders is below (want
// new) or at least (want old) basis, so tests do not depend on hash values.
func tenantAt(t *testing.T, basis int, wantNew bool) string {
	t.Helper()
	for i := range 100000 {
		tenant := "t" + strconv.Itoa(i)
		if b := Bucket("orders", tenant); (b < basis) == wantNew {
			return tenant
		}
	}
	t.Fatal("no tenant found")
	return ""
}

func decide(tab *Table, route string, req *Request) Decision {
	var d Decision
	tab.Decide(tab.Route(route), req, &d)
	return d
}

func TestDecidePrecedence(t *testing.T) {
	tab := grayTable("10")
	newTenant, oldTenant := tenantAt(t, 1000, true), tenantAt(t, 1000, false)
	chainID := []byte("4bf92f3577b34da6a3ce929d0e0e4736")
	tests := []struct {
		name        string
		route       string
		headers     headerMap
		wantSide    Side
		wantService string
		wantReason  Reason
		wantEnv     string
		wantUnknown bool
	}{
		{"excluded tenant is old", "orders", headerMap{"X-Org-Id": []byte("42")}, SideOld, "order-v1", ReasonExcluded, "", false},
		{"listed tenant is new", "orders", headerMap{"X-Org-Id": []byte("1001")}, SideNew, "order-v2", ReasonListed, "", false},
		{"exclude wins over tenants", "orders", headerMap{"X-Org-Id": []byte("both")}, SideOld, "order-v1", ReasonExcluded, "", false},
		{"bucket below percent is new", "orders", headerMap{"X-Org-Id": []byte(newTenant)}, SideNew, "order-v2", ReasonBucket, "", false},
		{"bucket at or above percent is old", "orders", headerMap{"X-Org-Id": []byte(oldTenant)}, SideOld, "order-v1", ReasonBucket, "", false},
		{"no tenant buckets the chain", "orders", headerMap{}, sideFor(Bucket("orders", string(chainID)), 1000), "", ReasonChain, "", false},
		{"overlay replaces the chosen new service", "orders", headerMap{"X-Org-Id": []byte("1001"), "X-Env": []byte("feature-x")}, SideNew, "order-v2-featx", ReasonListed, "feature-x", false},
		{"overlay without a replacement keeps the baseline", "orders", headerMap{"X-Org-Id": []byte("42"), "X-Env": []byte("feature-x")}, SideOld, "order-v1", ReasonExcluded, "feature-x", false},
		{"unknown environment falls back and is flagged", "orders", headerMap{"X-Org-Id": []byte("1001"), "X-Env": []byte("nope")}, SideNew, "order-v2", ReasonListed, "", true},
		{"plain route serves its upstream", "static", headerMap{"X-Org-Id": []byte("1001")}, SideUpstream, "cdn", ReasonPlain, "", false},
		{"overlay applies to plain routes too", "static", headerMap{"X-Env": []byte("feature-x")}, SideUpstream, "cdn-featx", ReasonPlain, "feature-x", false},
		{"migration route without gray rules is old", "ungated", headerMap{"X-Org-Id": []byte("1001")}, SideOld, "u-v1", ReasonNoGray, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decide(tab, tt.route, &Request{Headers: tt.headers, Path: []byte("/x"), ChainID: chainID})
			if tt.wantService == "" {
				tt.wantService = map[Side]string{SideOld: "order-v1", SideNew: "order-v2"}[tt.wantSide]
			}
			if d.Side != tt.wantSide || d.Service != tt.wantService || d.Reason != tt.wantReason || d.Env != tt.wantEnv || d.EnvUnknown != tt.wantUnknown {
				t.Errorf("got side %v service %q reason %v env %q unknown %v; want %v %q %v %q %v",
					d.Side, d.Service, d.Reason, d.Env, d.EnvUnknown, tt.wantSide, tt.wantService, tt.wantReason, tt.wantEnv, tt.wantUnknown)
			}
		})
	}
}

func TestChainBucketAgreesAcrossHops(t *testing.T) {
	tab := grayTable("50")
	for i := range 200 {
		id := []byte(fmt.Sprintf("%032x", i*7919))
		a := decide(tab, "orders", &Request{ChainID: id, Path: []byte("/a")})
		b := decide(tab, "orders", &Request{ChainID: id, Path: []byte("/b"), URI: []byte("/b?x=1")})
		if a.Side != b.Side || a.Bucket != b.Bucket || a.Reason != ReasonChain {
			t.Fatalf("chain %s: hops disagree: %+v vs %+v", id, a, b)
		}
	}
}

func TestTenantSources(t *testing.T) {
	tab := grayTable("0")
	big := `{"user":{"orgId":"big"},"pad":"` + strings.Repeat("x", configs.DefaultTenantJSONMax) + `"}`
	tests := []struct {
		name       string
		req        Request
		wantTenant string
		wantSource Source
	}{
		{"header", Request{Headers: headerMap{"X-Org-Id": []byte("h1")}, URI: []byte("/?orgId=q1")}, "h1", SourceHeader},
		{"query when no header", Request{Headers: headerMap{}, URI: []byte("/api/orgs/9?a=1&orgId=q1&b=2")}, "q1", SourceQuery},
		{"query percent-decoded", Request{URI: []byte("/x?orgId=acme%20corp+eu")}, "acme corp eu", SourceQuery},
		{"query name must match whole", Request{URI: []byte("/x?xorgId=no&orgIdx=no")}, "", SourceNone},
		{"query ignores fragment", Request{URI: []byte("/x?orgId=f1#frag")}, "f1", SourceQuery},
		{"empty query value falls through", Request{URI: []byte("/x?orgId=&")}, "", SourceNone},
		{"cookie", Request{Headers: headerMap{"Cookie": []byte("a=1; org=c1; b=2")}}, "c1", SourceCookie},
		{"quoted cookie", Request{Headers: headerMap{"Cookie": []byte(`org="c2"`)}}, "c2", SourceCookie},
		{"cookie name must match whole", Request{Headers: headerMap{"Cookie": []byte("xorg=no")}}, "", SourceNone},
		{"json body", Request{Body: []byte(`{"user":{"orgId":"j1"}}`), ContentType: []byte("application/json; charset=utf-8")}, "j1", SourceJSON},
		{"json number", Request{Body: []byte(`{"user":{"orgId":1234}}`), ContentType: []byte("application/vnd.api+json")}, "1234", SourceJSON},
		{"json object is not a tenant", Request{Body: []byte(`{"user":{"orgId":{"x":1}}}`), ContentType: []byte("application/json"), Path: []byte("/api/orgs/p1")}, "p1", SourcePath},
		{"malformed json falls through to the path", Request{Body: []byte(`{"user":{"orgId":"j1"}`), ContentType: []byte("application/json"), Path: []byte("/api/orgs/p2/orders")}, "p2", SourcePath},
		{"json over the size cap falls through", Request{Body: []byte(big), ContentType: []byte("application/json"), Path: []byte("/api/orgs/p3")}, "p3", SourcePath},
		{"non-JSON content type is not parsed", Request{Body: []byte(`{"user":{"orgId":"j1"}}`), ContentType: []byte("text/plain"), Path: []byte("/api/orgs/p4")}, "p4", SourcePath},
		{"path segment missing", Request{Path: []byte("/api/orgs")}, "", SourceNone},
		{"path segment empty", Request{Path: []byte("/api/orgs//x")}, "", SourceNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.ChainID = []byte("4bf92f3577b34da6a3ce929d0e0e4736")
			d := decide(tab, "orders", &req)
			if string(d.Tenant) != tt.wantTenant || d.Source != tt.wantSource {
				t.Errorf("tenant %q from %v; want %q from %v", d.Tenant, d.Source, tt.wantTenant, tt.wantSource)
			}
		})
	}
}

func TestPathSegment(t *testing.T) {
	for _, tt := range []struct {
		path string
		n    int
		want string
	}{
		{"/api/orgs/42/orders", 1, "api"}, {"/api/orgs/42/orders", 3, "42"}, {"/api/orgs/42/orders", 4, "orders"},
		{"/api/orgs/42/orders", 5, ""}, {"/api/orgs/42/", 3, "42"}, {"/", 1, ""}, {"", 1, ""},
	} {
		if got := string(pathSegment([]byte(tt.path), tt.n)); got != tt.want {
			t.Errorf("pathSegment(%q, %d) = %q, want %q", tt.path, tt.n, got, tt.want)
		}
	}
}

// TestStickyShare checks, over 1,000,000 random tenants, that the share
// served by new is within ±0.1 percentage points of the percent.
func TestStickyShare(t *testing.T) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(1, 2))
	buckets := make([]int, n)
	tenant := make([]byte, 0, 16)
	for i := range buckets {
		tenant = strconv.AppendUint(tenant[:0], rng.Uint64(), 36)
		buckets[i] = bucket([]byte("orders:"), tenant)
	}
	for _, p := range []string{"0.01", "1", "10", "50"} {
		basis := pct(p).Basis()
		served := 0
		for _, b := range buckets {
			if b < basis {
				served++
			}
		}
		share := float64(served) / n * 100
		want := float64(basis) / 100
		if share < want-0.1 || share > want+0.1 {
			t.Errorf("percent %s%%: new serves %.3f%% of tenants", p, share)
		}
		t.Logf("percent %s%%: new serves %.4f%% of %d tenants", p, share, n)
	}
}

// TestRaisingPercentOnlyAdds runs real decisions at rising percents: a
// tenant served by new at p is served by new at every q > p.
func TestRaisingPercentOnlyAdds(t *testing.T) {
	percents := []string{"0", "0.01", "1", "2", "10", "20", "40", "50", "80", "99.99", "100"}
	tables := make([]*Table, len(percents))
	base := grayTable("0")
	for i, p := range percents {
		var err error
		if tables[i], err = base.WithPercent("orders", pct(p).Basis()); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	counts := make([]int, len(percents))
	for range 100_000 {
		h := headerMap{"X-Org-Id": []byte(strconv.FormatUint(rng.Uint64(), 36))}
		wasNew := false
		for i, tab := range tables {
			isNew := decide(tab, "orders", &Request{Headers: h}).Side == SideNew
			if wasNew && !isNew {
				t.Fatalf("tenant %s is new at %s%% but old at %s%%", h["X-Org-Id"], percents[i-1], percents[i])
			}
			if isNew {
				counts[i]++
			}
			wasNew = isNew
		}
	}
	if counts[0] != 0 || counts[len(counts)-1] != 100_000 {
		t.Errorf("0%% served %d and 100%% served %d of 100000", counts[0], counts[len(counts)-1])
	}
}

func TestBucketIsDocumentedHash(t *testing.T) {
	// Reference values from the xxHash project's own tool:
	// printf 'orders:acme' | xxhsum -H1 prints 0cf138c0aa356843.
	for _, ref := range []struct {
		tenant string
		sum    uint64
	}{{"acme", 0x0cf138c0aa356843}, {"1001", 0x11350406cb9d1e45}} {
		if got, want := Bucket("orders", ref.tenant), int(ref.sum%Buckets); got != want {
			t.Errorf("Bucket(orders, %s) = %d, want %d", ref.tenant, got, want)
		}
	}
	tab := grayTable("50")
	for _, tenant := range []string{"acme", "1001x", "ü-tenant", strings.Repeat("t", 300)} {
		d := decide(tab, "orders", &Request{Headers: headerMap{"X-Org-Id": []byte(tenant)}})
		if d.Bucket != Bucket("orders", tenant) {
			t.Errorf("tenant %q: Decide bucket %d, Bucket %d", tenant, d.Bucket, Bucket("orders", tenant))
		}
	}
}

func TestWithPercent(t *testing.T) {
	tab := grayTable("10")
	nt, err := tab.WithPercent("orders", 2000)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Route("orders").Percent() != 1000 || nt.Route("orders").Percent() != 2000 {
		t.Errorf("percent: old table %d, new table %d", tab.Route("orders").Percent(), nt.Route("orders").Percent())
	}
	if r := nt.Match([]byte("h"), []byte("GET"), []byte("/api/orgs/1"), headerMap{}); r != nt.Route("orders") {
		t.Errorf("the new table matches %v, not its own route", r)
	}
	if nt.Route("static") != tab.Route("static") {
		t.Error("untouched routes should be shared")
	}
	for _, bad := range []struct {
		name  string
		basis int
	}{{"nope", 10}, {"static", 10}, {"orders", 10001}, {"orders", -1}} {
		if _, err := tab.WithPercent(bad.name, bad.basis); err == nil {
			t.Errorf("WithPercent(%q, %d) succeeded", bad.name, bad.basis)
		}
	}
}

func TestExplainAgreesWithDecide(t *testing.T) {
	tab := grayTable("25")
	for i := range 2000 {
		tenant := "org-" + strconv.Itoa(i)
		for _, env := range []string{"", "feature-x", "nope"} {
			h := headerMap{"X-Org-Id": []byte(tenant)}
			if env != "" {
				h["X-Env"] = []byte(env)
			}
			d := decide(tab, "orders", &Request{Headers: h})
			e := tab.Explain(tab.Route("orders"), tenant, env)
			if d.Side != e.Side || d.Service != e.Service || d.Bucket != e.Bucket || d.Reason != e.Reason || d.Env != e.Env || d.EnvUnknown != e.EnvUnknown {
				t.Fatalf("tenant %s env %q: Decide %+v, Explain %+v", tenant, env, d, e)
			}
		}
	}
}
