package demo

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/cutover/cutover/diff"
)

// TestRampServices checks the rollout step's rewrites against what the
// tour says of them, with the comparer the gateway uses: price-v2 answers
// as price-v1 does, and stock-v2 misses "reserved" on every 25th item and
// nowhere else. The stamps are left out, as the routes cancel them.
func TestRampServices(t *testing.T) {
	answer := func(service, path string) *diff.Response {
		b, err := json.Marshal(body(service, path))
		if err != nil {
			t.Fatal(err)
		}
		return &diff.Response{Status: 200, Body: b}
	}
	rules, err := diff.Compile(diff.Rules{Ignore: []string{"meta.requestId", "meta.generatedAt"}})
	if err != nil {
		t.Fatal(err)
	}
	cmp := diff.NewComparer()
	missing := []diff.Difference{{Path: "reserved", Kind: diff.KindMissing}}
	for n := 1; n <= 1000; n++ {
		prices, stock := fmt.Sprint("/api/prices/", n), fmt.Sprint("/api/stock/", n)
		if got := cmp.Compare(answer("price-v1", prices), answer("price-v2", prices), rules, nil); len(got) != 0 {
			t.Errorf("GET %s: price-v2 differs from price-v1 in %v", prices, got)
		}
		var want []diff.Difference
		if n%25 == 0 {
			want = missing
		}
		if got := cmp.Compare(answer("stock-v1", stock), answer("stock-v2", stock), rules, nil); !slices.Equal(got, want) {
			t.Errorf("GET %s: stock-v2 differs from stock-v1 in %v, want %v", stock, got, want)
		}
	}
	// Without the rules, two calls of one version differ: the noise the
	// prices route must learn from its secondary.
	got := cmp.Compare(answer("price-v1", "/api/prices/7"), answer("price-v1", "/api/prices/7"), nil, nil)
	want := []diff.Difference{{Path: "meta.generatedAt", Kind: diff.KindValue}, {Path: "meta.requestId", Kind: diff.KindValue}}
	if !slices.Equal(got, want) {
		t.Errorf("two calls of price-v1 differ in %v, want %v", got, want)
	}
}
