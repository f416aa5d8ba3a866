package store

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Comparison samples in Redis, beside the records (redis_records.go has
// the whole key layout): each sample under sample:<ID hex> with the
// retention TTL, and its raw 8-byte ID in the sorted set samples (score
// 0, so ordered by the second it was compared in) for Prune. The
// statistics of the comparisons are tallies (redis_tally.go).
const (
	rkSample  = "sample:"
	rkSamples = "samples"
)

// PutSamples stores samples in one pipeline. Unlike Bolt's transaction it
// is not atomic: on error some of them may be stored, and the caller
// writes them all again.
func (r *Redis) PutSamples(samples []Sample) error {
	if len(samples) == 0 {
		return nil
	}
	ctx, cancel := r.ctx()
	defer cancel()
	ttl := r.opt.Retention
	pipe := r.c.Pipeline()
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
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: cannot store %d samples: %w", len(samples), err)
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

// pruneSamples deletes the samples compared before cutoff, PruneBatch a
// round: the members of samples below cutoff's 4-byte second, which sort
// before every 8-byte ID of that second, and their keys.
func (r *Redis) pruneSamples(cutoff time.Time) (int, error) {
	var limit [4]byte
	binary.BigEndian.PutUint32(limit[:], uint32(max(cutoff.Unix(), 0)))
	return r.pruneSet(r.key(rkSamples), rkSample, "("+string(limit[:]))
}
