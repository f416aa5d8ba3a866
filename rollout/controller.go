package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/store"
)

// Store keeps rollout state and history; *store.Bolt implements it.
type Store interface {
	// PutRollout replaces route's state blob (unless nil) and appends
	// events to its history, in one transaction.
	PutRollout(route string, state []byte, events [][]byte) error
	// Rollouts returns every route's state blob.
	Rollouts() (map[string][]byte, error)
	// RolloutEvents returns route's newest limit events, oldest first.
	RolloutEvents(route string, limit int) ([][]byte, error)
}

// Controller defaults.
const (
	DefaultInterval = 500 * time.Millisecond
	// saveEvery is how often a step's counts are written while they grow;
	// a transition is written at once.
	saveEvery = 2 * time.Second
	// memoryEvents is how many events per route are kept in memory for a
	// controller without a store.
	memoryEvents = 200
	stateVersion = 1
)

// Options configure a Controller. Zero fields take the defaults.
type Options struct {
	Logger *slog.Logger
	// Apply is called, with no lock of the controller held, after the
	// percent of a route changed; the gateway then swaps in a router table
	// with the percents of Percent.
	Apply    func()
	Interval time.Duration    // between decisions; default DefaultInterval
	Now      func() time.Time // default time.Now
	Webhook  WebhookOptions
	// Replica names this gateway among the replicas that share a store;
	// it owns the leases it takes. Only used with a Shared store.
	Replica string
}

// RouteSpec is one route with a rollout, as the gateway configures it.
type RouteSpec struct {
	Name   string
	Config *Config
	// Baseline returns the route's since-start noise model; nil when the
	// route has no secondary to measure noise with.
	Baseline func() diff.Baseline
	// Noise are the route's noise thresholds (diff.noise).
	Noise diff.Thresholds
}

