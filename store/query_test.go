package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cutover/cutover/chain"
)

var queryEpoch = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// queryData is 300 calls over 3 routes, 5 tenants (and none) and 6
// outcomes, one second apart, appended in shuffled batches so the indexes
// are not written in start order.
func queryData(t *testing.T, b *Bolt) []*Record {
	t.Helper()
	routes := []string{"orders", "users", "pay"}
	outcomes := []struct {
		status int
		err    string
	}{{200, ""}, {201, ""}, {404, ""}, {500, ""}, {502, "bad_gateway"}, {0, "refused"}}
	var recs []*Record
	for i := range 300 {
		r := &Record{
			Chain:  chain.TraceID{15: byte(i % 7), 0: 1},
			Span:   chain.SpanID{0: byte(i), 1: byte(i >> 8), 7: 1},
			Route:  routes[i%3],
			Status: outcomes[i%6].status,
			Error:  outcomes[i%6].err,
			Start:  queryEpoch.Add(time.Duration(i) * time.Second),
		}
		if i%6 != 5 {
			r.SetTenant(fmt.Appendf(nil, "t%d", i%5))
		}
		r.SetURI(fmt.Appendf(nil, "/call/%d", i))
		recs = append(recs, r)
	}
	shuffled := slices.Clone(recs)
	for i := range shuffled {
		j := (i * 7919) % len(shuffled)
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	}
	for i := 0; i < len(shuffled); i += 64 {
		mustAppend(t, b, shuffled[i:min(i+64, len(shuffled))]...)
	}
	return recs
}

// want filters recs the slow way, newest first.
func want(recs []*Record, q Query) []string {
	var out []string
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		ok := (q.Route == "" || r.Route == q.Route) &&
			(q.Tenant == "" || string(r.Tenant) == q.Tenant) &&
			(q.Since.IsZero() || !r.Start.Before(q.Since))
		switch {
		case q.Status == 0:
		case q.Status < 100:
			ok = ok && (r.Status/100 == q.Status || r.Status == 0 && r.Error != "" && q.Status == 5)
		default:
			ok = ok && r.Status == q.Status
		}
		if ok {
			out = append(out, string(r.URI))
		}
	}
	return out
}

// readAll pages through q and returns the URIs in order.
func readAll(t *testing.T, b *Bolt, q Query) []string {
	t.Helper()
	var out []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		page, err := b.Records(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			out = append(out, string(r.URI))
		}
		if page.Next == "" {
			return out
		}
		if len(page.Records) != max(q.Limit, 1) && q.Limit > 0 {
			t.Fatalf("a page with a next cursor holds %d records, want %d", len(page.Records), q.Limit)
		}
		q.Cursor = page.Next
	}
}

func TestRecordsQueries(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	recs := queryData(t, b)
	since := queryEpoch.Add(200 * time.Second)
	for _, q := range []Query{
		{},
		{Route: "orders"},
		{Tenant: "t3"},
		{Status: 2},
		{Status: 4},
		{Status: 5},
		{Status: 502},
		{Status: 201},
		{Status: 3},
		{Route: "users", Tenant: "t1"},
		{Route: "pay", Status: 5},
		{Tenant: "t2", Status: 500},
		{Route: "orders", Tenant: "t4", Status: 2},
		{Since: since},
		{Route: "orders", Since: since},
		{Tenant: "t0", Status: 5, Since: since},
		{Route: "nope"},
		{Tenant: "nope"},
		{Status: 999},
	} {
		for _, limit := range []int{0, 1, 7, 1000} {
			q := q
			q.Limit = limit
			t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
				got := readAll(t, b, q)
				if w := want(recs, q); !slices.Equal(got, w) {
					t.Errorf("got %d calls %v\nwant %d calls %v", len(got), head(got), len(w), head(w))
				}
			})
		}
	}
}

func head(s []string) []string { return s[:min(len(s), 8)] }

