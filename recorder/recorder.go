package recorder

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/internal/budget"
	"github.com/cutover/cutover/internal/defaults"
	"github.com/cutover/cutover/store"
)

// Writer persists batches of records. A Writer need not be safe for
// concurrent use: the recorder calls it from one goroutine. It must not
// keep the records after Append returns; the recorder reuses them.
type Writer interface {
	Append(recs []*store.Record) error
}

var _ Writer = (*store.Bolt)(nil)

// Defaults of Options.
const (
	DefaultQueueSize = 8192
	DefaultBatchSize = 512
	DefaultInterval  = 200 * time.Millisecond
	DefaultMaxBody   = 64 << 10
	DefaultBuffer    = 32 << 20
	// maxRetryWait bounds the wait between two tries of a failing Writer.
	maxRetryWait = 2 * time.Second
	// MaxInterval bounds Interval, so a record is durable within about a
	// second of its response.
	MaxInterval = time.Second
)

// DefaultRedactHeaders are redacted when Options.RedactHeaders is nil: the
// headers that carry credentials.
var DefaultRedactHeaders = []string{"Authorization", "Cookie", "Set-Cookie", "Proxy-Authorization"}

// Reasons a record is dropped, the label values of the gateway's
// cutover_records_dropped_total.
const (
	ReasonQueueFull  = "queue_full"  // Submit found the queue full
	ReasonBudget     = "budget"      // the record did not fit the memory budget
	ReasonStoreError = "store_error" // the Writer failed and the buffer was full
	ReasonClosed     = "closed"      // Submit after Close
)

// Reasons lists the drop reasons in the order metrics print them.
var Reasons = []string{ReasonQueueFull, ReasonBudget, ReasonStoreError, ReasonClosed}

// maxPooled is the largest total buffer capacity a record may keep when it
// goes back to the pool, so one huge body does not stay pinned forever.
const maxPooled = 1 << 20

// Options configure a Recorder. Zero means default.
type Options struct {
	QueueSize int           // records waiting for the writer; DefaultQueueSize
	BatchSize int           // records per Append; DefaultBatchSize
	Interval  time.Duration // the longest a record waits for its batch; DefaultInterval, at most MaxInterval
	// RedactHeaders are header names whose values are replaced, compared
	// case-insensitively. Nil means DefaultRedactHeaders; an empty,
	// non-nil slice redacts no header.
	RedactHeaders []string
	// RedactJSON are paths of JSON body values to replace; see CheckPath.
	RedactJSON []string
	// RedactExactCase compares JSON keys byte for byte instead of by
	// case folding; see Rules.
	RedactExactCase bool
	// MaxBody caps a gzip or deflate body once decoded; DefaultMaxBody.
	MaxBody int
	// Buffer bounds the bytes of records held for another try while the
	// Writer fails; DefaultBuffer. Beyond it the oldest are dropped under
	// ReasonStoreError.
	Buffer int
	// Budget is the memory budget a record is charged to from Submit
	// until it is written or dropped (memory.async); nil: a budget of the
	// recorder's own, budget.Default bytes.
	Budget *budget.Budget
	Logger *slog.Logger // slog.Default() when nil
}

// Recorder takes captured calls from the gateway and writes them in
// batches from one background goroutine, redacting them first.
//
// Get, Submit and the counters are safe for concurrent use and never
// block: a full queue drops the record and counts it.
type Recorder struct {
	w     Writer
	opt   Options
	log   *slog.Logger
	queue chan *store.Record
	done  chan struct{}
	pool  sync.Pool

	// mu orders Submit against Close: Submit holds it shared only for a
	// non-blocking send, so Close can close the queue without a send
	// racing it.
	mu     sync.RWMutex
	closed bool

	written    atomic.Uint64
	withheld   atomic.Uint64
	queueFull  atomic.Uint64
	overBudget atomic.Uint64
	storeErr   atomic.Uint64
	afterEnd   atomic.Uint64
	// failing is why the Writer's last Append failed; nil once one
	// succeeds again.
	failing atomic.Pointer[string]

	rd       *redactor                // writer goroutine only
	nextRD   atomic.Pointer[redactor] // set by SetRules, taken by the writer
	logEvery time.Duration            // the least time between two store error logs
	logNext  time.Time                // writer goroutine only: when a store error may be logged again

	// Records redacted and waiting for a Writer that failed, oldest
	// first, their bytes, and when to try again. Writer goroutine only,
	// but for the count.
	held      []*store.Record
	heldBytes int
	heldCount atomic.Int64
	retryAt   time.Time
	retryWait time.Duration
}

