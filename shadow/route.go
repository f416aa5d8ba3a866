package shadow

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/recorder"
	"github.com/cutover/cutover/router"
	"github.com/cutover/cutover/store"
	"github.com/cutover/cutover/upstream"
)

// Drop reasons, as the metrics label them.
const (
	ReasonMethod        = "method"
	ReasonShadowChain   = "shadow_chain"
	ReasonBodyTooLarge  = "body_too_large"
	ReasonPrimaryFailed = "primary_failed"
	ReasonQueueFull     = "queue_full"
	ReasonBudget        = "budget"
	ReasonTimeout       = "timeout"
	ReasonError         = "error"
)

// Reasons lists the drop reasons in the order metrics print them.
var Reasons = []string{ReasonMethod, ReasonShadowChain, ReasonBodyTooLarge, ReasonPrimaryFailed, ReasonQueueFull, ReasonBudget, ReasonTimeout, ReasonError}

// Settings are what a route's workers need to send and compare a copy,
// swapped whole on a reload.
type Settings struct {
	// Old and New are the shadow sides, with clients of the mirror's own
	// (their Timeout is shadow.timeout, their answers are capped at
	// shadow.max_body) that skip a copy when every target is down.
	Old, New  *upstream.Service
	Secondary *upstream.Service // nil: no noise measurement
	// SecondaryShare is the share (0 to 1) of shadowed requests that also
	// go to Secondary.
	SecondaryShare float64
	Rules          *diff.Compiled
	Noise          diff.Thresholds
	// ChainHeader and Inject are the chain header and the trace formats
	// the copies carry, as the primary hop's do.
	ChainHeader string
	Inject      chain.Format
	// RecordMaxBody is how much of each body a recorded shadow call or a
	// stored sample keeps (record.max_body).
	RecordMaxBody int
	// Cohort is the route's gray.cohort, "" for none: copies then carry
	// the side they imitate in baggage, as the primary hop carries its own.
	Cohort string
}

// Route shadows one route's requests. Submit and the counters are safe
// for concurrent use; Submit never blocks.
type Route struct {
	name  string
	set   atomic.Pointer[Settings]
	queue chan *Job
	agg   *diff.Aggregator
	m     *Mirror
	stop  chan struct{}
	wg    sync.WaitGroup

	dropped  [8]atomic.Uint64 // by index in Reasons
	compared atomic.Uint64
	noise    atomic.Uint64
	inflight atomic.Int64
	// differing and noiseDiffering count the compared and the noise pairs
	// with any difference, for the diff and noise rates on dashboards.
	differing      atomic.Uint64
	noiseDiffering atomic.Uint64

	// With a store the aggregator holds what the route counted since the
	// last flush, merged the totals as last read back, and carry what a
	// failed flush could not add (stats.go).
	merged  atomic.Pointer[diff.Aggregator]
	flushMu sync.Mutex
	carry   *diff.Delta

	observer atomic.Pointer[observerBox]

	mu      sync.Mutex
	pending []store.Sample // samples waiting for the next flush
}

// Observer sees a route's comparisons as they are made, besides the
// route's own aggregator: the rollout controller counts each step with
// one. Its methods run on the shadow workers and must not block.
type Observer interface {
	// ObservePair gets every compared old/new pair; its SampleID is set
	// only when the sample is kept.
	ObservePair(p *diff.Pair)
	// ObserveNewCall gets every shadow copy sent to new: failed is a 5xx
	// answer, a timeout or a failed connection.
	ObserveNewCall(failed bool)
}

type observerBox struct{ o Observer }

// SetObserver makes o see the route's comparisons from now on; nil stops.
func (r *Route) SetObserver(o Observer) {
	if o == nil {
		r.observer.Store(nil)
		return
	}
	r.observer.Store(&observerBox{o})
}

func (r *Route) observing() Observer {
	if b := r.observer.Load(); b != nil {
		return b.o
	}
	return nil
}

// Name returns the route's name.
func (r *Route) Name() string { return r.name }

// Aggregator returns the route's comparison statistics.
func (r *Route) Aggregator() *diff.Aggregator { return r.agg }

// Sampled reports whether the chain trace is shadowed at share (0 to 1).
// It reads the trace ID's first 8 bytes, where recording reads the last 8,
// so the two choices are independent of each other.
func Sampled(trace chain.TraceID, share float64) bool {
	switch {
	case share >= 1:
		return true
	case share <= 0:
		return false
	}
	return float64(binary.BigEndian.Uint64(trace[:8]))/(1<<64) < share
}

// NewJob returns an empty job to fill and Submit.
func (r *Route) NewJob() *Job { return getJob() }

// Skip counts a request that was not shadowed, by reason.
func (r *Route) Skip(reason string) { r.dropped[reasonIndex(reason)].Add(1) }

// Full reports whether a job submitted now would be dropped for want of
// room in the queue, so the caller can skip copying the request (and
// count the drop with Skip). It is a hint: Submit checks again.
func (r *Route) Full() bool {
	return len(r.queue) == cap(r.queue)
}

