package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDemo runs the README's first command the way a newcomer would and
// checks that the tour shows what it promises.
func TestDemo(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCLI(t, "demo", "--requests", "300")
	if code != 0 {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"upstream traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-", // an incoming chain is continued
		"X-Chain-Id 4bf92f3577b34da6a3ce929d0e0e4736",
		`"reason":"refused","status":502,"chain_id":"`,
		`"reason":"no_route","status":404,"chain_id":"`,
		"300 requests in",
		"statuses map[200:300]",
		"X-Org-Id: acme    -> order-v2/a (X-Cutover-Side: new; reason listed)",
		// The recorded three-service chain, innermost call failing.
		"✗ GET /checkout/7 → 502  checkout (upstream ",
		"└─ ✗ POST /api/orders/7/pay → 502  orders (old ",
		"└─ ✗ POST /api/payments/charge → 502 refused  payments (upstream ",
		"X-Org-Id: globex  -> order-v1/", "(X-Cutover-Side: old; reason excluded)",
		"down (skipped after a failed connection)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q\n%s", want, stdout)
		}
	}
	// Load: tenants org-(i mod 500) for i in 1..300. New serves exactly the
	// tenants whose documented bucket is below 2000; old's two instances
	// share the rest evenly.
	wantNew := 0
	for i := 1; i <= 300; i++ {
		if bucketOf("orders", fmt.Sprint("org-", i%500)) < 2000 {
			wantNew++
		}
	}
	m := regexp.MustCompile(`served by: order-v1/a (\d+), order-v1/b (\d+), order-v2/a (\d+)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("demo output lacks the load's split\n%s", stdout)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	n, _ := strconv.Atoi(m[3])
	if n != wantNew || a+b != 300-wantNew || a-b > 1 || b-a > 1 {
		t.Errorf("load served by old a %d, old b %d, new %d; want new %d and old split evenly", a, b, n, wantNew)
	}
	// The malformed trace ID was replaced by a fresh, valid one.
	if !regexp.MustCompile(`all-zero trace ID; upstream got 00-[0-9a-f]{32}-[0-9a-f]{16}-01`).MatchString(stdout) ||
		strings.Contains(stdout, "upstream got 00-00000000000000000000000000000000") {
		t.Errorf("malformed trace header not replaced:\n%s", stdout)
	}
}
