package gateway

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/record"
	"github.com/cutover/cutover/router"
	"github.com/cutover/cutover/shadow"
)

// shadowing is what the hot path needs to decide whether to shadow a
// request of one route.
type shadowing struct {
	route   *shadow.Route
	share   float64  // of chains, 0 to 1
	methods [][]byte // shadowed methods
	maxBody int
	// toOld and toNew are the shadow sides: a copy of what new served goes
	// to old, and the other way round.
	toOld, toNew *shadowService
}

// shadowService sends shadow copies to one service's targets through
// clients of its own, so shadow calls never take the connections that
// primary traffic uses, and a failing shadow target is never marked down
// for the primary.
type shadowService struct {
	name        string
	host        []byte // the service's Host override; nil keeps the request's
	targets     []*shadowTarget
	next        atomic.Uint32
	failTimeout time.Duration
}

// shadowTarget is one address of a shadow service. A target that refused
// a connection is skipped for the service's fail_timeout, so a dead shadow
// side costs a failed dial now and then, not one per request.
type shadowTarget struct {
	client    *fasthttp.HostClient
	downUntil atomic.Int64 // unix nanoseconds
}

// errShadowDown is returned for a copy when every target of the shadow
// side failed to connect within fail_timeout.
var errShadowDown = errors.New("every target of the shadow side is down")

var _ shadow.Upstream = (*shadowService)(nil)

func (s *shadowService) Name() string { return s.name }

// Do sends req to the next target, moving on to the following one when a
// connection cannot be made, as the primary path does.
func (s *shadowService) Do(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) (string, error) {
	if s.host != nil {
		req.Header.SetHostBytes(s.host)
	}
	now := time.Now().UnixNano()
	for range len(s.targets) {
		t := s.targets[s.next.Add(1)%uint32(len(s.targets))]
		if t.downUntil.Load() > now {
			continue
		}
		err := t.client.DoDeadline(req, resp, deadline)
		if err == nil || !isConnectFailure(err) {
			return t.client.Addr, err
		}
		t.downUntil.Store(now + int64(s.failTimeout))
	}
	return "", errShadowDown
}

// down reports whether every target failed to connect within its
// fail_timeout, so a copy would fail without being sent.
func (s *shadowService) down(now int64) bool {
	for _, t := range s.targets {
		if t.downUntil.Load() <= now {
			return false
		}
	}
	return true
}

// shadowClientKey identifies a shadow client a reload may reuse.
type shadowClientKey struct {
	addr    string
	timeout time.Duration
	maxBody int
	conns   int
}

// compileShadow sets up the shadowing of route r, or returns a zero value
// for a route that is not shadowed.
func (g *Gateway) compileShadow(cfg *configs.Config, r *configs.Route, s *snapshot, clients map[shadowClientKey]*fasthttp.HostClient) (shadowing, error) {
	sh := r.Shadow
	if sh == nil || r.New == "" {
		return shadowing{}, nil
	}
	rules, err := diff.Compile(diffRules(r.Diff))
	if err != nil {
		return shadowing{}, err
	}
	upstream := func(name string) *shadowService {
		if name == "" {
			return nil
		}
		svc := &shadowService{name: name, failTimeout: cfg.Services[name].FailTimeout.D()}
		if h := cfg.Services[name].Host; h != "" {
			svc.host = []byte(h)
		}
		for _, addr := range cfg.Services[name].Targets {
			key := shadowClientKey{addr, sh.Timeout.D(), int(sh.MaxBody), sh.Concurrency}
			hc := clients[key]
			if hc == nil {
				hc = g.shadowClients[key]
			}
			if hc == nil {
				hc = newHostClient(addr, sh.Timeout.D(), sh.Concurrency)
				hc.MaxResponseBodySize = int(sh.MaxBody)
			}
			clients[key] = hc
			svc.targets = append(svc.targets, &shadowTarget{client: hc})
		}
		return svc
	}
	toOld, toNew := upstream(r.Old), upstream(r.New)
	set := &shadow.Settings{
		Old:           toOld,
		New:           toNew,
		Timeout:       sh.Timeout.D(),
		MaxBody:       int(sh.MaxBody),
		Rules:         rules,
		Noise:         diff.Thresholds{Relative: float64(r.Diff.Noise.Relative) / 100, Absolute: float64(r.Diff.Noise.Absolute) / 100},
		RecordMaxBody: int(cfg.Record.MaxBody),
	}
	if sh.Secondary != "" {
		set.Secondary = upstream(sh.Secondary)
		set.SecondaryShare = float64(*sh.SecondaryPercent) / 100
	}
	inject, chainHeader := s.inject, s.chainHeader
	routeName := r.Name
	set.Tag = func(req *fasthttp.Request, c *chain.Chain, service string, scratch []byte) []byte {
		return tagShadow(&req.Header, c, inject, chainHeader, routeName, service, scratch)
	}
	out := shadowing{
		route:   g.mirror.Route(r.Name, set, sh.Concurrency, sh.Queue),
		share:   float64(*sh.Percent) / 100,
		maxBody: int(sh.MaxBody),
		toOld:   toOld,
		toNew:   toNew,
	}
	for _, m := range sh.Methods {
		out.methods = append(out.methods, []byte(m))
	}
	return out, nil
}

