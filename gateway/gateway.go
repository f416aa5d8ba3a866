// Package gateway is cutover's inline proxy: the fasthttp server,
// chain-ID tagging, header hygiene, the mapping of failures to statuses,
// configuration reloads and the admin API.
//
// Who calls whom: the gateway asks package router for a request's route
// and serving side, sends the request through package upstream (the
// services, their targets and keep-alive clients), answers the client,
// and then hands the request to the route's shadow (package shadow, which
// decides itself whether and how to copy it) and to the recorder; with
// tracing.otlp, it hands the call to package tracing as a span (shadow
// copies are spans too, handed over by package shadow). None of them
// calls the gateway back.
//
// The running configuration is an immutable snapshot behind an
// atomic.Pointer. A request loads it once and keeps it to the end, so a
// reload never changes a request half-way; a reload builds a new snapshot
// and swaps it in only when the new file is valid.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/internal/budget"
	"github.com/cutover/cutover/internal/throttle"
	"github.com/cutover/cutover/rollout"
	"github.com/cutover/cutover/router"
	"github.com/cutover/cutover/shadow"
	"github.com/cutover/cutover/tracing"
	"github.com/cutover/cutover/upstream"
)

// HeaderSide names the service that answered, on responses when
// debug_headers is on.
const HeaderSide = "X-Cutover-Side"

// Server limits that are not configurable: generous for real clients,
// bounded against slow or hostile ones.
const (
	clientReadBuffer = 16 << 10 // also the largest request header block
	// clientWriteBuffer holds a response's header and body up to this size,
	// so a typical JSON answer leaves in one write syscall instead of two.
	clientWriteBuffer = 32 << 10
	clientIdleTimeout = 120 * time.Second
)

// Gateway proxies requests by the current configuration snapshot.
// Its methods are safe for concurrent use.
type Gateway struct {
	snap    atomic.Pointer[snapshot]
	metrics *metrics
	log     *slog.Logger
	server  *fasthttp.Server

	reloadMu  sync.Mutex // serialises reloads; guards the fields below
	path      string     // the config file, "" when built from a Config value
	upstreams *upstream.Pool
	applied   []byte // the file content of the running configuration
	lastErr   error  // the last failed reload, until one succeeds

	errorLog throttle.Throttle
	draining atomic.Bool // set by Shutdown; /readyz then fails
	health   storeHealth
	replica  string // this gateway's name among replicas sharing a store

	recorder Recorder // nil: nothing is recorded
	records  Store    // nil: the record endpoints answer 503

	mirror *shadow.Mirror
	tracer *tracing.Tracer // nil: tracing.otlp is not set

	rollouts *rollout.Controller

	life    lifecycle // what Open starts beyond build, for Close
	figures figures   // the series endpoint's per-replica figures (series.go)
}

// snapshot is one compiled configuration. It never changes once published.
type snapshot struct {
	cfg         *configs.Config
	table       *router.Table
	services    map[string]*upstream.Service
	routes      []routeState // by router.Route.Index
	chainHeader string
	chainCanon  []byte // chainHeader in fasthttp's normalised form
	inject      chain.Format
	trusted     []netip.Prefix
	loaded      time.Time
	envCounters map[string]*atomic.Uint64 // by overlay tag
	// cohortFollowed counts each cohort's decisions taken from baggage.
	cohortFollowed map[string]*atomic.Uint64
}

// routeState is what the hot path needs of one route.
type routeState struct {
	bySide  [numSides]*upstream.Service // the baseline service of each side
	metrics *routeMetrics
	sample  float64          // share of chains recorded
	shadow  *shadow.Compiled // nil: the route is not shadowed
	rollout *rollout.Feed    // nil: the route has no rollout
}

