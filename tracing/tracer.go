package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/internal/buildinfo"
	"github.com/cutover/cutover/internal/defaults"
	"github.com/cutover/cutover/internal/throttle"
)

// Defaults of the Options' zero values.
const (
	DefaultServiceName = "cutover"
	// DefaultQueue is how many spans wait for export; beyond it they are
	// dropped (queue_full). A queued span takes 640 bytes, so the queue
	// holds at most 1.25 MiB.
	DefaultQueue = 2048
	// DefaultBatch is the most spans one export sends.
	DefaultBatch = 512
	// DefaultBatchTimeout is the longest a span waits for its batch to
	// fill before the batch is sent anyway.
	DefaultBatchTimeout = time.Second
)

// ExportTimeout bounds one batch's export, the exporter's retries of a
// collector that answers 429 or 503 included; past it the batch is
// dropped (export_failed).
const ExportTimeout = 10 * time.Second

// TracesPath is appended to tracing.otlp.endpoint: OTLP/HTTP's path for
// traces.
const TracesPath = "/v1/traces"

// Drop reasons, as cutover_trace_spans_dropped_total labels them.
const (
	// ReasonQueueFull: the export queue was full (a slow or dead
	// collector, or more spans than one export can carry).
	ReasonQueueFull = "queue_full"
	// ReasonExportFailed: the collector refused the batch, could not be
	// reached, or did not answer within ExportTimeout; also spans still
	// queued when Close's context ended.
	ReasonExportFailed = "export_failed"
)

// Reasons lists the drop reasons in the order metrics print them.
var Reasons = []string{ReasonQueueFull, ReasonExportFailed}

// Options configure a Tracer. Endpoint is required; every other field may
// be zero.
type Options struct {
	// Endpoint is the collector's OTLP/HTTP base URL,
	// http://otel-collector:4318; TracesPath is appended to its path.
	Endpoint string
	// Sample is the share of chains exported, 0 to 1 (see Sampled).
	Sample float64
	// ServiceName is the resource's service.name; DefaultServiceName when
	// empty. Instance, when set, is its service.instance.id (the replica).
	ServiceName string
	Instance    string
	Logger      *slog.Logger
	// Queue, Batch and BatchTimeout size the export queue and its
	// batches; the Default* constants when zero.
	Queue        int
	Batch        int
	BatchTimeout time.Duration
}

