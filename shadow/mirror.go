package shadow

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/internal/budget"
	"github.com/cutover/cutover/internal/defaults"
	"github.com/cutover/cutover/internal/throttle"
	"github.com/cutover/cutover/recorder"
	"github.com/cutover/cutover/store"
	"github.com/cutover/cutover/tracing"
	"github.com/cutover/cutover/upstream"
)

// FlushInterval is how often samples and statistics go to the store.
const FlushInterval = 2 * time.Second

// Recorder takes recorded calls; *recorder.Recorder implements it. Get and
// Submit must never block.
type Recorder interface {
	Get() *store.Record
	Submit(*store.Record) bool
}

// Store keeps samples and the routes' statistics; *store.Bolt and
// *store.Redis implement it. A route's statistics are tallies (see
// stats.go), which every replica on the store adds to.
type Store interface {
	PutSamples(samples []store.Sample) error
	Sample(store.SampleID) ([]byte, error)
	AddTallies(adds []store.TallyAdd) (applied int, err error)
	Tallies(keys []string) ([]store.Tally, error)
}

var (
	_ Recorder = (*recorder.Recorder)(nil)
	_ Store    = (*store.Bolt)(nil)
	_ Store    = (*store.Redis)(nil)
)

// Options configure a Mirror. Every field may be zero.
type Options struct {
	Redactor *recorder.Redactor // nil: the recording defaults
	Logger   *slog.Logger
	// Buffer bounds the bytes of samples kept for the next flush while
	// the store cannot be written; DefaultBuffer when zero. Beyond it the
	// oldest are dropped and counted.
	Buffer int
	// Budget is the memory budget that shadow jobs, from Submit until a
	// worker is done with them, and samples kept for the next flush are
	// charged to (memory.async); nil: a budget of the mirror's own,
	// budget.Default bytes.
	Budget *budget.Budget
	// Tracer exports the shadow calls of sampled chains as spans; nil:
	// none.
	Tracer *tracing.Tracer
}

// DefaultBuffer is Options.Buffer's default.
const DefaultBuffer = 32 << 20

// Mirror owns the shadowed routes of a gateway, by name, across reloads:
// a route that keeps its name keeps its statistics. It is safe for
// concurrent use.
type Mirror struct {
	opt      Options
	log      *slog.Logger
	st       Store    // nil until SetStore: samples and statistics in memory only
	recorder Recorder // nil: shadow calls are not recorded

	mu     sync.Mutex
	routes map[string]*Route
	closed bool

	upstreams *upstream.Pool    // the shadow sides' clients, never the proxy's
	failLog   throttle.Throttle // of failed shadow calls

	stopFlush chan struct{}
	flushDone chan struct{}
	flushErrs atomic.Uint64

	// Samples a failed flush keeps for the next one, oldest first, and
	// the samples dropped beyond Options.Buffer. Flush goroutine only,
	// but for the counter.
	retry        []store.Sample
	retryBytes   int64          // what retry is charged to the budget
	unstored     []store.Sample // guarded by mu: the flush's samples until stored, for Sample
	samplesLost  atomic.Uint64
	storeHealthy atomic.Bool
}

// NewMirror starts a mirror. SetStore gives it a store to keep samples and
// statistics in.
func NewMirror(opt Options) *Mirror {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Redactor == nil {
		opt.Redactor, _ = recorder.NewRedactor(recorder.Rules{})
	}
	opt.Buffer = defaults.Positive(opt.Buffer, DefaultBuffer)
	if opt.Budget == nil {
		opt.Budget = budget.New(budget.Default)
	}
	m := &Mirror{
		opt:       opt,
		log:       opt.Logger,
		routes:    map[string]*Route{},
		upstreams: upstream.NewPool(nil),
		stopFlush: make(chan struct{}),
		flushDone: make(chan struct{}),
	}
	m.storeHealthy.Store(true)
	go m.flushLoop()
	return m
}

// SetStore makes the mirror keep samples and statistics in st, where
// the statistics of routes of the same name go on from what st holds,
// and record shadow calls of recorded chains with rec. Call it before
// traffic flows.
func (m *Mirror) SetStore(st Store, rec Recorder) error {
	if l, ok := st.(legacyStatistics); ok {
		n, err := l.MigrateDiffStates(legacyTally)
		if n > 0 {
			m.log.Info("stored diff statistics converted to tallies", "routes", n)
		}
		if err != nil {
			m.log.Warn("stored diff statistics not converted; they start afresh", "err", err)
		}
	}
	m.mu.Lock()
	m.st, m.recorder = st, rec
	m.mu.Unlock()
	m.storeHealthy.Store(true)
	return nil
}

// SetRedactor swaps the redaction rules applied to stored samples.
func (m *Mirror) SetRedactor(rd *recorder.Redactor) {
	m.mu.Lock()
	m.opt.Redactor = rd
	m.mu.Unlock()
}

