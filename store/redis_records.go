package store

// Recorded calls in Redis. The keys, after RedisOptions.Prefix:
//
//	seq                  string: the last sequence number handed out
//	format               string: the store's format version (format.go)
//	rec:<ID hex>         string: a record's encoding (codec.go),     TTL
//	                     compressed (compress.go) unless that does not
//	                     shrink it
//	ix:all               sorted set: every record's ID               TTL*
//	ix:route:<route>     sorted set: the IDs of one route's calls    TTL*
//	ix:tenant:<tenant>   sorted set: one tenant's                    TTL*
//	ix:status:<class>    sorted set: one status class's (digit 0–9)  TTL*
//	ixkeys               set: the names of the route, tenant and
//	                     status sorted sets, which Prune walks       TTL*
//	chain:<trace hex>    sorted set: one chain's IDs                 TTL*
//	sample:<ID hex>      string: a comparison sample's Data          TTL
//	samples              sorted set: every sample's ID               TTL*
//	{tally:K}…, {rollout:R}…, rollouts…  diff statistics and rollout
//	                     state (redis_tally.go, redis_rollouts.go)
//
// TTL is RedisOptions.Retention, set when the key is written; TTL* is the
// same, renewed by every write that adds to the key, so a sorted set no
// write touched for Retention, which names only expired keys, goes too.
// A TTL counts from the write, not from the call's start, which Prune
// goes by. With a zero Retention nothing expires.
//
// Why this shape:
//
// Sorted sets whose members all have score 0 are ordered byte-wise by
// member, and a member is the raw 16-byte ID, which sorts by start time
// (record.go). So ZREVRANGEBYLEX walks an index newest first from a
// cursor ("(" + ID: strictly older) down to Since ("[" + ID), and
// ZREMRANGEBYLEX drops everything before a retention cutoff: the same
// ranges Bolt reads with bbolt cursors. A float score could not hold the
// nanoseconds and the sequence. Route and tenant names in keys are capped
// to maxIndexName bytes like Bolt's index keys; Records compares the full
// values of the records it reads.
//
// The IDs' sequence comes from one INCRBY of seq per Append, which
// reserves the batch's range, so IDs are unique across every replica that
// shares the Redis and a later Append of the same start sorts later.
//
// Every key stands alone: no command names two keys, so in a cluster,
// where keys hash to different slots, nothing fails with CROSSSLOT, and
// go-redis splits each pipeline by node. Records are read with pipelined
// GETs, not MGET. Append is two round trips (the INCRBY, then one
// pipeline of the SETs, ZADDs and expiries); a page of Records is one
// ZCARD pipeline when it has several filters, then two round trips per
// chunk of IDs (the range, then the GETs). The price is atomicity: an
// Append that fails may have stored part of its batch, which its caller
// then appends again under new IDs.
//
// Retention is the TTLs plus Prune. Prune is the rule, as on Bolt: it
// deletes the records that started before the cutoff, through ix:all,
// and their entries in every index that ixkeys lists, forgetting the
// names of indexes it empties. Chain sets are left to their TTL: a chain's
// calls start within moments of each other, and a set per chain in ixkeys
// would make Prune walk every chain. The TTLs are the backstop for a
// deployment that never prunes and for what a failed Append or Prune
// leaves. Readers skip IDs whose record is gone and remove the ones past
// retention from the set they walked.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cutover/cutover/chain"
)

// Key names after the prefix; see the top of the file.
const (
	rkSeq       = "seq"
	rkRecord    = "rec:"
	rkAll       = "ix:all"
	rkRoute     = "ix:route:"
	rkTenant    = "ix:tenant:"
	rkStatus    = "ix:status:"
	rkIndexKeys = "ixkeys"
	rkChain     = "chain:"
)

// redisChunkMax bounds the IDs that Records reads in one round trip when
// filters skip many of them.
const redisChunkMax = 1024

// hexKey returns prefix, kind and raw in lowercase hex, in one allocation.
func hexKey[T ~string | ~[]byte](r *Redis, kind string, raw T) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(r.prefix) + len(kind) + 2*len(raw))
	b.WriteString(r.prefix)
	b.WriteString(kind)
	for i := 0; i < len(raw); i++ {
		b.WriteByte(digits[raw[i]>>4])
		b.WriteByte(digits[raw[i]&0xf])
	}
	return b.String()
}

