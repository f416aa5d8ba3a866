package replay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/internal/defaults"
	"github.com/cutover/cutover/recorder"
	"github.com/cutover/cutover/shadow"
	"github.com/cutover/cutover/store"
	"github.com/cutover/cutover/upstream"
)

// Defaults of Options.
const (
	DefaultConcurrency      = 8
	DefaultTimeout          = 30 * time.Second
	DefaultMaxInFlightBytes = 32 << 20
)

// DefaultMethods are the methods replayed without AllowWrites.
var DefaultMethods = []string{"GET", "HEAD"}

// Reasons a call is skipped, the keys of Summary.Skipped.
const (
	SkipMethod    = "method"    // a write, without AllowWrites
	SkipTruncated = "truncated" // a body was recorded cut short, so the call cannot be sent again as it was
	SkipNoAnswer  = "no_answer" // the recorded call got no answer to compare with
)

// Options configure a Runner. Zero fields take the defaults.
type Options struct {
	Target   string // http://host:port of the build under test
	Baseline string // http://host:port of an instance of the recorded side; "" measures no noise
	// Config supplies the routes' diff rules and noise thresholds (by the
	// recorded route name), the recording's redaction, applied to the
	// answers before they are compared with the redacted recording, and
	// the chain header. nil compares with default rules.
	Config      *configs.Config
	Methods     []string // replayed without AllowWrites; default DefaultMethods
	AllowWrites bool
	SetHeaders  [][2]string // added to every call, replacing a recorded header of the same name
	Concurrency int         // calls in flight; default DefaultConcurrency
	Rate        float64     // calls a second; 0: as fast as Concurrency allows
	Speed       float64     // keep the recorded spacing, Speed times faster; 0: off
	Timeout     time.Duration
	// MaxInFlightBytes bounds the recorded bytes of the calls dispatched
	// and not finished; default DefaultMaxInFlightBytes.
	MaxInFlightBytes int64
	// Outcomes, when set, gets every call's outcome as it finishes, from
	// several goroutines one at a time.
	Outcomes func(*Outcome)
}

// Outcome is what became of one recorded call: one line of --out.
type Outcome struct {
	ID             string   `json:"id,omitempty"`
	Route          string   `json:"route"`
	Method         string   `json:"method"`
	URI            string   `json:"uri"`
	RecordedStatus int      `json:"recorded_status"`
	Status         int      `json:"status,omitempty"`
	Skipped        string   `json:"skipped,omitempty"`
	Error          string   `json:"error,omitempty"`
	LatencyMS      float64  `json:"latency_ms,omitempty"`
	Diffs          []string `json:"diffs,omitempty"` // the differing paths, noise included
}

// Runner replays recorded calls. It is used once; Progress may be read
// from any goroutine while Run runs.
type Runner struct {
	opt      Options
	target   *upstream.Service
	baseline *upstream.Service
	rules    map[string]*diff.Compiled
	defRules *diff.Compiled
	noise    map[string]diff.Thresholds
	// redact is the recording's rules; each worker compiles its own
	// Redactor, which serialises its callers.
	redact   recorder.Rules
	chainHdr string
	methods  map[string]bool
	maxBody  int

	mu   sync.Mutex
	aggs map[string]*diff.Aggregator

	budget budget
	lat    latencies

	total     atomic.Int64
	done      atomic.Uint64
	sent      atomic.Uint64
	differing atomic.Uint64
	failures  atomic.Uint64
	skipMu    sync.Mutex
	skipped   map[string]uint64
	errKinds  map[string]uint64
	started   time.Time
}