// Fits reports whether a copy of req and its answer resp would fit the
// mirror's memory budget now, so the caller can skip copying them (and
// count the drop under ReasonBudget). It is a hint: Submit charges.
func (r *Route) Fits(req *fasthttp.Request, resp *fasthttp.Response) bool {
	b := r.m.opt.Budget
	return b.Used()+jobBytes(req, resp) <= b.Limit()
}

// jobBytes is what a job holding req and resp is charged: their bodies,
// the request's header and a fixed share for the rest.
func jobBytes(req *fasthttp.Request, resp *fasthttp.Response) int64 {
	return int64(len(req.Body()) + len(resp.Body()) + len(req.Header.RawHeaders()) + 1024)
}

// Submit queues j for shadowing and gives it up, whatever the outcome.
// It never blocks. j's bytes are charged to the mirror's memory budget
// until a worker is done with it: a job that does not fit is dropped
// under ReasonBudget, one that finds the queue full under
// ReasonQueueFull.
func (r *Route) Submit(j *Job) bool {
	j.size = jobBytes(&j.Req, &j.Primary)
	if !r.m.opt.Budget.TryCharge(j.size) {
		j.size = 0
		r.Skip(ReasonBudget)
		putJob(j)
		return false
	}
	select {
	case r.queue <- j:
		return true
	default:
		r.m.opt.Budget.Release(j.size)
		r.Skip(ReasonQueueFull)
		putJob(j)
		return false
	}
}

func reasonIndex(reason string) int {
	for i, r := range Reasons {
		if r == reason {
			return i
		}
	}
	return len(Reasons) - 1
}

// Dropped returns the count of skipped or dropped requests for reason.
func (r *Route) Dropped(reason string) uint64 { return r.dropped[reasonIndex(reason)].Load() }

// Compared returns the old/new pairs compared since start.
func (r *Route) Compared() uint64 { return r.compared.Load() }

// NoisePairs returns the old/secondary pairs compared since start.
func (r *Route) NoisePairs() uint64 { return r.noise.Load() }

// QueueLen returns the jobs waiting.
func (r *Route) QueueLen() int { return len(r.queue) }

// worker runs jobs until the route stops, then finishes the queue.
func (r *Route) worker() {
	defer r.wg.Done()
	w := newWorker(r)
	for {
		select {
		case j := <-r.queue:
			w.run(j)
		case <-r.stop:
			for {
				select {
				case j := <-r.queue:
					w.run(j)
				default:
					return
				}
			}
		}
	}
}

// worker is one shadow goroutine's reusable memory.
type worker struct {
	r         *Route
	cmp       *diff.Comparer
	resp      fasthttp.Response // the shadow side's answer
	second    fasthttp.Response // the secondary's answer
	diffs     []diff.Difference
	noise     []diff.Difference
	pair      diff.Pair    // the job's pair, here so it does not escape per job
	primary   store.Record // the primary call, for a sample
	shadowRec store.Record
	// primaryHeaders are the primary's request header lines, saved before
	// the copy is retagged.
	primaryHeaders []byte
	child          chain.Chain // the copy's hop, kept here so it does not escape per job
	tagBuf         []byte
	rng            *rand.Rand
}

