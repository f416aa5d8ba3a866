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
	checkDemoReport(t, stdout)
	// The malformed trace ID was replaced by a fresh, valid one.
	if !regexp.MustCompile(`all-zero trace ID; upstream got 00-[0-9a-f]{32}-[0-9a-f]{16}-01`).MatchString(stdout) ||
		strings.Contains(stdout, "upstream got 00-00000000000000000000000000000000") {
		t.Errorf("malformed trace header not replaced:\n%s", stdout)
	}
}

// checkDemoReport checks the demo's diff report against the differences
// order-v2 was built with (demo/orders.go), for the orders the tour asked
// for: 7, 8, 9 and 1 four times, then 1 to 300.
func checkDemoReport(t *testing.T, stdout string) {
	t.Helper()
	ids := []int{7, 8, 9, 1, 1, 1, 1}
	for i := 1; i <= 300; i++ {
		ids = append(ids, i)
	}
	count := func(mod int) int {
		n := 0
		for _, id := range ids {
			if id%mod == 0 {
				n++
			}
		}
		return n
	}
	want := map[string]string{
		"items.#.price type":     fmt.Sprint(count(4)),
		"tags order":             fmt.Sprint(count(5)),
		"total value":            fmt.Sprint(count(10)),
		"customer.email missing": fmt.Sprint(count(50)),
		"meta.generatedAt value": fmt.Sprint(len(ids)) + " noise",
		"meta.requestId value":   fmt.Sprint(len(ids)) + " noise",
	}
	row := regexp.MustCompile(`(?m)^\s+(\S+)\s+(value|type|missing|extra|order|length|status|header|body)\s+(\d+)\s+\S+\s+\S+(\s+noise)?$`)
	got := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(stdout, -1) {
		got[m[1]+" "+m[2]] = strings.TrimSpace(m[3] + " " + strings.TrimSpace(m[4]))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("demo report row %q: %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("demo report rows %v, want exactly %v", got, want)
	}
	if !strings.Contains(stdout, `suggested: diff: { ignore: ["meta.generatedAt", "meta.requestId"] }`) {
		t.Errorf("demo report lacks the suggested ignore line\n%s", stdout)
	}
	if !regexp.MustCompile(fmt.Sprintf(`orders .*compared %d .*differing %d `, len(ids), countAny(ids))).MatchString(stdout) {
		t.Errorf("demo report's route line does not say %d compared and %d differing\n%s", len(ids), countAny(ids), stdout)
	}
}

// countAny counts the demo orders with a real difference: a multiple of
// 4, 5, 10 or 50.
func countAny(ids []int) int {
	n := 0
	for _, id := range ids {
		if id%4 == 0 || id%5 == 0 {
			n++
		}
	}
	return n
}