// New checks opt and builds a Runner.
func New(opt Options) (*Runner, error) {
	opt.Concurrency = defaults.Positive(opt.Concurrency, DefaultConcurrency)
	opt.Timeout = defaults.Positive(opt.Timeout, DefaultTimeout)
	opt.MaxInFlightBytes = defaults.Positive(opt.MaxInFlightBytes, DefaultMaxInFlightBytes)
	if opt.Methods == nil {
		opt.Methods = DefaultMethods
	}
	if opt.Rate < 0 || opt.Speed < 0 || opt.Rate > 0 && opt.Speed > 0 {
		return nil, errors.New("replay: give --rate or --speed, not both, and neither below 0")
	}
	r := &Runner{
		opt:      opt,
		rules:    map[string]*diff.Compiled{},
		noise:    map[string]diff.Thresholds{},
		aggs:     map[string]*diff.Aggregator{},
		methods:  map[string]bool{},
		skipped:  map[string]uint64{},
		errKinds: map[string]uint64{},
		chainHdr: configs.DefaultChainHeader,
		maxBody:  recorder.DefaultMaxBody,
		budget:   budget{max: opt.MaxInFlightBytes},
	}
	r.budget.cond = sync.NewCond(&r.budget.mu)
	for _, m := range opt.Methods {
		r.methods[strings.ToUpper(strings.TrimSpace(m))] = true
	}
	var err error
	if r.defRules, err = diff.Compile(diff.Rules{}); err != nil {
		return nil, err
	}
	if cfg := opt.Config; cfg != nil {
		for _, rt := range cfg.Routes {
			if rt.Diff == nil {
				continue
			}
			c, err := diff.Compile(shadow.DiffRules(rt.Diff))
			if err != nil {
				return nil, fmt.Errorf("replay: route %q: %w", rt.Name, err)
			}
			r.rules[rt.Name] = c
			r.noise[rt.Name] = shadow.NoiseThresholds(rt.Diff)
		}
		r.redact = recorder.RulesFor(cfg)
		if cfg.Record.MaxBody > 0 {
			r.maxBody = int(cfg.Record.MaxBody)
		}
		if cfg.Chain.Header != "" {
			r.chainHdr = cfg.Chain.Header
		}
	}
	build := upstream.NewPool(nil).Build()
	service := func(name, raw string) (*upstream.Service, error) {
		addr, err := hostPort(raw)
		if err != nil {
			return nil, fmt.Errorf("replay: --%s %q: %w", name, raw, err)
		}
		return build.Service(name, upstream.Config{
			Targets:     []string{addr},
			Timeout:     opt.Timeout,
			FailTimeout: time.Second,
			MaxConns:    opt.Concurrency,
			AllDown:     upstream.AllDownSkip,
		}), nil
	}
	if r.target, err = service("to", opt.Target); err != nil {
		return nil, err
	}
	if opt.Baseline != "" {
		if r.baseline, err = service("baseline", opt.Baseline); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// hostPort reads the host:port of an http:// URL (or of a bare host:port).
func hostPort(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("scheme %q is not supported: replay sends plain http", u.Scheme)
	}
	if u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return "", errors.New("want http://host:port, without a path")
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "80"), nil
	}
	return u.Host, nil
}

// Progress is a Runner's state so far.
type Progress struct {
	Done      uint64 // calls finished: sent, skipped or failed
	Total     int64
	Sent      uint64
	Differing uint64
	Errors    uint64
	Elapsed   time.Duration
}

// Progress returns the state so far.
func (r *Runner) Progress() Progress {
	p := Progress{Done: r.done.Load(), Total: r.total.Load(), Sent: r.sent.Load(), Differing: r.differing.Load(), Errors: r.failures.Load()}
	if !r.started.IsZero() {
		p.Elapsed = time.Since(r.started)
	}
	return p
}

// job is one call on its way to a worker.
type job struct {
	rec  *store.Record
	size int64
}