// capName caps a route or tenant to the bytes its index key holds.
func capName(s string) string { return s[:min(len(s), maxIndexName)] }

// Append stores recs and sets each record's ID; a record whose Start is
// zero is filed at the time of the append. On error the IDs are zero, and
// part of the batch may be stored (see the top of the file). Append does
// not keep recs.
func (r *Redis) Append(recs []*Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := r.append(recs, time.Now()); err != nil {
		for _, rec := range recs {
			rec.ID = ID{}
		}
		return fmt.Errorf("store: cannot append %d records: %w", len(recs), err)
	}
	return nil
}

func (r *Redis) append(recs []*Record, now time.Time) error {
	ctx, cancel := r.ctx()
	defer cancel()
	if err := r.checkFormat(ctx); err != nil {
		return err
	}
	last, err := r.c.IncrBy(ctx, r.key(rkSeq), int64(len(recs))).Result()
	if err != nil {
		return err
	}
	seq := uint64(last) - uint64(len(recs))
	// One arena for the stored forms, complete before the pipeline takes
	// references to them; each ends at ends[i].
	var enc []byte
	arena := make([]byte, 0, len(recs)*512)
	ends := make([]int, len(recs))
	for i, rec := range recs {
		seq++
		rec.ID = makeID(startOf(rec, now), seq)
		enc = appendRecord(enc[:0], rec)
		arena = appendPacked(arena, enc)
		ends[i] = len(arena)
	}
	ttl := r.opt.Retention
	all := make([]redis.Z, len(recs))
	routes := map[string][]redis.Z{}
	tenants := map[string][]redis.Z{}
	var classes [10][]redis.Z
	pipe := r.c.Pipeline()
	off := 0
	for i, rec := range recs {
		pipe.Set(ctx, hexKey(r, rkRecord, rec.ID[:]), arena[off:ends[i]], ttl)
		off = ends[i]
		// One boxed member shared by every index.
		z := redis.Z{Member: string(rec.ID[:])}
		all[i] = z
		route := capName(rec.Route)
		routes[route] = append(routes[route], z)
		if len(rec.Tenant) > 0 {
			tenant := indexName(rec.Tenant)
			tenants[string(tenant)] = append(tenants[string(tenant)], z)
		}
		class := statusClass(rec.Status, len(rec.Error) > 0)
		classes[class] = append(classes[class], z)
	}
	// The records before the indexes that name them, and each chain's
	// set after its records.
	for i, rec := range recs {
		key := hexKey(r, rkChain, rec.Chain[:])
		pipe.ZAdd(ctx, key, all[i])
		if ttl > 0 {
			pipe.PExpire(ctx, key, ttl)
		}
	}
	named := make([]any, 0, len(routes)+len(tenants)+len(classes))
	index := func(key string, zs []redis.Z) {
		pipe.ZAdd(ctx, key, zs...)
		if ttl > 0 {
			pipe.PExpire(ctx, key, ttl)
		}
		named = append(named, key)
	}
	for name, zs := range routes {
		index(r.key(rkRoute, name), zs)
	}
	for name, zs := range tenants {
		index(r.key(rkTenant, name), zs)
	}
	for class, zs := range classes {
		if len(zs) > 0 {
			index(r.key(rkStatus, string(rune('0'+class))), zs)
		}
	}
	allKey := r.key(rkAll)
	pipe.ZAdd(ctx, allKey, all...)
	// The index names after the indexes: Prune forgets a name whose set
	// it found empty, then lists again the ones that have filled since.
	setKey := r.key(rkIndexKeys)
	pipe.SAdd(ctx, setKey, named...)
	if ttl > 0 {
		pipe.PExpire(ctx, allKey, ttl)
		pipe.PExpire(ctx, setKey, ttl)
	}
	_, err = pipe.Exec(ctx)
	return err
}

