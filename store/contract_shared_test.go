package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

// sharedStore is what the rollout controller and the shadow mirror need
// of a store beyond records: revisions and leases of rollout state,
// notifications, and tallies. Redis shares them between replicas; the
// embedded store implements them for its one gateway.
type sharedStore interface {
	rolloutHistory
	RolloutRev(route string) ([]byte, uint64, error)
	PutRolloutIf(route string, rev, token uint64, state []byte, events [][]byte) (uint64, error)
	Lease(route, owner string, ttl time.Duration) (uint64, error)
	Release(route, owner string) error
	Notify(route string) error
	Watch(ctx context.Context) <-chan string
	AddTallies(adds []TallyAdd) (int, error)
	Tallies(keys []string) ([]Tally, error)
}

var (
	_ sharedStore = (*Bolt)(nil)
	_ sharedStore = (*Redis)(nil)
)

// eachSharedDriver runs fn once per driver on a fresh store s; more
// returns another handle on the same data, as a second replica sees it:
// a second Redis client, or the same Bolt (one process holds the file).
func eachSharedDriver(t *testing.T, fn func(t *testing.T, s sharedStore, more func() sharedStore)) {
	t.Run("embedded", func(t *testing.T) {
		b, err := OpenBolt(filepath.Join(t.TempDir(), "cutover.db"), BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		fn(t, b, func() sharedStore { return b })
	})
	t.Run("redis", func(t *testing.T) {
		r, _, more := sharedRedis(t)
		fn(t, r, func() sharedStore { return more() })
	})
}

// pollUntil calls f every 20ms until it reports true, failing the test
// when that takes longer than d.
func pollUntil(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receiveRoute waits for route on ch, failing the test after d.
func receiveRoute(t *testing.T, ch <-chan string, route string, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case got, ok := <-ch:
			if !ok {
				t.Fatalf("Watch closed before %q arrived", route)
			}
			if got == route {
				return
			}
		case <-timer.C:
			t.Fatalf("%q not delivered within %v", route, d)
		}
	}
}