func diffRules(d *configs.Diff) diff.Rules {
	out := diff.Rules{
		Ignore:            d.Ignore,
		FloatEpsilon:      d.FloatEpsilon,
		Headers:           d.Headers,
		NullEqualsMissing: d.NullEqualsMissing,
		NumericStrings:    d.NumericStrings,
		TimeTolerance:     d.TimeTolerance.D(),
	}
	for _, u := range d.Unordered {
		out.Unordered = append(out.Unordered, diff.Unordered{Path: u.Path, Key: u.Key})
	}
	return out
}

// traceHeaders are the headers a shadow copy's chain replaces.
var traceHeaders = []string{"traceparent", "tracestate", "b3", "X-B3-TraceId", "X-B3-SpanId", "X-B3-ParentSpanId", "X-B3-Sampled", "X-B3-Flags", "uber-trace-id", "sw8"}

// tagShadow rewrites a copy of a request as sent to the serving side for
// the shadow hop c: the chain's formats with the new span, cutover=shadow
// first in tracestate (other members kept), and X-Cutover-Shadow: 1. It
// runs on a shadow worker, off the hot path; scratch is reused and the
// grown buffer returned.
func tagShadow(h *fasthttp.RequestHeader, c *chain.Chain, inject chain.Format, chainHeader, route, service string, scratch []byte) []byte {
	// The incoming tracestate goes first in scratch; each value written
	// after it is built past its end.
	buf := append(scratch[:0], h.Peek("tracestate")...)
	state := len(buf)
	for _, name := range traceHeaders {
		h.Del(name)
	}
	buf = c.Trace.AppendHex(buf[:state])
	h.SetBytesV(chainHeader, buf[state:])
	if inject&chain.FormatW3C != 0 {
		buf = chain.AppendTraceparent(buf[:state], c)
		h.SetBytesV("traceparent", buf[state:])
	}
	buf = chain.AppendTracestate(buf[:state], buf[:state], shadow.TracestateEntry)
	h.SetBytesV("tracestate", buf[state:])
	if inject&chain.FormatB3 != 0 {
		buf = chain.AppendB3(buf[:state], c)
		h.SetBytesV("b3", buf[state:])
	}
	if inject&chain.FormatJaeger != 0 {
		buf = chain.AppendJaeger(buf[:state], c)
		h.SetBytesV("uber-trace-id", buf[state:])
	}
	if inject&chain.FormatSW8 != 0 {
		buf = chain.AppendSW8(buf[:state], c, serviceName, route, service)
		h.SetBytesV("sw8", buf[state:])
	}
	h.Set(shadow.HeaderShadow, "1")
	return buf
}

