package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Rollout keys of route R share the hash tag {rollout:R} so that one script
// touches one cluster slot:
//
//	<prefix>{rollout:R}state   the state blob
//	<prefix>{rollout:R}rev     its revision, bumped by every state write
//	<prefix>{rollout:R}events  list of event blobs, the newest MaxRolloutEvents kept
//	<prefix>{rollout:R}lease   the holder of R's decision lease, with an expiry
//	<prefix>{rollout:R}token   the fencing token, bumped at every new holder
//	<prefix>rollouts           set of the routes that have a state
//
// The set lies in another slot, so it is written by its own command,
// before the script that writes the state: a route in the set may have
// no state yet (a write that failed or conflicted), and readers skip it,
// but a route with a state is always in the set. None of these keys
// expires except the lease: the fencing token must outlive every lease,
// so that a token is never handed out twice. Notifications go over the
// Pub/Sub channel <prefix>rollouts:notify.

// ErrConflict is returned by PutRolloutIf when route's revision moved since
// the caller read it: another replica wrote the state in between.
var ErrConflict = errors.New("store: rollout state changed since it was read")

// ErrFenced is returned by PutRolloutIf when the caller's fencing token is
// no longer route's current one: another replica took the lease.
var ErrFenced = errors.New("store: rollout lease lost")

// rolloutKeys are the keys of one route, in the order the scripts take
// them as KEYS.
type rolloutKeys struct {
	state, rev, events, lease, token string
}

func (r *Redis) rolloutKeys(route string) rolloutKeys {
	tag := "{rollout:" + route + "}"
	return rolloutKeys{
		state:  r.key(tag, "state"),
		rev:    r.key(tag, "rev"),
		events: r.key(tag, "events"),
		lease:  r.key(tag, "lease"),
		token:  r.key(tag, "token"),
	}
}

// putRolloutScript writes a route's state and appends its events.
//
// KEYS: state, rev, events, token.
// ARGV: check ("1": compare revision and token), rev, token ("0": not
// fenced), has state ("1"), state, max events, events… .
// It returns the new revision, -1 when fenced or -2 on a conflict.
var putRolloutScript = redis.NewScript(`
local rev = redis.call('GET', KEYS[2]) or '0'
if ARGV[1] == '1' then
	if ARGV[3] ~= '0' and (redis.call('GET', KEYS[4]) or '0') ~= ARGV[3] then
		return -1
	end
	if rev ~= ARGV[2] then
		return -2
	end
end
if ARGV[4] == '1' then
	redis.call('SET', KEYS[1], ARGV[5])
	rev = redis.call('INCR', KEYS[2])
end
local n = #ARGV
if n >= 7 then
	for i = 7, n, 100 do
		redis.call('RPUSH', KEYS[3], unpack(ARGV, i, math.min(i + 99, n)))
	end
	redis.call('LTRIM', KEYS[3], -tonumber(ARGV[6]), -1)
end
return tonumber(rev)
`)

// PutRollout replaces route's rollout state blob and appends events to its
// history, as Bolt's does: atomically, keeping the newest MaxRolloutEvents
// events; a nil state leaves the stored one unchanged. A state write bumps
// route's revision. PutRollout does not keep state or events.
func (r *Redis) PutRollout(route string, state []byte, events [][]byte) error {
	if state == nil && len(events) == 0 {
		return nil
	}
	if _, err := r.putRollout(route, false, 0, 0, state, events); err != nil {
		return fmt.Errorf("store: cannot put rollout of %q: %w", route, err)
	}
	return nil
}

