package store

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/chain"
)

// contractRecords is what the recorder and the admin API need of a store
// of recorded calls.
type contractRecords interface {
	Append(recs []*Record) error
	Records(q Query) (Page, error)
	Chain(id chain.TraceID) ([]*Record, error)
	Get(id ID) (*Record, error)
	Prune(now time.Time) (int, error)
}

// contractSamples is what the comparison side needs.
type contractSamples interface {
	PutSamples(samples []Sample) error
	Sample(id SampleID) ([]byte, error)
	Prune(now time.Time) (int, error)
}

var (
	_ contractRecords = (*Bolt)(nil)
	_ contractRecords = (*Redis)(nil)
	_ contractSamples = (*Bolt)(nil)
	_ contractSamples = (*Redis)(nil)
)

func storeAppend(t testing.TB, s contractRecords, recs ...*Record) {
	t.Helper()
	if err := s.Append(recs); err != nil {
		t.Fatal(err)
	}
}

// secondRedis opens another *Redis on the server behind s, as a second
// gateway replica would, or returns nil when s is not a *Redis.
func secondRedis(t *testing.T, s any) *Redis {
	t.Helper()
	r, ok := s.(*Redis)
	if !ok {
		return nil
	}
	r2, err := OpenRedis(r.opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r2.Close() })
	return r2
}

// driver is the last element of a subtest name: "embedded" or "redis".
func driver(t *testing.T) string { return path.Base(t.Name()) }

// contractData is 300 calls over 3 routes, 5
// tenants (and none) and 6 outcomes, one second apart, appended in
// shuffled batches.
func contractData(t *testing.T, s contractRecords) []*Record {
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
		storeAppend(t, s, shuffled[i:min(i+64, len(shuffled))]...)
	}
	return recs
}

// pageThrough pages through q and returns the URIs in order, checking
// that IDs fall strictly page after page and that only the last page has
// no cursor.
func pageThrough(t *testing.T, s contractRecords, q Query) []string {
	t.Helper()
	var out []string
	var last ID
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		page, err := s.Records(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			if !last.IsZero() && bytes.Compare(r.ID[:], last[:]) >= 0 {
				t.Fatalf("record %v after %v: not newest first", r.ID, last)
			}
			last = r.ID
			out = append(out, string(r.URI))
		}
		if page.Next == "" {
			return out
		}
		if q.Limit > 0 && len(page.Records) != q.Limit {
			t.Fatalf("a page with a next cursor holds %d records, want %d", len(page.Records), q.Limit)
		}
		q.Cursor = page.Next
	}
}

func TestContractAppendGet(t *testing.T) {
	got := map[string]*Record{}
	eachDriver(t, 0, func(t *testing.T, s any) {
		st := s.(contractRecords)
		if err := st.Append(nil); err != nil {
			t.Errorf("Append(nil) = %v", err)
		}
		r := fullRecord(1)
		assertAllSet(t, r)
		storeAppend(t, st, r)
		if r.ID.IsZero() {
			t.Fatal("Append left the ID zero")
		}
		g, err := st.Get(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, r) {
			t.Errorf("Get:\n got %+v\nwant %+v", g, r)
		}
		got[driver(t)] = g
		if _, err := st.Get(ID{1}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
		}
	})
	// Both stores number a fresh store's records from 1, so even the IDs
	// agree.
	if e, r := got["embedded"], got["redis"]; e != nil && r != nil && !reflect.DeepEqual(e, r) {
		t.Errorf("the drivers disagree:\nembedded %+v\n   redis %+v", e, r)
	}
}

func TestContractAppendAssignsIDs(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		st := s.(contractRecords)
		t0 := time.Unix(1700000000, 0)
		same := []*Record{{Start: t0}, {Start: t0}, {Start: t0.Add(-time.Second)}}
		before := time.Now()
		noStart := &Record{}
		storeAppend(t, st, append(same, noStart)...)
		if same[0].ID == same[1].ID {
			t.Error("two records with one start got one ID")
		}
		if bytes.Compare(same[0].ID[:], same[1].ID[:]) >= 0 {
			t.Error("IDs with one start do not follow the append order")
		}
		if bytes.Compare(same[2].ID[:], same[0].ID[:]) >= 0 {
			t.Error("an earlier start does not sort first")
		}
		if !same[0].ID.Time().Equal(t0) {
			t.Errorf("ID time = %v, want the start %v", same[0].ID.Time(), t0)
		}
		if at := noStart.ID.Time(); at.Before(before) {
			t.Errorf("a record without a start is filed at %v, before the append at %v", at, before)
		}
		if !noStart.Start.IsZero() {
			t.Error("Append changed the record's Start")
		}
		if g, err := st.Get(noStart.ID); err != nil || !g.Start.IsZero() {
			t.Errorf("Get(no start) = %+v, %v; want a zero Start", g, err)
		}
	})
}

