package rollout

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/redistest"
	"github.com/cutover/cutover/store"
)

// sharedReplica is one controller on the shared Redis, as one gateway
// replica runs it.
type sharedReplica struct {
	c     *Controller
	st    *store.Redis
	close sync.Once
}

func (r *sharedReplica) stop(t *testing.T) {
	r.close.Do(func() {
		if err := r.c.Close(context.Background()); err != nil {
			t.Error(err)
		}
		r.st.Close()
	})
}

// startReplica starts a controller named name with the "orders" rollout
// of cfg on the Redis at addr, deciding every interval.
func startReplica(t *testing.T, addr, name string, cfg *Config, interval time.Duration) *sharedReplica {
	t.Helper()
	st, err := store.OpenRedis(store.RedisOptions{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{Interval: interval, Replica: name, Logger: slog.New(slog.DiscardHandler)})
	c.Configure([]RouteSpec{{Name: "orders", Config: cfg}})
	if err := c.SetStore(st); err != nil {
		t.Fatal(err)
	}
	r := &sharedReplica{c: c, st: st}
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *sharedReplica) status(t *testing.T) Status {
	t.Helper()
	st, ok := r.c.Status("orders")
	if !ok {
		t.Fatal("no rollout status")
	}
	return st
}

// waitUntil polls cond for up to 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leaders returns the indexes of the replicas that say they lead.
func leaders(t *testing.T, rs []*sharedReplica) []int {
	var out []int
	for i, r := range rs {
		if st := r.status(t); st.Leading != nil && *st.Leading {
			out = append(out, i)
		}
	}
	return out
}

// TestSharedOneLeaderCountsEveryReplica runs three controllers: exactly
// one leads, the step's counts are the sum of what each replica saw, and
// when the leader stops another takes over the same step with them.
func TestSharedOneLeaderCountsEveryReplica(t *testing.T) {
	redis := redistest.Start(t)
	cfg := testConfig()
	cfg.MinDuration = time.Hour // the step must not end during the test
	var rs []*sharedReplica
	for _, name := range []string{"a", "b", "c"} {
		rs = append(rs, startReplica(t, redis.Addr, name, cfg, 20*time.Millisecond))
	}
	waitUntil(t, "one leader", func() bool { return len(leaders(t, rs)) == 1 })

	for i, r := range rs {
		feedClean(r.c.Feed("orders"), 100*(i+1))
	}
	waitUntil(t, "the merged counts on every replica", func() bool {
		for _, r := range rs {
			if r.status(t).Counts.Compared != 600 {
				return false
			}
		}
		return true
	})
	before := rs[0].status(t)
	if before.State != Progressing || before.Step != 1 || before.Counts.Calls != 600 {
		t.Fatalf("before the handover: %s step %d with %+v", before.State, before.Step, before.Counts)
	}
	if n := len(leaders(t, rs)); n != 1 {
		t.Fatalf("%d leaders", n)
	}

	lead := leaders(t, rs)[0]
	rs[lead].stop(t) // releases the lease
	rest := append(append([]*sharedReplica{}, rs[:lead]...), rs[lead+1:]...)
	waitUntil(t, "a new leader", func() bool { return len(leaders(t, rest)) == 1 })
	feedClean(rest[0].c.Feed("orders"), 50)
	waitUntil(t, "the new leader's counts", func() bool { return rest[1].status(t).Counts.Compared == 650 })
	after := rest[1].status(t)
	if after.Step != 1 || !after.StepStarted.Equal(before.StepStarted) || after.State != Progressing {
		t.Errorf("after the handover: %s step %d started %v; before: step 1 started %v", after.State, after.Step, after.StepStarted, before.StepStarted)
	}
}

// TestSharedFollowersFollowByNotification gives the followers no polling
// at all: a manual action on one replica reaches the others through the
// store's notification.
func TestSharedFollowersFollowByNotification(t *testing.T) {
	redis := redistest.Start(t)
	a := startReplica(t, redis.Addr, "a", testConfig(), 20*time.Millisecond)
	waitUntil(t, "a to store the rollout", func() bool {
		st := a.status(t)
		return st.Leading != nil && *st.Leading
	})
	// An hour between rounds: only SetStore's first round and
	// notifications make b sync.
	b := startReplica(t, redis.Addr, "b", testConfig(), time.Hour)
	waitUntil(t, "b to read the stored state", func() bool {
		b.c.mu.Lock()
		defer b.c.mu.Unlock()
		return b.c.routes["orders"].rev > 0
	})
	if _, _, err := a.c.Act("orders", "pause", "by test"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b to follow the pause", func() bool { return b.status(t).State == Paused })
	// A follower acts too: the leader adopts it.
	if _, _, err := b.c.Act("orders", "promote", ""); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a to follow b's promote", func() bool { return a.status(t).Percent == 100 })
	evs, err := a.c.Events("orders", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []State
	for _, ev := range evs {
		got = append(got, ev.To)
	}
	if len(got) != 3 || got[0] != Pending || got[1] != Paused || got[2] != Promoted {
		t.Errorf("events %v, want [pending paused promoted] once each", got)
	}
}

// TestSharedConcurrentActions races the same action on two replicas:
// the store's revision check lets exactly one apply it.
func TestSharedConcurrentActions(t *testing.T) {
	redis := redistest.Start(t)
	a := startReplica(t, redis.Addr, "a", testConfig(), 20*time.Millisecond)
	b := startReplica(t, redis.Addr, "b", testConfig(), 20*time.Millisecond)
	waitUntil(t, "the rollout stored", func() bool {
		return a.status(t).Leading != nil && b.status(t).Leading != nil && len(leaders(t, []*sharedReplica{a, b})) == 1
	})
	for round := range 10 {
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, r := range []*sharedReplica{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = r.c.Act("orders", "pause", "")
			}()
		}
		wg.Wait()
		applied := 0
		for _, err := range errs {
			switch {
			case err == nil:
				applied++
			case !errors.Is(err, ErrNotApplicable):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if applied != 1 {
			t.Fatalf("round %d: the pause applied %d times", round, applied)
		}
		if _, _, err := a.c.Act("orders", "resume", ""); err != nil {
			t.Fatalf("round %d: resume: %v", round, err)
		}
	}
}

// TestSharedStoreDown keeps the percent while Redis is away, refuses
// manual actions with ErrUnavailable, and decides again once it is back.
func TestSharedStoreDown(t *testing.T) {
	redis := redistest.Start(t)
	a := startReplica(t, redis.Addr, "a", testConfig(), 20*time.Millisecond)
	waitUntil(t, "a to lead", func() bool { st := a.status(t); return st.Leading != nil && *st.Leading })
	if _, _, err := a.c.Act("orders", "promote", ""); err != nil {
		t.Fatal(err)
	}
	redis.Stop()
	if _, _, err := a.c.Act("orders", "rollback", ""); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("rollback with Redis down: %v, want ErrUnavailable", err)
	}
	if p := a.status(t).Percent; p != 100 {
		t.Fatalf("percent %v with Redis down, want the last known 100", p)
	}
	redis.Start()
	waitUntil(t, "the rollback once Redis is back", func() bool {
		_, _, err := a.c.Act("orders", "rollback", "")
		return err == nil
	})
	if st := a.status(t); st.State != RolledBack || st.Percent != 0 {
		t.Errorf("after the rollback: %s at %v%%", st.State, st.Percent)
	}
}