func TestRecordsDefaultAndMaxLimit(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	var recs []*Record
	for i := range MaxLimit + 10 {
		recs = append(recs, &Record{Route: "r", Start: queryEpoch.Add(time.Duration(i) * time.Millisecond)})
	}
	mustAppend(t, b, recs...)
	page, err := b.Records(Query{})
	if err != nil || len(page.Records) != DefaultLimit || page.Next == "" {
		t.Fatalf("default page: %d records, next %q, %v", len(page.Records), page.Next, err)
	}
	if page.Records[0].ID != recs[len(recs)-1].ID {
		t.Error("the first record is not the newest")
	}
	page, err = b.Records(Query{Limit: 1 << 20})
	if err != nil || len(page.Records) != MaxLimit || page.Next == "" {
		t.Fatalf("huge limit: %d records, next %q, %v", len(page.Records), page.Next, err)
	}
	page, err = b.Records(Query{Limit: 1 << 20, Cursor: page.Next})
	if err != nil || len(page.Records) != 10 || page.Next != "" {
		t.Fatalf("last page: %d records, next %q, %v", len(page.Records), page.Next, err)
	}
}

func TestRecordsRejectsBadInput(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	for _, s := range []int{-1, 10, 99, 1000} {
		if _, err := b.Records(Query{Status: s}); !errors.Is(err, ErrBadQuery) {
			t.Errorf("status %d: %v, want ErrBadQuery", s, err)
		}
	}
	if _, err := b.Records(Query{Cursor: "zz"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v, want ErrBadCursor", err)
	}
}

func TestLongTenant(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	long := strings.Repeat("x", 2*maxIndexName)
	a, c := &Record{Route: "r"}, &Record{Route: "r"}
	a.SetTenant([]byte(long + "a"))
	c.SetTenant([]byte(long + "c"))
	mustAppend(t, b, a, c)
	page, err := b.Records(Query{Tenant: long + "c"})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != c.ID {
		t.Errorf("tenants sharing an indexed prefix: %d records, %v; want only the exact one", len(page.Records), err)
	}
}

func TestChainOrderedByStart(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	id := chain.TraceID{1, 2, 3}
	other := chain.TraceID{1, 2, 4}
	var hops []*Record
	for i := range 5 {
		hops = append(hops, &Record{Chain: id, Span: chain.SpanID{byte(i + 1)}, Start: queryEpoch.Add(time.Duration(i) * time.Millisecond)})
	}
	// Calls finish, and so arrive, in the reverse of their start order.
	mustAppend(t, b, hops[4], hops[3], &Record{Chain: other, Start: queryEpoch})
	mustAppend(t, b, hops[2], hops[1], hops[0])
	got, err := b.Chain(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("Chain returned %d calls, want 5", len(got))
	}
	for i, r := range got {
		if r.Span != hops[i].Span {
			t.Errorf("call %d has span %v, want %v", i, r.Span, hops[i].Span)
		}
	}
	if _, err := b.Chain(chain.TraceID{9}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown chain: %v, want ErrNotFound", err)
	}
}

func TestRecordsWalksTheSmallestIndex(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	var recs []*Record
	for i := range 100 {
		r := &Record{Route: "big", Status: 200, Start: queryEpoch.Add(time.Duration(i) * time.Second)}
		if i%10 == 0 {
			r.SetTenant([]byte("rare"))
		}
		if i%25 == 0 {
			r.Status = 503
		}
		recs = append(recs, r)
	}
	mustAppend(t, b, recs...)
	for _, tc := range []struct {
		q    Query
		kind byte
	}{
		{Query{}, 0},
		{Query{Route: "big"}, kindRoute},
		{Query{Route: "big", Tenant: "rare"}, kindTenant},             // 10 < 100
		{Query{Route: "big", Tenant: "rare", Status: 5}, kindClass},   // 4 < 10
		{Query{Route: "big", Tenant: "rare", Status: 2}, kindTenant},  // 96 > 10
		{Query{Route: "big", Tenant: "none", Status: 2}, kindTenant},  // 0: empty
		{Query{Route: "big", Tenant: "rare", Status: 503}, kindClass}, // its class holds 4
	} {
		err := b.db.View(func(tx *bolt.Tx) error {
			w := pickWalk(openBuckets(tx), &tc.q)
			if w.kind != tc.kind {
				t.Errorf("%+v walks index %q, want %q", tc.q, w.kind, tc.kind)
			}
			if w.empty != (tc.q.Tenant == "none") {
				t.Errorf("%+v: empty = %v", tc.q, w.empty)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