// Records returns the calls that q selects, newest first, with the same
// validation, limits and cursors as Bolt.Records. With several filters it
// walks the index with the fewest IDs (ZCARD) and filters the others.
func (r *Redis) Records(q Query) (Page, error) {
	limit, before, err := q.check()
	if err != nil {
		return Page{}, err
	}
	upper := "+"
	if q.Cursor != "" {
		upper = "(" + string(before[:])
	}
	lower := "-"
	if !q.Since.IsZero() {
		since := idAt(q.Since)
		lower = "[" + string(since[:])
	}
	ctx, cancel := r.ctx()
	defer cancel()
	if err := r.checkFormat(ctx); err != nil {
		return Page{}, fmt.Errorf("store: cannot read records: %w", err)
	}
	page, err := r.records(ctx, &q, limit, upper, lower)
	if err != nil {
		return Page{}, fmt.Errorf("store: cannot read records: %w", err)
	}
	return page, nil
}

func (r *Redis) records(ctx context.Context, q *Query, limit int, upper, lower string) (Page, error) {
	var page Page
	key, err := r.pickIndex(ctx, q)
	if err != nil || key == "" {
		return page, err
	}
	var dead []any
	chunk := limit + 1
	for {
		ids, err := r.c.ZRevRangeByLex(ctx, key, &redis.ZRangeBy{Max: upper, Min: lower, Count: int64(chunk)}).Result()
		if err != nil {
			return Page{}, err
		}
		bufs, err := r.getRecords(ctx, ids)
		if err != nil {
			return Page{}, err
		}
		for i, buf := range bufs {
			if buf == nil {
				dead = r.appendDead(dead, ids[i])
				continue
			}
			var f fields
			if err := f.parse(buf); err != nil {
				return Page{}, fmt.Errorf("record %x: %w", ids[i], err)
			}
			if !q.matchesFields(&f) {
				continue
			}
			if len(page.Records) == limit {
				page.Next = page.Records[limit-1].ID.String()
				r.dropDead(ctx, key, dead)
				return page, nil
			}
			rec, err := decodeRecord([]byte(ids[i]), buf)
			if err != nil {
				return Page{}, err
			}
			page.Records = append(page.Records, rec)
		}
		if len(ids) < chunk {
			r.dropDead(ctx, key, dead)
			return page, nil
		}
		upper = "(" + ids[len(ids)-1]
		chunk = min(2*chunk, redisChunkMax)
	}
}

// pickIndex returns the key of the index that q walks: ix:all without a
// filter, else the filter's with the fewest IDs; "" when one of them is
// empty.
func (r *Redis) pickIndex(ctx context.Context, q *Query) (string, error) {
	var keys []string
	if q.Route != "" {
		keys = append(keys, r.key(rkRoute, capName(q.Route)))
	}
	if q.Tenant != "" {
		keys = append(keys, r.key(rkTenant, capName(q.Tenant)))
	}
	if q.Status != 0 {
		class := q.Status
		if q.Status >= 100 {
			class = q.Status / 100
		}
		keys = append(keys, r.key(rkStatus, string(rune('0'+class))))
	}
	switch len(keys) {
	case 0:
		return r.key(rkAll), nil
	case 1:
		return keys[0], nil
	}
	pipe := r.c.Pipeline()
	cards := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cards[i] = pipe.ZCard(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return "", err
	}
	best := 0
	for i, c := range cards {
		if c.Val() < cards[best].Val() {
			best = i
		}
	}
	if cards[best].Val() == 0 {
		return "", nil
	}
	return keys[best], nil
}

// matchesFields reports whether a stored call passes every filter of q
// except Since, which the walk applies to the IDs; Query.matches for a
// decoded record.
func (q *Query) matchesFields(f *fields) bool {
	if q.Route != "" && string(f.str[sRoute]) != q.Route {
		return false
	}
	if q.Tenant != "" && string(f.str[sTenant]) != q.Tenant {
		return false
	}
	switch {
	case q.Status == 0:
		return true
	case q.Status < 100:
		return statusClass(f.status, len(f.str[sError]) > 0) == q.Status
	default:
		return f.status == q.Status
	}
}