func newWorker(r *Route) *worker {
	return &worker{r: r, cmp: diff.NewComparer(), rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

// run shadows one job and compares the answers.
func (w *worker) run(j *Job) {
	r := w.r
	defer func() {
		r.m.opt.Budget.Release(j.size)
		putJob(j)
	}()
	set := r.set.Load()
	r.inflight.Add(1)
	defer r.inflight.Add(-1)

	servedSide, shadowSide := "old", "new"
	up, imitates := set.New, router.SideNew
	if j.ServedNew {
		servedSide, shadowSide = "new", "old"
		up, imitates = set.Old, router.SideOld
	}
	// The primary's header lines as they went out, in case the pair
	// becomes a sample: the copy's chain headers are about to replace them.
	w.primaryHeaders = append(w.primaryHeaders[:0], recorder.HeaderLines(j.Req.Header.Header())...)

	w.child = j.Chain.Child()
	w.child.State = nil
	w.tagBuf = tag(&j.Req.Header, &w.child, set, r.name, up.Name(), imitates, w.tagBuf)
	up.SetHost(&j.Req.Header)
	w.resp.Reset()
	sent := time.Now()
	t, err := up.Do(&j.Req, &w.resp, sent)
	latency := time.Since(sent)
	reason := failure(err)
	target := ""
	if t != nil {
		target = t.Addr()
	}
	r.m.traceCopy(r.name, j, &w.child, shadowSide, target, sent, latency, &w.resp, reason)
	shadowCall := func() *store.Record {
		w.shadowRec.Reset()
		fillCall(&w.shadowRec, r.name, j, shadowSide, target, w.child.Span, j.Chain.Span)
		w.shadowRec.Cohort = set.Cohort
		w.shadowRec.Shadow = true
		recorder.Fill(&w.shadowRec, &j.Req, &w.resp, set.RecordMaxBody)
		w.shadowRec.Start, w.shadowRec.Latency, w.shadowRec.Error = sent, latency, reason
		if err != nil {
			w.shadowRec.Status = 0
		}
		return &w.shadowRec
	}
	if j.Record {
		r.m.recordCall(shadowCall())
	}
	obs := r.observing()
	if obs != nil && !j.ServedNew && reason != ReasonBodyTooLarge {
		obs.ObserveNewCall(reason != "" || w.resp.StatusCode() >= 500)
	}
	if reason != "" {
		r.Skip(reason)
		r.m.logFailure(r.name, up.Name(), err)
		return
	}

	// A diff is oriented old → new whichever side served.
	primary := diff.Response{Status: j.Primary.StatusCode(), Headers: recorder.HeaderLines(j.Primary.Header.Header()), Body: j.Primary.Body()}
	shadowed := diff.Response{Status: w.resp.StatusCode(), Headers: recorder.HeaderLines(w.resp.Header.Header()), Body: w.resp.Body()}
	oldResp, newResp := &primary, &shadowed
	oldLatency, newLatency := j.PrimaryLatency, latency
	if j.ServedNew {
		oldResp, newResp = newResp, oldResp
		oldLatency, newLatency = newLatency, oldLatency
	}
	w.diffs = w.cmp.Compare(oldResp, newResp, set.Rules, w.diffs[:0])
	id := store.NewSampleID(sent)
	w.pair = diff.Pair{
		Time:       sent,
		Tenant:     string(j.Tenant),
		Served:     servedSide,
		OldStatus:  oldResp.Status,
		NewStatus:  newResp.Status,
		OldLatency: oldLatency,
		NewLatency: newLatency,
		Diffs:      w.diffs,
		Values:     w.cmp.Values(),
		SampleID:   id.String(),
	}
	keep := r.agg.Add(&w.pair)
	if obs != nil {
		if !keep {
			w.pair.SampleID = ""
		}
		obs.ObservePair(&w.pair)
	}
	r.compared.Add(1)
	if len(w.diffs) > 0 {
		r.differing.Add(1)
	}
	if keep {
		w.primary.Reset()
		fillCall(&w.primary, r.name, j, servedSide, j.PrimaryTarget, j.Chain.Span, j.Chain.Parent)
		w.primary.Cohort = set.Cohort
		recorder.Fill(&w.primary, &j.Req, &j.Primary, set.RecordMaxBody)
		w.primary.SetReqHeaders(w.primaryHeaders)
		w.primary.Start, w.primary.Latency = j.Start, j.PrimaryLatency
		oldRec, newRec := &w.primary, shadowCall()
		if j.ServedNew {
			oldRec, newRec = newRec, oldRec
		}
		r.m.keepSample(r, id, oldRec, newRec, servedSide, w.diffs)
	}

	// Last, as it retags the copy for the secondary.
	if set.Secondary != nil && w.rng.Float64() < set.SecondaryShare {
		w.compareSecondary(j, set, oldResp)
	}
}

// compareSecondary sends a third copy to the secondary and counts how old
// differs from old.
func (w *worker) compareSecondary(j *Job, set *Settings, old *diff.Response) {
	r := w.r
	w.child = j.Chain.Child()
	w.child.State = nil
	w.tagBuf = tag(&j.Req.Header, &w.child, set, r.name, set.Secondary.Name(), router.SideOld, w.tagBuf)
	set.Secondary.SetHost(&j.Req.Header)
	w.second.Reset()
	sent := time.Now()
	t, err := set.Secondary.Do(&j.Req, &w.second, sent)
	if t != nil {
		r.m.traceCopy(r.name, j, &w.child, SideSecondary, t.Addr(), sent, time.Since(sent), &w.second, failure(err))
	}
	if err != nil {
		r.m.logFailure(r.name, set.Secondary.Name(), err)
		return
	}
	second := diff.Response{Status: w.second.StatusCode(), Headers: recorder.HeaderLines(w.second.Header.Header()), Body: w.second.Body()}
	w.noise = w.cmp.Compare(old, &second, set.Rules, w.noise[:0])
	r.agg.AddNoise(sent, w.noise)
	r.noise.Add(1)
	if len(w.noise) > 0 {
		r.noiseDiffering.Add(1)
	}
}

// fillCall sets what a record knows of a call besides its messages.
func fillCall(rec *store.Record, route string, j *Job, side, target string, span, parent chain.SpanID) {
	rec.Chain, rec.Span, rec.Parent = j.Chain.Trace, span, parent
	rec.Route = route
	rec.SetTenant(j.Tenant)
	rec.Side = side
	rec.Decision = j.Decision
	rec.Target = target
}

// failure names why a shadow call failed, "" when it did not.
func failure(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout):
		return ReasonTimeout
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return ReasonBodyTooLarge
	}
	return ReasonError
}
