package store

import (
	"context"
	"errors"
	"sync"
	"time"
)

// localReplica is the lease and notification half of the shared-store
// contract for the embedded store. A bbolt file is open in one process
// at a time (OpenBolt takes its lock), so every owner that can ask for a
// lease lives in this process: leases, fencing tokens and watchers are
// kept in memory. Tokens start afresh with the process, which is safe as
// no holder of an older token survives it.
type localReplica struct {
	mu       sync.Mutex // also held by PutRolloutIf from its check of the token to its commit
	leases   map[string]localLease
	tokens   map[string]uint64 // route → the newest token handed out: the current one
	watchers map[chan string]struct{}
}

type localLease struct {
	owner string
	until time.Time
	token uint64
}

// Lease takes route's decision lease for owner when it is free or expired,
// or renews it when owner holds it, for ttl, as Redis's does: it returns
// the fencing token, > 0 while owner holds the lease (the same on each
// renewal, a larger one at every new holder), 0 when another owner holds
// it. With one gateway on the file, its one owner always gets it.
func (b *Bolt) Lease(route, owner string, ttl time.Duration) (uint64, error) {
	if route == "" {
		return 0, errNoRoute
	}
	if owner == "" {
		return 0, errors.New("store: empty lease owner")
	}
	return b.local.lease(route, owner, max(ttl, time.Millisecond), time.Now()), nil
}

// Release gives up owner's lease of route, if owner holds it. The token
// stays, so the next holder gets a larger one.
func (b *Bolt) Release(route, owner string) error {
	if route == "" {
		return errNoRoute
	}
	l := &b.local
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.leases[route]; ok && cur.owner == owner {
		delete(l.leases, route)
	}
	return nil
}

func (l *localReplica) lease(route, owner string, ttl time.Duration, now time.Time) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leases == nil {
		l.leases, l.tokens = map[string]localLease{}, map[string]uint64{}
	}
	cur, held := l.leases[route]
	if held && now.After(cur.until) {
		held = false
	}
	switch {
	case held && cur.owner == owner:
		cur.until = now.Add(ttl)
		l.leases[route] = cur
		return cur.token
	case held:
		return 0
	}
	l.tokens[route]++
	l.leases[route] = localLease{owner: owner, until: now.Add(ttl), token: l.tokens[route]}
	return l.tokens[route]
}

// Notify tells every Watch of this store that route changed. Delivery is
// at most once: a watcher whose buffer is full misses it, and its
// caller's polling covers that.
func (b *Bolt) Notify(route string) error {
	l := &b.local
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.watchers {
		select {
		case ch <- route:
		default:
		}
	}
	return nil
}

// Watch delivers each route notified from now on until ctx ends; then it
// closes the channel.
func (b *Bolt) Watch(ctx context.Context) <-chan string {
	ch := make(chan string, 16)
	l := &b.local
	l.mu.Lock()
	if l.watchers == nil {
		l.watchers = map[chan string]struct{}{}
	}
	l.watchers[ch] = struct{}{}
	l.mu.Unlock()
	go func() {
		<-ctx.Done()
		l.mu.Lock()
		delete(l.watchers, ch)
		close(ch)
		l.mu.Unlock()
	}()
	return ch
}
