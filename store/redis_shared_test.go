package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/redistest"
)

// sharedRedis starts a redis-server and opens a store on it; more opens
// further stores on the same server, as other replicas.
func sharedRedis(t *testing.T) (*Redis, *redistest.Server, func() *Redis) {
	t.Helper()
	srv := redistest.Start(t)
	more := func() *Redis {
		t.Helper()
		r, err := OpenRedis(RedisOptions{Addrs: []string{srv.Addr}, Timeout: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	return more(), srv, more
}

func TestRedisLeaseTokenOutlivesLease(t *testing.T) {
	r, _, _ := sharedRedis(t)
	t1, err := r.Lease("orders", "a", 50*time.Millisecond)
	if err != nil || t1 == 0 {
		t.Fatalf("Lease = %d, %v", t1, err)
	}
	ctx, cancel := r.ctx()
	defer cancel()
	lease := r.rolloutKeys("orders").lease
	pollUntil(t, 10*time.Second, "the lease key expires", func() bool {
		n, err := r.c.Exists(ctx, lease).Result()
		return err == nil && n == 0
	})
	// The same owner taking it again is a new holder.
	if t2, err := r.Lease("orders", "a", time.Minute); err != nil || t2 <= t1 {
		t.Errorf("Lease after expiry = %d, %v; want more than %d", t2, err, t1)
	}
}

func TestRedisWatchSurvivesRestart(t *testing.T) {
	r, srv, _ := sharedRedis(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := r.Watch(ctx)
	if err := r.Notify("before"); err != nil {
		t.Fatal(err)
	}
	receiveRoute(t, ch, "before", 5*time.Second)

	srv.Stop()
	if err := r.Notify("down"); err == nil {
		t.Error("Notify with Redis stopped succeeded")
	}
	srv.Start()

	// The subscription comes back by itself.
	notifyUntilDelivered(t, r, ch)
}

func TestRedisWatchStartsWhileDown(t *testing.T) {
	r, srv, _ := sharedRedis(t)
	srv.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := r.Watch(ctx)
	srv.Start()
	notifyUntilDelivered(t, r, ch)
}

// notifyUntilDelivered notifies r until ch delivers one of the
// notifications, failing the test after 20s.
func notifyUntilDelivered(t *testing.T, r *Redis, ch <-chan string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for n := 0; ; n++ {
		if err := r.Notify(fmt.Sprintf("after-%d", n)); err == nil {
			select {
			case got, ok := <-ch:
				if !ok {
					t.Fatal("Watch's channel closed")
				}
				if strings.HasPrefix(got, "after-") {
					return
				}
			case <-time.After(200 * time.Millisecond):
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no notification delivered within 20s of Redis coming back")
		}
	}
}

func TestRedisTallyTTL(t *testing.T) {
	r, _, _ := sharedRedis(t)
	adds := []TallyAdd{
		{Key: "w", Counts: map[string]int64{"a": 1}, Recent: map[string][]string{"x": {"1"}}, Keep: 5, TTL: time.Minute},
		{Key: "forever", Counts: map[string]int64{"a": 1}, Recent: map[string][]string{"x": {"1"}}, Keep: 5},
	}
	if _, err := r.AddTallies(adds); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := r.ctx()
	defer cancel()
	for _, tc := range []struct {
		key      string
		expiring bool
	}{
		{r.tallyCounts(tallyTag("w")), true},
		{r.tallyLists(tallyTag("w")), true},
		{r.tallyList(tallyTag("w"), "x"), true},
		{r.tallyCounts(tallyTag("forever")), false},
		{r.tallyLists(tallyTag("forever")), false},
		{r.tallyList(tallyTag("forever"), "x"), false},
	} {
		ttl, err := r.c.PTTL(ctx, tc.key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if tc.expiring && (ttl <= 0 || ttl > time.Minute) {
			t.Errorf("TTL of %q = %v, want up to a minute", tc.key, ttl)
		}
		if !tc.expiring && ttl != -1 {
			t.Errorf("TTL of %q = %v, want none", tc.key, ttl)
		}
	}
	// A short TTL lets the tally go.
	if _, err := r.AddTallies([]TallyAdd{{Key: "short", Counts: map[string]int64{"a": 1}, TTL: 50 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, 10*time.Second, "the tally expires", func() bool {
		got, err := r.Tallies([]string{"short"})
		return err == nil && len(got[0].Counts) == 0
	})
}

func TestRedisTallyServerDown(t *testing.T) {
	r, srv, _ := sharedRedis(t)
	adds := []TallyAdd{{Key: "k", Counts: map[string]int64{"a": 1}}, {Key: "k2", Counts: map[string]int64{"a": 1}}}
	if _, err := r.AddTallies(adds); err != nil {
		t.Fatal(err)
	}
	check := func(what string, adds []TallyAdd) {
		t.Helper()
		type result struct {
			n   int
			err error
		}
		done := make(chan result, 1)
		go func() {
			n, err := r.AddTallies(adds)
			done <- result{n, err}
		}()
		select {
		case res := <-done:
			if res.err == nil || res.n != 0 {
				t.Errorf("AddTallies with Redis %s = %d, %v; want 0 and an error", what, res.n, res.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("AddTallies with Redis %s hangs", what)
		}
		done2 := make(chan error, 1)
		go func() { _, err := r.Tallies([]string{"k"}); done2 <- err }()
		select {
		case err := <-done2:
			if err == nil {
				t.Errorf("Tallies with Redis %s succeeded", what)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Tallies with Redis %s hangs", what)
		}
	}
	// A paused server may still apply what it was sent once it resumes,
	// after the client gave up: that add goes to a tally of its own.
	srv.Pause()
	check("paused", []TallyAdd{{Key: "p", Counts: map[string]int64{"a": 1}}})
	srv.Resume()
	srv.Stop()
	check("stopped", adds)
	srv.Start()
	pollUntil(t, 10*time.Second, "AddTallies after a restart", func() bool {
		n, err := r.AddTallies(adds)
		return err == nil && n == len(adds)
	})
	got, err := r.Tallies([]string{"k"})
	if err != nil {
		t.Fatal(err)
	}
	// Stop saved the data: the first add and the last one, and no add
	// that failed.
	if got[0].Counts["a"] != 2 {
		t.Errorf("count after the restart = %d, want 2", got[0].Counts["a"])
	}
}