// TestContractIDsAcrossReplicas: two *Redis on one server are two gateway
// replicas; their IDs never collide and follow the order of the appends.
func TestContractIDsAcrossReplicas(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		b := secondRedis(t, s)
		if b == nil {
			t.Skip("one process owns an embedded store")
		}
		a := s.(*Redis)
		t0 := time.Unix(1700000000, 0)
		var order []*Record
		for i, st := range []*Redis{a, b, a, b, b, a} {
			recs := []*Record{{Start: t0}, {Start: t0}}
			if err := st.Append(recs); err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
			order = append(order, recs...)
		}
		for i := 1; i < len(order); i++ {
			if bytes.Compare(order[i-1].ID[:], order[i].ID[:]) >= 0 {
				t.Errorf("ID %d %v does not follow ID %d %v", i, order[i].ID, i-1, order[i-1].ID)
			}
		}
		// Concurrently: unique.
		var mu sync.Mutex
		seen := map[ID]bool{}
		var wg sync.WaitGroup
		for _, st := range []*Redis{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					recs := make([]*Record, 10)
					for i := range recs {
						recs[i] = &Record{Start: t0}
					}
					if err := st.Append(recs); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, r := range recs {
						if seen[r.ID] {
							t.Errorf("ID %v assigned twice", r.ID)
						}
						seen[r.ID] = true
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != 400 {
			t.Errorf("%d unique IDs, want 400", len(seen))
		}
		// Each replica reads what the other wrote.
		page, err := b.Records(Query{Limit: MaxLimit})
		if err != nil || len(page.Records) != len(order)+400 {
			t.Errorf("the second replica reads %d records, %v; want %d", len(page.Records), err, len(order)+400)
		}
	})
}

func TestContractRecordsQueries(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		st := s.(contractRecords)
		recs := contractData(t, st)
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
			{Route: "orders", Tenant: "nope", Status: 2},
			{Status: 999},
		} {
			for _, limit := range []int{0, 1, 7, 1000} {
				q := q
				q.Limit = limit
				got := pageThrough(t, st, q)
				if w := want(recs, q); !slices.Equal(got, w) {
					t.Errorf("%+v: got %d calls %v\nwant %d calls %v", q, len(got), head(got), len(w), head(w))
				}
			}
		}
	})
}

// TestContractStatusClassFive: class 5 is the calls the client saw fail,
// upstream errors without a status among them; an exact status is exact.
func TestContractStatusClassFive(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		st := s.(contractRecords)
		ok := &Record{Route: "r", Status: 200, Start: queryEpoch}
		refused := &Record{Route: "r", Error: "refused", Start: queryEpoch.Add(time.Second)}
		failed := &Record{Route: "r", Status: 503, Start: queryEpoch.Add(2 * time.Second)}
		noAnswer := &Record{Route: "r", Start: queryEpoch.Add(3 * time.Second)}
		storeAppend(t, st, ok, refused, failed, noAnswer)
		for _, tc := range []struct {
			q    Query
			want []*Record
		}{
			{Query{Status: 5}, []*Record{failed, refused}},
			{Query{Route: "r", Status: 5}, []*Record{failed, refused}},
			{Query{Status: 503}, []*Record{failed}},
			{Query{Status: 502}, nil},
			{Query{Status: 2}, []*Record{ok}},
		} {
			page, err := st.Records(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got, w []ID
			for _, r := range page.Records {
				got = append(got, r.ID)
			}
			for _, r := range tc.want {
				w = append(w, r.ID)
			}
			if !slices.Equal(got, w) {
				t.Errorf("%+v: %v, want %v", tc.q, got, w)
			}
		}
	})
}

func TestContractRecordsDefaultAndMaxLimit(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		st := s.(contractRecords)
		var recs []*Record
		for i := range MaxLimit + 10 {
			recs = append(recs, &Record{Route: "r", Start: queryEpoch.Add(time.Duration(i) * time.Millisecond)})
		}
		storeAppend(t, st, recs...)
		page, err := st.Records(Query{})
		if err != nil || len(page.Records) != DefaultLimit || page.Next == "" {
			t.Fatalf("default page: %d records, next %q, %v", len(page.Records), page.Next, err)
		}
		if page.Records[0].ID != recs[len(recs)-1].ID {
			t.Error("the first record is not the newest")
		}
		if page.Next != page.Records[DefaultLimit-1].ID.String() {
			t.Errorf("next %q is not the last record's ID %v", page.Next, page.Records[DefaultLimit-1].ID)
		}
		page, err = st.Records(Query{Limit: 1 << 20})
		if err != nil || len(page.Records) != MaxLimit || page.Next == "" {
			t.Fatalf("huge limit: %d records, next %q, %v", len(page.Records), page.Next, err)
		}
		page, err = st.Records(Query{Limit: 1 << 20, Cursor: page.Next})
		if err != nil || len(page.Records) != 10 || page.Next != "" {
			t.Fatalf("last page: %d records, next %q, %v", len(page.Records), page.Next, err)
		}
		// Exactly a page's worth left: no cursor to an empty page.
		page, err = st.Records(Query{Limit: 10, Cursor: recs[10].ID.String()})
		if err != nil || len(page.Records) != 10 || page.Next != "" || page.Records[0].ID != recs[9].ID {
			t.Fatalf("page before the 11th: %d records, next %q, %v", len(page.Records), page.Next, err)
		}
	})
}