// shadowCall hands a copy of a finished request to the route's shadow,
// when the request is sampled and its method and sizes allow. It runs
// after the response is ready and only copies: the shadow call itself
// happens on the route's workers.
func (g *Gateway) shadowCall(sh *shadowing, ctx *fasthttp.RequestCtx, c *chain.Chain, cl call, st *requestState, t *target, sent time.Time, latency time.Duration, failed, recorded bool) {
	if cl.side != router.SideOld && cl.side != router.SideNew || !shadow.Sampled(c.Trace, sh.share) {
		return
	}
	req := &ctx.Request
	switch {
	case inShadowChain(c.State):
		// A call a shadow copy made: shadowing it again would send the
		// other side a copy of a copy, and mix shadow traffic into the
		// route's report.
		sh.route.Skip(shadow.ReasonShadowChain)
		return
	case !slices.ContainsFunc(sh.methods, func(m []byte) bool { return bytes.Equal(m, req.Header.Method()) }):
		sh.route.Skip(shadow.ReasonMethod)
		return
	case failed:
		sh.route.Skip(shadow.ReasonPrimaryFailed)
		return
	case len(req.Body()) > sh.maxBody || len(ctx.Response.Body()) > sh.maxBody:
		sh.route.Skip(shadow.ReasonBodyTooLarge)
		return
	case sh.route.Full():
		// Checked before copying: behind a slow shadow side the queue
		// stays full, and copies made only to be dropped would cost the
		// primary its CPU.
		sh.route.Skip(shadow.ReasonQueueFull)
		return
	}
	to := sh.toNew
	if cl.side == router.SideNew {
		to = sh.toOld
	}
	if to.down(sent.Add(latency).UnixNano()) {
		// Every target of the shadow side refused a connection within its
		// fail_timeout: the copy would fail unsent.
		sh.route.Skip(shadow.ReasonError)
		if f := cl.rs.rollout; f != nil && to == sh.toNew {
			f.ObserveNewCall(true)
		}
		return
	}
	j := sh.route.NewJob()
	req.CopyTo(&j.Req)
	ctx.Response.CopyTo(&j.Primary)
	j.ServedNew = cl.side == router.SideNew
	j.Chain = *c
	j.Chain.State = nil // points into the request's memory
	j.Tenant = append(j.Tenant[:0], st.tenant...)
	j.Start, j.PrimaryLatency, j.PrimaryTarget = sent, latency, t.addr
	j.Record = recorded
	sh.route.Submit(j)
}

// inShadowChain reports whether a W3C tracestate list holds the
// cutover=shadow member, which services forward on the calls they make.
func inShadowChain(state []byte) bool {
	for len(state) > 0 {
		var member []byte
		member, state, _ = bytes.Cut(state, []byte(","))
		if string(bytes.Trim(member, " \t")) == shadow.TracestateEntry {
			return true
		}
	}
	return false
}

// redactorFor builds the redaction applied to stored samples from the
// recording rules.
func redactorFor(cfg *configs.Config) *record.Redactor {
	rd, _ := record.NewRedactor(record.RulesFor(cfg))
	return rd
}

// retireShadows stops the shadow workers of routes that snap no longer
// shadows.
func (g *Gateway) retireShadows(snap *snapshot) {
	keep := map[string]bool{}
	for _, r := range snap.table.Routes() {
		if snap.routes[r.Index].shadow.route != nil {
			keep[r.Name] = true
		}
	}
	g.mirror.Retire(keep)
}

// logShadowFailure logs a failed shadow call, sharing the throttle of
// upstream failures so a dead side cannot flood the log.
func (g *Gateway) logShadowFailure(route, service string, err error) {
	if g.errorLog.allow() {
		g.log.Warn("shadow call failed", "route", route, "service", service, "err", err)
	}
}

// CloseShadows stops the shadow workers after the copies they hold, at
// most until ctx ends, and writes the comparison statistics a last time.
// Call it after Shutdown, before closing the store.
func (g *Gateway) CloseShadows(ctx context.Context) error { return g.mirror.Close(ctx) }
