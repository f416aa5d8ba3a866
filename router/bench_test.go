package router

import (
	"fmt"
	"testing"

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
	tab := New(routes)
	h := headerMap{}
	host, method, path := []byte("h"), []byte("GET"), []byte("/svc49/items/3")
	b.ReportAllocs()
	for b.Loop() {
		if tab.Match(host, method, path, h) == nil {
			b.Fatal("no match")
		}
	}
}