// Run replays the calls of src and returns the report of what was done.
// When ctx is done it stops dispatching, lets the calls in flight finish,
// and returns the report with Summary.Interrupted set and no error.
func (r *Runner) Run(ctx context.Context, src Source) (*Report, error) {
	r.total.Store(int64(src.Total()))
	r.started = time.Now()
	// A buffer as deep as the workers keeps them busy while the source reads
	// its next page; the byte budget bounds what waits in it.
	jobs := make(chan job, r.opt.Concurrency)
	var wg sync.WaitGroup
	for range r.opt.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(r)
			for j := range jobs {
				// After Ctrl-C nothing more is sent, queued or not.
				if ctx.Err() == nil {
					w.run(j.rec)
				}
				r.budget.release(j.size)
			}
		}()
	}
	var first, n int64
	first = -1
	err := src.Walk(ctx, func(rec *store.Record) error {
		if reason := r.skip(rec); reason != "" {
			r.skipOne(rec, reason)
			return nil
		}
		if err := r.pace(ctx, rec, &first, n); err != nil {
			return err
		}
		n++
		size := int64(len(rec.ReqBody)+len(rec.ReqHeaders)+len(rec.RespHeaders)) + 3*int64(len(rec.RespBody)) + 4096
		if !r.budget.acquire(ctx, size) {
			return ctx.Err()
		}
		select {
		case jobs <- job{rec, size}:
			return nil
		case <-ctx.Done():
			r.budget.release(size)
			return ctx.Err()
		}
	})
	close(jobs)
	wg.Wait()
	interrupted := false
	if err != nil {
		if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
			return r.report(false), err
		}
		interrupted = true
	}
	return r.report(interrupted), nil
}

// skip returns why rec is not sent, "" when it is.
func (r *Runner) skip(rec *store.Record) string {
	switch {
	case !r.opt.AllowWrites && !r.methods[string(rec.Method)]:
		return SkipMethod
	case rec.ReqTruncated || rec.RespTruncated:
		return SkipTruncated
	case rec.Status == 0:
		return SkipNoAnswer
	}
	return ""
}

func (r *Runner) skipOne(rec *store.Record, reason string) {
	r.skipMu.Lock()
	r.skipped[reason]++
	r.skipMu.Unlock()
	r.done.Add(1)
	if r.opt.Outcomes != nil {
		r.opt.Outcomes(&Outcome{ID: idOf(rec), Route: rec.Route, Method: string(rec.Method), URI: string(rec.URI), RecordedStatus: rec.Status, Skipped: reason})
	}
}

func idOf(rec *store.Record) string {
	if rec.ID.IsZero() {
		return ""
	}
	return rec.ID.String()
}

// pace waits until the n-th call sent (from 0) is due: by Rate, or by
// its recorded start relative to the first one's under Speed.
func (r *Runner) pace(ctx context.Context, rec *store.Record, first *int64, n int64) error {
	var due time.Time
	switch {
	case r.opt.Rate > 0:
		due = r.started.Add(time.Duration(float64(n) / r.opt.Rate * float64(time.Second)))
	case r.opt.Speed > 0:
		at := rec.Start.UnixNano()
		if *first < 0 {
			*first = at
		}
		due = r.started.Add(time.Duration(float64(max(at-*first, 0)) / r.opt.Speed))
	default:
		return nil
	}
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// aggregator returns the aggregator of a route, made on first use with
// the route's noise thresholds.
func (r *Runner) aggregator(route string) *diff.Aggregator {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.aggs[route]
	if a == nil {
		a = diff.NewAggregator(route, diff.AggregatorOptions{Noise: r.noise[route]})
		r.aggs[route] = a
	}
	return a
}

func (r *Runner) rulesOf(route string) *diff.Compiled {
	if c := r.rules[route]; c != nil {
		return c
	}
	return r.defRules
}

// budget bounds the bytes of the calls in flight. A call larger than the
// whole budget waits until nothing else is in flight.
type budget struct {
	mu   sync.Mutex
	cond *sync.Cond
	used int64
	max  int64
}

func (b *budget) acquire(ctx context.Context, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.used > 0 && b.used+n > b.max {
		if ctx.Err() != nil {
			return false
		}
		b.cond.Wait()
	}
	b.used += n
	return true
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// errorKind names a failed call for the summary.
func errorKind(err error) string {
	switch {
	case errors.Is(err, upstream.ErrAllDown):
		return "unreachable"
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout):
		return "timeout"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return "body_too_large"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return "connection"
	}
	return "error"
}
