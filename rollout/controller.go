package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/internal/defaults"
	"github.com/cutover/cutover/store"
)

// Controller defaults.
const (
	DefaultInterval = 500 * time.Millisecond
	// memoryEvents is how many events per route are kept in memory.
	memoryEvents = 200
	// defaultReplica names the controller's lease owner when
	// Options.Replica is empty.
	defaultReplica = "cutover"
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
	// it owns the leases it takes. Default "cutover".
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
	// Cohort and Members make the rollout a cohort's: Members are every
	// route of the cohort in file order, Name the first of them. The
	// cohort ramps as one unit: each member's percent is the unit's, each
	// member's compared pairs, calls and latencies count toward the unit's
	// step (its feed is every member's), so the gate reads every member's
	// figures and a rollback sends the whole cohort back. Actions and
	// lookups by any member's name reach the unit.
	Cohort  string
	Members []string
}

// Controller runs the rollouts of a gateway's routes: it evaluates each
// step's gate every Interval, moves percents, keeps state, history and
// step counts in its store (store.go), and notifies webhooks. Until it
// has a store it decides in memory, as the only gateway; with one, each
// round adds this gateway's step counts to the store, and the gateway
// that holds a route's lease decides for every replica on the store — on
// the embedded store, always this one.
type Controller struct {
	opt   Options
	log   *slog.Logger
	hooks *webhookSender

	// syncMu runs one round at a time: the loop's and Tick's.
	syncMu sync.Mutex

	mu          sync.Mutex
	routes      map[string]*routeRollout
	order       []string
	unitOf      map[string]string // a cohort member's name → its unit's (RouteSpec.Name)
	st          Store             // nil until SetStore: decisions in memory
	transitions map[string]map[State]uint64
	storeErrors uint64

	unwatch context.CancelFunc
	kick    chan struct{} // a notification from another replica: sync now
	down    bool          // the last store call of a round failed

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// routeRollout is one route's rollout at run time.
type routeRollout struct {
	spec   RouteSpec
	m      *Machine
	feed   *Feed
	counts *stepCounts // the current step's; without a store, feed.cur while the gate runs
	memory []Event     // history kept in memory, the newest memoryEvents
	start  *Event      // the start not yet recorded (memory mode)

	// With a store: counts is the step's counts read back from the store,
	// and delta this replica's counts not yet added to them.
	rev     uint64        // the stored revision m reflects; 0: none read yet
	stepRev uint64        // the revision at which the step began: names its tally
	token   uint64        // the fencing token while this replica leads; 0 otherwise
	legacy  *legacyCounts // the step's counts in a state stored before step tallies
	foreign bool          // the stored state has other rules than this replica's
	why     string        // why this replica's rules replace the stored ones (a reload)
	delta   *stepCounts
	carry   *store.TallyAdd // an add that failed, retried with the next

	members []*memberFeed // a cohort's members, each with its own figures (cohort.go)
}

// New returns a controller and starts its decision loop; Close stops it.
func New(opt Options) *Controller {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	opt.Interval = defaults.Positive(opt.Interval, DefaultInterval)
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Apply == nil {
		opt.Apply = func() {}
	}
	if opt.Replica == "" {
		opt.Replica = defaultReplica
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
		c.Tick()
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
	c.unitOf = map[string]string{}
	for _, s := range specs {
		keep[s.Name] = true
		for _, m := range s.Members {
			c.unitOf[m] = s.Name
		}
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
		r.syncMembers()
	}
	for name, r := range c.routes {
		if !keep[name] {
			r.feed.cur.Store(nil) // counts no more
			for _, mf := range r.members {
				mf.feed.cur.Store(nil)
			}
			delete(c.routes, name)
		}
	}
	c.mu.Unlock()
}

// restart begins r's rollout anew at its first step.
func (c *Controller) restart(r *routeRollout, s RouteSpec, now time.Time, why string) {
	r.spec = s
	m, ev := NewMachine(s.Name, s.Config, now)
	ev.Reason = why + ev.Reason
	r.m = m
	r.counts = newStepCounts(s.Name, s.Noise)
	if c.st != nil {
		// The stored state decides; events are made by its writer, which
		// says why when it is this replica.
		c.resetStored(r)
		r.why = why
		return
	}
	r.follow()
	// Recorded at the next decision in memory; a store given before then
	// has the start recorded by whoever stores it, once.
	r.start = &ev
}

// unit returns the name of the rollout that route's requests follow:
// its cohort's unit, or route itself. Called with c.mu held.
func (c *Controller) unit(route string) string {
	if u, ok := c.unitOf[route]; ok {
		return u
	}
	return route
}

// recordStarts records the start events still pending, in memory mode.
// Called with c.mu held.
func (c *Controller) recordStarts() {
	for _, name := range c.order {
		if r := c.routes[name]; r.start != nil {
			ev := *r.start
			r.start = nil
			c.record(r, ev)
		}
	}
}

// SetStore makes the controller keep state, history and step counts in
// st, and follow the state st holds: a route whose stored rules match its
// current ones resumes at the stored step, with the stored counts. The
// first round runs at once, in the background.
func (c *Controller) SetStore(st Store) error {
	c.mu.Lock()
	c.st = st
	for _, r := range c.routes {
		r.start = nil
		c.resetStored(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.unwatch = cancel
	c.mu.Unlock()
	go c.watch(ctx, st.Watch(ctx))
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return nil
}

// Feed returns the evidence sink of route, or nil when it has no rollout.
func (c *Controller) Feed(route string) *Feed {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.routes[c.unit(route)]
	if r == nil {
		return nil
	}
	for _, mf := range r.members {
		if mf.name == route {
			return mf.feed
		}
	}
	return r.feed
}

// Percent returns the share new serves on route, in hundredths of a
// percent (0 to 10000); ok is false when the route has no rollout.
func (c *Controller) Percent(route string) (basis int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.routes[c.unit(route)]
	if r == nil {
		return 0, false
	}
	return int(r.m.Percent()*100 + 0.5), true
}

// Tick runs one round: with a store, it adds this gateway's step counts,
// follows the stored state and, on the routes this gateway leads,
// decides (store.go); without, it evaluates every deciding rollout in
// memory. The loop calls it every Interval and on a notification; tests
// call it with an injected clock.
func (c *Controller) Tick() {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	c.mu.Lock()
	st := c.st
	c.mu.Unlock()
	if st != nil {
		c.sync(st)
		return
	}
	c.mu.Lock()
	c.recordStarts()
	now := c.opt.Now()
	moved := false
	for _, name := range c.order {
		r := c.routes[name]
		if !r.m.Deciding() {
			continue
		}
		st, member := r.gateStats(now)
		before := r.m.Percent()
		ev, newStep := r.m.Observe(now, &st)
		if ev == nil {
			continue
		}
		blame(ev, r.m, member)
		if newStep {
			r.counts = newStepCounts(name, r.spec.Noise)
		}
		r.follow()
		moved = moved || r.m.Percent() != before
		c.record(r, *ev)
	}
	c.mu.Unlock()
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
	route = c.unit(route)
	if st := c.st; st != nil {
		c.mu.Unlock()
		return c.actStored(st, route, action, note)
	}
	c.recordStarts()
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
	c.record(r, ev)
	st := r.status(now)
	c.mu.Unlock()
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

// record notes a transition: history, metrics, log and webhook. With a
// store it is called once the event is stored. Called with c.mu held.
func (c *Controller) record(r *routeRollout, ev Event) {
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

// Close stops the decision loop and, with a store, adds the last step
// counts and gives up the leases; the webhooks get until ctx ends to
// deliver what is queued. State is stored when it changes, so nothing
// else is left to write.
func (c *Controller) Close(ctx context.Context) error {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	c.syncMu.Lock()
	c.mu.Lock()
	st := c.st
	c.mu.Unlock()
	if st != nil {
		c.closeStored(st)
	}
	c.syncMu.Unlock()
	return c.hooks.close(ctx)
}

// follow points the feed at the step's counts while the rollout runs; a
// promoted or rolled-back rollout keeps its counts as it ended with them.
// Called with c.mu held.
func (r *routeRollout) follow() {
	switch {
	case r.m.Final():
		r.feed.cur.Store(nil)
	case r.delta != nil: // with a store
		r.feed.cur.Store(r.delta)
	default:
		r.feed.cur.Store(r.counts)
	}
	r.followMembers()
}
