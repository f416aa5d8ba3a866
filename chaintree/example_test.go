package chaintree_test

import (
	"fmt"
	"os"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/chaintree"
	"github.com/cutover/cutover/store"
)

// chainCalls is one checkout: the gateway's call to orders, which called
// users and payments through the gateway; payments' upstream was down.
func chainCalls() []*store.Record {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	hop := func(span, parent byte, method, uri, route, side, target string, at, took time.Duration, status int, errName string) *store.Record {
		r := &store.Record{
			Chain: chain.TraceID{0x4b, 0xf9}, Span: chain.SpanID{7: span}, Parent: chain.SpanID{7: parent},
			Route: route, Side: side, Target: target,
			Start: t0.Add(at), Latency: took, Status: status, Error: errName,
		}
		r.SetMethod([]byte(method))
		r.SetURI([]byte(uri))
		return r
	}
	return []*store.Record{
		// In the order the calls finished, as the store may return them.
		hop(2, 1, "GET", "/api/users/42", "users", "upstream", "127.0.0.1:9200", 1200*time.Microsecond, 2100*time.Microsecond, 200, ""),
		hop(3, 1, "POST", "/api/pay", "payments", "new", "127.0.0.1:9300", 3500*time.Microsecond, 5*time.Millisecond, 502, "bad_gateway"),
		hop(1, 0, "POST", "/api/orders", "orders", "old", "127.0.0.1:9001", 0, 12300*time.Microsecond, 502, ""),
	}
}

func ExamplePrint() {
	recs := chainCalls()
	if err := chaintree.Print(os.Stdout, chaintree.Build(recs), false); err != nil {
		fmt.Println(err)
	}
	// Output:
	// ✗ POST /api/orders → 502  orders (old 127.0.0.1:9001) 12.3ms  +0.0ms
	// ├─ GET /api/users/42 → 200  users (upstream 127.0.0.1:9200) 2.1ms  +1.2ms
	// └─ ✗ POST /api/pay → 502 bad_gateway  payments (new 127.0.0.1:9300) 5.0ms  +3.5ms
}

func ExampleBuild() {
	roots := chaintree.Build(chainCalls())
	var show func(n *chaintree.Node, depth int)
	show = func(n *chaintree.Node, depth int) {
		fmt.Printf("%*s%s %s failed=%v\n", 2*depth, "", n.Record.Method, n.Record.URI, n.Record.Failed())
		for _, c := range n.Children {
			show(c, depth+1)
		}
	}
	for _, r := range roots {
		show(r, 0)
	}
	// Output:
	// POST /api/orders failed=true
	//   GET /api/users/42 failed=false
	//   POST /api/pay failed=true
}
