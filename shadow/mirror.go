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
	"github.com/cutover/cutover/record"
	"github.com/cutover/cutover/store"
)

// FlushInterval is how often samples and statistics go to the store.
const FlushInterval = 2 * time.Second

// Recorder takes recorded calls; *record.Recorder implements it. Get and
// Submit must never block.
type Recorder interface {
	Get() *store.Record
	Submit(*store.Record) bool
}

// Store keeps samples and per-route statistics; *store.Bolt implements it.
type Store interface {
	PutDiffs(samples []store.Sample, states map[string][]byte) error
	DiffStates() (map[string][]byte, error)
	Sample(store.SampleID) ([]byte, error)
}

var (
	_ Recorder = (*record.Recorder)(nil)
	_ Store    = (*store.Bolt)(nil)
)

// Options configure a Mirror. Every field may be zero.
type Options struct {
	Redactor *record.Redactor // nil: the recording defaults
	Logger   *slog.Logger
	// LogFailure is told of each failed shadow call; it should throttle,
	// since a dead shadow side fails at the request rate. Nil logs nothing:
	// cutover_shadow_dropped_total counts the failures.
	LogFailure func(route, service string, err error)
	// Buffer bounds the bytes of samples kept for the next flush while
	// the store cannot be written; DefaultBuffer when zero. Beyond it the
	// oldest are dropped and counted.
	Buffer int
}

// DefaultBuffer is Options.Buffer's default.
const DefaultBuffer = 64 << 20

// Mirror owns the shadowed routes of a gateway, by name, across reloads:
// a route that keeps its name keeps its statistics. It is safe for
// concurrent use.
type Mirror struct {
	opt      Options
	log      *slog.Logger
	st       Store             // nil until SetStore: samples and statistics in memory only
	recorder Recorder          // nil: shadow calls are not recorded
	states   map[string][]byte // statistics read from the store by SetStore

	mu     sync.Mutex
	routes map[string]*Route
	closed bool

	stopFlush chan struct{}
	flushDone chan struct{}
	flushErrs atomic.Uint64

	// Samples a failed flush keeps for the next one, oldest first, and
	// the samples dropped beyond Options.Buffer. Flush goroutine only,
	// but for the counter.
	retry        []store.Sample
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
		opt.Redactor, _ = record.NewRedactor(record.Rules{})
	}
	if opt.Buffer <= 0 {
		opt.Buffer = DefaultBuffer
	}
	m := &Mirror{
		opt:       opt,
		log:       opt.Logger,
		routes:    map[string]*Route{},
		stopFlush: make(chan struct{}),
		flushDone: make(chan struct{}),
	}
	m.storeHealthy.Store(true)
	go m.flushLoop()
	return m
}