// Route returns the route named name with set in force, creating it with
// concurrency workers and a queue of queueLen jobs, or updating the
// settings of the existing one. The worker count and queue length of an
// existing route do not change.
func (m *Mirror) Route(name string, set *Settings, concurrency, queueLen int) *Route {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.routes[name]; r != nil {
		r.set.Store(set)
		r.agg.SetThresholds(set.Noise)
		return r
	}
	r := &Route{
		name:  name,
		queue: make(chan *Job, max(queueLen, 1)),
		agg:   diff.NewAggregator(name, diff.AggregatorOptions{Noise: set.Noise}),
		m:     m,
		stop:  make(chan struct{}),
	}
	r.set.Store(set)
	r.wg.Add(max(concurrency, 1))
	for range max(concurrency, 1) {
		go r.worker()
	}
	m.routes[name] = r
	return r
}

// Retire stops the routes whose names are not in keep, after their
// queued jobs. Their statistics stay in the store.
func (m *Mirror) Retire(keep map[string]bool) {
	m.mu.Lock()
	var gone []*Route
	for name, r := range m.routes {
		if !keep[name] {
			gone = append(gone, r)
			delete(m.routes, name)
		}
	}
	m.mu.Unlock()
	for _, r := range gone {
		close(r.stop)
	}
}

// Routes returns the shadowed routes, by name.
func (m *Mirror) Routes() []*Route {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Route, 0, len(m.routes))
	for _, r := range m.routes {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Lookup returns the route named name, or nil.
func (m *Mirror) Lookup(name string) *Route {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.routes[name]
}

// Close stops every route's workers after the jobs they hold or that are
// queued, at most until ctx ends, then writes the statistics a last time.
func (m *Mirror) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	routes := make([]*Route, 0, len(m.routes))
	for _, r := range m.routes {
		routes = append(routes, r)
		close(r.stop)
	}
	m.mu.Unlock()
	done := make(chan struct{})
	go func() {
		for _, r := range routes {
			r.wg.Wait()
		}
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("shadow calls still running at shutdown: %w", ctx.Err())
	}
	close(m.stopFlush)
	<-m.flushDone
	return err
}

func (m *Mirror) flushLoop() {
	defer close(m.flushDone)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			m.flush()
		case <-m.stopFlush:
			m.flush()
			// What the store would not take is lost with the process.
			m.opt.Budget.Release(m.retryBytes)
			m.retryBytes = 0
			return
		}
	}
}

// flush adds what every route counted since the last flush to its
// tallies, writes the pending samples, and reads back the merged
// statistics of the routes with a secondary.
func (m *Mirror) flush() {
	m.mu.Lock()
	st := m.st
	if st == nil {
		m.mu.Unlock()
		return
	}
	routes := make([]*Route, 0, len(m.routes))
	for _, r := range m.routes {
		routes = append(routes, r)
	}
	m.mu.Unlock()
	samples := m.retry
	m.retry = nil
	for _, r := range routes {
		// A sample stays findable by Sample while it moves from the
		// route's queue to the store: it is published as unstored before
		// it leaves the queue.
		r.mu.Lock()
		batch := r.pending
		r.mu.Unlock()
		samples = append(samples, batch...)
		m.mu.Lock()
		m.unstored = samples
		m.mu.Unlock()
		r.mu.Lock()
		r.pending = r.pending[len(batch):]
		r.mu.Unlock()
	}
	healthy := true
	if err := addStatistics(st, routes); err != nil {
		healthy = false
		m.flushErrs.Add(1)
		m.logStoreError("cannot add diff statistics to the store; kept for the next flush", err)
	}
	if err := st.PutSamples(samples); err != nil {
		healthy = false
		m.flushErrs.Add(1)
		m.logStoreError("cannot store diff samples; kept for the next flush", err)
		m.keepForRetry(samples)
	} else {
		m.opt.Budget.Release(m.retryBytes)
		m.retryBytes = 0
	}
	if healthy {
		if err := m.refreshMerged(st, routes); err != nil {
			healthy = false
			m.logStoreError("cannot read the merged diff statistics", err)
		}
	}
	m.mu.Lock()
	m.unstored = m.retry
	m.mu.Unlock()
	m.storeHealthy.Store(healthy)
}

// keepForRetry keeps samples for the next flush, charged to the memory
// budget: it drops the oldest beyond Options.Buffer bytes, then the
// oldest while the rest does not fit the budget. samples starts with the
// ones kept by the flush before, which are charged already.
func (m *Mirror) keepForRetry(samples []store.Sample) {
	var n int64
	for _, s := range samples {
		n += int64(len(s.Data))
	}
	drop := 0
	for drop < len(samples) && (n > int64(m.opt.Buffer) || (n > m.retryBytes && !m.opt.Budget.TryCharge(n-m.retryBytes))) {
		n -= int64(len(samples[drop].Data))
		drop++
	}
	if n < m.retryBytes {
		m.opt.Budget.Release(m.retryBytes - n)
	}
	m.retryBytes = n
	if drop > 0 {
		m.samplesLost.Add(uint64(drop))
	}
	m.retry = samples[drop:]
}