// build builds a gateway for cfg, for Open and for tests. path is the file cfg came from, used by
// Reload; it may be empty.
func build(cfg *configs.Config, path string, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{
		metrics: newMetrics(),
		log:     log,
		path:    path,
	}
	g.upstreams = upstream.NewPool(g.metrics.upstream)
	g.life.budget = budget.New(int64(cfg.Memory.Async))
	g.replica = replicaName()
	tr, err := newTracer(cfg, g.replica, log)
	if err != nil {
		return nil, err
	}
	g.tracer = tr
	g.mirror = shadow.NewMirror(shadow.Options{Logger: log, Redactor: redactorFor(cfg), Buffer: int(cfg.Store.Buffer), Budget: g.life.budget, Tracer: tr})
	g.rollouts = rollout.New(rollout.Options{Logger: log, Apply: g.applyRolloutPercents, Replica: g.replica})
	snap, err := g.compile(cfg)
	if err != nil {
		_ = g.mirror.Close(context.Background())
		_ = g.rollouts.Close(context.Background())
		_ = g.tracer.Close(context.Background())
		return nil, err
	}
	g.reloadMu.Lock()
	g.configureRollouts(snap)
	g.snap.Store(snap)
	g.reloadMu.Unlock()
	g.metrics.lastReload.Store(snap.loaded.Unix())
	g.figures.start(g)
	g.server = &fasthttp.Server{
		Handler:                       g.handle,
		ErrorHandler:                  g.handleParseError,
		Name:                          "cutover",
		NoDefaultServerHeader:         true,
		NoDefaultDate:                 true,
		NoDefaultContentType:          true,
		DisablePreParseMultipartForm:  true,
		StreamRequestBody:             true, // see takeBody
		DisableHeaderNamesNormalizing: false,
		// max_body is the handler's to enforce (takeBody), so a reload can
		// change it: with bodies streamed, this only caps the prefetch.
		MaxRequestBodySize:    math.MaxInt,
		ReadBufferSize:        clientReadBuffer,
		WriteBufferSize:       clientWriteBuffer,
		IdleTimeout:           clientIdleTimeout,
		CloseOnShutdown:       true,
		SecureErrorLogMessage: true,
		Logger:                fasthttpLogger{log},
	}
	serverTimeouts(g.server, cfg.ClientHeaderTimeout.D())
	return g, nil
}