// getRecords reads the encodings of the records ids, in one pipeline of
// GETs; a record that is gone has a nil encoding. The encodings are the
// caller's.
func (r *Redis) getRecords(ctx context.Context, ids []string) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := r.c.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		if len(id) != len(ID{}) {
			return nil, fmt.Errorf("%w: index member of %d bytes", ErrCorrupt, len(id))
		}
		cmds[i] = pipe.Get(ctx, hexKey(r, rkRecord, id))
	}
	// Exec reports the first failed command, a missing key among them:
	// each command is looked at instead.
	_, _ = pipe.Exec(ctx)
	bufs := make([][]byte, len(ids))
	for i, c := range cmds {
		v, err := c.Result()
		switch {
		case err == redis.Nil:
		case err != nil:
			return nil, err
		case len(v) > 0 && v[0] == packedRecord:
			if bufs[i], err = unpack([]byte(v)); err != nil {
				return nil, fmt.Errorf("record %x: %w", ids[i], err)
			}
		default:
			// A copy: go-redis's Bytes would alias the reply string, and
			// the record's byte fields are the caller's to change.
			bufs[i] = []byte(v)
		}
	}
	return bufs, nil
}

// appendDead adds to dead the member id of a record that is gone, when
// it started before the retention cutoff: a record inside retention may
// be gone only for a moment, its Append's SET still on its way to another
// node of a cluster.
func (r *Redis) appendDead(dead []any, id string) []any {
	if r.opt.Retention <= 0 || len(id) != len(ID{}) {
		return dead
	}
	if ID([]byte(id)).Time().Before(time.Now().Add(-r.opt.Retention)) {
		dead = append(dead, id)
	}
	return dead
}

// dropDead removes dead from the sorted set key. It is tidying only: an
// error is left for Prune to meet.
func (r *Redis) dropDead(ctx context.Context, key string, dead []any) {
	if len(dead) > 0 {
		_ = r.c.ZRem(ctx, key, dead...).Err()
	}
}

// Chain returns every recorded call of one chain, ordered by start time.
// It returns ErrNotFound when none is stored.
func (r *Redis) Chain(id chain.TraceID) ([]*Record, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	if err := r.checkFormat(ctx); err != nil {
		return nil, fmt.Errorf("store: cannot read chain %s: %w", id, err)
	}
	recs, err := r.chain(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("store: cannot read chain %s: %w", id, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: chain %s", ErrNotFound, id)
	}
	return recs, nil
}

func (r *Redis) chain(ctx context.Context, id chain.TraceID) ([]*Record, error) {
	key := hexKey(r, rkChain, id[:])
	// Ascending IDs: start order.
	ids, err := r.c.ZRangeByLex(ctx, key, &redis.ZRangeBy{Min: "-", Max: "+"}).Result()
	if err != nil {
		return nil, err
	}
	bufs, err := r.getRecords(ctx, ids)
	if err != nil {
		return nil, err
	}
	var recs []*Record
	var dead []any
	for i, buf := range bufs {
		if buf == nil {
			dead = r.appendDead(dead, ids[i])
			continue
		}
		rec, err := decodeRecord([]byte(ids[i]), buf)
		if err != nil {
			return nil, fmt.Errorf("record %x: %w", ids[i], err)
		}
		if rec.Chain == id {
			recs = append(recs, rec)
		}
	}
	r.dropDead(ctx, key, dead)
	return recs, nil
}

// Get returns one record by its ID, or ErrNotFound.
func (r *Redis) Get(id ID) (*Record, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	if err := r.checkFormat(ctx); err != nil {
		return nil, fmt.Errorf("store: cannot read record %s: %w", id, err)
	}
	v, err := r.c.Get(ctx, hexKey(r, rkRecord, id[:])).Result()
	if err == redis.Nil {
		return nil, fmt.Errorf("%w: record %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: cannot read record %s: %w", id, err)
	}
	buf, err := unpack([]byte(v))
	if err != nil {
		return nil, fmt.Errorf("store: cannot read record %s: %w", id, err)
	}
	rec, err := decodeRecord(id[:], buf)
	if err != nil {
		return nil, fmt.Errorf("store: cannot read record %s: %w", id, err)
	}
	return rec, nil
}

// Prune deletes the records that started before now minus Retention and
// their index entries, then the samples compared before it, and returns
// how many records it deleted; with a zero Retention it does nothing.
// Records whose key had already expired are not counted. Each round trip
// is bounded on its own, so a large prune is not cut short by the bound
// of one call.
func (r *Redis) Prune(now time.Time) (int, error) {
	if r.opt.Retention <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-r.opt.Retention)
	removed, err := r.pruneRecords(idAt(cutoff))
	if err != nil {
		return removed, fmt.Errorf("store: cannot prune: %w", err)
	}
	if err := r.pruneIndexes(idAt(cutoff)); err != nil {
		return removed, fmt.Errorf("store: cannot prune: %w", err)
	}
	if _, err := r.pruneSamples(cutoff); err != nil {
		return removed, fmt.Errorf("store: cannot prune samples: %w", err)
	}
	return removed, nil
}

