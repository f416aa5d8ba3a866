package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cutover/cutover/chain"
)

// secondRecord is a call that started ms milliseconds after queryEpoch,
// on one of two routes, tenants, outcomes and chains, named by i.
func secondRecord(i int, ms int) *Record {
	r := &Record{
		Chain:  chain.TraceID{0: 3, 15: byte(i % 2)},
		Route:  []string{"a", "b"}[i%2],
		Status: []int{200, 503}[i%2],
		Start:  queryEpoch.Add(time.Duration(ms) * time.Millisecond),
	}
	r.SetTenant(fmt.Appendf(nil, "t%d", i%3))
	r.SetURI(fmt.Appendf(nil, "/call/%d", i))
	return r
}

// blockSeconds returns the seconds that have index blocks, one per part.
func blockSeconds(t *testing.T, b *Bolt) []uint64 {
	t.Helper()
	var secs []uint64
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBlocks).ForEach(func(k, _ []byte) error {
			secs = append(secs, binary.BigEndian.Uint64(k)-startSec(queryEpoch))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return secs
}

// pendingSeconds returns the seconds still open, relative to queryEpoch.
func pendingSeconds(b *Bolt) []uint64 {
	b.pend.mu.RLock()
	defer b.pend.mu.RUnlock()
	var secs []uint64
	for s := range b.pend.secs {
		secs = append(secs, s-startSec(queryEpoch))
	}
	slices.Sort(secs)
	return secs
}

// assertQueries checks every index against the slow filter of want.
func assertQueries(t *testing.T, b *Bolt, recs []*Record) {
	t.Helper()
	sorted := slices.Clone(recs)
	slices.SortFunc(sorted, func(a, b *Record) int { return cmpID(a.ID, b.ID) })
	for _, q := range []Query{{}, {Route: "a"}, {Route: "b"}, {Tenant: "t0"}, {Tenant: "t2"}, {Status: 2}, {Status: 503}, {Route: "a", Tenant: "t1"}} {
		for _, limit := range []int{2, 1000} {
			q.Limit = limit
			if got, w := readAll(t, b, q), want(sorted, q); !slices.Equal(got, w) {
				t.Errorf("%+v:\n got %v\nwant %v", q, got, w)
			}
		}
	}
	for _, c := range []chain.TraceID{{0: 3}, {0: 3, 15: 1}} {
		var w []string
		for _, r := range sorted {
			if r.Chain == c {
				w = append(w, string(r.URI))
			}
		}
		got, err := b.Chain(c)
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		var g []string
		for _, r := range got {
			g = append(g, string(r.URI))
		}
		if !slices.Equal(g, w) {
			t.Errorf("chain %v:\n got %v\nwant %v", c, g, w)
		}
	}
}

func TestSecondsCloseIntoBlocks(t *testing.T) {
	b, path := openTest(t, BoltOptions{Retention: time.Hour})
	var recs []*Record
	add := func(ms ...int) {
		t.Helper()
		var batch []*Record
		for _, m := range ms {
			batch = append(batch, secondRecord(len(recs)+len(batch), m))
		}
		mustAppend(t, b, batch...)
		recs = append(recs, batch...)
	}
	// Seconds 0 to 9: the newest, 9, closes everything up to 7, whose
	// calls are late for their seconds and get blocks at once.
	add(0, 500, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 7999, 8000, 9000, 9999)
	if got := pendingSeconds(b); !slices.Equal(got, []uint64{8, 9}) {
		t.Errorf("open seconds %v, want 8 and 9", got)
	}
	assertQueries(t, b, recs)
	// Second 20 closes 8 and 9, which get their blocks.
	add(20000, 20001)
	if got := pendingSeconds(b); !slices.Equal(got, []uint64{20}) {
		t.Errorf("open seconds %v, want 20", got)
	}
	if got := blockSeconds(t, b); !slices.Equal(got, []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("seconds with blocks %v, want 0 to 9", got)
	}
	// A late call for a closed second gets a second part, read merged.
	add(3500, 8500, 21000)
	if got := blockSeconds(t, b); !slices.Equal(got, []uint64{0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 8, 9}) {
		t.Errorf("seconds with blocks %v, want late parts for 3 and 8", got)
	}
	assertQueries(t, b, recs)

	// The open seconds are not written on Close: OpenBolt finds their
	// calls again in the records bucket.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBolt(path, BoltOptions{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := pendingSeconds(b); !slices.Equal(got, []uint64{20, 21}) {
		t.Errorf("open seconds after reopening %v, want 20 and 21", got)
	}
	assertQueries(t, b, recs)

	// Pruning the calls before second 8 deletes the blocks of seconds
	// 0 to 7, not of 8, which still has calls.
	sort.Slice(recs, func(i, j int) bool { return cmpID(recs[i].ID, recs[j].ID) < 0 })
	removed, err := b.Prune(queryEpoch.Add(time.Hour + 8500*time.Millisecond))
	if err != nil || removed != 12 {
		t.Fatalf("Prune = %d, %v; want 12", removed, err)
	}
	if got := blockSeconds(t, b); !slices.Equal(got, []uint64{8, 8, 9}) {
		t.Errorf("seconds with blocks after pruning %v, want 8 and 9", got)
	}
	assertQueries(t, b, recs[12:])
}

