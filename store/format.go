package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// The store's format version says how its records are stored, so that a
// release never misreads a store that a later one wrote:
//
//	1  each record's encoding as it is (codec.go); the releases before
//	   format versions, which wrote no version
//	2  records compressed with zstd (compress.go): the embedded store
//	   packs a batch's records into frames, Redis compresses each one
//
// A release reads every version up to its own: a store written by an
// earlier one opens, and its records stay readable beside the new ones,
// since each entry (entry.go) or Redis value (redis_records.go) says how
// its record is stored. Opening such a store to write stamps it with the
// release's version, after which the earlier release must not write it.
// A store whose version is above the release's is refused with
// ErrNewerFormat, naming the file or key prefix and both versions.
//
// The embedded store keeps the version in its meta bucket, under "format";
// Redis in the key "format" after the prefix, as decimal text.
const formatVersion = 2

// ErrNewerFormat is returned for a store written by a later release of
// cutover, in a format this one does not know.
var ErrNewerFormat = errors.New("store: written by a newer release of cutover")

var metaFormat = []byte("format")

// newerFormat is the error for a store, named by what, whose format is
// version.
func newerFormat(what string, version uint64) error {
	return fmt.Errorf("%w: %s has store format %d, this release reads formats up to %d; upgrade cutover or point it at another store",
		ErrNewerFormat, what, version, formatVersion)
}

// checkBoltFormat refuses a file of a later format and, unless readOnly,
// stamps the file with formatVersion. A file without a version is of
// format 1, or new.
func checkBoltFormat(tx *bolt.Tx, readOnly bool) error {
	meta := tx.Bucket(bucketMeta)
	v := getUint(meta, metaFormat)
	switch {
	case v > formatVersion:
		return newerFormat("the file", v) // OpenBolt's error names it
	case v == formatVersion || readOnly:
		return nil
	}
	return putUint(meta, metaFormat, formatVersion)
}

const rkFormat = "format"

// CheckFormat is the format check of OpenRedis for a store made with
// NewRedis: it returns ErrNewerFormat (wrapped) when Redis answers and
// holds records of a later release, and nil when Redis does not answer
// now (the record methods check once it does).
func (r *Redis) CheckFormat() error {
	if r.Ping() != nil {
		return nil
	}
	ctx, cancel := r.ctx()
	defer cancel()
	if err := r.checkFormat(ctx); errors.Is(err, ErrNewerFormat) {
		return err
	}
	return nil
}

// checkFormat refuses a Redis whose records a later release wrote and
// otherwise stamps it with formatVersion, once per Redis value: the record
// methods call it first, so a gateway that started while Redis was away
// checks when it first reaches it. A refusal is not remembered, so that a
// store moved to a known format is taken up.
func (r *Redis) checkFormat(ctx context.Context) error {
	if r.formatOK.Load() {
		return nil
	}
	key := r.key(rkFormat)
	if _, err := r.c.SetNX(ctx, key, formatVersion, 0).Result(); err != nil {
		return fmt.Errorf("cannot check the store format: %w", err)
	}
	v, err := r.c.Get(ctx, key).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("cannot check the store format: %w", err)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: the key %q holds %q, not a store format", ErrCorrupt, key, v)
	}
	if n > formatVersion {
		return newerFormat(fmt.Sprintf("Redis key prefix %q", r.prefix), n)
	}
	if n < formatVersion {
		// No release wrote a lower version; a version is only raised.
		if err := r.c.Set(ctx, key, formatVersion, 0).Err(); err != nil {
			return fmt.Errorf("cannot stamp the store format: %w", err)
		}
	}
	r.formatOK.Store(true)
	return nil
}