// logStoreError logs a failed store call at most once per FlushInterval
// of failures in a row: while the store is away every flush fails.
func (m *Mirror) logStoreError(msg string, err error) {
	if m.storeHealthy.Load() {
		m.log.Error(msg, "err", err)
	}
}

// recordCall hands a copy of a shadow call to the recorder.
func (m *Mirror) recordCall(src *store.Record) {
	if m.recorder == nil {
		return
	}
	rec := m.recorder.Get()
	src.CopyTo(rec)
	m.recorder.Submit(rec)
}

// Sample is the stored form of one compared pair: both calls, redacted
// as recordings are, and their differences.
type Sample struct {
	ID          string            `json:"id"`
	Route       string            `json:"route"`
	Served      string            `json:"served"`
	Differences []diff.Difference `json:"differences"`
	Old         *store.Record     `json:"old"`
	New         *store.Record     `json:"new"`
}

// keepSample redacts copies of a pair's calls and queues the sample for
// the next flush.
func (m *Mirror) keepSample(r *Route, id store.SampleID, oldCall, newCall *store.Record, served string, diffs []diff.Difference) {
	m.mu.Lock()
	rd := m.opt.Redactor
	m.mu.Unlock()
	s := Sample{ID: id.String(), Route: r.name, Served: served, Differences: append([]diff.Difference{}, diffs...), Old: new(store.Record), New: new(store.Record)}
	oldCall.CopyTo(s.Old)
	newCall.CopyTo(s.New)
	rd.Record(s.Old)
	rd.Record(s.New)
	data, err := json.Marshal(&s)
	if err != nil {
		m.log.Error("cannot encode a diff sample", "route", r.name, "err", err)
		return
	}
	r.mu.Lock()
	r.pending = append(r.pending, store.Sample{ID: id, Data: data})
	r.mu.Unlock()
}

// Sample returns a stored sample's JSON, or store.ErrNotFound; a sample
// not yet flushed is found too.
func (m *Mirror) Sample(id store.SampleID) ([]byte, error) {
	for _, r := range m.Routes() {
		r.mu.Lock()
		for _, s := range r.pending {
			if s.ID == id {
				r.mu.Unlock()
				return s.Data, nil
			}
		}
		r.mu.Unlock()
	}
	m.mu.Lock()
	for _, s := range m.unstored {
		if s.ID == id {
			m.mu.Unlock()
			return s.Data, nil
		}
	}
	st := m.st
	m.mu.Unlock()
	if st == nil {
		return nil, fmt.Errorf("sample %s: %w", id, store.ErrNotFound)
	}
	return st.Sample(id)
}

// routeFigures are the per-route series WriteMetrics writes besides the
// drops, in order.
var routeFigures = []struct {
	name, kind, help string
	value            func(*Route) int64
}{
	{"cutover_shadow_compared_total", "counter", "Old/new pairs compared.", func(r *Route) int64 { return int64(r.compared.Load()) }},
	{"cutover_shadow_noise_pairs_total", "counter", "Old/secondary pairs compared to measure noise.", func(r *Route) int64 { return int64(r.noise.Load()) }},
	{"cutover_shadow_differing_total", "counter", "Old/new pairs with any difference, noise included.", func(r *Route) int64 { return int64(r.differing.Load()) }},
	{"cutover_shadow_noise_differing_total", "counter", "Old/secondary pairs with any difference.", func(r *Route) int64 { return int64(r.noiseDiffering.Load()) }},
	{"cutover_shadow_queued", "gauge", "Shadow copies waiting for a worker.", func(r *Route) int64 { return int64(len(r.queue)) }},
	{"cutover_shadow_inflight", "gauge", "Shadow calls in flight.", func(r *Route) int64 { return r.inflight.Load() }},
}

// WriteMetrics appends the shadow counters to w in Prometheus text format.
func (m *Mirror) WriteMetrics(w io.Writer) {
	routes := m.Routes()
	b := []byte("# HELP cutover_shadow_dropped_total Requests not shadowed or not compared, by reason.\n# TYPE cutover_shadow_dropped_total counter\n")
	for _, r := range routes {
		for i, reason := range Reasons {
			b = fmt.Appendf(b, "cutover_shadow_dropped_total{route=%q,reason=%q} %d\n", r.name, reason, r.dropped[i].Load())
		}
	}
	for _, f := range routeFigures {
		b = fmt.Appendf(b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		for _, r := range routes {
			b = fmt.Appendf(b, "%s{route=%q} %d\n", f.name, r.name, f.value(r))
		}
	}
	b = append(b, "# HELP cutover_shadow_store_errors_total Failed writes of samples and statistics; each is retried.\n# TYPE cutover_shadow_store_errors_total counter\n"...)
	b = fmt.Appendf(b, "cutover_shadow_store_errors_total %d\n", m.flushErrs.Load())
	b = append(b, "# HELP cutover_shadow_samples_dropped_total Comparison samples dropped because the store could not be written and the buffer was full.\n# TYPE cutover_shadow_samples_dropped_total counter\n"...)
	b = fmt.Appendf(b, "cutover_shadow_samples_dropped_total %d\n", m.samplesLost.Load())
	_, _ = w.Write(b)
}
