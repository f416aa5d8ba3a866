package router

import (
	"testing"

	"github.com/cutover/cutover/configs"
)

// headerMap stands in for fasthttp's request header; values are bytes so
// that Peek itself allocates nothing.
type headerMap map[string][]byte

func (h headerMap) Peek(key string) []byte { return h[key] }

func testTable() *Table {
	return New([]*configs.Route{
		{Name: "catch-all", Upstream: "default"},
		{Name: "api", Match: configs.Match{PathPrefix: "/api"}, Upstream: "api"},
		{Name: "orders", Match: configs.Match{PathPrefix: "/api/orders/", Methods: []string{"GET", "POST"}}, Old: "order-v1", New: "order-v2"},
		{Name: "orders-exact", Match: configs.Match{Path: "/api/orders/export"}, Upstream: "export"},
		{Name: "orders-beta", Match: configs.Match{PathPrefix: "/api/orders", Headers: map[string]string{"X-Beta": "1"}}, Upstream: "beta"},
		{Name: "admin-host", Match: configs.Match{Host: "Admin.Example.com"}, Upstream: "admin"},
		{Name: "admin-host-api", Match: configs.Match{Host: "admin.example.com", PathPrefix: "/api"}, Upstream: "admin-api"},
	}, configs.Environments{})
}

func TestMatch(t *testing.T) {
	tab := testTable()
	tests := []struct {
		name, host, method, path string
		headers                  headerMap
		want                     string
	}{
		{"root falls to catch-all", "shop.example.com", "GET", "/", nil, "catch-all"},
		{"prefix matches itself", "shop", "GET", "/api", nil, "api"},
		{"prefix matches below", "shop", "GET", "/api/users/1", nil, "api"},
		{"prefix is segment-aware", "shop", "GET", "/apiary", nil, "catch-all"},
		{"longest prefix wins", "shop", "GET", "/api/orders/7", nil, "orders"},
		{"trailing slash in prefix still matches the bare path", "shop", "GET", "/api/orders", nil, "orders"},
		{"method not listed falls back", "shop", "DELETE", "/api/orders/7", nil, "api"},
		{"exact path beats prefix", "shop", "GET", "/api/orders/export", nil, "orders-exact"},
		{"exact path is exact", "shop", "GET", "/api/orders/export/2", nil, "orders"},
		{"headers beat no headers at the same prefix", "shop", "GET", "/api/orders/7", headerMap{"X-Beta": []byte("1")}, "orders-beta"},
		{"header value must be exact", "shop", "GET", "/api/orders/7", headerMap{"X-Beta": []byte("2")}, "orders"},
		{"host beats any path", "admin.example.com", "GET", "/x", nil, "admin-host"},
		{"host is case-insensitive and ignores the port", "ADMIN.example.com:8443", "GET", "/x", nil, "admin-host"},
		{"host and path beat host alone", "admin.example.com", "GET", "/api/x", nil, "admin-host-api"},
		{"ipv6 host without port", "[::1]", "GET", "/api", nil, "api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.headers
			if h == nil {
				h = headerMap{}
			}
			r := tab.Match([]byte(tt.host), []byte(tt.method), []byte(tt.path), h)
			if r == nil {
				t.Fatalf("no route, want %s", tt.want)
			}
			if r.Name != tt.want {
				t.Errorf("route %s, want %s", r.Name, tt.want)
			}
		})
	}
}

func TestNoMatch(t *testing.T) {
	tab := New([]*configs.Route{{Name: "api", Match: configs.Match{PathPrefix: "/api"}, Upstream: "api"}}, configs.Environments{})
	if r := tab.Match([]byte("h"), []byte("GET"), []byte("/other"), headerMap{}); r != nil {
		t.Fatalf("matched %s, want none", r.Name)
	}
}

func TestRoutesKeepFileOrder(t *testing.T) {
	tab := testTable()
	for i, r := range tab.Routes() {
		if r.Index != i {
			t.Fatalf("route %s has index %d at position %d", r.Name, r.Index, i)
		}
	}
	if tab.Route("missing") != nil {
		t.Error("Route(missing) is not nil")
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	tab := testTable()
	h := headerMap{"X-Beta": []byte("1")}
	host, method, path := []byte("shop"), []byte("GET"), []byte("/api/orders/7")
	if n := testing.AllocsPerRun(100, func() { tab.Match(host, method, path, h) }); n != 0 {
		t.Fatalf("Match allocates %.0f times per call", n)
	}
}