func TestContractRolloutRevisions(t *testing.T) {
	eachSharedDriver(t, func(t *testing.T, r sharedStore, more func() sharedStore) {
		if state, rev, err := r.RolloutRev("orders"); err != nil || state != nil || rev != 0 {
			t.Fatalf("RolloutRev of a new route = %q, %d, %v", state, rev, err)
		}
		rev, err := r.PutRolloutIf("orders", 0, 0, []byte("s1"), events("e", 0, 1))
		if err != nil || rev != 1 {
			t.Fatalf("first PutRolloutIf = %d, %v; want 1", rev, err)
		}
		// Another replica reads what this one wrote.
		other := more()
		if state, rev, err := other.RolloutRev("orders"); err != nil || string(state) != "s1" || rev != 1 {
			t.Fatalf("RolloutRev = %q, %d, %v; want s1, 1", state, rev, err)
		}
		// A stale revision conflicts and writes nothing.
		if _, err := other.PutRolloutIf("orders", 0, 0, []byte("stale"), events("e", 1, 2)); !errors.Is(err, ErrConflict) {
			t.Fatalf("PutRolloutIf at a stale revision = %v, want ErrConflict", err)
		}
		if state, rev, _ := r.RolloutRev("orders"); string(state) != "s1" || rev != 1 {
			t.Errorf("after a conflict: %q, %d", state, rev)
		}
		if got := historyEvents(t, r, "orders", 0); !reflect.DeepEqual(got, events("e", 0, 1)) {
			t.Errorf("events after a conflict = %q", got)
		}
		// PutRollout bumps the revision too, and so makes rev 1 stale.
		if err := r.PutRollout("orders", []byte("s2"), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := other.PutRolloutIf("orders", 1, 0, []byte("stale"), nil); !errors.Is(err, ErrConflict) {
			t.Fatalf("PutRolloutIf after PutRollout = %v, want ErrConflict", err)
		}
		// Events alone keep the state and its revision.
		if err := r.PutRollout("orders", nil, events("e", 1, 2)); err != nil {
			t.Fatal(err)
		}
		rev, err = other.PutRolloutIf("orders", 2, 0, nil, events("e", 2, 3))
		if err != nil || rev != 2 {
			t.Fatalf("PutRolloutIf of events only = %d, %v; want 2", rev, err)
		}
		rev, err = other.PutRolloutIf("orders", 2, 0, []byte("s3"), nil)
		if err != nil || rev != 3 {
			t.Fatalf("PutRolloutIf at the current revision = %d, %v; want 3", rev, err)
		}
		if state, rev, _ := r.RolloutRev("orders"); string(state) != "s3" || rev != 3 {
			t.Errorf("RolloutRev = %q, %d; want s3, 3", state, rev)
		}
		if got := historyEvents(t, r, "orders", 0); !reflect.DeepEqual(got, events("e", 0, 3)) {
			t.Errorf("events = %q", got)
		}
		if got, err := r.Rollouts(); err != nil || !reflect.DeepEqual(got, map[string][]byte{"orders": []byte("s3")}) {
			t.Errorf("Rollouts = %q, %v", got, err)
		}
		// Routes' revisions are their own.
		if rev, err := r.PutRolloutIf("items", 0, 0, []byte("i1"), nil); err != nil || rev != 1 {
			t.Errorf("first write of another route = %d, %v; want 1", rev, err)
		}
		if _, err := r.PutRolloutIf("", 0, 0, []byte("s"), nil); err == nil || errors.Is(err, ErrConflict) {
			t.Errorf("PutRolloutIf with an empty route = %v", err)
		}
	})
}

func TestContractLeaseFencing(t *testing.T) {
	eachSharedDriver(t, func(t *testing.T, a sharedStore, more func() sharedStore) {
		b := more()
		const ttl = 200 * time.Millisecond
		t1, err := a.Lease("orders", "a", ttl)
		if err != nil || t1 == 0 {
			t.Fatalf("Lease of a free route = %d, %v", t1, err)
		}
		if tok, err := b.Lease("orders", "b", ttl); err != nil || tok != 0 {
			t.Fatalf("Lease held by another = %d, %v; want 0", tok, err)
		}
		if tok, err := a.Lease("orders", "a", ttl); err != nil || tok != t1 {
			t.Fatalf("renewal = %d, %v; want the same token %d", tok, err, t1)
		}
		rev, err := a.PutRolloutIf("orders", 0, t1, []byte("by a"), nil)
		if err != nil || rev != 1 {
			t.Fatalf("PutRolloutIf by the holder = %d, %v", rev, err)
		}
		// a stops renewing; b takes over once the lease expired.
		var t2 uint64
		pollUntil(t, 10*time.Second, "b takes the expired lease", func() bool {
			tok, err := b.Lease("orders", "b", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			t2 = tok
			return tok != 0
		})
		if t2 <= t1 {
			t.Fatalf("new holder's token %d, want more than %d", t2, t1)
		}
		// a's writes are fenced, even at the right revision, and the token is
		// checked before the revision.
		if _, err := a.PutRolloutIf("orders", 1, t1, []byte("late a"), events("a", 0, 1)); !errors.Is(err, ErrFenced) {
			t.Fatalf("PutRolloutIf with an old token = %v, want ErrFenced", err)
		}
		if _, err := a.PutRolloutIf("orders", 7, t1, []byte("late a"), nil); !errors.Is(err, ErrFenced) {
			t.Fatalf("PutRolloutIf with an old token and revision = %v, want ErrFenced", err)
		}
		if state, rev, _ := a.RolloutRev("orders"); string(state) != "by a" || rev != 1 {
			t.Errorf("a fenced write changed the state: %q, %d", state, rev)
		}
		if got := historyEvents(t, a, "orders", 0); len(got) != 0 {
			t.Errorf("a fenced write appended %q", got)
		}
		if tok, err := a.Lease("orders", "a", ttl); err != nil || tok != 0 {
			t.Errorf("Lease by the old holder = %d, %v; want 0", tok, err)
		}
		if rev, err := b.PutRolloutIf("orders", 1, t2, []byte("by b"), nil); err != nil || rev != 2 {
			t.Errorf("PutRolloutIf by the new holder = %d, %v", rev, err)
		}
		// Without a token, only the revision counts.
		if rev, err := a.PutRolloutIf("orders", 2, 0, []byte("manual"), nil); err != nil || rev != 3 {
			t.Errorf("PutRolloutIf without a token = %d, %v", rev, err)
		}
	})
}

func TestContractLeaseRelease(t *testing.T) {
	eachSharedDriver(t, func(t *testing.T, a sharedStore, more func() sharedStore) {
		b := more()
		t1, err := a.Lease("orders", "a", time.Minute)
		if err != nil || t1 == 0 {
			t.Fatalf("Lease = %d, %v", t1, err)
		}
		// Only the holder releases.
		if err := b.Release("orders", "b"); err != nil {
			t.Fatal(err)
		}
		if tok, err := b.Lease("orders", "b", time.Minute); err != nil || tok != 0 {
			t.Fatalf("Lease after another's Release = %d, %v; want 0", tok, err)
		}
		if err := a.Release("orders", "a"); err != nil {
			t.Fatal(err)
		}
		t2, err := b.Lease("orders", "b", time.Minute)
		if err != nil || t2 <= t1 {
			t.Fatalf("Lease right after Release = %d, %v; want more than %d", t2, err, t1)
		}
		if _, err := a.PutRolloutIf("orders", 0, t1, []byte("s"), nil); !errors.Is(err, ErrFenced) {
			t.Errorf("PutRolloutIf after Release = %v, want ErrFenced", err)
		}
		if err := a.Release("orders", "a"); err != nil {
			t.Fatal(err)
		}
		if tok, err := b.Lease("orders", "b", time.Minute); err != nil || tok != t2 {
			t.Errorf("b's lease after a's second Release = %d, %v; want %d", tok, err, t2)
		}
	})
}

func TestContractLeaseRace(t *testing.T) {
	eachSharedDriver(t, func(t *testing.T, r sharedStore, more func() sharedStore) {
		stores := map[string]sharedStore{"a": r, "b": more()}
		const perOwner = 8

		// Rounds: all 16 goroutines ask at once; exactly one owner wins, all
		// its goroutines get the same token, and it grows from round to round.
		var last uint64
		for round := range 20 {
			type result struct {
				owner string
				tok   uint64
				err   error
			}
			results := make(chan result, 2*perOwner)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for owner, s := range stores {
				for range perOwner {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						tok, err := s.Lease("orders", owner, time.Minute)
						results <- result{owner, tok, err}
					}()
				}
			}
			close(start)
			wg.Wait()
			close(results)
			holders := map[string]uint64{}
			zeros := map[string]int{}
			for res := range results {
				if res.err != nil {
					t.Fatal(res.err)
				}
				if res.tok == 0 {
					zeros[res.owner]++
					continue
				}
				if prev, ok := holders[res.owner]; ok && prev != res.tok {
					t.Fatalf("round %d: owner %s got tokens %d and %d", round, res.owner, prev, res.tok)
				}
				holders[res.owner] = res.tok
			}
			if len(holders) != 1 {
				t.Fatalf("round %d: holders %v, want exactly one", round, holders)
			}
			for owner, tok := range holders {
				if zeros[owner] != 0 {
					t.Fatalf("round %d: the holder %s was refused %d times", round, owner, zeros[owner])
				}
				if tok <= last {
					t.Fatalf("round %d: token %d after %d", round, tok, last)
				}
				last = tok
				if err := stores[owner].Release("orders", owner); err != nil {
					t.Fatal(err)
				}
			}
		}

		// Free running: take, sometimes release, with a short ttl; a token is
		// never handed to two owners.
		var mu sync.Mutex
		tokens := map[uint64]string{}
		var wg sync.WaitGroup
		for owner, s := range stores {
			for g := range perOwner {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 50 {
						tok, err := s.Lease("orders", owner, 5*time.Millisecond)
						if err != nil {
							t.Error(err)
							return
						}
						if tok != 0 {
							mu.Lock()
							if prev, ok := tokens[tok]; ok && prev != owner {
								t.Errorf("token %d handed to %s and %s", tok, prev, owner)
							}
							tokens[tok] = owner
							mu.Unlock()
							if (g+i)%3 == 0 {
								if err := s.Release("orders", owner); err != nil {
									t.Error(err)
									return
								}
							}
						}
					}
				}()
			}
		}
		wg.Wait()
		if len(tokens) == 0 {
			t.Error("nobody took the lease")
		}
	})
}