// PutRolloutIf writes like PutRollout, atomically (one Lua script), only
// when route's stored revision is rev and, when token != 0, route's current
// fencing token is token. It returns the new revision: rev + 1 after a
// state write, rev when state is nil. It fails with ErrConflict when the
// revision moved and ErrFenced when the token is not current (checked
// first), writing nothing. A route without state has revision 0.
func (r *Redis) PutRolloutIf(route string, rev, token uint64, state []byte, events [][]byte) (uint64, error) {
	n, err := r.putRollout(route, true, rev, token, state, events)
	switch {
	case errors.Is(err, ErrConflict), errors.Is(err, ErrFenced):
		return 0, err
	case err != nil:
		return 0, fmt.Errorf("store: cannot put rollout of %q: %w", route, err)
	}
	return n, nil
}

func (r *Redis) putRollout(route string, check bool, rev, token uint64, state []byte, events [][]byte) (uint64, error) {
	if route == "" {
		return 0, errNoRoute
	}
	// Events beyond the cap would be trimmed at once: do not send them.
	if len(events) > MaxRolloutEvents {
		events = events[len(events)-MaxRolloutEvents:]
	}
	ctx, cancel := r.ctx()
	defer cancel()
	if state != nil {
		if err := r.c.SAdd(ctx, r.key("rollouts"), route).Err(); err != nil {
			return 0, err
		}
	}
	k := r.rolloutKeys(route)
	args := make([]any, 0, 6+len(events))
	args = append(args, flag(check), strconv.FormatUint(rev, 10), strconv.FormatUint(token, 10),
		flag(state != nil), state, MaxRolloutEvents)
	for _, e := range events {
		args = append(args, e)
	}
	n, err := putRolloutScript.Run(ctx, r.c, []string{k.state, k.rev, k.events, k.token}, args...).Int64()
	switch {
	case err != nil:
		return 0, err
	case n == -1:
		return 0, ErrFenced
	case n == -2:
		return 0, ErrConflict
	}
	return uint64(n), nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Rollouts returns every route's rollout state blob.
func (r *Redis) Rollouts() (map[string][]byte, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	routes, err := r.c.SMembers(ctx, r.key("rollouts")).Result()
	if err != nil {
		return nil, fmt.Errorf("store: cannot read rollouts: %w", err)
	}
	out := make(map[string][]byte, len(routes))
	if len(routes) == 0 {
		return out, nil
	}
	// GETs in a pipeline rather than one MGET: the keys lie in as many
	// cluster slots as there are routes.
	cmds := make([]*redis.StringCmd, len(routes))
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, route := range routes {
			cmds[i] = p.Get(ctx, r.rolloutKeys(route).state)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: cannot read rollouts: %w", err)
	}
	for i, c := range cmds {
		b, err := c.Bytes()
		if errors.Is(err, redis.Nil) {
			continue // in the set, but its first write failed
		}
		if err != nil {
			return nil, fmt.Errorf("store: cannot read rollouts: %w", err)
		}
		out[routes[i]] = b
	}
	return out, nil
}

// RolloutEvents returns the newest limit events of route (limit <= 0: all
// kept), oldest first. A route without events has an empty, non-nil list.
func (r *Redis) RolloutEvents(route string, limit int) ([][]byte, error) {
	out := [][]byte{}
	if route == "" {
		return out, nil
	}
	start := int64(0)
	if limit > 0 {
		start = -int64(limit)
	}
	ctx, cancel := r.ctx()
	defer cancel()
	items, err := r.c.LRange(ctx, r.rolloutKeys(route).events, start, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("store: cannot read rollout events of %q: %w", route, err)
	}
	for _, s := range items {
		out = append(out, []byte(s))
	}
	return out, nil
}

// RolloutRev returns route's state blob and revision, read together; nil, 0
// when there is none.
func (r *Redis) RolloutRev(route string) ([]byte, uint64, error) {
	if route == "" {
		return nil, 0, nil
	}
	ctx, cancel := r.ctx()
	defer cancel()
	k := r.rolloutKeys(route)
	vals, err := r.c.MGet(ctx, k.state, k.rev).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("store: cannot read rollout of %q: %w", route, err)
	}
	state, ok := vals[0].(string)
	if !ok {
		return nil, 0, nil
	}
	var rev uint64
	if s, ok := vals[1].(string); ok {
		if rev, err = strconv.ParseUint(s, 10, 64); err != nil {
			return nil, 0, fmt.Errorf("store: bad rollout revision of %q: %w", route, err)
		}
	}
	return []byte(state), rev, nil
}