// Controller runs the rollouts of a gateway's routes: it evaluates each
// step's gate every Interval, moves percents, keeps state and history in
// its store, and notifies webhooks.
type Controller struct {
	opt    Options
	log    *slog.Logger
	hooks  *webhookSender
	saveMu sync.Mutex // orders writes to the store; taken before mu

	mu          sync.Mutex
	routes      map[string]*routeRollout
	order       []string
	st          Store
	transitions map[string]map[State]uint64
	storeErrors uint64

	// Shared mode (a Shared store): see shared.go.
	sh      Shared
	unwatch context.CancelFunc
	kick    chan struct{} // a notification from another replica: sync now
	down    bool          // the last store call of a sync failed

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// routeRollout is one route's rollout at run time.
type routeRollout struct {
	spec    RouteSpec
	m       *Machine
	feed    *Feed
	counts  *stepCounts // the current step's; feed.cur while the gate runs
	unsaved []Event
	memory  []Event // history kept without a store
	// saved is the counts' size at the last write, to skip idle writes.
	saved     uint64
	savedAt   time.Time
	saveState bool

	// Shared mode: counts is the step's merged counts, read back from the
	// store, and delta this replica's counts not yet added to them.
	rev     uint64 // the stored revision m reflects; 0: none read yet
	stepRev uint64 // the revision at which the step began: names its tally
	token   uint64 // the fencing token while this replica leads; 0 otherwise
	foreign bool   // the stored state has other rules than this replica's
	delta   *stepCounts
	carry   *store.TallyAdd // an add that failed, retried with the next
}

// saved is the encoding of one route's rollout in the store.
type saved struct {
	Version     int       `json:"v"`
	Fingerprint string    `json:"fingerprint"`
	Machine     *Machine  `json:"machine"`
	Counts      stepState `json:"counts"`
	// StepRev names the step's shared tally (shared mode).
	StepRev uint64 `json:"step_rev,omitempty"`
}

// New returns a controller and starts its decision loop; Close stops it.
func New(opt Options) *Controller {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Interval <= 0 {
		opt.Interval = DefaultInterval
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Apply == nil {
		opt.Apply = func() {}
	}
	if opt.Webhook.Logger == nil {
		opt.Webhook.Logger = opt.Logger
	}
	c := &Controller{
		opt:         opt,
		log:         opt.Logger,
		hooks:       newWebhookSender(opt.Webhook),
		routes:      map[string]*routeRollout{},
		transitions: map[string]map[State]uint64{},
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		kick:        make(chan struct{}, 1),
	}
	go c.loop()
	return c
}

func (c *Controller) loop() {
	defer close(c.done)
	t := time.NewTicker(c.opt.Interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		case <-c.kick:
		}
		c.mu.Lock()
		shared := c.shared()
		c.mu.Unlock()
		if shared {
			c.sync()
		} else {
			c.Tick()
		}
	}
}

// Configure sets the routes with a rollout. A route keeps its state when
// its rules did not change; a changed or new route starts at its first
// step; a route no longer listed is forgotten (its stored state stays).
func (c *Controller) Configure(specs []RouteSpec) {
	c.mu.Lock()
	now := c.opt.Now()
	keep := map[string]bool{}
	c.order = c.order[:0]
	for _, s := range specs {
		keep[s.Name] = true
		c.order = append(c.order, s.Name)
		r := c.routes[s.Name]
		switch {
		case r == nil:
			r = &routeRollout{feed: &Feed{}}
			c.routes[s.Name] = r
			c.restart(r, s, now, "")
		case r.m.Config().Fingerprint() != s.Config.Fingerprint():
			c.restart(r, s, now, "the rollout rules changed on reload; ")
		default:
			r.spec = s
			r.m.Attach(s.Config)
			r.counts.agg.SetThresholds(s.Noise)
		}
	}
	for name := range c.routes {
		if !keep[name] {
			c.routes[name].feed.cur.Store(nil) // counts no more
			delete(c.routes, name)
		}
	}
	c.mu.Unlock()
	c.persist()
}

// restart begins r's rollout anew at its first step.
func (c *Controller) restart(r *routeRollout, s RouteSpec, now time.Time, why string) {
	r.spec = s
	m, ev := NewMachine(s.Name, s.Config, now)
	ev.Reason = why + ev.Reason
	r.m = m
	r.counts = newStepCounts(s.Name, s.Noise)
	if c.shared() {
		// The stored state decides; events are made by its writer.
		c.resetShared(r)
		return
	}
	r.follow()
	r.saveState = true
	c.record(r, ev)
}

// SetStore makes the controller keep state and history in st, and resumes
// every configured route whose stored rules match its current ones at the
// stored step, with the stored counts.
func (c *Controller) SetStore(st Store) error {
	if sh, ok := st.(Shared); ok {
		c.mu.Lock()
		c.st = st
		c.setShared(sh)
		c.mu.Unlock()
		select {
		case c.kick <- struct{}{}:
		default:
		}
		return nil
	}
	blobs, err := st.Rollouts()
	if err != nil {
		return fmt.Errorf("reading rollout state: %w", err)
	}
	c.mu.Lock()
	c.st = st
	now := c.opt.Now()
	changed := false
	for _, name := range c.order {
		r := c.routes[name]
		blob, ok := blobs[name]
		if !ok {
			continue
		}
		var s saved
		if err := json.Unmarshal(blob, &s); err != nil || s.Version != stateVersion || s.Machine == nil {
			c.log.Warn("rollout state unreadable; starting at step 1", "route", name, "err", err)
			continue
		}
		if s.Fingerprint != r.m.Config().Fingerprint() {
			c.restart(r, r.spec, now, "the rollout rules changed while the gateway was stopped; ")
			continue
		}
		if s.Machine.Step < 0 || s.Machine.Step >= len(r.m.Config().Steps) {
			c.log.Warn("rollout state names a step the rules do not have; starting at step 1", "route", name, "step", s.Machine.Step+1)
			continue
		}
		counts, err := restoreStepCounts(name, r.spec.Noise, s.Counts)
		if err != nil {
			c.log.Warn("rollout counts unreadable; the step starts counting afresh", "route", name, "err", err)
			counts = newStepCounts(name, r.spec.Noise)
		}
		s.Machine.Attach(r.m.Config())
		s.Machine.Route = name
		r.m, r.counts = s.Machine, counts
		// The events of the fresh start made before the store was known
		// describe a rollout that did not happen.
		r.unsaved, r.memory = nil, nil
		r.saved = counts.size()
		r.follow()
		changed = true
		c.log.Info("rollout resumed", "route", name, "state", r.m.State, "step", r.m.Step+1,
			"percent", r.m.Percent(), "compared", counts.agg.Compared(), "calls", counts.calls.Load())
	}
	c.mu.Unlock()
	c.persist()
	if changed {
		c.opt.Apply()
	}
	return nil
}

// Feed returns the evidence sink of route, or nil when it has no rollout.
func (c *Controller) Feed(route string) *Feed {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.routes[route]; r != nil {
		return r.feed
	}
	return nil
}

// Percent returns the share new serves on route, in hundredths of a
// percent (0 to 10000); ok is false when the route has no rollout.
func (c *Controller) Percent(route string) (basis int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.routes[route]
	if r == nil {
		return 0, false
	}
	return int(r.m.Percent()*100 + 0.5), true
}

// Tick evaluates every deciding rollout once. The loop calls it every
// Interval; tests call it with an injected clock.
func (c *Controller) Tick() {
	c.mu.Lock()
	now := c.opt.Now()
	moved := false
	for _, name := range c.order {
		r := c.routes[name]
		if !r.m.Deciding() {
			continue
		}
		st := r.stats()
		before := r.m.Percent()
		ev, newStep := r.m.Observe(now, &st)
		if ev == nil {
			continue
		}
		if newStep {
			r.counts = newStepCounts(name, r.spec.Noise)
		}
		r.follow()
		moved = moved || r.m.Percent() != before
		r.saveState = true
		c.record(r, *ev)
	}
	c.mu.Unlock()
	c.persist()
	if moved {
		c.opt.Apply()
	}
}

// Act applies a manual action — pause, resume, promote or rollback — to
// route's rollout. note is added to the event's reason.
func (c *Controller) Act(route, action, note string) (Status, Event, error) {
	switch action {
	case "pause", "resume", "promote", "rollback":
	default:
		return Status{}, Event{}, fmt.Errorf("%w %q (want pause, resume, promote or rollback)", ErrUnknownAction, action)
	}
	c.mu.Lock()
	if sh := c.sh; sh != nil {
		c.mu.Unlock()
		return c.actShared(sh, route, action, note)
	}
	r := c.routes[route]
	if r == nil {
		c.mu.Unlock()
		return Status{}, Event{}, fmt.Errorf("%w: route %q has no rollout", ErrNoRollout, route)
	}
	now := c.opt.Now()
	ev, fresh, err := applyAction(r.m, now, action, note)
	if err != nil {
		st := r.status(now)
		c.mu.Unlock()
		return st, Event{}, err
	}
	if fresh {
		r.counts = newStepCounts(route, r.spec.Noise)
	}
	r.follow()
	r.saveState = true
	c.record(r, ev)
	st := r.status(now)
	c.mu.Unlock()
	c.persist()
	c.opt.Apply()
	return st, ev, nil
}

// applyAction applies a manual action, checked by Act, to m; fresh reports that the
// step starts counting afresh.
func applyAction(m *Machine, now time.Time, action, note string) (ev Event, fresh bool, err error) {
	switch action {
	case "pause":
		ev, err = m.Pause(now, note)
	case "resume":
		ev, fresh, err = m.Resume(now, note)
	case "promote":
		ev, err = m.Promote(now, note)
	default:
		ev, err = m.Rollback(now, note)
	}
	return ev, fresh, err
}

// Errors of Act.
var (
	ErrNoRollout     = errors.New("no rollout")
	ErrUnknownAction = errors.New("unknown action")
)

// record notes a transition: history, metrics, log and webhook. Called
// with c.mu held.
func (c *Controller) record(r *routeRollout, ev Event) {
	if !c.shared() { // in shared mode an event is recorded once stored
		r.unsaved = append(r.unsaved, ev)
	}
	r.memory = append(r.memory, ev)
	if len(r.memory) > memoryEvents {
		r.memory = slices.Delete(r.memory, 0, len(r.memory)-memoryEvents)
	}
	t := c.transitions[ev.Route]
	if t == nil {
		t = map[State]uint64{}
		c.transitions[ev.Route] = t
	}
	t[ev.To]++
	level := slog.LevelInfo
	if ev.To == RolledBack || ev.To == Holding {
		level = slog.LevelWarn
	}
	c.log.Log(context.Background(), level, "rollout "+string(ev.To), "route", ev.Route, "from", ev.From,
		"step", ev.Step, "percent", ev.Percent, "by", ev.By, "reason", ev.Reason)
	c.hooks.notify(r.spec.Config, ev)
}

// persist writes the state of the routes that changed, and the counts of
// the others every saveEvery.
func (c *Controller) persist() {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	type write struct {
		route  string
		state  []byte
		events [][]byte
		r      *routeRollout
		taken  []Event
	}
	var writes []write
	c.mu.Lock()
	st := c.st
	if c.shared() {
		c.mu.Unlock()
		return
	}
	if st == nil {
		// Kept for SetStore, which may still come, but bounded like the
		// history in memory.
		for _, r := range c.routes {
			if len(r.unsaved) > memoryEvents {
				r.unsaved = slices.Delete(r.unsaved, 0, len(r.unsaved)-memoryEvents)
			}
		}
		c.mu.Unlock()
		return
	}
	now := c.opt.Now()
	for _, name := range c.order {
		r := c.routes[name]
		size := r.counts.size()
		if !r.saveState && len(r.unsaved) == 0 && (size == r.saved || now.Sub(r.savedAt) < saveEvery) {
			continue
		}
		counts, err := r.counts.marshal()
		if err != nil {
			c.log.Error("encoding rollout counts", "route", name, "err", err)
			continue
		}
		blob, err := json.Marshal(saved{Version: stateVersion, Fingerprint: r.m.Config().Fingerprint(), Machine: r.m, Counts: counts})
		if err != nil {
			c.log.Error("encoding rollout state", "route", name, "err", err)
			continue
		}
		w := write{route: name, state: blob, r: r, taken: r.unsaved}
		for _, ev := range r.unsaved {
			b, _ := json.Marshal(ev)
			w.events = append(w.events, b)
		}
		r.unsaved = nil
		r.saveState = false
		r.saved, r.savedAt = size, now
		writes = append(writes, w)
	}
	c.mu.Unlock()

	for _, w := range writes {
		if err := st.PutRollout(w.route, w.state, w.events); err != nil {
			c.mu.Lock()
			c.storeErrors++
			// Written again on the next tick, events first.
			w.r.unsaved = append(w.taken, w.r.unsaved...)
			w.r.saveState = true
			c.mu.Unlock()
			c.log.Error("writing rollout state; retried on the next decision", "route", w.route, "err", err)
		}
	}
}

// Close stops the decision loop, writes every rollout's state, and gives
// the webhooks until ctx ends to deliver what is queued.
func (c *Controller) Close(ctx context.Context) error {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	c.mu.Lock()
	shared := c.shared()
	c.mu.Unlock()
	if shared {
		c.closeShared()
		return c.hooks.close(ctx)
	}
	c.mu.Lock()
	for _, r := range c.routes {
		r.saveState = true
	}
	c.mu.Unlock()
	c.persist()
	return c.hooks.close(ctx)
}

// Status returns route's rollout as the API shows it.
func (c *Controller) Status(route string) (Status, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.routes[route]
	if r == nil {
		return Status{}, false
	}
	return r.status(c.opt.Now()), true
}

// Statuses returns every rollout in config order.
func (c *Controller) Statuses() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Status, 0, len(c.order))
	now := c.opt.Now()
	for _, name := range c.order {
		out = append(out, c.routes[name].status(now))
	}
	return out
}

