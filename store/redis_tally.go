package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Tallies in Redis (the contract is in tally.go). The keys of tally K
// share the hash tag {tally:K}, so that one transaction touches one
// cluster slot:
//
//	<prefix>{tally:K}c          hash: counter name → count
//	<prefix>{tally:K}l          set of the names of K's recent lists
//	<prefix>{tally:K}r:<name>   list <name>: its newest items, newest first

// tallyTxMax bounds the adds of one transaction, so that a large batch
// does not hold Redis for long.
const tallyTxMax = 256

// tallyTag is the hash tag of the keys of tally key.
func tallyTag(key string) string { return "{tally:" + key + "}" }

func (r *Redis) tallyCounts(tag string) string            { return r.key(tag, "c") }
func (r *Redis) tallyLists(tag string) string             { return r.key(tag, "l") }
func (r *Redis) tallyList(tag string, name string) string { return r.key(tag, "r:", name) }

// AddTallies applies each add atomically (MULTI/EXEC; all the keys of one
// tally share the hash tag {tally:<Key>}), the adds one after the other, in
// one round trip when possible. On a standalone or sentinel Redis up to 256
// adds go in one transaction, which applies them all or none; on a cluster,
// whose transactions cannot span slots, each add is one transaction and one
// round trip. On error some adds may have been applied and others not; it
// says how many were applied: adds[:applied] were, adds[applied:] were not
// (unless the reply of an applied transaction was lost on the way back).
func (r *Redis) AddTallies(adds []TallyAdd) (applied int, err error) {
	step := tallyTxMax
	if _, ok := r.c.(*redis.ClusterClient); ok {
		step = 1
	}
	for applied < len(adds) {
		n := min(step, len(adds)-applied)
		if err := r.addTallies(adds[applied : applied+n]); err != nil {
			return applied, fmt.Errorf("store: cannot add to tally %q: %w", adds[applied].Key, err)
		}
		applied += n
	}
	return applied, nil
}

// addTallies applies adds in one transaction.
func (r *Redis) addTallies(adds []TallyAdd) error {
	ctx, cancel := r.ctx()
	defer cancel()
	queued := false
	p := r.c.TxPipeline()
	for i := range adds {
		queued = r.queueTally(ctx, p, &adds[i]) || queued
	}
	if !queued {
		return nil
	}
	_, err := p.Exec(ctx)
	return err
}

// queueTally queues the commands of a and reports whether there were any.
func (r *Redis) queueTally(ctx context.Context, p redis.Pipeliner, a *TallyAdd) bool {
	k := tallyTag(a.Key)
	queued := false
	counts := r.tallyCounts(k)
	for name, n := range a.Counts {
		if n != 0 {
			p.HIncrBy(ctx, counts, name, n)
			queued = true
		}
	}
	lists := r.tallyLists(k)
	ttl := a.TTL
	if ttl > 0 && ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	if a.Keep > 0 {
		for name, items := range a.Recent {
			if len(items) == 0 {
				continue
			}
			list := r.tallyList(k, name)
			vals := make([]any, len(items))
			for i, it := range items {
				vals[i] = it
			}
			p.SAdd(ctx, lists, name)
			p.LPush(ctx, list, vals...)
			p.LTrim(ctx, list, 0, int64(a.Keep)-1)
			if ttl > 0 {
				p.PExpire(ctx, list, ttl)
			}
			queued = true
		}
	}
	if queued && ttl > 0 {
		p.PExpire(ctx, counts, ttl)
		p.PExpire(ctx, lists, ttl)
	}
	return queued
}

// Tallies reads the tallies of keys in one or two round trips (HGETALL of
// each counts hash and SMEMBERS of each set of list names, then the
// lists), in the order of keys. The two reads are not one snapshot: an add
// between them may show in the lists and not in the counts.
func (r *Redis) Tallies(keys []string) ([]Tally, error) {
	out := make([]Tally, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	ctx, cancel := r.ctx()
	defer cancel()
	counts := make([]*redis.MapStringStringCmd, len(keys))
	names := make([]*redis.StringSliceCmd, len(keys))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, key := range keys {
			k := tallyTag(key)
			counts[i] = p.HGetAll(ctx, r.tallyCounts(k))
			names[i] = p.SMembers(ctx, r.tallyLists(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: cannot read tallies: %w", err)
	}
	type listRef struct {
		tally int
		name  string
		cmd   *redis.StringSliceCmd
	}
	var refs []listRef
	for i, key := range keys {
		m := counts[i].Val()
		t := Tally{Counts: make(map[string]int64, len(m)), Recent: map[string][]string{}}
		for name, s := range m {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("store: bad count %q of tally %q: %w", name, key, err)
			}
			t.Counts[name] = n
		}
		out[i] = t
		for _, name := range names[i].Val() {
			refs = append(refs, listRef{tally: i, name: name})
		}
	}
	if len(refs) == 0 {
		return out, nil
	}
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j := range refs {
			refs[j].cmd = p.LRange(ctx, r.tallyList(tallyTag(keys[refs[j].tally]), refs[j].name), 0, -1)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: cannot read tallies: %w", err)
	}
	for _, ref := range refs {
		if items := ref.cmd.Val(); len(items) > 0 {
			out[ref.tally].Recent[ref.name] = items
		}
	}
	return out, nil
}
