package store

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/internal/redistest"
)

// returnsWithin runs fn and fails the test when it has not returned after
// limit: a hang detector with a generous bound, not a timing assertion.
func returnsWithin[T any](t *testing.T, limit time.Duration, what string, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(limit):
		t.Fatalf("%s did not return within %s", what, limit)
		panic("unreachable")
	}
}

func TestOpenRedisUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	err = returnsWithin(t, 10*time.Second, "OpenRedis", func() error {
		r, err := OpenRedis(RedisOptions{Addrs: []string{addr}, Timeout: 200 * time.Millisecond})
		if err == nil {
			r.Close()
		}
		return err
	})
	if err == nil {
		t.Fatal("OpenRedis of a closed port succeeded")
	}
	if !strings.Contains(err.Error(), addr) || !strings.HasPrefix(err.Error(), "store: ") {
		t.Errorf("error %q does not name the address %s", err, addr)
	}
}

// TestRedisServerStopped: while Redis is down every call fails, without
// hanging or panicking; once it is back the same *Redis works again.
func TestRedisServerStopped(t *testing.T) {
	srv := redistest.Start(t)
	r, err := OpenRedis(RedisOptions{Addrs: []string{srv.Addr}, Timeout: 200 * time.Millisecond, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	// Starts inside retention, so the Prune below keeps them.
	t0 := time.Now().Add(-time.Minute)
	before := &Record{Route: "r", Chain: chain.TraceID{1}, Start: t0}
	if err := r.Append([]*Record{before}); err != nil {
		t.Fatal(err)
	}
	sample := NewSampleID(time.Now())
	if err := r.PutSamples([]Sample{{ID: sample, Data: []byte("d")}}); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	down := &Record{Route: "r", Start: t0.Add(time.Second)}
	calls := []struct {
		name string
		fn   func() error
	}{
		{"Append", func() error { return r.Append([]*Record{down}) }},
		{"Records", func() error { _, err := r.Records(Query{Route: "r", Status: 2}); return err }},
		{"Get", func() error { _, err := r.Get(before.ID); return err }},
		{"Chain", func() error { _, err := r.Chain(before.Chain); return err }},
		{"Prune", func() error { _, err := r.Prune(time.Now()); return err }},
		{"PutSamples", func() error { return r.PutSamples([]Sample{{ID: sample, Data: []byte("d")}}) }},
		{"Sample", func() error { _, err := r.Sample(sample); return err }},
	}
	for _, c := range calls {
		err := returnsWithin(t, 10*time.Second, c.name, c.fn)
		if err == nil {
			t.Errorf("%s succeeded with Redis down", c.name)
			continue
		}
		if errors.Is(err, ErrNotFound) || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("%s: %v; want a store: error that is not ErrNotFound", c.name, err)
		}
	}
	if !down.ID.IsZero() {
		t.Error("a failed Append left an ID")
	}

	srv.Start()
	for _, c := range calls {
		if err := returnsWithin(t, 10*time.Second, c.name, c.fn); err != nil {
			t.Errorf("%s after the restart: %v", c.name, err)
		}
	}
	// What was stored before the restart is still there (SHUTDOWN SAVE).
	if got, err := r.Get(before.ID); err != nil || got.Route != "r" {
		t.Errorf("Get of a record from before the restart = %+v, %v", got, err)
	}
	page, err := r.Records(Query{Route: "r"})
	if err != nil || len(page.Records) != 2 || page.Records[0].ID != down.ID {
		t.Errorf("Records after the restart: %d records, %v; want the two", len(page.Records), err)
	}
}

// redisKeys lists the keys under r's prefix, without it, sorted.
func redisKeys(t *testing.T, r *Redis) []string {
	t.Helper()
	keys, err := r.c.Keys(context.Background(), r.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		keys[i] = strings.TrimPrefix(keys[i], r.prefix)
	}
	slices.Sort(keys)
	return keys
}

// TestRedisPruneLeavesNoIndexEntries looks behind the API: Prune takes
// the IDs out of every index and forgets emptied ones, readers drop
// chain members past retention, and keys carry the retention TTL.
func TestRedisPruneLeavesNoIndexEntries(t *testing.T) {
	srv := redistest.Start(t)
	r, err := OpenRedis(RedisOptions{Addrs: []string{srv.Addr}, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	ctx := context.Background()
	recs := contractPruneData(t, r, 100)
	for _, key := range []string{hexKey(r, rkRecord, recs[0].ID[:]), hexKey(r, rkChain, recs[0].Chain[:]), r.key(rkAll), r.key(rkRoute, "a"), r.key(rkIndexKeys)} {
		if ttl, err := r.c.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > time.Hour {
			t.Errorf("TTL of %s = %v, %v; want up to an hour", key, ttl, err)
		}
	}

	now := queryEpoch.Add(100 * time.Minute)
	if removed, err := r.Prune(now); removed != 40 || err != nil {
		t.Fatalf("Prune = %d, %v; want 40", removed, err)
	}
	for key, n := range map[string]int64{
		r.key(rkAll):           60,
		r.key(rkRoute, "a"):    30,
		r.key(rkStatus, "5"):   30,
		r.key(rkTenant, "t39"): 0,
		r.key(rkTenant, "t40"): 1,
	} {
		if got, err := r.c.ZCard(ctx, key).Result(); got != n || err != nil {
			t.Errorf("ZCARD %s = %d, %v; want %d", key, got, err, n)
		}
	}
	if n, err := r.c.SCard(ctx, r.key(rkIndexKeys)).Result(); n != 2+2+60 || err != nil {
		t.Errorf("ixkeys lists %d indexes, %v; want 64 (2 routes, 2 classes, 60 tenants)", n, err)
	}

	if removed, err := r.Prune(now.Add(24 * time.Hour)); removed != 60 || err != nil {
		t.Fatalf("Prune of the rest = %d, %v; want 60", removed, err)
	}
	// Reading the chains drops their members, long past retention.
	for _, c := range []chain.TraceID{{0: 1}, {0: 1, 15: 1}} {
		if _, err := r.Chain(c); !errors.Is(err, ErrNotFound) {
			t.Errorf("Chain of pruned calls: %v, want ErrNotFound", err)
		}
	}
	if keys := redisKeys(t, r); !slices.Equal(keys, []string{rkFormat, rkSeq}) {
		t.Errorf("keys left after pruning everything: %q, want only %q and %q", keys, rkFormat, rkSeq)
	}
}

func TestRedisNoRetentionNoTTL(t *testing.T) {
	srv := redistest.Start(t)
	r, err := OpenRedis(RedisOptions{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	rec := &Record{Route: "r", Chain: chain.TraceID{3}}
	if err := r.Append([]*Record{rec}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{hexKey(r, rkRecord, rec.ID[:]), hexKey(r, rkChain, rec.Chain[:]), r.key(rkAll), r.key(rkRoute, "r")} {
		if ttl, err := r.c.PTTL(context.Background(), key).Result(); err != nil || ttl != -1 {
			t.Errorf("TTL of %s = %v, %v; want none", key, ttl, err)
		}
	}
}