// SetStore makes the mirror keep samples and statistics in st, continuing
// the statistics st holds for routes of the same name, and record shadow
// calls of recorded chains with rec. Call it before traffic flows.
func (m *Mirror) SetStore(st Store, rec Recorder) error {
	if _, shared := st.(SharedStore); shared {
		// The totals live in the store's tallies; the routes count
		// what they add to them.
		m.mu.Lock()
		m.st, m.recorder = st, rec
		m.mu.Unlock()
		m.storeHealthy.Store(true)
		return nil
	}
	states, err := st.DiffStates()
	if err != nil {
		return fmt.Errorf("cannot read stored diff statistics: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st, m.recorder, m.states = st, rec, states
	for name, r := range m.routes {
		if state := states[name]; state != nil {
			if err := r.agg.RestoreState(state); err != nil {
				m.log.Warn("stored diff statistics not continued", "route", name, "err", err)
			}
		}
	}
	return nil
}

// SetRedactor swaps the redaction rules applied to stored samples.
func (m *Mirror) SetRedactor(rd *record.Redactor) {
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
	if state := m.states[name]; state != nil {
		if err := r.agg.RestoreState(state); err != nil {
			m.log.Warn("stored diff statistics not continued", "route", name, "err", err)
		}
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
			return
		}
	}
}

// flush writes the pending samples and the statistics that changed: on a
// shared store the counts since the last flush, else each changed
// route's totals.
func (m *Mirror) flush() {
	samples := m.retry
	m.retry = nil
	states := map[string][]byte{}
	m.mu.Lock()
	st := m.st
	if st == nil {
		m.mu.Unlock()
		return
	}
	sh, _ := st.(SharedStore)
	routes := make([]*Route, 0, len(m.routes))
	for _, r := range m.routes {
		routes = append(routes, r)
	}
	m.mu.Unlock()
	healthy := true
	for _, r := range routes {
		r.mu.Lock()
		samples = append(samples, r.pending...)
		r.pending = nil
		r.mu.Unlock()
		if sh != nil {
			if err := m.flushShared(sh, r); err != nil {
				healthy = false
				m.flushErrs.Add(1)
				m.logStoreError("cannot add diff statistics to the shared store; kept for the next flush", err)
				continue
			}
			// Only a route with a secondary has noise pairs, and so a
			// merged baseline worth reading back for its rollout.
			if r.set.Load().Secondary != nil {
				if err := m.refreshMerged(sh, r); err != nil {
					healthy = false
					m.logStoreError("cannot read the merged diff statistics", err)
				}
			}
			continue
		}
		if !r.dirty.Swap(false) {
			continue
		}
		state, err := r.agg.MarshalState()
		if err != nil {
			m.log.Error("cannot encode diff statistics", "route", r.name, "err", err)
			continue
		}
		states[r.name] = state
	}
	if err := st.PutDiffs(samples, states); err != nil {
		healthy = false
		m.flushErrs.Add(1)
		m.logStoreError("cannot store diff samples and statistics; kept for the next flush", err)
		for name := range states {
			if r := m.Lookup(name); r != nil {
				r.dirty.Store(true)
			}
		}
		m.keepForRetry(samples)
	}
	m.storeHealthy.Store(healthy)
}

// keepForRetry keeps samples for the next flush, dropping the oldest
// beyond Options.Buffer bytes.
func (m *Mirror) keepForRetry(samples []store.Sample) {
	n := 0
	for _, s := range samples {
		n += len(s.Data)
	}
	drop := 0
	for drop < len(samples) && n > m.opt.Buffer {
		n -= len(samples[drop].Data)
		drop++
	}
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
	st := m.st
	m.mu.Unlock()
	if st == nil {
		return nil, fmt.Errorf("sample %s: %w", id, store.ErrNotFound)
	}
	return st.Sample(id)
}

func (m *Mirror) logFailure(route, service string, err error) {
	if m.opt.LogFailure != nil {
		m.opt.LogFailure(route, service, err)
	}
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
	b = append(b, "# HELP cutover_shadow_compared_total Old/new pairs compared.\n# TYPE cutover_shadow_compared_total counter\n"...)
	for _, r := range routes {
		b = fmt.Appendf(b, "cutover_shadow_compared_total{route=%q} %d\n", r.name, r.compared.Load())
	}
	b = append(b, "# HELP cutover_shadow_noise_pairs_total Old/secondary pairs compared to measure noise.\n# TYPE cutover_shadow_noise_pairs_total counter\n"...)
	for _, r := range routes {
		b = fmt.Appendf(b, "cutover_shadow_noise_pairs_total{route=%q} %d\n", r.name, r.noise.Load())
	}
	b = append(b, "# HELP cutover_shadow_differing_total Old/new pairs with any difference, noise included.\n# TYPE cutover_shadow_differing_total counter\n"...)
	for _, r := range routes {
		b = fmt.Appendf(b, "cutover_shadow_differing_total{route=%q} %d\n", r.name, r.differing.Load())
	}
	b = append(b, "# HELP cutover_shadow_noise_differing_total Old/secondary pairs with any difference.\n# TYPE cutover_shadow_noise_differing_total counter\n"...)
	for _, r := range routes {
		b = fmt.Appendf(b, "cutover_shadow_noise_differing_total{route=%q} %d\n", r.name, r.noiseDiffering.Load())
	}
	b = append(b, "# HELP cutover_shadow_queued Shadow copies waiting for a worker.\n# TYPE cutover_shadow_queued gauge\n"...)
	for _, r := range routes {
		b = fmt.Appendf(b, "cutover_shadow_queued{route=%q} %d\n", r.name, len(r.queue))
	}
	b = append(b, "# HELP cutover_shadow_inflight Shadow calls in flight.\n# TYPE cutover_shadow_inflight gauge\n"...)
	for _, r := range routes {
		b = fmt.Appendf(b, "cutover_shadow_inflight{route=%q} %d\n", r.name, r.inflight.Load())
	}
	b = append(b, "# HELP cutover_shadow_store_errors_total Failed writes of samples and statistics; each is retried.\n# TYPE cutover_shadow_store_errors_total counter\n"...)
	b = fmt.Appendf(b, "cutover_shadow_store_errors_total %d\n", m.flushErrs.Load())
	b = append(b, "# HELP cutover_shadow_samples_dropped_total Comparison samples dropped because the store could not be written and the buffer was full.\n# TYPE cutover_shadow_samples_dropped_total counter\n"...)
	b = fmt.Appendf(b, "cutover_shadow_samples_dropped_total %d\n", m.samplesLost.Load())
	_, _ = w.Write(b)
}