// compile turns a validated config into a snapshot, reusing upstream
// clients whose address and settings did not change. Only a config that
// compiles whole hands its clients on to the next reload.
func (g *Gateway) compile(cfg *configs.Config) (*snapshot, error) {
	s := &snapshot{
		cfg:         cfg,
		table:       router.New(cfg.Routes, cfg.Environments),
		services:    map[string]*upstream.Service{},
		chainHeader: cfg.Chain.Header,
		chainCanon:  canonicalKey(cfg.Chain.Header),
		loaded:      time.Now(),
		envCounters: map[string]*atomic.Uint64{},
	}
	for tag := range cfg.Environments.Overlays {
		s.envCounters[tag] = g.metrics.environment(tag)
	}
	s.cohortFollowed = map[string]*atomic.Uint64{}
	for _, r := range s.table.Routes() {
		if c := r.Cohort(); c != "" {
			s.cohortFollowed[c] = g.metrics.cohorts.cohortFollowed(c)
		}
	}
	for _, name := range cfg.Chain.Inject {
		f, err := chain.ParseFormat(name)
		if err != nil {
			return nil, err
		}
		s.inject |= f
	}
	for _, p := range cfg.TrustedProxies {
		prefix, err := parsePrefix(p)
		if err != nil {
			return nil, err
		}
		s.trusted = append(s.trusted, prefix)
	}
	services := g.upstreams.Build()
	for name, sc := range cfg.Services {
		s.services[name] = services.Service(name, upstream.ConfigOf(sc))
	}
	shadows := g.mirror.Build(cfg, s.inject)
	for _, r := range s.table.Routes() {
		rs := routeState{metrics: g.metrics.route(r.Name), sample: *cfg.Record.Sample}
		sh, err := shadows.Route(cfg.Routes[r.Index])
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", r.Name, err)
		}
		rs.shadow = sh
		if rc := cfg.Routes[r.Index].Record; rc != nil && rc.Sample != nil {
			rs.sample = *rc.Sample
		}
		rs.bySide[router.SideUpstream] = s.services[r.Upstream]
		rs.bySide[router.SideOld] = s.services[r.Old]
		rs.bySide[router.SideNew] = s.services[r.New]
		s.routes = append(s.routes, rs)
	}
	services.Commit()
	shadows.Commit()
	return s, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("trusted proxy %q is neither an address nor a CIDR prefix", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// requestState is per-request working memory, pooled: the header scan
// escapes through chain.Headers, and would otherwise cost an allocation
// per request.
type requestState struct {
	scan     headerScan
	scratch  []byte
	gray     router.Request
	decision router.Decision
	tenant   []byte // the decision's tenant, copied before headers change
	baggage  []byte // the request's baggage on a cohort route (requestBaggage)
	bagBuf   []byte // where several baggage lines are joined
	chainID  [32]byte

	exchange upstream.Exchange
	outcome  outcome
	upload   uploadState
	ctx      *fasthttp.RequestCtx // for Interim, during the exchange
	g        *Gateway
}

var statePool = sync.Pool{New: func() any {
	return &requestState{scratch: make([]byte, 0, 256), tenant: make([]byte, 0, 64)}
}}

// call is what the rest of a request's handling needs to know of the
// gray decision.
type call struct {
	rs     *routeState
	svc    *upstream.Service
	side   router.Side
	cohort string        // the route's gray.cohort, "" for none
	reason router.Reason // the rule that chose side
}

// handle proxies one request. It owns ctx only until it returns.
func (g *Gateway) handle(ctx *fasthttp.RequestCtx) {
	snap := g.snap.Load()
	req := &ctx.Request
	g.metrics.inflight.Add(1)
	defer g.metrics.inflight.Add(-1)

	st := statePool.Get().(*requestState)
	defer func() {
		if req.IsBodyStream() {
			// A body not read to its end: the rest of it must not be
			// taken for the next request on this connection.
			ctx.SetConnectionClose()
		}
		st.upload.finish()
		st.ctx, st.outcome = nil, outcome{}
		st.scan = headerScan{}
		st.gray = router.Request{Scratch: st.gray.Scratch[:0]}
		st.decision = router.Decision{}
		st.baggage = nil
		statePool.Put(st)
	}()
	scan := &st.scan
	scan.scanRequest(&req.Header, snap.chainHeader, snap.chainCanon)
	c := chain.Extract(scan, snap.chainHeader)
	chainID := c.Trace.AppendHex(st.chainID[:0])

	if hasConflictingFraming(scan) {
		g.reject(ctx, reasonFraming, chainID, snap.chainHeader)
		return
	}
	if scan.invalidName || !useTargetAuthority(req) {
		g.reject(ctx, reasonMalformed, chainID, snap.chainHeader)
		return
	}
	route := snap.table.Match(req.Header.Host(), req.Header.Method(), ctx.Path(), &req.Header)
	if req.Header.IsConnect() && !allowsConnect(snap.cfg, route) {
		g.reject(ctx, reasonMethodNotAllowed, chainID, snap.chainHeader)
		return
	}
	if route == nil {
		g.reject(ctx, reasonNoRoute, chainID, snap.chainHeader)
		return
	}
	upload, ok := g.takeBody(ctx, snap, chainID)
	if !ok {
		return
	}
	cl := g.decide(snap, route, st, req, ctx.Path(), chainID)

	upgrade := isUpgrade(scan)
	st.scratch = prepareUpstreamRequest(ctx, scan, snap.trusted, upgrade, st.scratch)
	svc := cl.svc
	st.scratch = tagUpstream(&req.Header, scan, &c, snap, route.Name, svc.Name(), st.scratch)
	st.scratch = tagCohort(&req.Header, scan, snap, &st.decision, st.baggage, &g.metrics.cohorts, st.scratch)
	svc.SetHost(&req.Header)
	// Keep the Host header byte for byte: fasthttp would otherwise rebuild
	// it from the parsed URI.
	req.UseHostHeader = true

	if upgrade {
		g.tunnel(ctx, cl, snap, chainID)
		return
	}

	// The request as it goes upstream: ctx's own, or a copy whose body
	// streams from the client through a tee that keeps what recording and
	// shadowing need of it.
	o := &st.outcome
	*o = outcome{snap: snap, route: route.Name, cl: cl, chain: c, tenant: st.tenant, replayed: scan.has(wReplay)}
	out := req
	if upload {
		out = st.upload.start(req, g.keepFor(o, 0, req.Header.ContentLength()), int64(snap.cfg.MaxBody))
	}
	keepEmptyQuery(out)
	// An HTTP/1.0 client cannot read a chunked answer: one of unknown
	// length reaches it whole, as before streaming.
	st.exchange = upstream.Exchange{StreamAbove: int(snap.cfg.StreamAbove), SizedOnly: !req.Header.IsHTTP11(), Interim: st}
	st.ctx, st.g = ctx, g
	sent := time.Now()
	t, body, err := svc.Exchange(out, &ctx.Response, sent, &st.exchange)
	o.target, o.sent, o.latency = t, sent, time.Since(sent)
	if upload && st.upload.body.drained {
		_ = req.CloseBodyStream() // read to its end: the connection may serve another request
	}
	if err != nil {
		if st.upload.clientFailed(g, ctx, snap, o, chainID) {
			return
		}
		o.reason = g.upstreamFailed(ctx, cl, err, chainID, snap.chainHeader)
	} else {
		svc.Observe(o.latency)
		finishResponse(&ctx.Response, cl, snap, chainID, body != nil)
	}
	if body != nil {
		g.relay(ctx, body, o, &st.upload)
		return
	}
	o.cut = st.upload.cut()
	g.settle(ctx, st.upload.sent(ctx), &ctx.Response, o)
}

// outcome is what the work after an answer needs to know of the call.
type outcome struct {
	snap     *snapshot
	route    string
	cl       call
	chain    chain.Chain
	tenant   []byte
	target   *upstream.Target
	sent     time.Time
	latency  time.Duration // to the answer's head, for a streamed answer
	reason   string        // why the call failed, "" when it did not
	replayed bool          // marked X-Cutover-Replay
	cut      bool          // a streamed body was longer than what was kept of it
}

// failed reports whether the call failed: every failure has a reason.
func (o *outcome) failed() bool { return o.reason != "" }

// settle does what follows an answer: the rollout's gate, recording,
// tracing and shadowing. req is the request as sent upstream and resp the
// answer the client got; for a streamed call, what was kept of their
// bodies.
func (g *Gateway) settle(ctx *fasthttp.RequestCtx, req *fasthttp.Request, resp *fasthttp.Response, o *outcome) {
	cl := o.cl
	// A replayed call is answered like any other but is not production
	// traffic: it is counted, and never recorded, shadowed again or fed to
	// the rollout's gate.
	if o.replayed {
		cl.rs.metrics.replayed.Add(1)
	} else if f := cl.rs.rollout; f != nil && cl.side == router.SideNew && cl.svc == cl.rs.bySide[router.SideNew] {
		f.ObserveNewCall(o.failed() || resp.StatusCode() >= 500)
	}
	r := g.recordingFor(o.snap, cl.rs)
	recorded := !o.replayed && r.wants(o.chain.Trace, resp.StatusCode())
	if recorded {
		r.capture(&capturedCall{
			trace: o.chain.Trace, span: o.chain.Span, parent: o.chain.Parent, route: o.route, tenant: o.tenant, side: cl.side,
			target: o.target.Addr(), cohort: cl.cohort, decision: cl.reason,
			sent: o.sent, latency: o.latency, reason: o.reason,
		}, req, resp)
	}
	if tr := g.tracer; tr != nil && tr.Sampled(&o.chain) {
		traceProxied(tr, ctx, resp, &o.chain, o.route, cl, o.tenant, o.target, o.sent, o.latency, o.reason)
	}
	if sh := cl.rs.shadow; sh != nil && !o.replayed {
		sh.Offer(req, resp, &o.chain, &shadow.Primary{
			ServedNew: cl.side == router.SideNew, Decision: cl.reason.String(), Tenant: o.tenant, Target: o.target.Addr(),
			Sent: o.sent, Latency: o.latency, Failed: o.failed(), Cut: o.cut, Recorded: recorded,
		})
	}
}

// decide runs the route's gray decision on the request as the client sent
// it (before header hygiene changes it) and counts where the tenant came
// from and which environment it asked for.
func (g *Gateway) decide(snap *snapshot, route *router.Route, st *requestState, req *fasthttp.Request, path, chainID []byte) call {
	rs := &snap.routes[route.Index]
	st.gray.Headers = &req.Header
	st.gray.Path = path
	st.gray.URI = req.Header.RequestURI()
	st.gray.Body = nil
	if !req.IsBodyStream() { // a streamed body is read once, by the upstream
		st.gray.Body = req.Body()
	}
	st.gray.ContentType = req.Header.ContentType()
	st.gray.ChainID = chainID
	st.gray.Baggage = nil
	if route.Cohort() != "" {
		st.baggage, st.bagBuf = requestBaggage(&req.Header, &st.scan, st.bagBuf)
		st.gray.Baggage = st.baggage
	}
	d := &st.decision
	snap.table.Decide(route, &st.gray, d)
	// The tenant may point into a header that hygiene deletes and reuses.
	st.tenant = append(st.tenant[:0], d.Tenant...)
	rs.metrics.tenants[d.Source].Add(1)
	cl := call{rs: rs, svc: rs.bySide[d.Side], side: d.Side, cohort: d.Cohort, reason: d.Reason}
	if d.Cohort != "" {
		g.metrics.cohorts.count(snap, d)
	}
	switch {
	case d.EnvUnknown:
		g.metrics.envUnknown.Add(1)
	case d.Env != "":
		snap.envCounters[d.Env].Add(1)
		cl.svc = snap.services[d.Service]
	}
	return cl
}

// finishResponse readies an upstream's answer for the client and counts
// it. A streamed answer keeps its Trailer field: its trailers follow its
// body to the client.
func finishResponse(resp *fasthttp.Response, cl call, snap *snapshot, chainID []byte, streamed bool) {
	cleanUpstreamHeader(&resp.Header, streamed)
	resp.Header.SetCanonical(snap.chainCanon, chainID)
	if snap.cfg.DebugHeaders {
		setSideHeader(resp, cl)
	}
	cl.rs.metrics.count(cl.side, resp.StatusCode())
}

// upstreamFailed answers a request whose upstream call failed and returns
// the failure's reason.
func (g *Gateway) upstreamFailed(ctx *fasthttp.RequestCtx, cl call, err error, chainID []byte, chainHeader string) string {
	reason := cl.svc.Fail(err)
	writeError(ctx, reason, chainID, chainHeader)
	cl.rs.metrics.count(cl.side, ctx.Response.StatusCode())
	if g.errorLog.Allow() {
		g.log.Warn("upstream failed", "service", cl.svc.Name(), "reason", reason, "err", err, "chain_id", string(chainID))
	}
	return reason
}

// reject answers a request the gateway refuses to forward.
func (g *Gateway) reject(ctx *fasthttp.RequestCtx, reason string, chainID []byte, chainHeader string) {
	g.metrics.reject(reason)
	writeError(ctx, reason, chainID, chainHeader)
}

// handleParseError answers a request fasthttp could not read: malformed,
// headers too large, a body over max_body, or not received in time.
func (g *Gateway) handleParseError(ctx *fasthttp.RequestCtx, err error) {
	snap := g.snap.Load()
	// Every error answer carries a chain ID. The headers read so far (all
	// of them when only the body was too large) may hold one to continue;
	// otherwise a new one is made.
	reason := parseErrorReason(err)
	if reason == reasonRequestTimeout && nothingReceived(ctx) {
		// An idle connection that never sent a byte: an answer would
		// only be read, if ever, as the answer to a later request.
		g.metrics.reject(reason)
		_ = ctx.Conn().Close()
		return
	}
	c := chain.Extract(&ctx.Request.Header, snap.chainHeader)
	var idBuf [32]byte
	g.reject(ctx, reason, c.Trace.AppendHex(idBuf[:0]), snap.chainHeader)
}

// Serve accepts connections on ln until Shutdown.
func (g *Gateway) Serve(ln net.Listener) error {
	return g.server.Serve(clientListener{ln})
}

// Shutdown stops accepting connections and waits for in-flight requests
// to finish, at most until ctx ends.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.draining.Store(true)
	return g.server.ShutdownWithContext(ctx)
}

// Config returns the running configuration. Callers must not modify it.
func (g *Gateway) Config() *configs.Config { return g.snap.Load().cfg }

// fasthttpLogger routes fasthttp's own messages into slog at debug level:
// they are per-connection noise (client resets) that metrics already count.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}
