package gateway

import (
	"fmt"
	"io"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/recorder"
	"github.com/cutover/cutover/router"
	"github.com/cutover/cutover/shadow"
	"github.com/cutover/cutover/store"
)

// Recorder takes captured calls off the hot path; *recorder.Recorder
// implements it. Get and Submit must never block.
type Recorder interface {
	Get() *store.Record
	Submit(*store.Record) bool
	// SetRules swaps the redaction rules on a config reload.
	SetRules(recorder.Rules) []string
	Written() uint64
	// Withheld counts bodies stored as a recorder.Withheld notice.
	Withheld() uint64
	Dropped() map[string]uint64
	QueueLen() int
	Held() int
	// Failing says why the store's last write failed, "" when it worked.
	Failing() string
}

var _ Recorder = (*recorder.Recorder)(nil)

// setRecording makes the gateway record calls into rec and serve them from
// rs on the admin API, and keep comparison samples, statistics and rollout
// state in rs. Open calls it before Serve; nil rec records nothing.
func (g *Gateway) setRecording(rec Recorder, rs Store) error {
	g.recorder = rec
	g.records = rs
	if p, ok := rs.(pinger); ok {
		g.startHealth(p)
	}
	if rec != nil {
		g.health.writes.Store(&rec)
	}
	var sr shadow.Recorder
	if rec != nil {
		sr = rec
	}
	if err := g.mirror.SetStore(rs, sr); err != nil {
		return err
	}
	return g.rollouts.SetStore(rs)
}

// recording is what the hot path needs to decide and fill one record.
type recording struct {
	rec     Recorder
	maxBody int
	sample  float64
	errors  bool // record.errors: failing calls are recorded whatever the sample
}

// wants reports whether a call of chain trace that the client got status
// for is recorded: its chain is sampled, or record.errors is on and the
// call failed (5xx, which a failed upstream call is answered with too).
// A failing call outside the sample is recorded alone, without the rest
// of its chain.
func (r recording) wants(trace chain.TraceID, status int) bool {
	return r.rec != nil && (recorder.Sampled(trace, r.sample) || (r.errors && status >= 500))
}

// recordingFor returns the recording settings of a route, or a zero value
// when nothing is recorded.
func (g *Gateway) recordingFor(snap *snapshot, rs *routeState) recording {
	if g.recorder == nil {
		return recording{}
	}
	return recording{rec: g.recorder, maxBody: int(snap.cfg.Record.MaxBody), sample: rs.sample, errors: snap.cfg.Record.Errors != nil && *snap.cfg.Record.Errors}
}

// capturedCall is one finished upstream call, as the handler saw it.
type capturedCall struct {
	trace   chain.TraceID
	span    chain.SpanID
	parent  chain.SpanID
	route   string
	tenant  []byte
	side    router.Side
	target  string
	sent    time.Time
	latency time.Duration
	reason  string // upstream failure reason, "" on success

	cohort   string        // the route's gray.cohort
	decision router.Reason // the rule that chose side
}

// capture copies a finished call into a pooled record and hands it to the
// recorder. It runs on the handler's goroutine, before the response is
// written, so it only copies: redaction, encoding and the write happen on
// the recorder's goroutine. The request is the one sent upstream (chain
// headers included); the response is what the client gets.
func (r recording) capture(c *capturedCall, req *fasthttp.Request, resp *fasthttp.Response) {
	rec := r.rec.Get()
	rec.Chain, rec.Span, rec.Parent = c.trace, c.span, c.parent
	rec.Route = c.route
	rec.SetTenant(c.tenant)
	rec.Side = c.side.String()
	rec.Cohort, rec.Decision = c.cohort, c.decision.String()
	rec.Target = c.target
	recorder.Fill(rec, req, resp, r.maxBody)
	rec.Start = c.sent
	rec.Latency = c.latency
	rec.Error = c.reason
	r.rec.Submit(rec)
}

// writeRecorderMetrics appends the recorder's counters to /metrics.
func writeRecorderMetrics(w io.Writer, rec Recorder) {
	if rec == nil {
		return
	}
	b := help(nil, "cutover_records_written_total", "counter", "Recorded calls committed to the store.")
	b = fmt.Appendf(b, "cutover_records_written_total %d\n", rec.Written())
	b = help(b, "cutover_records_withheld_total", "counter", "Recorded bodies stored as a withheld notice: the JSON redaction rules applied but the body could not be read with certainty.")
	b = fmt.Appendf(b, "cutover_records_withheld_total %d\n", rec.Withheld())
	b = help(b, "cutover_records_dropped_total", "counter", "Recorded calls dropped instead of slowing the proxy, by reason.")
	dropped := rec.Dropped()
	for _, reason := range recorder.Reasons {
		b = fmt.Appendf(b, "cutover_records_dropped_total{reason=%q} %d\n", reason, dropped[reason])
	}
	b = help(b, "cutover_records_queued", "gauge", "Recorded calls waiting for the store writer.")
	b = fmt.Appendf(b, "cutover_records_queued %d\n", rec.QueueLen())
	b = help(b, "cutover_records_held", "gauge", "Recorded calls held for another try while the store fails.")
	b = fmt.Appendf(b, "cutover_records_held %d\n", rec.Held())
	_, _ = w.Write(b)
}