func TestContractNotifyWatch(t *testing.T) {
	eachSharedDriver(t, func(t *testing.T, r sharedStore, more func() sharedStore) {
		other := more()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ch := r.Watch(ctx)
		if err := r.Notify("orders"); err != nil {
			t.Fatal(err)
		}
		receiveRoute(t, ch, "orders", 5*time.Second)
		// Another replica's notification arrives too, and so does a route
		// that is any binary string.
		if err := other.Notify("items\x00\xff"); err != nil {
			t.Fatal(err)
		}
		receiveRoute(t, ch, "items\x00\xff", 5*time.Second)
		// Two watchers each get every notification.
		ch2 := other.Watch(ctx)
		if err := r.Notify("both"); err != nil {
			t.Fatal(err)
		}
		receiveRoute(t, ch, "both", 5*time.Second)
		receiveRoute(t, ch2, "both", 5*time.Second)
		// The end of ctx closes the channels.
		cancel()
		for _, c := range []<-chan string{ch, ch2} {
			timer := time.NewTimer(5 * time.Second)
		drain:
			for {
				select {
				case _, ok := <-c:
					if !ok {
						break drain
					}
				case <-timer.C:
					t.Fatal("Watch's channel not closed within 5s of the end of its context")
				}
			}
			timer.Stop()
		}
	})
}