func TestContractRecordsRejectsBadInput(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		st := s.(contractRecords)
		for _, status := range []int{-1, 10, 99, 1000} {
			if _, err := st.Records(Query{Status: status}); !errors.Is(err, ErrBadQuery) {
				t.Errorf("status %d: %v, want ErrBadQuery", status, err)
			}
		}
		for _, c := range []string{"zz", "00", strings.Repeat("g", 32)} {
			if _, err := st.Records(Query{Cursor: c}); !errors.Is(err, ErrBadCursor) {
				t.Errorf("cursor %q: %v, want ErrBadCursor", c, err)
			}
		}
	})
}

func TestContractLongTenant(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		st := s.(contractRecords)
		long := strings.Repeat("x", 2*maxIndexName)
		a, c := &Record{Route: "r"}, &Record{Route: "r"}
		a.SetTenant([]byte(long + "a"))
		c.SetTenant([]byte(long + "c"))
		storeAppend(t, st, a, c)
		page, err := st.Records(Query{Tenant: long + "c"})
		if err != nil || len(page.Records) != 1 || page.Records[0].ID != c.ID {
			t.Errorf("tenants sharing an indexed prefix: %d records, %v; want only the exact one", len(page.Records), err)
		}
	})
}

func TestContractChain(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		st := s.(contractRecords)
		id := chain.TraceID{1, 2, 3}
		other := chain.TraceID{1, 2, 4}
		var hops []*Record
		for i := range 5 {
			hops = append(hops, &Record{Chain: id, Span: chain.SpanID{byte(i + 1)}, Start: queryEpoch.Add(time.Duration(i) * time.Millisecond)})
		}
		// Calls finish, and so arrive, in the reverse of their start order.
		storeAppend(t, st, hops[4], hops[3], &Record{Chain: other, Start: queryEpoch})
		storeAppend(t, st, hops[2], hops[1], hops[0])
		got, err := st.Chain(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Fatalf("Chain returned %d calls, want 5", len(got))
		}
		for i, r := range got {
			if r.Span != hops[i].Span || r.ID != hops[i].ID {
				t.Errorf("call %d has span %v, want %v", i, r.Span, hops[i].Span)
			}
		}
		if got, err := st.Chain(other); err != nil || len(got) != 1 {
			t.Errorf("Chain(other) = %d calls, %v; want 1", len(got), err)
		}
		if _, err := st.Chain(chain.TraceID{9}); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown chain: %v, want ErrNotFound", err)
		}
	})
}

// TestContractChainAcrossReplicas: the calls of one chain pass through
// several gateways; each recorded its own, and the chain reads as one.
func TestContractChainAcrossReplicas(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		b := secondRedis(t, s)
		if b == nil {
			t.Skip("one process owns an embedded store")
		}
		a := s.(*Redis)
		id := chain.TraceID{7, 7, 7}
		var hops []*Record
		for i := range 4 {
			hops = append(hops, &Record{Chain: id, Span: chain.SpanID{byte(i + 1)}, Start: queryEpoch.Add(time.Duration(i) * time.Millisecond)})
		}
		for i, st := range []*Redis{b, a, b, a} {
			h := 3 - i // the deepest call answers first
			if err := st.Append([]*Record{hops[h]}); err != nil {
				t.Fatal(err)
			}
		}
		for name, st := range map[string]*Redis{"first": a, "second": b} {
			got, err := st.Chain(id)
			if err != nil {
				t.Fatalf("%s replica: %v", name, err)
			}
			if len(got) != len(hops) {
				t.Fatalf("%s replica reads %d calls, want %d", name, len(got), len(hops))
			}
			for i, r := range got {
				if r.ID != hops[i].ID {
					t.Errorf("%s replica: call %d is %v, want %v", name, i, r.ID, hops[i].ID)
				}
			}
		}
	})
}

