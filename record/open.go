package record

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/store"
)

// Store is a store a Recording writes records to and prunes: *store.Bolt
// (the embedded driver) or *store.Redis (the redis driver).
type Store interface {
	Writer
	Prune(now time.Time) (int, error)
	Close() error
}

var (
	_ Store = (*store.Bolt)(nil)
	_ Store = (*store.Redis)(nil)
)

// OpenStore opens the store that cfg.Store names.
func OpenStore(cfg *configs.Config) (Store, error) {
	switch cfg.Store.Driver {
	case "redis":
		rc := cfg.Store.Redis
		// Not OpenRedis: a replica that starts while Redis is away runs
		// degraded until it answers, as one that lost it does.
		return store.NewRedis(store.RedisOptions{
			Addrs: rc.Addrs, MasterName: rc.MasterName, Username: rc.Username, Password: rc.Password,
			DB: rc.DB, TLS: rc.TLS, CAFile: rc.CAFile, Prefix: rc.Prefix,
			Retention: cfg.Store.Retention.D(),
		})
	default:
		return store.OpenBolt(cfg.Store.Path, store.BoltOptions{
			Retention: cfg.Store.Retention.D(),
			MaxBytes:  int64(cfg.Store.MaxBytes),
		})
	}
}

// Recording is an open store with the recorder that writes to it and the
// background loop that enforces retention. cutover serve and the demo each
// run one.
type Recording struct {
	Store    Store
	Recorder *Recorder

	log  *slog.Logger
	stop context.CancelFunc
	done chan struct{}
}

// Start opens the store that cfg names, starts a recorder on it with cfg's
// redaction rules, and starts retention. Close stops them in order.
func Start(cfg *configs.Config, log *slog.Logger) (*Recording, error) {
	st, err := OpenStore(cfg)
	if err != nil {
		return nil, err
	}
	rec := New(st, Options{
		RedactHeaders:   cfg.Record.Redact.Headers,
		RedactJSON:      cfg.Record.Redact.JSON,
		RedactExactCase: cfg.Record.Redact.ExactCase,
		MaxBody:         int(cfg.Record.MaxBody),
		Buffer:          int(cfg.Store.Buffer),
		Logger:          log,
	})
	ctx, stop := context.WithCancel(context.Background())
	r := &Recording{Store: st, Recorder: rec, log: log, stop: stop, done: make(chan struct{})}
	go r.retain(ctx, retentionEvery(cfg.Store.Retention.D()))
	return r, nil
}

// retentionEvery is how often retention runs: often enough that records
// outlive store.retention by at most a quarter of it, and at most every
// 5 s so that store.max_bytes is held closely; a pass that finds nothing
// to delete costs one cursor seek.
func retentionEvery(retention time.Duration) time.Duration {
	return min(max(retention/4, time.Second), 5*time.Second)
}

func (r *Recording) retain(ctx context.Context, every time.Duration) {
	defer close(r.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := r.Store.Prune(time.Now()); err != nil {
			r.log.Error("retention failed", "err", err)
		} else if n > 0 {
			r.log.Debug("retention deleted old records", "records", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close flushes every queued record to the store, then stops retention and
// closes the store. ctx bounds the flush; the store is closed either way.
func (r *Recording) Close(ctx context.Context) error {
	flushErr := r.Recorder.Close(ctx)
	r.stop()
	<-r.done
	return errors.Join(flushErr, r.Store.Close())
}
