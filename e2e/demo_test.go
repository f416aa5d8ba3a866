package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the README's first command the way a newcomer would and
// checks that the tour shows what it promises.
//
// It runs alone, before the parallel tests start: the tour's clean
// rollout is gated on new's p99 against old's, and on loopback both
// measure the machine's scheduler, which the browser and load tests would
// otherwise decide.
func TestDemo(t *testing.T) {
	code, stdout, stderr := runDemo(t, "demo", "--requests", "300")
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
		// The replay step: recorded orders against order-v2, an old baseline.
		"11. Replay", "calls    ", "sent, 0 errors",
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
	checkDemoRollout(t, stdout)
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
	// Step 8's report, not the replay's of step 11.
	if start, end := strings.Index(stdout, "8. Shadowing"), strings.Index(stdout, "9. Automatic rollout"); start >= 0 && end > start {
		stdout = stdout[start:end]
	}
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

// demoTimeout bounds the demo's run: its rollout step stops its load
// within 60s by itself, and takes about 10s on a quiet machine.
const demoTimeout = 2 * time.Minute

// runDemo is runCLI with room for the rollout step.
func runDemo(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIWithin(t, demoTimeout, args...)
}

// transition is one rollout transition the demo printed, with its reason.
type transition struct {
	route, from, to string
	step            int
	percent         float64
	reason          string
}

// checkDemoRollout checks the rollout step against the services it
// drives (demo/rollout.go): the clean prices rewrite goes through every
// default step to 100%, the stock rewrite that misses "reserved" on one
// item in 25 is rolled back on its diff rate.
func checkDemoRollout(t *testing.T, stdout string) {
	t.Helper()
	start := strings.Index(stdout, "9. Automatic rollout")
	end := strings.Index(stdout, "10. The admin API")
	if start < 0 || end < start {
		t.Fatalf("demo output lacks the rollout step before the admin API step\n%s", stdout)
	}
	section := stdout[start:end]
	head := regexp.MustCompile(`^\s+\d+\.\ds\s+(prices|stock)\s+(\w+) → (\w+)\s+step (\d+), ([\d.]+)%$`)
	var trs []transition
	for _, line := range strings.Split(section, "\n") {
		if m := head.FindStringSubmatch(line); m != nil {
			step, _ := strconv.Atoi(m[4])
			pc, _ := strconv.ParseFloat(m[5], 64)
			trs = append(trs, transition{route: m[1], from: m[2], to: m[3], step: step, percent: pc})
			continue
		}
		// A reason follows its transition, indented by 12 spaces.
		if n := len(trs); n > 0 && strings.HasPrefix(line, strings.Repeat(" ", 12)) {
			trs[n-1].reason += " " + strings.TrimSpace(line)
		}
	}
	byRoute := map[string][]transition{}
	for _, tr := range trs {
		byRoute[tr.route] = append(byRoute[tr.route], tr)
	}

	prices := byRoute["prices"]
	var percents []float64
	for _, tr := range prices {
		if tr.to == "rolled_back" {
			t.Errorf("the clean prices rollout was rolled back: %s", tr.reason)
		}
		if n := len(percents); n == 0 || percents[n-1] != tr.percent {
			percents = append(percents, tr.percent)
		}
	}
	if want := []float64{1, 2, 10, 20, 40, 80, 100}; !slices.Equal(percents, want) {
		t.Errorf("prices went through the percents %v, want %v\n%s", percents, want, section)
	}
	if n := len(prices); n == 0 || prices[n-1].to != "promoted" || prices[n-1].percent != 100 || prices[n-1].step != 7 {
		t.Errorf("prices did not end promoted at step 7, 100%%: %+v\n%s", prices, section)
	}

	stock := byRoute["stock"]
	n := len(stock)
	if n == 0 || stock[n-1].to != "rolled_back" || stock[n-1].percent != 0 {
		t.Fatalf("stock did not end rolled back to 0%%: %+v\n%s", stock, section)
	}
	reason := stock[n-1].reason
	for _, want := range []string{"failed: diff rate", "above the 2% limit", "top paths: reserved missing"} {
		if !strings.Contains(reason, want) {
			t.Errorf("stock's rollback reason %q lacks %q", reason, want)
		}
	}
	// The gate read the rate stock-v2 was built with: 1 item in 25.
	if m := regexp.MustCompile(`diff rate \S+ \((\d+) of (\d+) pairs\)`).FindStringSubmatch(reason); m == nil {
		t.Errorf("stock's rollback reason %q does not count its pairs", reason)
	} else {
		k, _ := strconv.Atoi(m[1])
		pairs, _ := strconv.Atoi(m[2])
		if rate := float64(k) / float64(pairs); rate < 0.03 || rate > 0.06 {
			t.Errorf("stock's diff rate %d of %d pairs, want about 4%%", k, pairs)
		}
	}

	// The summary, with its line breaks folded.
	flat := strings.Join(strings.Fields(section), " ")
	for _, want := range []string{
		"prices: promoted, new serves 100%. Its rollout went 1% → 2% → 10% → 20% → 40% → 80% → 100% in",
		"Its pairs differed in meta.generatedAt and meta.requestId, and so did the",
		"Non-noise differences since the start: 0 of",
		"stock: rolled back, new serves 0% after",
		"cutover rollout status --admin 127.0.0.1:",
		"cutover rollout events stock --admin 127.0.0.1:",
		"cutover rollout resume stock --admin 127.0.0.1:",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("the rollout step lacks %q\n%s", want, section)
		}
	}
	// The sample shown is one of the broken items, and the curl line and
	// the reason name it.
	m := regexp.MustCompile(`Sample ([0-9a-f]{16}): GET /api/stock/(\d+) \(tenant org-\d+\) differed in reserved missing`).FindStringSubmatch(flat)
	if m == nil {
		t.Fatalf("the rollout step shows no sample of stock's difference\n%s", section)
	}
	if item, _ := strconv.Atoi(m[2]); item%25 != 0 {
		t.Errorf("sample of item %d: stock-v2 breaks only every 25th item", item)
	}
	if !strings.Contains(reason, "(sample "+m[1]+")") || !strings.Contains(flat, "/api/samples/"+m[1]) {
		t.Errorf("sample %s is not the one the reason names, or has no curl line\n%s", m[1], section)
	}
	if !regexp.MustCompile(`old \{[^ ]*"reserved":\d+`).MatchString(flat) || regexp.MustCompile(`new \{[^ ]*"reserved"`).MatchString(flat) {
		t.Errorf("the sample's bodies do not show reserved in old only\n%s", section)
	}
}