// pruneRecords deletes the records before cutoff, PruneBatch a round,
// and their IDs from ix:all.
func (r *Redis) pruneRecords(cutoff ID) (int, error) {
	return r.pruneSet(r.key(rkAll), rkRecord, "("+string(cutoff[:]))
}

// pruneSet deletes, PruneBatch a round, the members of the sorted set key
// up to upper and the keys kind + hex(member) they name, and returns how
// many of those keys existed.
func (r *Redis) pruneSet(key, kind, upper string) (int, error) {
	removed := 0
	for {
		n, more, err := r.pruneRound(key, kind, upper)
		removed += n
		if err != nil || !more {
			return removed, err
		}
	}
}

func (r *Redis) pruneRound(key, kind, upper string) (n int, more bool, err error) {
	ctx, cancel := r.ctx()
	defer cancel()
	ids, err := r.c.ZRangeByLex(ctx, key, &redis.ZRangeBy{Min: "-", Max: upper, Count: PruneBatch}).Result()
	if err != nil || len(ids) == 0 {
		return 0, false, err
	}
	pipe := r.c.Pipeline()
	dels := make([]*redis.IntCmd, len(ids))
	members := make([]any, len(ids))
	for i, id := range ids {
		dels[i] = pipe.Del(ctx, hexKey(r, kind, id))
		members[i] = id
	}
	// The members go after their keys: a failed round leaves keys that
	// the next Prune finds again.
	pipe.ZRem(ctx, key, members...)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, false, err
	}
	for _, d := range dels {
		n += int(d.Val())
	}
	return n, len(ids) == PruneBatch, nil
}

// pruneIndexes removes the IDs before cutoff from every index that
// ixkeys lists, and the names of the indexes that it empties.
func (r *Redis) pruneIndexes(cutoff ID) error {
	upper := "(" + string(cutoff[:])
	var cursor uint64
	for {
		next, err := r.pruneIndexesRound(cursor, upper)
		if err != nil || next == 0 {
			return err
		}
		cursor = next
	}
}

func (r *Redis) pruneIndexesRound(cursor uint64, upper string) (uint64, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	setKey := r.key(rkIndexKeys)
	keys, next, err := r.c.SScan(ctx, setKey, cursor, "", 512).Result()
	if err != nil || len(keys) == 0 {
		return next, err
	}
	pipe := r.c.Pipeline()
	exists := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		pipe.ZRemRangeByLex(ctx, k, "-", upper)
		exists[i] = pipe.Exists(ctx, k) // Redis deletes an emptied set
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var empty []any
	for i, e := range exists {
		if e.Val() == 0 {
			empty = append(empty, keys[i])
		}
	}
	if len(empty) == 0 {
		return next, nil
	}
	if err := r.c.SRem(ctx, setKey, empty...).Err(); err != nil {
		return 0, err
	}
	// An Append may have filled one of them since it was found empty:
	// list those again.
	pipe = r.c.Pipeline()
	for i, k := range empty {
		exists[i] = pipe.Exists(ctx, k.(string))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var refilled []any
	for i, k := range empty {
		if exists[i].Val() != 0 {
			refilled = append(refilled, k)
		}
	}
	if len(refilled) > 0 {
		if err := r.c.SAdd(ctx, setKey, refilled...).Err(); err != nil {
			return 0, err
		}
	}
	return next, nil
}
