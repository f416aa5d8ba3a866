// # Lifecycle
//
// Open and Close own the life of a gateway process. cutover serve and the
// demo call Open, serve, and call Close; they start and stop nothing else.
//
// Open, in this order:
//
//  1. build creates the memory budget (memory.async), compiles the
//     configuration and starts the trace exporter (with tracing.otlp), the
//     shadow mirror (its workers and the loop that flushes samples and
//     statistics; it charges its copies to the budget) and the rollout
//     controller's loop. None persists anything yet.
//  2. The store that store.driver names is opened: the embedded file, or
//     Redis (a replica that starts while Redis is away runs degraded).
//  3. A recorder starts on the store with record.redact and
//     record.max_body, charging the records it queues and holds to the
//     same budget; the gateway hands it captured calls. While it cannot
//     write, /readyz says degraded.
//  4. The mirror and the rollout controller are given the store: samples
//     and statistics go there, and rollouts read back and write their
//     state. A store that can say whether it answers (Redis) gets a health
//     loop, for /readyz and cutover_store_up.
//  5. Retention starts: a loop that prunes records past store.retention
//     and store.max_bytes.
//
// When a step fails, Open closes what the steps before it started, in
// Close's order, and returns the error: a failed start leaves no goroutine
// behind.
//
// Between Open and Close the caller serves: Serve on the proxy's listener,
// AdminHandler on the admin listener, Reload and WatchFile for the config.
// Shutdown stops accepting and drains in-flight requests; cutover serve
// calls it on SIGTERM, bounded by shutdown_timeout, and shuts its admin
// listener after it.
//
// Close, in this order, each stage bounded by its own timeout (and all by
// Close's ctx), each run even when the one before it failed:
//
//  1. The proxy stops, if the caller has not drained it already (Shutdown,
//     bounded by shutdown_timeout): no request may start a shadow copy or a
//     record after the stages below.
//  2. Shadows drain (ShadowDrainTimeout): copies already queued are sent
//     and compared, and the mirror flushes its samples and statistics.
//     Before the rollouts and the records: the last comparisons count in
//     rollout steps, and the copies' calls are recorded.
//  3. Trace spans flush (TraceFlushTimeout): the spans still queued are
//     exported and the exporter stops. After the shadows, whose copies
//     are spans too; spans not sent in time are counted as dropped.
//  4. Rollouts close (RolloutCloseTimeout): decisions stop, each rollout's
//     state is written to the store, queued webhooks are delivered; then
//     the store's health loop ends. After the shadows, whose last
//     comparisons they count; before the store closes, since they write to
//     it.
//  5. Records flush (RecordFlushTimeout): every queued record, the
//     shadows' included, is written; then retention stops and the store
//     closes. Last: the stages before it hand it records or write to the
//     store.
//
// A gateway built by build alone (in tests) has no store: its Close runs
// stages 1 to 4.
//
// The four timeouts after the drain are constants so that a deployment can
// give the process long enough to finish: a Kubernetes pod's
// terminationGracePeriodSeconds must cover the preStop sleep, the drain and
// their sum (deploy/kubernetes checks it).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/internal/budget"
	"github.com/cutover/cutover/recorder"
	"github.com/cutover/cutover/rollout"
	"github.com/cutover/cutover/shadow"
	"github.com/cutover/cutover/store"
)

// Close's stage bounds, after the drain of in-flight requests.
const (
	// ShadowDrainTimeout bounds the comparison of the shadow copies still
	// queued at Close; copies waiting on a slow shadow side past it are
	// not compared.
	ShadowDrainTimeout = 5 * time.Second
	// RolloutCloseTimeout bounds the delivery of rollout notifications
	// still queued at Close.
	RolloutCloseTimeout = 5 * time.Second
	// RecordFlushTimeout bounds the final flush of queued records at
	// Close; the store is closed either way.
	RecordFlushTimeout = 10 * time.Second
)

// Store is where an opened gateway keeps what it persists: recorded calls,
// comparison samples and statistics, rollout state. *store.Bolt (the
// embedded driver) and *store.Redis (the redis driver) implement it.
type Store interface {
	// Records, Chain and Get read recorded calls back for the admin API.
	Records(store.Query) (store.Page, error)
	Chain(chain.TraceID) ([]*store.Record, error)
	Get(store.ID) (*store.Record, error)
	shadow.Store
	rollout.Store
	recorder.Writer
	// Prune deletes records past retention; it returns how many.
	Prune(now time.Time) (int, error)
	Close() error
}

var (
	_ Store = (*store.Bolt)(nil)
	_ Store = (*store.Redis)(nil)
)

// lifecycle is what Open starts beyond build, for Close to stop, and the
// memory budget that build creates for the parts it hands it to.
type lifecycle struct {
	// budget is memory.async: the shadow mirror (from build) and the
	// recorder (from Open) charge what they hold after a client is
	// answered to it.
	budget        *budget.Budget
	store         Store // nil: built by build alone (tests)
	recorder      *recorder.Recorder
	stopRetention context.CancelFunc
	retained      chan struct{} // closed when the retention loop ends

	closeMu  sync.Mutex // held by Close while it runs; guards the fields below
	closed   bool
	closeErr error
}