// New returns a recorder writing to w and starts its writer goroutine.
// Close stops it.
func New(w Writer, opt Options) *Recorder {
	opt.QueueSize = defaults.Positive(opt.QueueSize, DefaultQueueSize)
	opt.BatchSize = defaults.Positive(opt.BatchSize, DefaultBatchSize)
	opt.Interval = defaults.Positive(opt.Interval, DefaultInterval)
	opt.Interval = min(opt.Interval, MaxInterval)
	opt.MaxBody = defaults.Positive(opt.MaxBody, DefaultMaxBody)
	opt.Buffer = defaults.Positive(opt.Buffer, DefaultBuffer)
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Budget == nil {
		opt.Budget = budget.New(budget.Default)
	}
	rc := &Recorder{
		w:     w,
		opt:   opt,
		log:   opt.Logger,
		queue: make(chan *store.Record, opt.QueueSize),
		done:  make(chan struct{}),
		pool:  sync.Pool{New: func() any { return new(store.Record) }},

		logEvery: time.Second,
	}
	var bad []string
	rc.rd, bad = newRedactor(Rules{Headers: opt.RedactHeaders, JSON: opt.RedactJSON, ExactCase: opt.RedactExactCase, MaxBody: opt.MaxBody}, &rc.withheld)
	for _, p := range bad {
		rc.log.Error("JSON redaction path ignored", "path", p, "err", CheckPath(p))
	}
	go rc.run()
	return rc
}

// SetRules replaces the redaction rules and the decoded-body cap (zero
// values mean the defaults, as in Options) for every record the writer
// redacts from its next batch on, queued ones included. It returns the
// JSON paths it refused, which are skipped. Safe for concurrent use; it
// never waits for the writer.
func (rc *Recorder) SetRules(rules Rules) []string {
	rd, bad := newRedactor(rules, &rc.withheld)
	rc.nextRD.Store(rd)
	return bad
}

// Get returns an empty record to fill and Submit. Its buffers may have
// capacity from earlier use.
func (rc *Recorder) Get() *store.Record {
	return rc.pool.Get().(*store.Record)
}

// Submit queues r for writing and reports whether it was queued. It never
// blocks. r's bytes are charged to the budget until it is written or
// dropped; a record that does not fit is dropped under ReasonBudget.
// Either way r belongs to the recorder afterwards: the caller must not
// touch it again.
func (rc *Recorder) Submit(r *store.Record) bool {
	rc.mu.RLock()
	if rc.closed {
		rc.mu.RUnlock()
		rc.afterEnd.Add(1)
		rc.put(r)
		return false
	}
	if len(rc.queue) == cap(rc.queue) {
		// Dropped without touching the budget: behind a slow store the
		// queue stays full, and the charge and release would only cost.
		rc.mu.RUnlock()
		rc.queueFull.Add(1)
		rc.put(r)
		return false
	}
	size := recordBytes(r)
	if !rc.opt.Budget.TryCharge(size) {
		rc.mu.RUnlock()
		rc.overBudget.Add(1)
		rc.put(r)
		return false
	}
	select {
	case rc.queue <- r:
		rc.mu.RUnlock()
		return true
	default:
		rc.mu.RUnlock()
		rc.opt.Budget.Release(size)
		rc.queueFull.Add(1)
		rc.put(r)
		return false
	}
}

// put returns r to the pool.
func (rc *Recorder) put(r *store.Record) {
	if cap(r.ReqBody)+cap(r.RespBody)+cap(r.ReqHeaders)+cap(r.RespHeaders) > maxPooled {
		return
	}
	r.Reset()
	rc.pool.Put(r)
}

// Written returns how many records the Writer has stored.
func (rc *Recorder) Written() uint64 { return rc.written.Load() }

// Withheld returns how many bodies were stored as a Withheld notice
// because the JSON rules applied to them but they could not be read with
// certainty.
func (rc *Recorder) Withheld() uint64 { return rc.withheld.Load() }

// Dropped returns how many records were dropped, by reason; every reason
// is present.
func (rc *Recorder) Dropped() map[string]uint64 {
	return map[string]uint64{
		ReasonQueueFull:  rc.queueFull.Load(),
		ReasonBudget:     rc.overBudget.Load(),
		ReasonStoreError: rc.storeErr.Load(),
		ReasonClosed:     rc.afterEnd.Load(),
	}
}

// QueueLen returns how many records wait for the writer.
func (rc *Recorder) QueueLen() int { return len(rc.queue) }

// Held returns how many records wait for a failing store to answer.
func (rc *Recorder) Held() int { return int(rc.heldCount.Load()) }

// Failing returns why the Writer's last write failed, or "" when it
// succeeded: the store cannot take records (a full disk, Redis away) and
// they are held for another try, which goes on by itself.
func (rc *Recorder) Failing() string {
	if p := rc.failing.Load(); p != nil {
		return *p
	}
	return ""
}

// Close stops accepting records (Submit then drops them as "closed"),
// writes everything already queued and returns when that is done or ctx
// ends. After ctx ends the writer goroutine still finishes in the
// background. Close may be called more than once.
func (rc *Recorder) Close(ctx context.Context) error {
	rc.mu.Lock()
	if !rc.closed {
		rc.closed = true
		close(rc.queue)
	}
	rc.mu.Unlock()
	select {
	case <-rc.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("record: queued records not yet written: %w", ctx.Err())
	}
}