// leaseScript takes or renews a lease.
//
// KEYS: lease, token. ARGV: owner, ttl in milliseconds.
// It returns the holder's fencing token, or 0 when another owner holds it.
var leaseScript = redis.NewScript(`
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	local t = tonumber(redis.call('GET', KEYS[2]) or '0')
	if t > 0 then
		return t
	end
	return redis.call('INCR', KEYS[2])
end
if holder then
	return 0
end
local t = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return t
`)

// releaseScript deletes the lease if ARGV[1] holds it. KEYS: lease.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('DEL', KEYS[1])
end
return 0
`)

// Lease takes route's decision lease for owner when it is free or expired,
// or renews it when owner holds it, for ttl (at least a millisecond). It
// returns the fencing token: > 0 while owner holds the lease (the same
// value on each renewal, a larger one at every new holder, never reused
// even after the lease key expired), 0 when another owner holds it. An
// owner that lets its lease expire and takes it again is a new holder.
func (r *Redis) Lease(route, owner string, ttl time.Duration) (uint64, error) {
	if route == "" {
		return 0, errNoRoute
	}
	if owner == "" {
		return 0, errors.New("store: empty lease owner")
	}
	ms := max(ttl.Milliseconds(), 1)
	ctx, cancel := r.ctx()
	defer cancel()
	k := r.rolloutKeys(route)
	t, err := leaseScript.Run(ctx, r.c, []string{k.lease, k.token}, owner, ms).Int64()
	if err != nil {
		return 0, fmt.Errorf("store: cannot take the lease of %q: %w", route, err)
	}
	return uint64(t), nil
}

// Release gives up owner's lease of route, if owner holds it, so another
// replica takes over at once. The fencing token stays, so the next holder
// gets a larger one.
func (r *Redis) Release(route, owner string) error {
	if route == "" {
		return errNoRoute
	}
	ctx, cancel := r.ctx()
	defer cancel()
	if err := releaseScript.Run(ctx, r.c, []string{r.rolloutKeys(route).lease}, owner).Err(); err != nil {
		return fmt.Errorf("store: cannot release the lease of %q: %w", route, err)
	}
	return nil
}

func (r *Redis) notifyChannel() string { return r.key("rollouts:notify") }

// Notify publishes route on the rollout channel, for the Watch of every
// replica. Delivery is at most once: a replica that is not subscribed at
// that moment misses it.
func (r *Redis) Notify(route string) error {
	ctx, cancel := r.ctx()
	defer cancel()
	if err := r.c.Publish(ctx, r.notifyChannel(), route).Err(); err != nil {
		return fmt.Errorf("store: cannot notify rollout of %q: %w", route, err)
	}
	return nil
}

// Watch delivers each route notified from now on until ctx ends; then it
// closes the channel. Watch returns once Redis confirmed the subscription,
// or after Timeout if Redis does not answer; the subscription is then
// taken when Redis comes back. The channel stays subscribed across Redis
// restarts (go-redis PubSub reconnects); a message lost while Redis is
// away, or while the receiver lags more than a minute behind, is covered
// by the caller's polling.
func (r *Redis) Watch(ctx context.Context) <-chan string {
	out := make(chan string, 16)
	ps := r.c.Subscribe(ctx, r.notifyChannel())
	// Wait for the confirmation, so that a Notify after Watch returns is
	// delivered; without it, the first messages could race the SUBSCRIBE.
	_, _ = ps.ReceiveTimeout(ctx, r.opt.Timeout)
	msgs := ps.Channel()
	go func() {
		defer close(out)
		defer ps.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-msgs:
				if !ok {
					return
				}
				select {
				case out <- m.Payload:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
