package store

import (
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cutover/cutover/chain"
)

var queryEpoch = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

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

func head(s []string) []string { return s[:min(len(s), 8)] }

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
