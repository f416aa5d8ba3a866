package store

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Comparison data in Redis, beside the records (redis_records.go has the
// whole key layout): each sample under sample:<ID hex> with the retention
// TTL, its raw 8-byte ID in the sorted set samples (score 0, so ordered
// by the second it was compared in) for Prune, and the routes' state
// blobs in the hash diffstate, which never expires.
const (
	rkSample    = "sample:"
	rkSamples   = "samples"
	rkDiffState = "diffstate"
)

// PutDiffs stores samples and replaces the state blob of each route in
// states, in one pipeline. Unlike Bolt's transaction it is not atomic: on
// error some of it may be stored, and the caller writes it all again.
func (r *Redis) PutDiffs(samples []Sample, states map[string][]byte) error {
	if len(samples) == 0 && len(states) == 0 {
		return nil
	}
	ctx, cancel := r.ctx()
	defer cancel()
	ttl := r.opt.Retention
	pipe := r.c.Pipeline()
	if len(samples) > 0 {
		ids := make([]redis.Z, len(samples))
		for i, s := range samples {
			pipe.Set(ctx, hexKey(r, rkSample, s.ID[:]), s.Data, ttl)
			ids[i] = redis.Z{Member: string(s.ID[:])}
		}
		key := r.key(rkSamples)
		pipe.ZAdd(ctx, key, ids...)
		if ttl > 0 {
			pipe.PExpire(ctx, key, ttl)
		}
	}
	if len(states) > 0 {
		args := make([]any, 0, 2*len(states))
		for route, state := range states {
			args = append(args, route, state)
		}
		pipe.HSet(ctx, r.key(rkDiffState), args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: cannot store %d samples and %d diff states: %w", len(samples), len(states), err)
	}
	return nil
}

// Sample returns the encoding of a stored sample, or ErrNotFound.
func (r *Redis) Sample(id SampleID) ([]byte, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	v, err := r.c.Get(ctx, hexKey(r, rkSample, id[:])).Result()
	if err == redis.Nil {
		return nil, fmt.Errorf("%w: sample %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: cannot read sample %s: %w", id, err)
	}
	return []byte(v), nil
}

// DiffStates returns the state blob of every route that has one.
func (r *Redis) DiffStates() (map[string][]byte, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	m, err := r.c.HGetAll(ctx, r.key(rkDiffState)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: cannot read diff states: %w", err)
	}
	out := make(map[string][]byte, len(m))
	for route, state := range m {
		out[route] = []byte(state)
	}
	return out, nil
}

// pruneSamples deletes the samples compared before cutoff, PruneBatch a
// round: the members of samples below cutoff's 4-byte second, which sort
// before every 8-byte ID of that second, and their keys.
func (r *Redis) pruneSamples(cutoff time.Time) (int, error) {
	var limit [4]byte
	binary.BigEndian.PutUint32(limit[:], uint32(max(cutoff.Unix(), 0)))
	return r.pruneSet(r.key(rkSamples), rkSample, "("+string(limit[:]))
}
