package demo

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/diff"
)

// The demo's order-v2 is a rewrite of order-v1 with these differences,
// which the diff report must find, at these rates:
//
//   - customer.email is gone on orders whose ID is a multiple of 50
//     (missing, 2%);
//   - a new field "version" on every order (extra): a deliberate change,
//     which the demo config ignores with diff.ignore;
//   - items.#.price is a string on orders whose ID is a multiple of 4
//     (type, 25%);
//   - total is rounded to whole units on orders whose ID is a multiple of
//     10 (value, 10%);
//   - tags come in another order on orders whose ID is a multiple of 5
//     (order, 20%).
//
// Both versions also answer with a fresh meta.requestId and the time in
// meta.generatedAt: they differ between any two calls, old against old
// too, and the report must class them as noise, with no ignore rule.

// order is the body a demo order service answers for path.
func order(service, path string) map[string]any {
	id := orderID(path)
	rewrite := service == "order-v2"
	items := []any{
		map[string]any{"sku": "A-" + strconv.Itoa(id%7), "qty": 1 + id%3, "price": 19.99},
		map[string]any{"sku": "B-" + strconv.Itoa(id%5), "qty": 2, "price": 5.25},
	}
	total := 19.99*float64(1+id%3) + 10.5
	tags := []any{"priority", "gift", "eu"}
	o := map[string]any{
		"id":       id,
		"status":   "paid",
		"currency": "EUR",
		"items":    items,
		"total":    total,
		"tags":     tags,
		"customer": map[string]any{"id": "c-" + strconv.Itoa(id%97), "email": "c" + strconv.Itoa(id%97) + "@example.com"},
		"meta":     map[string]any{"requestId": randomID(), "generatedAt": time.Now().UTC().Format(time.RFC3339Nano)},
	}
	if !rewrite {
		return o
	}
	if id%50 == 0 {
		delete(o["customer"].(map[string]any), "email")
	}
	o["version"] = 2
	if id%4 == 0 {
		for _, it := range items {
			m := it.(map[string]any)
			m["price"] = strconv.FormatFloat(m["price"].(float64), 'f', 2, 64)
		}
	}
	if id%10 == 0 {
		o["total"] = float64(int(total + 0.5))
	}
	if id%5 == 0 {
		o["tags"] = []any{"eu", "priority", "gift"}
	}
	return o
}

// orderID reads the order number from /api/orders/N.
func orderID(path string) int {
	rest := strings.TrimPrefix(path, "/api/orders/")
	rest, _, _ = strings.Cut(rest, "/")
	n, _ := strconv.Atoi(rest)
	return n
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// tourReport waits for the shadow copies of the load to be compared, then
// prints the diff report as `cutover report` does.
func tourReport(client *http.Client, admin string, sent int, out io.Writer) error {
	fmt.Fprintf(out, "8. Shadowing and diffing: every GET above also went to the other side, and the\n"+
		"   gateway compared the two answers field by field. A quarter of the shadowed\n"+
		"   requests went to a third old instance too, to learn what differs between two\n"+
		"   calls of old (timestamps, random IDs): that is noise, cancelled without any rule.\n")
	var rep diff.Report
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := getJSON(client, admin+"/api/report?route=orders", &rep); err != nil {
			return err
		}
		if len(rep.Routes) == 1 && rep.Routes[0].Compared >= uint64(sent) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(out, "   cutover report --admin %s\n\n", strings.TrimPrefix(admin, "http://"))
	var b strings.Builder
	if err := diff.WriteTable(&b, &rep, 10); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s\n", indent(b.String()))
	fmt.Fprintf(out, "   order-v2's documented differences are found at their rates: items.#.price a\n"+
		"   string on 25%% of orders, tags reordered on 20%%, total rounded on 10%%,\n"+
		"   customer.email missing on 2%%. Its new field \"version\" is ignored by the\n"+
		"   route's diff.ignore. meta.requestId and meta.generatedAt differ on every pair,\n"+
		"   old against old too, so they are classed as noise and do not count.\n"+
		"   A sample pair, with both bodies: curl %s/api/samples/ID (IDs are in the JSON report)\n\n", admin)
	return nil
}