// Open builds a gateway for cfg with everything it runs: the shadow mirror,
// the rollout controller, the store that cfg.Store names, the recorder that
// writes to it, and retention (see Lifecycle in the package doc). path is
// the file cfg came from, for Reload and WatchFile; applied is the content
// cfg was parsed from, so that neither applies it a second time (nil:
// unknown). Close stops it all; when Open fails, it has stopped what it
// started.
func Open(cfg *configs.Config, path string, applied []byte, log *slog.Logger) (*Gateway, error) {
	g, err := build(cfg, path, log)
	if err != nil {
		return nil, err
	}
	if applied != nil {
		g.SetApplied(applied)
	}
	if err := g.openStore(cfg); err != nil {
		_ = g.Close(context.Background())
		return nil, err
	}
	return g, nil
}

// openStore runs Open's steps 2 to 5 on a gateway that build built.
func (g *Gateway) openStore(cfg *configs.Config) error {
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	return g.useStore(cfg, st)
}

// useStore runs Open's steps 3 to 5 with st, which Close closes.
func (g *Gateway) useStore(cfg *configs.Config, st Store) error {
	g.life.store = st
	g.life.recorder = recorder.New(st, recorder.Options{
		RedactHeaders:   cfg.Record.Redact.Headers,
		RedactJSON:      cfg.Record.Redact.JSON,
		RedactExactCase: cfg.Record.Redact.ExactCase,
		MaxBody:         int(cfg.Record.MaxBody),
		Buffer:          int(cfg.Store.Buffer),
		Budget:          g.life.budget,
		Logger:          g.log,
	})
	if err := g.setRecording(g.life.recorder, st); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	g.life.stopRetention, g.life.retained = stop, make(chan struct{})
	go g.retain(ctx, st, retentionEvery(cfg.Store.Retention.D()))
	return nil
}

// openStore opens the store that cfg.Store names.
func openStore(cfg *configs.Config) (Store, error) {
	switch cfg.Store.Driver {
	case "redis":
		rc := cfg.Store.Redis
		// Not OpenRedis: a replica that starts while Redis is away runs
		// degraded until it answers, as one that lost it does. One that
		// reaches it refuses to start on a newer release's records.
		r, err := store.NewRedis(store.RedisOptions{
			Addrs: rc.Addrs, MasterName: rc.MasterName, Username: rc.Username, Password: rc.Password,
			DB: rc.DB, TLS: rc.TLS, CAFile: rc.CAFile, Prefix: rc.Prefix,
			Retention: cfg.Store.Retention.D(),
		})
		if err != nil {
			return nil, err
		}
		if err := r.CheckFormat(); err != nil {
			_ = r.Close()
			return nil, err
		}
		return r, nil
	default:
		return store.OpenBolt(cfg.Store.Path, store.BoltOptions{
			Retention: cfg.Store.Retention.D(),
			MaxBytes:  int64(cfg.Store.MaxBytes),
		})
	}
}

// retentionEvery is how often retention runs: often enough that records
// outlive store.retention by at most a quarter of it, and at most every
// 5 s so that store.max_bytes is held closely; a pass that finds nothing
// to delete costs one cursor seek.
func retentionEvery(retention time.Duration) time.Duration {
	return min(max(retention/4, time.Second), 5*time.Second)
}

// retain prunes st now and every interval until ctx ends.
func (g *Gateway) retain(ctx context.Context, st Store, every time.Duration) {
	defer close(g.life.retained)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := st.Prune(time.Now()); err != nil {
			g.log.Error("retention failed", "err", err)
		} else if n > 0 {
			g.log.Debug("retention deleted old records", "records", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops everything Open (or build) started, in the order the package
// doc gives under Lifecycle; each stage is bounded by its timeout and by
// ctx, and runs even when the one before it failed. It logs each stage's
// failure and returns them joined. Calls after the first return the first
// one's result.
func (g *Gateway) Close(ctx context.Context) error {
	g.life.closeMu.Lock()
	defer g.life.closeMu.Unlock()
	if g.life.closed {
		return g.life.closeErr
	}
	g.life.closed = true
	var errs []error
	stage := func(timeout time.Duration, what string, level slog.Level, stop func(context.Context) error) {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := stop(sctx); err != nil {
			g.log.Log(ctx, level, what, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	stage(g.Config().ShutdownTimeout.D(), "stopping the proxy", slog.LevelWarn, g.Shutdown)
	stage(ShadowDrainTimeout, "closing shadow workers", slog.LevelWarn, g.closeShadows)
	stage(TraceFlushTimeout, "flushing trace spans", slog.LevelWarn, g.closeTracing)
	stage(RolloutCloseTimeout, "closing the rollout controller", slog.LevelWarn, g.closeRollouts)
	if st := g.life.store; st != nil {
		flushed := true
		stage(RecordFlushTimeout, "closing the store", slog.LevelError, func(ctx context.Context) error {
			flushErr := g.life.recorder.Close(ctx)
			if g.life.stopRetention != nil {
				g.life.stopRetention()
				<-g.life.retained
			}
			err := errors.Join(flushErr, st.Close())
			flushed = err == nil
			return err
		})
		if flushed {
			g.log.Info("records flushed", "written", g.life.recorder.Written())
		}
	}
	g.life.closeErr = errors.Join(errs...)
	return g.life.closeErr
}