// maxBatchBytes bounds a batch in bytes as BatchSize bounds it in
// records: the store encodes a batch into one buffer, so 512 records with
// long bodies would otherwise cost another copy of all of them at once.
const maxBatchBytes = 4 << 20

// run is the writer goroutine: it batches queued records and writes a
// batch when it is full (BatchSize records or maxBatchBytes) or Interval
// has passed.
func (rc *Recorder) run() {
	defer close(rc.done)
	batch := make([]*store.Record, 0, rc.opt.BatchSize)
	var batchBytes int64
	tick := time.NewTicker(rc.opt.Interval)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-rc.queue:
			if !ok {
				rc.flush(batch, true)
				rc.drop(len(rc.held))
				return
			}
			batch = append(batch, r)
			if batchBytes += recordBytes(r); len(batch) == cap(batch) || batchBytes >= maxBatchBytes {
				batch, batchBytes = rc.flush(batch, false), 0
			}
		case <-tick.C:
			batch, batchBytes = rc.flush(batch, false), 0
		}
	}
}

// flush redacts batch and writes it after the records held from failed
// writes, in batches, returns the written records to the pool and
// returns the emptied batch. While the Writer fails, records are held
// and tried again after a wait that doubles up to maxRetryWait, unless
// last; the oldest beyond Options.Buffer are dropped.
func (rc *Recorder) flush(batch []*store.Record, last bool) []*store.Record {
	if len(batch) == 0 && len(rc.held) == 0 {
		return batch
	}
	if rd := rc.nextRD.Swap(nil); rd != nil {
		rc.rd = rd
	}
	for i, r := range batch {
		batch[i] = nil
		if !rc.redact(r) {
			continue
		}
		rc.held = append(rc.held, r)
		rc.heldBytes += int(recordBytes(r))
	}
	now := time.Now()
	for len(rc.held) > 0 && (last || !now.Before(rc.retryAt)) {
		n := min(len(rc.held), rc.opt.BatchSize)
		if err := rc.w.Append(rc.held[:n]); err != nil {
			msg := err.Error()
			rc.failing.Store(&msg)
			rc.retryWait = min(max(2*rc.retryWait, rc.opt.Interval), maxRetryWait)
			rc.retryAt = now.Add(rc.retryWait)
			if now.After(rc.logNext) {
				rc.logNext = now.Add(rc.logEvery)
				rc.log.Error("recorded calls not stored; held for another try", "records", len(rc.held), "err", err)
			}
			break
		}
		rc.retryWait = 0
		rc.failing.Store(nil)
		rc.written.Add(uint64(n))
		rc.release(n)
	}
	for rc.heldBytes > rc.opt.Buffer && len(rc.held) > 0 {
		rc.drop(1)
	}
	rc.heldCount.Store(int64(len(rc.held)))
	return batch[:0]
}

// redact applies the rules to a queued record and keeps its charge equal
// to its size, which decoding a body may have grown; a record whose new
// size does not fit the budget is dropped under ReasonBudget, and false
// returned.
func (rc *Recorder) redact(r *store.Record) bool {
	charged := recordBytes(r)
	rc.rd.record(r)
	size := recordBytes(r)
	switch {
	case size < charged:
		rc.opt.Budget.Release(charged - size)
	case size > charged && !rc.opt.Budget.TryCharge(size-charged):
		rc.opt.Budget.Release(charged)
		rc.overBudget.Add(1)
		rc.put(r)
		return false
	}
	return true
}

// release returns the n oldest held records to the pool and their bytes
// to the budget.
func (rc *Recorder) release(n int) {
	for i, r := range rc.held[:n] {
		size := recordBytes(r)
		rc.heldBytes -= int(size)
		rc.opt.Budget.Release(size)
		rc.put(r)
		rc.held[i] = nil
	}
	rc.held = rc.held[n:]
	if len(rc.held) == 0 {
		rc.held = rc.held[:0:0] // let a grown backing array go
	}
}

// drop drops the n oldest held records, counting them.
func (rc *Recorder) drop(n int) {
	if n == 0 {
		return
	}
	rc.storeErr.Add(uint64(n))
	rc.release(n)
	rc.heldCount.Store(int64(len(rc.held)))
}

// recordBytes is what a queued or held record costs, about: what it is
// charged to the budget.
func recordBytes(r *store.Record) int64 {
	return int64(len(r.ReqBody) + len(r.RespBody) + len(r.ReqHeaders) + len(r.RespHeaders) + len(r.URI) + len(r.Tenant) + 256)
}

// Sampled reports whether a chain is recorded at the given rate (0 to 1).
// The answer depends only on the chain ID (chain.TraceID.Within), so every
// hop of a chain, on every gateway, makes the same choice and a chain is
// recorded whole or not at all.
func Sampled(id chain.TraceID, rate float64) bool { return id.Within(rate) }
