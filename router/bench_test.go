package router

import (
	"fmt"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/configs"
)

func BenchmarkMatch(b *testing.B) {
	tab := testTable()
	h := headerMap{}
	host, method, path := []byte("shop.example.com"), []byte("GET"), []byte("/api/orders/7")
	b.ReportAllocs()
	for b.Loop() {
		if tab.Match(host, method, path, h) == nil {
			b.Fatal("no match")
		}
	}
}

// BenchmarkMatch50Routes measures a table of the size a large migration
// carries, with the hit near the end of the scan.
func BenchmarkMatch50Routes(b *testing.B) {
	var routes []*configs.Route
	for i := range 50 {
		routes = append(routes, &configs.Route{Name: fmt.Sprint("r", i), Match: configs.Match{PathPrefix: fmt.Sprintf("/svc%02d", i)}, Upstream: "u"})
	}
	tab := New(routes, configs.Environments{})
	h := headerMap{}
	host, method, path := []byte("h"), []byte("GET"), []byte("/svc49/items/3")
	b.ReportAllocs()
	for b.Loop() {
		if tab.Match(host, method, path, h) == nil {
			b.Fatal("no match")
		}
	}
}

// BenchmarkDecideHeaderTenant is tenant extraction from a header plus the
// gray decision, on fasthttp's real request header.
func BenchmarkDecideHeaderTenant(b *testing.B) {
	tab := grayTable("10")
	var h fasthttp.RequestHeader
	h.SetMethod("GET")
	h.SetRequestURI("/api/orgs/42/orders?page=2")
	h.Set("X-Org-Id", "tenant-81723")
	h.Set("Accept", "application/json")
	h.Set("User-Agent", "bench")
	route := tab.Route("orders")
	req := Request{Headers: &h, Path: []byte("/api/orgs/42/orders"), URI: h.RequestURI(), ChainID: []byte("4bf92f3577b34da6a3ce929d0e0e4736")}
	var d Decision
	b.ReportAllocs()
	for b.Loop() {
		tab.Decide(route, &req, &d)
		if d.Source != SourceHeader {
			b.Fatal(d.Source)
		}
	}
}

// BenchmarkDecideJSONTenant reads the tenant from a 1 KiB JSON body: the
// body is validated, then the path is read.
func BenchmarkDecideJSONTenant(b *testing.B) {
	tab := New([]*configs.Route{{
		Name: "orders", Old: "v1", New: "v2",
		Tenant: []*configs.TenantSource{{Header: "X-Org-Id"}, {JSON: "user.orgId"}},
		Gray:   &configs.Gray{Percent: pct("10")},
	}}, configs.Environments{})
	body := []byte(`{"user":{"name":"Ada Lovelace","orgId":"tenant-81723","roles":["admin","billing"]},"items":[`)
	for i := 0; len(body) < 1000; i++ {
		body = fmt.Appendf(body, `{"sku":"SKU-%04d","qty":%d,"price":%d.99},`, i, i%7+1, i*3)
	}
	body = append(body[:len(body)-1], "]}"...)
	var h fasthttp.RequestHeader
	h.SetMethod("POST")
	h.SetContentType("application/json")
	route := tab.Route("orders")
	req := Request{Headers: &h, Path: []byte("/api/orders"), Body: body, ContentType: h.ContentType(), ChainID: []byte("4bf92f3577b34da6a3ce929d0e0e4736")}
	var d Decision
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		tab.Decide(route, &req, &d)
		if d.Source != SourceJSON {
			b.Fatal(d.Source)
		}
	}
}

// BenchmarkDecideCohortBaggage is the decision of a cohort hop without a
// tenant: the tenant lookup misses, the baggage member is found among
// others, and the side follows it.
func BenchmarkDecideCohortBaggage(b *testing.B) {
	tab := cohortTable("30")
	var h fasthttp.RequestHeader
	h.SetMethod("GET")
	h.SetRequestURI("/b/orders?page=2")
	h.Set("Accept", "application/json")
	h.Set("User-Agent", "bench")
	h.Set("baggage", "userId=alice,cutover.cohort.checkout=new,isProduction=false")
	route := tab.Route("b")
	req := Request{Headers: &h, Path: []byte("/b/orders"), URI: h.RequestURI(), ChainID: []byte("4bf92f3577b34da6a3ce929d0e0e4736")}
	var d Decision
	b.ReportAllocs()
	for b.Loop() {
		tab.Decide(route, &req, &d)
		if d.Reason != ReasonBaggage {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkAppendBaggage writes a cohort hop's baggage over an incoming
// header of three members.
func BenchmarkAppendBaggage(b *testing.B) {
	in := []byte("userId=alice,cutover.cohort.checkout=old,isProduction=false")
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendBaggage(buf[:0], in, "checkout", SideNew)
	}
}