// Events returns route's newest limit transitions (limit <= 0: all kept),
// oldest first.
func (c *Controller) Events(route string, limit int) ([]Event, error) {
	c.mu.Lock()
	r := c.routes[route]
	st := c.st
	var mem []Event
	if r != nil {
		mem = slices.Clone(r.memory)
	}
	c.mu.Unlock()
	if st == nil {
		if r == nil {
			return nil, fmt.Errorf("%w: route %q has no rollout", ErrNoRollout, route)
		}
		if limit > 0 && len(mem) > limit {
			mem = mem[len(mem)-limit:]
		}
		return mem, nil
	}
	// Unsaved events are written before this answer's read when a
	// transition has just happened.
	c.persist()
	blobs, err := st.RolloutEvents(route, limit)
	if err != nil {
		return nil, err
	}
	if r == nil && len(blobs) == 0 {
		return nil, fmt.Errorf("%w: route %q has no rollout", ErrNoRollout, route)
	}
	out := make([]Event, 0, len(blobs))
	for _, b := range blobs {
		var ev Event
		if err := json.Unmarshal(b, &ev); err != nil {
			return nil, fmt.Errorf("reading rollout events of %q: %w", route, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// follow points the feed at the step's counts while the rollout runs; a
// promoted or rolled-back rollout keeps its counts as it ended with them.
// Called with c.mu held.
func (r *routeRollout) follow() {
	switch {
	case r.m.Final():
		r.feed.cur.Store(nil)
	case r.delta != nil: // shared mode
		r.feed.cur.Store(r.delta)
	default:
		r.feed.cur.Store(r.counts)
	}
}

// stats reads the current step's counts. Called with c.mu held.
func (r *routeRollout) stats() Stats {
	cfg := r.m.Config()
	var base diff.Baseline
	if r.spec.Baseline != nil {
		base = r.spec.Baseline()
	}
	rep := r.counts.agg.ReportAgainst(base)
	st := Stats{
		Compared:    rep.Compared,
		Differing:   rep.Differing,
		NoiseNeeded: r.spec.Baseline != nil,
		NoisePairs:  base.Pairs,
		Calls:       r.counts.calls.Load(),
		Errors:      r.counts.errors.Load(),
		OldP99:      msDuration(rep.Latency.OldP99),
		NewP99:      msDuration(rep.Latency.NewP99),
	}
	for _, f := range rep.Fields {
		if !f.Noise {
			st.Fields = append(st.Fields, Field{Path: f.Path, Kind: f.Kind, Count: f.Count, Samples: f.Samples})
		}
	}
	line := time.Duration(cfg.MaxP99Ratio * float64(max(st.OldP99, LatencyFloor)))
	st.Slower, _ = r.counts.agg.NewSlowerThan(line)
	return st
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// status describes r at now. Called with c.mu held.
func (r *routeRollout) status(now time.Time) Status {
	m, cfg := r.m, r.m.Config()
	st := r.stats()
	st.Elapsed = now.Sub(m.StepStarted)
	v := Evaluate(cfg, &st)
	s := Status{
		Route: m.Route, State: m.State, Step: m.Step + 1, Steps: cfg.Steps, Percent: m.Percent(),
		Reason: m.Reason, Since: m.Since, StepStarted: m.StepStarted,
		Counts: StepCounts{
			Compared: st.Compared, Differing: st.Differing, Calls: st.Calls, Errors: st.Errors,
			NoisePairs: st.NoisePairs, OldP99: rounded(st.OldP99), NewP99: rounded(st.NewP99),
		},
		Checks: v.Checks,
		Limits: Limits{
			MinSamples: cfg.MinSamples, MinDuration: cfg.MinDuration.String(), MaxDiffRate: cfg.MaxDiffRate,
			MaxErrorRate: cfg.MaxErrorRate, MaxP99Ratio: cfg.MaxP99Ratio, OnFail: cfg.OnFail,
			BlockKinds: kindNames(cfg.BlockKinds), Confidence: cfg.Confidence,
		},
		Webhook: cfg.Webhook,
	}
	if r.delta != nil {
		leading := r.token != 0
		s.Leading = &leading
	}
	switch {
	case m.Final():
		// The readings the decision was made on, not the frozen counts
		// evaluated again at a later time.
		if len(m.Last) > 0 {
			s.Checks = m.Last
		}
	case m.State == Paused:
		s.WaitingFor = "a resume: the rollout is paused by hand"
	case m.State == Holding && m.Failed:
		s.WaitingFor = "a decision by hand: resume restarts the step, rollback or promote ends the rollout"
	default:
		s.WaitingFor = v.Reason
	}
	return s
}

func rounded(d time.Duration) float64 {
	return float64(d.Round(10*time.Microsecond)) / float64(time.Millisecond)
}

func kindNames(ks []diff.Kind) []string {
	if len(ks) == 0 {
		return nil
	}
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	return out
}

// WriteMetrics writes the rollout metrics in the Prometheus text format.
func (c *Controller) WriteMetrics(w io.Writer) {
	c.mu.Lock()
	type row struct {
		route   string
		percent float64
		step    int
		state   State
		trans   map[State]uint64
		leading bool
	}
	rows := make([]row, 0, len(c.order))
	for _, name := range c.order {
		r := c.routes[name]
		rows = append(rows, row{name, r.m.Percent(), r.m.Step + 1, r.m.State, maps.Clone(c.transitions[name]), r.token != 0})
	}
	shared := c.shared()
	storeErrors := c.storeErrors
	c.mu.Unlock()
	hooks := c.hooks.counts()

	fmt.Fprintln(w, "# HELP cutover_rollout_percent Share of the route's traffic the rollout sends to new, in percent.")
	fmt.Fprintln(w, "# TYPE cutover_rollout_percent gauge")
	for _, r := range rows {
		fmt.Fprintf(w, "cutover_rollout_percent{route=%q} %g\n", r.route, r.percent)
	}
	fmt.Fprintln(w, "# HELP cutover_rollout_step The rollout's current step, 1-based.")
	fmt.Fprintln(w, "# TYPE cutover_rollout_step gauge")
	for _, r := range rows {
		fmt.Fprintf(w, "cutover_rollout_step{route=%q} %d\n", r.route, r.step)
	}
	fmt.Fprintln(w, "# HELP cutover_rollout_state 1 for the rollout's current state, 0 for the others.")
	fmt.Fprintln(w, "# TYPE cutover_rollout_state gauge")
	for _, r := range rows {
		for _, s := range allStates {
			v := 0
			if s == r.state {
				v = 1
			}
			fmt.Fprintf(w, "cutover_rollout_state{route=%q,state=%q} %d\n", r.route, s, v)
		}
	}
	fmt.Fprintln(w, "# HELP cutover_rollout_transitions_total Rollout transitions, by the state entered.")
	fmt.Fprintln(w, "# TYPE cutover_rollout_transitions_total counter")
	for _, r := range rows {
		for _, s := range allStates {
			fmt.Fprintf(w, "cutover_rollout_transitions_total{route=%q,to=%q} %d\n", r.route, s, r.trans[s])
		}
	}
	fmt.Fprintln(w, "# HELP cutover_rollout_webhook_total Rollout notifications, by result: delivered, failed (after every retry) or dropped (queue full).")
	fmt.Fprintln(w, "# TYPE cutover_rollout_webhook_total counter")
	for _, r := range rows {
		h := hooks[r.route]
		fmt.Fprintf(w, "cutover_rollout_webhook_total{route=%q,result=\"delivered\"} %d\n", r.route, h.Delivered)
		fmt.Fprintf(w, "cutover_rollout_webhook_total{route=%q,result=\"failed\"} %d\n", r.route, h.Failed)
		fmt.Fprintf(w, "cutover_rollout_webhook_total{route=%q,result=\"dropped\"} %d\n", r.route, h.Dropped)
	}
	if shared {
		fmt.Fprintln(w, "# HELP cutover_rollout_leader 1 while this replica holds the route's lease and decides its rollout.")
		fmt.Fprintln(w, "# TYPE cutover_rollout_leader gauge")
		for _, r := range rows {
			v := 0
			if r.leading {
				v = 1
			}
			fmt.Fprintf(w, "cutover_rollout_leader{route=%q} %d\n", r.route, v)
		}
	}
	fmt.Fprintln(w, "# HELP cutover_rollout_store_errors_total Failed writes of rollout state; each is retried.")
	fmt.Fprintln(w, "# TYPE cutover_rollout_store_errors_total counter")
	fmt.Fprintf(w, "cutover_rollout_store_errors_total %d\n", storeErrors)
}

var allStates = []State{Pending, Progressing, Holding, Paused, Promoted, RolledBack}
