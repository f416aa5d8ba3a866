package replay

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/message"
	"github.com/cutover/cutover/recorder"
	"github.com/cutover/cutover/store"
	"github.com/cutover/cutover/upstream"
)

// Header marks a replayed call. A gateway that receives it routes the
// call but neither records nor shadows it.
const Header = "X-Cutover-Replay"

// TracestateEntry is the tracestate member a replayed call carries first.
const TracestateEntry = "cutover=replay"

// dropped are the recorded request headers a replayed call does not
// carry: hop-by-hop ones (RFC 9110 section 7.6.1), framing that fasthttp
// sets from the body, the name the recorder gave a decoded body's
// Content-Encoding (the body is replayed decoded), cutover's own marks,
// and the trace context, which the replayed call's new span replaces.
var dropped = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"TE", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Expect",
	recorder.DecodedHeader, "X-Cutover-Shadow", Header,
	"traceparent", "tracestate", "b3", "X-B3-TraceId", "X-B3-SpanId", "X-B3-ParentSpanId",
	"X-B3-Sampled", "X-B3-Flags", "uber-trace-id", "sw8",
}

// redactedValue is what the recorder wrote in place of a redacted
// header's value; such a header is not sent (--set-header supplies it).
const redactedValue = "[redacted]"

// worker is one sending goroutine's reusable memory.
type worker struct {
	r      *Runner
	req    fasthttp.Request
	resp   fasthttp.Response
	got    store.Record
	cmp    *diff.Comparer
	redact *recorder.Redactor
	diffs  []diff.Difference
	noise  []diff.Difference
	buf    []byte
	traces []byte
}

func newWorker(r *Runner) *worker {
	rules := r.redact
	rules.MaxBody = r.maxBody
	rd, _ := recorder.NewRedactor(rules)
	return &worker{r: r, cmp: diff.NewComparer(), redact: rd}
}

// run sends one recorded call to the target (and the baseline) and
// compares the answers with the recorded one.
func (w *worker) run(rec *store.Record) {
	r := w.r
	defer r.done.Add(1)
	out := Outcome{ID: idOf(rec), Route: rec.Route, Method: string(rec.Method), URI: string(rec.URI), RecordedStatus: rec.Status}
	recorded := diff.Response{Status: rec.Status, Headers: rec.RespHeaders, Body: rec.RespBody}

	got, latency, err := w.send(rec, r.target)
	r.sent.Add(1)
	if err != nil {
		r.failures.Add(1)
		kind := errorKind(err)
		r.skipMu.Lock()
		r.errKinds[kind]++
		r.skipMu.Unlock()
		out.Error = kind
		r.emit(&out)
		return
	}
	r.lat.add(latency)
	out.Status, out.LatencyMS = got.Status, store.Millis(latency)
	w.diffs = w.cmp.Compare(&recorded, got, r.rulesOf(rec.Route), w.diffs[:0])
	served := rec.Side
	if served != "new" {
		served = "old"
	}
	agg := r.aggregator(rec.Route)
	agg.Add(&diff.Pair{
		Time:       time.Now(),
		Tenant:     string(rec.Tenant),
		Served:     served,
		OldStatus:  rec.Status,
		NewStatus:  got.Status,
		OldLatency: rec.Latency,
		NewLatency: latency,
		Diffs:      w.diffs,
		SampleID:   out.ID,
	})
	if len(w.diffs) > 0 {
		r.differing.Add(1)
		for _, d := range w.diffs {
			out.Diffs = append(out.Diffs, d.Path)
		}
	}
	if r.baseline != nil {
		// What differs between the recording and another instance of the
		// recorded side is noise, as between old and a shadow secondary.
		if base, _, err := w.send(rec, r.baseline); err == nil {
			w.noise = w.cmp.Compare(&recorded, base, r.rulesOf(rec.Route), w.noise[:0])
			agg.AddNoise(time.Now(), w.noise)
		}
	}
	r.emit(&out)
}

func (r *Runner) emit(o *Outcome) {
	if r.opt.Outcomes != nil {
		r.opt.Outcomes(o)
	}
}

// send builds the replayed request for svc and returns the answer,
// decoded and redacted as the recording was. The answer is valid until
// the next send.
func (w *worker) send(rec *store.Record, svc *upstream.Service) (*diff.Response, time.Duration, error) {
	w.build(rec)
	svc.SetHost(&w.req.Header)
	w.resp.Reset()
	sent := time.Now()
	_, err := svc.Do(&w.req, &w.resp, sent)
	latency := time.Since(sent)
	if err != nil {
		return nil, latency, err
	}
	g := &w.got
	g.Reset()
	g.Status = w.resp.StatusCode()
	g.SetRespHeaders(recorder.HeaderLines(w.resp.Header.Header()))
	g.SetRespBody(w.resp.Body(), w.r.maxBody)
	w.redact.Record(g)
	return &diff.Response{Status: g.Status, Headers: g.RespHeaders, Body: g.RespBody}, latency, nil
}

// build writes the replayed form of rec into w.req: its method, target,
// headers (less the dropped ones, plus --set-header) and body, in a new
// span under the recorded one, marked as a replay.
func (w *worker) build(rec *store.Record) {
	req := &w.req
	req.Reset()
	req.Header.DisableNormalizing()
	req.Header.SetMethodBytes(rec.Method)
	req.SetRequestURIBytes(rec.URI)
	req.UseHostHeader = true
	var state []byte
	s := message.Scan(rec.ReqHeaders)
	for s.Next() {
		f := s.Field()
		if f.Name == nil {
			continue
		}
		if f.Is("tracestate") {
			state = append(state[:0], f.Value...)
		}
		if w.drop(&f) {
			continue
		}
		req.Header.AddBytesKV(f.Name, f.Value)
	}
	for _, h := range w.r.opt.SetHeaders {
		req.Header.Set(h[0], h[1])
	}
	c := chain.Chain{Trace: rec.Chain, Span: chain.NewSpanID(), Parent: rec.Span}
	if c.Trace.IsZero() {
		c.Trace = chain.NewTraceID()
	}
	w.buf = c.Trace.AppendHex(w.buf[:0])
	req.Header.SetBytesV(w.r.chainHdr, w.buf)
	w.buf = chain.AppendTraceparent(w.buf[:0], &c)
	req.Header.SetBytesV("traceparent", w.buf)
	w.traces = chain.AppendTracestate(w.traces[:0], state, TracestateEntry)
	req.Header.SetBytesV("tracestate", w.traces)
	req.Header.Set(Header, "1")
	if len(rec.ReqBody) > 0 {
		req.SetBodyRaw(rec.ReqBody)
	}
}

func (w *worker) drop(f *message.Field) bool {
	if string(f.Value) == redactedValue || f.Is(w.r.chainHdr) {
		return true
	}
	for _, name := range dropped {
		if f.Is(name) {
			return true
		}
	}
	for _, h := range w.r.opt.SetHeaders {
		if f.Is(h[0]) {
			return true
		}
	}
	return false
}