// contractPruneData appends n calls one minute apart from queryEpoch, each
// with a 100-byte body, over two routes, two chains and n tenants.
func contractPruneData(t *testing.T, s contractRecords, n int) []*Record {
	t.Helper()
	var recs []*Record
	for i := range n {
		r := &Record{
			Chain:  chain.TraceID{0: 1, 15: byte(i % 2)},
			Route:  []string{"a", "b"}[i%2],
			Status: 200 + 300*(i%2),
			Start:  queryEpoch.Add(time.Duration(i) * time.Minute),
		}
		r.SetTenant(fmt.Appendf(nil, "t%d", i))
		r.SetRespBody(make([]byte, 100), 100)
		recs = append(recs, r)
	}
	storeAppend(t, s, recs...)
	return recs
}

// assertKept checks that exactly keep remain, through every index.
func assertKept(t *testing.T, s contractRecords, keep []*Record) {
	t.Helper()
	page, err := s.Records(Query{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != len(keep) {
		t.Fatalf("%d records remain, want %d", len(page.Records), len(keep))
	}
	for i, r := range page.Records {
		if w := keep[len(keep)-1-i]; r.ID != w.ID {
			t.Fatalf("record %d is %v, want %v", i, r.ID, w.ID)
		}
	}
	for _, q := range []Query{{Route: "a"}, {Route: "b"}, {Status: 2}, {Status: 5}, {Tenant: "t0"}, {Tenant: fmt.Sprintf("t%d", len(keep)+5)}, {Route: "a", Status: 2}} {
		q.Limit = MaxLimit
		page, err := s.Records(q)
		if err != nil {
			t.Fatal(err)
		}
		if w := want(keep, q); len(page.Records) != len(w) {
			t.Errorf("%+v: %d records, want %d", q, len(page.Records), len(w))
		}
	}
	calls := 0
	for _, c := range []chain.TraceID{{0: 1}, {0: 1, 15: 1}} {
		recs, err := s.Chain(c)
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		calls += len(recs)
	}
	if calls != len(keep) {
		t.Errorf("chains hold %d calls, want %d", calls, len(keep))
	}
}

func TestContractPruneByAge(t *testing.T) {
	eachDriver(t, time.Hour, func(t *testing.T, s any) {
		st := s.(contractRecords)
		recs := contractPruneData(t, st, 100)
		// At the 100th minute, calls that started before minute 40 are
		// older than an hour.
		now := queryEpoch.Add(100 * time.Minute)
		removed, err := st.Prune(now)
		if err != nil {
			t.Fatal(err)
		}
		if removed != 40 {
			t.Errorf("Prune removed %d, want 40", removed)
		}
		assertKept(t, st, recs[40:])
		if _, err := st.Get(recs[39].ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(pruned) = %v, want ErrNotFound", err)
		}
		if _, err := st.Get(recs[40].ID); err != nil {
			t.Errorf("Get(kept) = %v", err)
		}
		if removed, err := st.Prune(now); removed != 0 || err != nil {
			t.Errorf("a second Prune removed %d, %v", removed, err)
		}
		// Everything goes, then new calls are indexed as before.
		if removed, err := st.Prune(now.Add(24 * time.Hour)); removed != 60 || err != nil {
			t.Errorf("Prune of the rest removed %d, %v; want 60", removed, err)
		}
		assertKept(t, st, nil)
		fresh := contractPruneData(t, st, 3)
		assertKept(t, st, fresh)
	})
}

func TestContractPruneUnlimited(t *testing.T) {
	eachDriver(t, 0, func(t *testing.T, s any) {
		st := s.(contractRecords)
		recs := contractPruneData(t, st, 10)
		if removed, err := st.Prune(queryEpoch.Add(1000 * time.Hour)); removed != 0 || err != nil {
			t.Errorf("Prune without retention = %d, %v", removed, err)
		}
		assertKept(t, st, recs)
	})
}

func TestContractSamples(t *testing.T) {
	eachDriver(t, time.Hour, func(t *testing.T, s any) {
		st := s.(contractSamples)
		if err := st.PutSamples(nil); err != nil {
			t.Errorf("PutSamples(nil) = %v", err)
		}
		now := time.Now()
		old, fresh := NewSampleID(now.Add(-2*time.Hour)), NewSampleID(now)
		err := st.PutSamples([]Sample{{ID: old, Data: []byte(`{"old":1}`)}, {ID: fresh, Data: []byte(`{"fresh":1}`)}})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := st.Sample(fresh); err != nil || string(got) != `{"fresh":1}` {
			t.Errorf("Sample(fresh) = %s, %v", got, err)
		}
		if got, err := st.Sample(old); err != nil || string(got) != `{"old":1}` {
			t.Errorf("Sample(old) before Prune = %s, %v", got, err)
		}
		if _, err := st.Sample(NewSampleID(now)); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown sample: %v, want ErrNotFound", err)
		}
		if _, err := st.Prune(now); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Sample(old); !errors.Is(err, ErrNotFound) {
			t.Errorf("a sample past retention survived Prune: %v", err)
		}
		if _, err := st.Sample(fresh); err != nil {
			t.Errorf("a fresh sample was pruned: %v", err)
		}
	})
}