func TestPendingBoundClosesOldSeconds(t *testing.T) {
	p := &pending{secs: map[uint64]*group{}}
	for s := uint64(100); s < 110; s++ {
		for range maxPending / 8 {
			p.add(s, ID{}, "r", nil, 2, chain.TraceID{})
		}
	}
	// Ten seconds of an eighth of the bound each: keeping about half
	// the bound closes the oldest six, up to second 105.
	front, _ := p.plan(103, 109, 1)
	if front != 105 {
		t.Errorf("front %d over the bound, want 105", front)
	}
	// A start far past the clock moves the front only maxAhead past it.
	p = &pending{secs: map[uint64]*group{}}
	if front, newest := p.plan(1e9, 1000, 1); newest != 1000+maxAhead || front != newest-indexLag {
		t.Errorf("a start far ahead: front %d, newest %d", front, newest)
	}
}

func TestReadRetriesWhileSecondsClose(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	mustAppend(t, b, secondRecord(0, 0), secondRecord(1, 5000))
	// The front in memory disagreeing with the committed one is what a
	// read sees between an Append's commit and its update of the open
	// seconds. Reads retry, and give up if it never ends.
	b.pend.mu.Lock()
	b.pend.front++
	b.pend.mu.Unlock()
	done := make(chan error)
	go func() {
		_, err := b.Records(Query{Route: "a"})
		done <- err
	}()
	// The read has met the disagreement at least once before it ends.
	deadline := time.Now().Add(10 * time.Second)
	for b.races.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the read did not retry within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	b.pend.mu.Lock()
	b.pend.front--
	b.pend.mu.Unlock()
	if err := <-done; err != nil {
		t.Errorf("a read racing the close of a second: %v", err)
	}
	b.pend.mu.Lock()
	b.pend.front++
	b.pend.mu.Unlock()
	if _, err := b.Chain(chain.TraceID{0: 3}); !errors.Is(err, errRaced) {
		t.Errorf("a read that races forever: %v, want errRaced", err)
	}
}

// TestConcurrentReadersWhileAppending runs readers beside an appender
// that closes a second with every batch, rotates segments and prunes
// them; run it with -race.
func TestConcurrentReadersWhileAppending(t *testing.T) {
	// Room for about 100 of the calls below, compressed as they are.
	probe, _ := openTest(t, BoltOptions{})
	var like []*Record
	for j := range 20 {
		r := secondRecord(j, j*10)
		r.SetRespBody(make([]byte, 300), 300)
		like = append(like, r)
	}
	mustAppend(t, probe, like...)
	b, path := openTest(t, BoltOptions{MaxBytes: 5 * storedBytes(t, probe, like)})
	b.seg.limit = 8 << 10
	var (
		mu      sync.Mutex
		byID    = map[ID]string{}
		ids     []ID
		stop    atomic.Bool
		wg      sync.WaitGroup
		batches = 150
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer stop.Store(true)
		n := 0
		for i := range batches {
			var batch []*Record
			for j := range 20 {
				// Mostly in order, a second a batch; every fifth call is
				// late by 5 seconds.
				ms := i*1000 + j*10
				if j%5 == 0 {
					ms -= 5000
				}
				r := secondRecord(n, max(ms, 0))
				r.SetRespBody(make([]byte, 300), 300)
				batch = append(batch, r)
				n++
			}
			if err := b.Append(batch); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			for _, r := range batch {
				byID[r.ID] = string(r.URI)
				ids = append(ids, r.ID)
			}
			mu.Unlock()
			if i%10 == 9 {
				if _, err := b.Prune(queryEpoch); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for !stop.Load() {
				q := []Query{{}, {Route: "a"}, {Tenant: "t1"}, {Status: 5}, {Route: "b", Status: 503}}[rng.IntN(5)]
				q.Limit = 1 + rng.IntN(50)
				page, err := b.Records(q)
				if err != nil {
					t.Error(err)
					return
				}
				for i, r := range page.Records {
					if i > 0 && cmpID(page.Records[i-1].ID, r.ID) <= 0 {
						t.Errorf("%+v: page not newest first", q)
					}
					if q.Route != "" && r.Route != q.Route || q.Tenant != "" && string(r.Tenant) != q.Tenant || q.Status == 5 && r.Status != 503 {
						t.Errorf("%+v returned %s", q, r.URI)
					}
					mu.Lock()
					uri := byID[r.ID]
					mu.Unlock()
					if uri != "" && uri != string(r.URI) {
						t.Errorf("record %s holds %s, was appended as %s", r.ID, r.URI, uri)
					}
				}
				recs, err := b.Chain(chain.TraceID{0: 3, 15: byte(rng.IntN(2))})
				if err != nil && !errors.Is(err, ErrNotFound) {
					t.Error(err)
					return
				}
				for i, r := range recs {
					if i > 0 && cmpID(recs[i-1].ID, r.ID) >= 0 {
						t.Error("chain not in start order")
					}
				}
				mu.Lock()
				var id ID
				if len(ids) > 0 {
					id = ids[rng.IntN(len(ids))]
				}
				uri := byID[id]
				mu.Unlock()
				if r, err := b.Get(id); err == nil && string(r.URI) != uri {
					t.Errorf("Get %s = %s, want %s", id, r.URI, uri)
				} else if err != nil && !errors.Is(err, ErrNotFound) {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st, err := b.Stats()
	if err != nil || st.Records == 0 || st.Records > 150 {
		t.Errorf("stats after pruning to about 100 records: %+v, %v", st, err)
	}
	// A segment every batch or two was written; retention deleted all
	// but those of the last few batches.
	if n := len(segmentFiles(t, path)); n > 20 {
		t.Errorf("%d segments remain", n)
	}
}