// Tracer exports calls as spans. Its methods are safe for concurrent use;
// Export never blocks. A nil *Tracer exports nothing: Sampled reports
// false and WriteMetrics writes zeros.
type Tracer struct {
	opt    Options
	log    *slog.Logger
	sample atomic.Uint64 // math.Float64bits of the share exported
	queue  chan record
	full   chan struct{} // signals the exporter that a batch is waiting
	client otlptrace.Client
	res    *resource.Resource

	exported atomic.Uint64
	dropped  [2]atomic.Uint64 // by index in Reasons
	failLog  throttle.Throttle

	closed    atomic.Bool
	stop      chan struct{}
	done      chan struct{}
	ctx       context.Context // the exports'; cancelled when Close gives up
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

// New starts a tracer that exports to opt.Endpoint. It does not connect:
// a collector that is down at start costs the first batches, not the
// start.
func New(opt Options) (*Tracer, error) {
	endpoint, err := TracesURL(opt.Endpoint)
	if err != nil {
		return nil, err
	}
	if opt.ServiceName == "" {
		opt.ServiceName = DefaultServiceName
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	opt.Queue = defaults.Positive(opt.Queue, DefaultQueue)
	opt.Batch = defaults.Positive(opt.Batch, DefaultBatch)
	opt.Batch = min(opt.Batch, opt.Queue)
	opt.BatchTimeout = defaults.Positive(opt.BatchTimeout, DefaultBatchTimeout)
	client := otlptracehttp.NewClient(
		otlptracehttp.WithEndpointURL(endpoint),
		otlptracehttp.WithTimeout(ExportTimeout),
		// 429, 502, 503 and 504 are retried within ExportTimeout; a
		// refused connection fails at once, since waiting would only
		// fill the queue.
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
			Enabled: true, InitialInterval: 500 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: ExportTimeout,
		}),
	)
	if err := client.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("tracing: cannot start the OTLP client: %w", err)
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(opt.ServiceName), semconv.ServiceVersion(buildinfo.Version)}
	if opt.Instance != "" {
		attrs = append(attrs, semconv.ServiceInstanceID(opt.Instance))
	}
	// The SDK's defaults (telemetry.sdk.*, OTEL_RESOURCE_ATTRIBUTES) under
	// cutover's own.
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL, attrs...))
	if err != nil {
		res = resource.NewWithAttributes(semconv.SchemaURL, attrs...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tracer{
		opt:    opt,
		log:    opt.Logger,
		queue:  make(chan record, opt.Queue),
		full:   make(chan struct{}, 1),
		client: client,
		res:    res,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}
	t.SetSample(opt.Sample)
	go t.run()
	return t, nil
}

// TracesURL returns the URL spans are posted to for a tracing.otlp
// endpoint: the endpoint with TracesPath appended to its path. The
// endpoint must be an absolute http:// or https:// URL with a host and
// no query or fragment.
func TracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("tracing: endpoint %q is not an http:// or https:// URL with a host", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("tracing: endpoint %q may not carry a query, a fragment or credentials", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + TracesPath
	u.RawPath = ""
	return u.String(), nil
}

// SetSample sets the share of chains exported from now on (a reload).
func (t *Tracer) SetSample(share float64) {
	if t != nil {
		t.sample.Store(math.Float64bits(share))
	}
}

// Sampled reports whether the calls of chain c are exported: its ID falls
// within the sample (chain.TraceID.Within, as recording chooses) and its
// caller did not mark it unsampled. Every hop and replica decides the same
// for a chain. Callers ask before building a Call.
func (t *Tracer) Sampled(c *chain.Chain) bool {
	return t != nil && c.Sampled && c.Trace.Within(math.Float64frombits(t.sample.Load()))
}

// Export queues call for export and returns at once; it copies what it
// keeps, so call and the memory it points into may be reused as soon as it
// returns. A full queue drops the span and counts it. Export does not
// sample: ask Sampled first.
func (t *Tracer) Export(call *Call) {
	if t == nil {
		return
	}
	if t.closed.Load() {
		t.dropped[1].Add(1)
		return
	}
	var r record
	r.fill(call)
	select {
	case t.queue <- r:
		// The exporter sleeps until a batch is full (or BatchTimeout
		// passes): waking it per span would cost the request path a
		// futex call each.
		if len(t.queue) >= t.opt.Batch {
			select {
			case t.full <- struct{}{}:
			default:
			}
		}
	default:
		t.dropped[0].Add(1)
	}
}

// run exports queued spans in batches, when a batch is full or every
// BatchTimeout, until Close; then it exports what is left.
func (t *Tracer) run() {
	defer close(t.done)
	req := newBatchRequest(t.res)
	batch := make([]record, 0, t.opt.Batch)
	// drain exports the queue's spans in batches: all of them, or only
	// whole batches while more may come.
	drain := func(all bool) {
		for len(t.queue) >= t.opt.Batch || all && len(t.queue) > 0 {
			for n := min(len(t.queue), t.opt.Batch); n > 0; n-- {
				batch = append(batch, <-t.queue)
			}
			t.export(req, batch)
			batch = batch[:0]
		}
	}
	tick := time.NewTicker(t.opt.BatchTimeout)
	defer tick.Stop()
	for {
		select {
		case <-t.full:
			drain(false)
		case <-tick.C:
			drain(true)
		case <-t.stop:
			drain(true)
			return
		}
	}
}

// export sends one batch and counts the outcome.
func (t *Tracer) export(req *batchRequest, batch []record) {
	ctx, cancel := context.WithTimeout(t.ctx, ExportTimeout)
	err := t.client.UploadTraces(ctx, req.encode(batch))
	cancel()
	if err != nil {
		t.dropped[1].Add(uint64(len(batch)))
		if t.failLog.Allow() {
			t.log.Warn("trace export failed; the spans are dropped", "spans", len(batch), "endpoint", t.opt.Endpoint, "err", err)
		}
		return
	}
	t.exported.Add(uint64(len(batch)))
}

// Close exports the spans still queued, bounded by ctx, and stops the
// exporter. Spans that could not be sent before ctx ended are counted as
// export_failed. Calls after the first return its result.
func (t *Tracer) Close(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		close(t.stop)
		select {
		case <-t.done:
		case <-ctx.Done():
			// The batch being sent fails at once, and so does every
			// batch after it: each is counted.
			t.cancel()
			<-t.done
		}
		t.cancel()
		// Spans offered while the queue was drained for the last time.
		for n := len(t.queue); n > 0; n-- {
			<-t.queue
			t.dropped[1].Add(1)
		}
		if err := t.client.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.closeErr = fmt.Errorf("tracing: cannot stop the exporter: %w", err)
		}
		if n := t.dropped[1].Load(); n > 0 {
			t.log.Info("trace export closed", "exported", t.exported.Load(), "dropped_export_failed", n, "dropped_queue_full", t.dropped[0].Load())
		}
	})
	return t.closeErr
}

// Exported returns the spans the collector accepted since start.
func (t *Tracer) Exported() uint64 {
	if t == nil {
		return 0
	}
	return t.exported.Load()
}

// Dropped returns the spans dropped for reason since start.
func (t *Tracer) Dropped(reason string) uint64 {
	if t == nil {
		return 0
	}
	for i, r := range Reasons {
		if r == reason {
			return t.dropped[i].Load()
		}
	}
	return 0
}

// WriteMetrics writes the tracer's counters in the Prometheus text format:
// cutover_trace_spans_exported_total and
// cutover_trace_spans_dropped_total{reason}. A nil tracer writes zeros,
// so the series exist whether tracing is on or not.
func (t *Tracer) WriteMetrics(w io.Writer) {
	b := make([]byte, 0, 512)
	b = append(b, "# HELP cutover_trace_spans_exported_total Spans the OTLP collector accepted.\n# TYPE cutover_trace_spans_exported_total counter\n"...)
	b = fmt.Appendf(b, "cutover_trace_spans_exported_total %d\n", t.Exported())
	b = append(b, "# HELP cutover_trace_spans_dropped_total Spans not exported, by reason.\n# TYPE cutover_trace_spans_dropped_total counter\n"...)
	for _, r := range Reasons {
		b = fmt.Appendf(b, "cutover_trace_spans_dropped_total{reason=%q} %d\n", r, t.Dropped(r))
	}
	_, _ = w.Write(b)
}
