package shadow

import (
	"bytes"
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/upstream"
)

// Build compiles the shadowing of one configuration's routes. It is for
// one goroutine: the one loading the configuration.
type Build struct {
	m        *Mirror
	cfg      *configs.Config
	inject   chain.Format
	services *upstream.Build
}

// Build starts compiling the shadowing of cfg's routes, whose copies
// carry the trace formats inject as the primary hops do. Commit it once
// every route compiled.
func (m *Mirror) Build(cfg *configs.Config, inject chain.Format) *Build {
	return &Build{m: m, cfg: cfg, inject: inject, services: m.upstreams.Build()}
}

// Commit hands the shadow clients this build uses on to the next one, so
// a reload keeps their warm connections.
func (b *Build) Commit() { b.services.Commit() }

// Route sets up the shadowing of route r and returns what the hot path
// needs of it, or nil for a route that is not shadowed. A route that keeps
// its name keeps its workers, queue and statistics; its settings are
// swapped.
func (b *Build) Route(r *configs.Route) (*Compiled, error) {
	sh := r.Shadow
	if sh == nil || r.New == "" {
		return nil, nil
	}
	rules, err := diff.Compile(DiffRules(r.Diff))
	if err != nil {
		return nil, err
	}
	set := &Settings{
		Old:           b.side(r.Old, sh),
		New:           b.side(r.New, sh),
		Rules:         rules,
		Noise:         NoiseThresholds(r.Diff),
		RecordMaxBody: int(b.cfg.Record.MaxBody),
		ChainHeader:   b.cfg.Chain.Header,
		Inject:        b.inject,
	}
	if r.Gray != nil {
		set.Cohort = r.Gray.Cohort
	}
	if sh.Secondary != "" {
		set.Secondary = b.side(sh.Secondary, sh)
		set.SecondaryShare = float64(*sh.SecondaryPercent) / 100
	}
	c := &Compiled{
		route:   b.m.Route(r.Name, set, sh.Concurrency, sh.Queue),
		share:   float64(*sh.Percent) / 100,
		maxBody: int(sh.MaxBody),
		toOld:   set.Old,
		toNew:   set.New,
	}
	for _, m := range sh.Methods {
		c.methods = append(c.methods, []byte(m))
	}
	return c, nil
}

// side returns the service name as a shadow side: the service's targets
// and Host, with the shadow's own timeout, body cap and connections (one
// per worker), skipping a copy when every target is down.
func (b *Build) side(name string, sh *configs.Shadow) *upstream.Service {
	sc := b.cfg.Services[name]
	return b.services.Service(name, upstream.Config{
		Targets:             sc.Targets,
		Host:                sc.Host,
		Timeout:             sh.Timeout.D(),
		FailTimeout:         sc.FailTimeout.D(),
		MaxConns:            sh.Concurrency,
		MaxResponseBodySize: int(sh.MaxBody),
		AllDown:             upstream.AllDownSkip,
	})
}

// NoiseThresholds returns a route's diff.noise and diff.auto_noise as the
// aggregators take them, for the shadow's and the rollout's alike.
func NoiseThresholds(d *configs.Diff) diff.Thresholds {
	return diff.Thresholds{Relative: float64(d.Noise.Relative) / 100, Absolute: float64(d.Noise.Absolute) / 100, AutoNoise: d.AutoNoise}
}

// DiffRules returns the comparison rules of a route's diff block, for the
// shadow and for replay alike.
func DiffRules(d *configs.Diff) diff.Rules {
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

// Compiled is one route's shadowing as one configuration has it: what
// the hot path needs to decide whether to copy a request. It never changes
// once built.
type Compiled struct {
	route   *Route
	share   float64  // of chains, 0 to 1
	methods [][]byte // shadowed methods
	maxBody int
	// toOld and toNew are the shadow sides: a copy of what new served goes
	// to old, and the other way round.
	toOld, toNew *upstream.Service
}

// Route returns the route's shadow, nil for a nil c.
func (c *Compiled) Route() *Route {
	if c == nil {
		return nil
	}
	return c.route
}

// Primary is what a shadow copy needs to know of the call that answered
// the client.
type Primary struct {
	ServedNew bool   // new answered; the copy goes to old
	Decision  string // the rule that chose the serving side (router.Reason)
	Tenant    []byte // copied when the request is
	Target    string // the address that answered
	Sent      time.Time
	Latency   time.Duration
	Failed    bool // no answer to compare with
	// Cut: a streamed body was longer than what the gateway kept of it,
	// so the copy could not be made whole.
	Cut      bool
	Recorded bool // the chain is recorded, so the shadow call is too
}

// MaxBody returns the route's body cap (shadow.max_body): a request or
// answer longer than this is not compared.
func (c *Compiled) MaxBody() int { return c.maxBody }

// Offer hands a copy of a finished request to the route's workers when
// its chain is sampled and the copy can be made, and counts by reason
// what it skips. The gateway calls it after the answer is ready, with the
// request sent and the answer given (for a streamed call, what was kept of
// its bodies: a body longer than the cap does not fit); it only reads them,
// and copies both (Request.CopyTo) before anything runs asynchronously. It
// never blocks.
func (c *Compiled) Offer(req *fasthttp.Request, resp *fasthttp.Response, ch *chain.Chain, p *Primary) {
	if !Sampled(ch.Trace, c.share) {
		return
	}
	r := c.route
	switch {
	case inShadowChain(ch.State):
		// A call a shadow copy made: shadowing it again would send the
		// other side a copy of a copy, and mix shadow traffic into the
		// route's report.
		r.Skip(ReasonShadowChain)
		return
	case !slices.ContainsFunc(c.methods, func(m []byte) bool { return bytes.Equal(m, req.Header.Method()) }):
		r.Skip(ReasonMethod)
		return
	case p.Failed:
		r.Skip(ReasonPrimaryFailed)
		return
	case p.Cut || len(req.Body()) > c.maxBody || len(resp.Body()) > c.maxBody:
		r.Skip(ReasonBodyTooLarge)
		return
	case r.Full():
		// Checked before copying: behind a slow shadow side the queue
		// stays full, and copies made only to be dropped would cost the
		// primary its CPU.
		r.Skip(ReasonQueueFull)
		return
	case !r.Fits(req, resp):
		r.Skip(ReasonBudget)
		return
	}
	to := c.toNew
	if p.ServedNew {
		to = c.toOld
	}
	if to.Down(p.Sent.Add(p.Latency)) {
		// Every target of the shadow side refused a connection within its
		// fail_timeout: the copy would fail unsent. For a rollout it is a
		// failed call of new all the same.
		r.Skip(ReasonError)
		if obs := r.observing(); obs != nil && !p.ServedNew {
			obs.ObserveNewCall(true)
		}
		return
	}
	j := r.NewJob()
	req.CopyTo(&j.Req)
	resp.CopyTo(&j.Primary)
	j.ServedNew = p.ServedNew
	j.Decision = p.Decision
	j.Chain = *ch
	j.Chain.State = nil // points into the request's memory
	j.Tenant = append(j.Tenant[:0], p.Tenant...)
	j.Start, j.PrimaryLatency, j.PrimaryTarget = p.Sent, p.Latency, p.Target
	j.Record = p.Recorded
	r.Submit(j)
}

// logFailure logs a failed shadow call, at most once per second whatever
// the route: a dead shadow side fails at the request rate, and
// cutover_shadow_dropped_total counts every failure.
func (m *Mirror) logFailure(route, service string, err error) {
	if m.failLog.Allow() {
		m.log.Warn("shadow call failed", "route", route, "service", service, "err", err)
	}
}