func TestContractTallyConcurrentAdds(t *testing.T) {
	eachSharedDriver(t, func(t *testing.T, r sharedStore, more func() sharedStore) {
		other := more()
		const goroutines, perGoroutine = 4, 200
		var wg sync.WaitGroup
		for g := range goroutines {
			s := r
			if g%2 == 1 {
				s = other
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perGoroutine {
					adds := []TallyAdd{
						{Key: "diff:prices", Counts: map[string]int64{"a": 1, "b": 2, "\x00bin\xff": 3, "zero": 0}},
						{Key: "diff:orders", Counts: map[string]int64{"a": int64(i)}},
					}
					if n, err := s.AddTallies(adds); err != nil || n != 2 {
						t.Errorf("AddTallies = %d, %v", n, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		got, err := r.Tallies([]string{"diff:prices", "diff:orders"})
		if err != nil {
			t.Fatal(err)
		}
		n := int64(goroutines * perGoroutine)
		want := map[string]int64{"a": n, "b": 2 * n, "\x00bin\xff": 3 * n}
		if !reflect.DeepEqual(got[0].Counts, want) {
			t.Errorf("diff:prices counts = %v, want %v", got[0].Counts, want)
		}
		if sum := int64(goroutines * perGoroutine * (perGoroutine - 1) / 2); got[1].Counts["a"] != sum {
			t.Errorf("diff:orders a = %d, want %d", got[1].Counts["a"], sum)
		}
	})
}

func TestContractTallyBatches(t *testing.T) {
	eachSharedDriver(t, func(t *testing.T, r sharedStore, _ func() sharedStore) {
		// More adds than one transaction takes, some to the same tally.
		adds := make([]TallyAdd, 600)
		for i := range adds {
			adds[i] = TallyAdd{Key: fmt.Sprintf("k%d", i%7), Counts: map[string]int64{"n": 1, "neg": -2}}
		}
		if n, err := r.AddTallies(adds); err != nil || n != len(adds) {
			t.Fatalf("AddTallies = %d, %v", n, err)
		}
		keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6"}
		got, err := r.Tallies(keys)
		if err != nil || len(got) != len(keys) {
			t.Fatalf("Tallies = %d, %v", len(got), err)
		}
		var total int64
		for i, tl := range got {
			want := int64(600 / 7)
			if i < 600%7 {
				want++
			}
			if tl.Counts["n"] != want || tl.Counts["neg"] != -2*want {
				t.Errorf("%s counts = %v, want n=%d", keys[i], tl.Counts, want)
			}
			total += tl.Counts["n"]
		}
		if total != 600 {
			t.Errorf("total = %d, want 600", total)
		}
		// Nothing to add applies trivially.
		if n, err := r.AddTallies([]TallyAdd{{Key: "k0"}, {Key: "k1", Counts: map[string]int64{"z": 0}}}); err != nil || n != 2 {
			t.Errorf("AddTallies of nothing = %d, %v", n, err)
		}
		if n, err := r.AddTallies(nil); err != nil || n != 0 {
			t.Errorf("AddTallies(nil) = %d, %v", n, err)
		}
	})
}

func TestContractTallyRecent(t *testing.T) {
	eachSharedDriver(t, func(t *testing.T, r sharedStore, _ func() sharedStore) {
		add := func(recent map[string][]string) {
			t.Helper()
			if _, err := r.AddTallies([]TallyAdd{{Key: "diff:prices", Recent: recent, Keep: 3}}); err != nil {
				t.Fatal(err)
			}
		}
		add(map[string][]string{"x": {"x1", "x2"}, "y\x00": {"y1"}})
		add(map[string][]string{"x": {"x3", "x4", "x5"}})
		add(map[string][]string{"y\x00": {"y2"}, "empty": {}})
		got, err := r.Tallies([]string{"diff:prices"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{"x": {"x5", "x4", "x3"}, "y\x00": {"y2", "y1"}}
		if !reflect.DeepEqual(got[0].Recent, want) {
			t.Errorf("Recent = %q, want %q", got[0].Recent, want)
		}
		if got[0].Counts == nil || len(got[0].Counts) != 0 {
			t.Errorf("Counts of a tally with only lists = %#v", got[0].Counts)
		}
		// One add larger than Keep keeps the newest of its own items.
		if _, err := r.AddTallies([]TallyAdd{{Key: "big", Recent: map[string][]string{"x": {"1", "2", "3", "4", "5"}}, Keep: 2}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := r.Tallies([]string{"big"}); !reflect.DeepEqual(got[0].Recent["x"], []string{"5", "4"}) {
			t.Errorf("Recent of one add past Keep = %q", got[0].Recent["x"])
		}
	})
}

func TestContractTallyMissing(t *testing.T) {
	eachSharedDriver(t, func(t *testing.T, r sharedStore, _ func() sharedStore) {
		got, err := r.Tallies([]string{"nope", ""})
		if err != nil || len(got) != 2 {
			t.Fatalf("Tallies = %v, %v", got, err)
		}
		for i, tl := range got {
			if tl.Counts == nil || len(tl.Counts) != 0 || tl.Recent == nil || len(tl.Recent) != 0 {
				t.Errorf("tally %d of missing keys = %#v, want empty non-nil maps", i, tl)
			}
		}
		if got, err := r.Tallies(nil); err != nil || len(got) != 0 {
			t.Errorf("Tallies(nil) = %v, %v", got, err)
		}
	})
}

func TestContractTallyTTL(t *testing.T) {
	eachSharedDriver(t, func(t *testing.T, s sharedStore, _ func() sharedStore) {
		adds := []TallyAdd{
			{Key: "short", Counts: map[string]int64{"a": 1}, Recent: map[string][]string{"x": {"1"}}, Keep: 5, TTL: 50 * time.Millisecond},
			{Key: "forever", Counts: map[string]int64{"a": 1}, Recent: map[string][]string{"x": {"1"}}, Keep: 5},
		}
		if _, err := s.AddTallies(adds); err != nil {
			t.Fatal(err)
		}
		pollUntil(t, 10*time.Second, "the tally with a TTL expires", func() bool {
			got, err := s.Tallies([]string{"short"})
			return err == nil && len(got[0].Counts) == 0 && len(got[0].Recent) == 0
		})
		got, err := s.Tallies([]string{"forever"})
		if err != nil || got[0].Counts["a"] != 1 || len(got[0].Recent["x"]) != 1 {
			t.Errorf("the tally without a TTL = %v, %v; want it whole", got, err)
		}
		// An expired tally starts afresh; one add renews the expiry.
		if _, err := s.AddTallies([]TallyAdd{{Key: "short", Counts: map[string]int64{"a": 2}, TTL: time.Minute}}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Tallies([]string{"short"}); err != nil || !reflect.DeepEqual(got[0].Counts, map[string]int64{"a": 2}) {
			t.Errorf("a tally added to after it expired = %v, %v; want a=2", got, err)
		}
	})
}
