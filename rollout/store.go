package rollout

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/store"
)

// Store keeps rollout state, history and step counts; *store.Bolt and
// *store.Redis implement it. With it, exactly one gateway decides each
// route's rollout: the one holding the route's lease. Every gateway on
// the store adds its step counts to the step's tally and follows the
// stored state, so all of them serve the same percent. On the embedded
// store the one gateway always holds the lease; on Redis the replicas
// take turns.
type Store interface {
	// RolloutRev returns route's state blob and its revision.
	RolloutRev(route string) ([]byte, uint64, error)
	// PutRolloutIf replaces route's state blob (unless nil) and appends
	// events to its history, in one transaction, only while the revision
	// is rev and, when token is not 0, the route's fencing token is token.
	PutRolloutIf(route string, rev, token uint64, state []byte, events [][]byte) (uint64, error)
	// RolloutEvents returns route's newest limit events, oldest first.
	RolloutEvents(route string, limit int) ([][]byte, error)
	// Lease takes or renews route's lease for owner; 0 when another
	// owner holds it.
	Lease(route, owner string, ttl time.Duration) (uint64, error)
	Release(route, owner string) error
	Notify(route string) error
	Watch(ctx context.Context) <-chan string
	AddTallies(adds []store.TallyAdd) (int, error)
	Tallies(keys []string) ([]store.Tally, error)
}

var (
	_ Store = (*store.Bolt)(nil)
	_ Store = (*store.Redis)(nil)
)

// saved is the encoding of one route's rollout in the store.
type saved struct {
	Version     int      `json:"v"`
	Fingerprint string   `json:"fingerprint"`
	Machine     *Machine `json:"machine"`
	// StepRev is the revision at which the step began; it names the
	// step's tally.
	StepRev uint64 `json:"step_rev,omitempty"`
	// Counts are the step's counts of a state written by an embedded
	// store before step tallies, which has no StepRev: the leader moves
	// them into a tally of their own.
	Counts *legacyCounts `json:"counts,omitempty"`
}

// legacyCounts are a step's counts as embedded stores kept them before
// step tallies.
type legacyCounts struct {
	Calls  uint64          `json:"calls"`
	Errors uint64          `json:"errors"`
	Pairs  json.RawMessage `json:"pairs"`
}

// seed returns the add that puts c into the tally key, or nil when its
// pairs cannot be read (the step then counts afresh).
func (c *legacyCounts) seed(route, key string) *store.TallyAdd {
	if c == nil {
		return nil
	}
	d, err := diff.LegacyDelta(route, c.Pairs)
	if err != nil {
		return nil
	}
	counts := map[string]int64(d.Total)
	if c.Calls > 0 {
		counts[callsName] = int64(c.Calls)
	}
	if c.Errors > 0 {
		counts[errorsName] = int64(c.Errors)
	}
	return &store.TallyAdd{Key: key, Counts: counts, Recent: d.RecentLists(), Keep: stepSamples, TTL: stepTallyTTL}
}

// stateVersion is saved's version.
const stateVersion = 1

// Settings of the rounds with a store.
const (
	// LeaseTTL is how long a replica leads a route's rollout without
	// renewing; a leader that died is replaced within it. It renews every
	// Interval.
	LeaseTTL = 5 * time.Second
	// stepTallyTTL is how long a step's counts outlive their last add.
	stepTallyTTL = 7 * 24 * time.Hour
	// stepSamples are the sample IDs kept per field of a step.
	stepSamples = 3
	// actTries bounds the re-reads of a manual action that raced with
	// another writer.
	actTries = 5
)

// Counter names of a step tally besides diff's.
const (
	callsName  = "\xffcalls"
	errorsName = "\xfferrors"
)

// ErrUnavailable is returned by Act when the store cannot be reached: a
// manual action must be stored to reach every replica.
var ErrUnavailable = errors.New("rollout: the store is unreachable")

// resetStored makes r wait for the stored state: it counts into a fresh
// delta and knows no revision yet. Called with c.mu held.
func (c *Controller) resetStored(r *routeRollout) {
	r.rev, r.stepRev, r.token, r.foreign, r.legacy, r.why = 0, 0, 0, false, nil, ""
	r.delta = newStepCounts(r.spec.Name, r.spec.Noise)
	r.carry = nil
	r.follow()
}

// watch turns the store's notifications into immediate syncs; polling
// every Interval covers a lost one.
func (c *Controller) watch(ctx context.Context, routes <-chan string) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-routes:
			if !ok {
				return
			}
			select {
			case c.kick <- struct{}{}:
			default:
			}
		}
	}
}

// stepKey names the tally of the step that began at revision rev.
func stepKey(route string, rev uint64) string {
	return "step:" + route + ":" + strconv.FormatUint(rev, 10)
}

// sync runs one round with the store for every route: add this
// replica's counts, renew or take the lease, follow the stored state,
// read the merged counts and, where this replica leads, decide.
func (c *Controller) sync(sh Store) {
	c.mu.Lock()
	names := slices.Clone(c.order)
	c.mu.Unlock()
	moved := false
	for _, name := range names {
		if c.syncRoute(sh, name) {
			moved = true
		}
	}
	if moved {
		c.opt.Apply()
	}
}

// syncRoute is sync for one route; it reports whether the percent moved.
// No lock is held during the store's calls.
func (c *Controller) syncRoute(sh Store, name string) (moved bool) {
	c.mu.Lock()
	r := c.routes[name]
	if r == nil {
		c.mu.Unlock()
		return false
	}
	add := r.takeDelta()
	c.mu.Unlock()

	if add != nil {
		if _, err := sh.AddTallies([]store.TallyAdd{*add}); err != nil {
			c.mu.Lock()
			if add.Key == stepKey(name, r.stepRev) {
				r.carry = add
			}
			c.mu.Unlock()
			c.unreachable(name, err)
			return false
		}
	}
	token, err := sh.Lease(name, c.opt.Replica, LeaseTTL)
	if err != nil {
		c.unreachable(name, err)
		return false
	}
	blob, rev, err := sh.RolloutRev(name)
	if err != nil {
		c.unreachable(name, err)
		return false
	}

	c.mu.Lock()
	if c.routes[name] != r {
		c.mu.Unlock()
		return false
	}
	before := r.m.Percent()
	r.token = token
	if rev != r.rev {
		c.adopt(r, blob, rev)
	}
	key := stepKey(name, r.stepRev)
	stepRev, noise := r.stepRev, r.spec.Noise
	c.mu.Unlock()

	if stepRev != 0 {
		ts, err := sh.Tallies([]string{key})
		if err != nil {
			c.unreachable(name, err)
			return false
		}
		merged, err := stepCountsFrom(name, noise, ts[0])
		if err != nil {
			c.log.Error("rollout step counts unreadable", "route", name, "err", err)
		}
		c.mu.Lock()
		if merged != nil && r.stepRev == stepRev {
			r.counts = merged
		}
		c.mu.Unlock()
	}
	c.reachable()

	c.mu.Lock()
	w := c.decide(r)
	moved = r.m.Percent() != before
	c.mu.Unlock()
	if w != nil && c.commit(sh, r, w) {
		moved = true
	}
	return moved
}

// pendingWrite is a decision of the leader waiting to be stored.
type pendingWrite struct {
	rev, token uint64
	m          *Machine
	stepRev    uint64 // the step's revision after the write
	newStep    bool
	events     []Event
	seed       *store.TallyAdd // counts to add to the new step's tally once stored
}

// decide runs the gate where this replica leads, on a copy of the
// machine; the copy replaces r.m once stored. It also writes the first
// state of a route that has none, and restarts a stored rollout whose
// rules differ from this replica's. Called with c.mu held.
func (c *Controller) decide(r *routeRollout) *pendingWrite {
	if r.token == 0 {
		return nil
	}
	now := c.opt.Now()
	if r.rev == 0 || r.foreign {
		m, ev := NewMachine(r.spec.Name, r.spec.Config, now)
		if r.foreign {
			ev.Reason = cmp.Or(r.why, "the rollout rules changed; ") + ev.Reason
		}
		return &pendingWrite{rev: r.rev, token: r.token, m: m, stepRev: r.rev + 1, newStep: true, events: []Event{ev}}
	}
	if r.stepRev == 0 {
		// A state stored before step tallies: the step goes on, with its
		// counts moved into a tally of its own.
		m := *r.m
		return &pendingWrite{rev: r.rev, token: r.token, m: &m, stepRev: r.rev + 1,
			seed: r.legacy.seed(r.spec.Name, stepKey(r.spec.Name, r.rev+1))}
	}
	if !r.m.Deciding() {
		return nil
	}
	m := *r.m
	st, member := r.gateStats(now)
	ev, newStep := m.Observe(now, &st)
	if ev == nil {
		r.m.Last, r.m.Reason = m.Last, m.Reason // readings, not a transition
		return nil
	}
	blame(ev, &m, member)
	w := &pendingWrite{rev: r.rev, token: r.token, m: &m, stepRev: r.stepRev, newStep: newStep, events: []Event{*ev}}
	if newStep {
		w.stepRev = r.rev + 1
	}
	return w
}

// commit stores w and, when it is stored, makes it r's state and tells
// the other replicas. It reports whether the percent moved.
func (c *Controller) commit(sh Store, r *routeRollout, w *pendingWrite) bool {
	blob, err := json.Marshal(saved{Version: stateVersion, Fingerprint: w.m.Config().Fingerprint(), Machine: w.m, StepRev: w.stepRev})
	if err != nil {
		c.log.Error("encoding rollout state", "route", r.spec.Name, "err", err)
		return false
	}
	events := make([][]byte, len(w.events))
	for i, ev := range w.events {
		events[i], _ = json.Marshal(ev)
	}
	rev, err := sh.PutRolloutIf(r.spec.Name, w.rev, w.token, blob, events)
	if err != nil {
		c.mu.Lock()
		c.storeErrors++
		c.mu.Unlock()
		switch {
		case errors.Is(err, store.ErrConflict):
			c.log.Info("rollout state changed by another replica; deciding again on it", "route", r.spec.Name)
		case errors.Is(err, store.ErrFenced):
			c.log.Warn("rollout lease lost before the decision was stored; the new leader decides", "route", r.spec.Name)
		default:
			c.unreachable(r.spec.Name, err)
		}
		return false
	}
	if w.seed != nil {
		if _, err := sh.AddTallies([]store.TallyAdd{*w.seed}); err != nil {
			c.log.Warn("the counts of a step stored before step tallies were not moved; the step counts afresh", "route", r.spec.Name, "err", err)
		}
	}
	_ = sh.Notify(r.spec.Name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.routes[r.spec.Name] != r {
		return false
	}
	before := r.m.Percent()
	c.install(r, w.m, rev, w.stepRev)
	for _, ev := range w.events {
		c.record(r, ev)
	}
	return r.m.Percent() != before
}

// install makes m, stored at revision rev, r's state. A step that began
// at another revision starts counting afresh. Called with c.mu held.
func (c *Controller) install(r *routeRollout, m *Machine, rev, stepRev uint64) {
	r.m, r.rev, r.foreign, r.why = m, rev, false, ""
	if stepRev != r.stepRev {
		if r.stepRev != 0 {
			// Counted before the first state was read, they are the
			// current step's; otherwise they are an ended step's.
			r.delta = newStepCounts(r.spec.Name, r.spec.Noise)
		}
		r.stepRev = stepRev
		r.counts = newStepCounts(r.spec.Name, r.spec.Noise)
		r.carry = nil
	}
	r.follow()
}

// adopt follows the stored state blob at revision rev. A state with other
// rules than this replica's is not followed: the leader restarts it with
// its own (foreign). Called with c.mu held.
func (c *Controller) adopt(r *routeRollout, blob []byte, rev uint64) {
	if blob == nil {
		r.rev = 0
		return
	}
	var s saved
	if err := json.Unmarshal(blob, &s); err != nil || s.Version != stateVersion || s.Machine == nil {
		c.log.Warn("stored rollout state unreadable; the leader starts it again at step 1", "route", r.spec.Name, "err", err)
		r.rev, r.foreign = rev, true
		return
	}
	if s.Fingerprint != r.m.Config().Fingerprint() || s.Machine.Step < 0 || s.Machine.Step >= len(r.m.Config().Steps) {
		if !r.foreign {
			c.log.Warn("stored rollout has other rules than this replica's config; the leader restarts it with its own", "route", r.spec.Name)
		}
		r.rev, r.foreign = rev, true
		return
	}
	s.Machine.Attach(r.m.Config())
	s.Machine.Route = r.spec.Name
	if r.rev != 0 && (s.Machine.State != r.m.State || s.Machine.Step != r.m.Step) && r.token == 0 {
		c.log.Info("rollout followed", "route", r.spec.Name, "state", s.Machine.State, "step", s.Machine.Step+1, "percent", s.Machine.Percent())
	}
	r.legacy = s.Counts
	c.install(r, s.Machine, rev, s.StepRev)
}

// takeDelta returns this replica's step counts since the last call as an
// add to the step's tally, with an earlier add that failed merged in.
// Called with c.mu held.
func (r *routeRollout) takeDelta() *store.TallyAdd {
	if r.stepRev == 0 || r.delta == nil {
		return nil
	}
	key := stepKey(r.spec.Name, r.stepRev)
	carry := r.carry
	r.carry = nil
	if carry != nil && carry.Key != key {
		carry = nil // counts of a step that has ended
	}
	d := r.delta.agg.Take()
	calls, errs := r.delta.calls.Swap(0), r.delta.errors.Swap(0)
	if d.Empty() && calls == 0 && errs == 0 {
		return carry
	}
	extra := map[string]int64{}
	if calls > 0 {
		extra[callsName] = int64(calls)
	}
	if errs > 0 {
		extra[errorsName] = int64(errs)
	}
	for k, v := range d.Total {
		extra[k] = v
	}
	add := store.TallyAdd{Key: key, Counts: extra, Recent: d.RecentLists(), Keep: stepSamples, TTL: stepTallyTTL}
	if carry != nil {
		add.Merge(carry)
	}
	return &add
}

// stepCountsFrom rebuilds a step's merged counts from its tally.
func stepCountsFrom(route string, noise diff.Thresholds, t store.Tally) (*stepCounts, error) {
	pairs := maps.Clone(t.Counts)
	delete(pairs, callsName)
	delete(pairs, errorsName)
	agg, err := diff.NewAggregatorFrom(route, diff.AggregatorOptions{Noise: noise, Samples: stepSamples}, pairs, nil, diff.SampleRefs(t.Recent))
	if err != nil {
		return nil, fmt.Errorf("step counts of %q: %w", route, err)
	}
	s := &stepCounts{agg: agg}
	s.calls.Store(uint64(max(t.Counts[callsName], 0)))
	s.errors.Store(uint64(max(t.Counts[errorsName], 0)))
	return s, nil
}

// actStored applies a manual action to the stored state, whichever
// replica leads: it reads the latest state, applies the action and
// stores it if nobody wrote in between, else tries again.
func (c *Controller) actStored(sh Store, route, action, note string) (Status, Event, error) {
	for try := 0; ; try++ {
		blob, rev, err := sh.RolloutRev(route)
		if err != nil {
			return Status{}, Event{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		c.mu.Lock()
		r := c.routes[route]
		if r == nil {
			c.mu.Unlock()
			return Status{}, Event{}, fmt.Errorf("%w: route %q has no rollout", ErrNoRollout, route)
		}
		if rev != r.rev {
			c.adopt(r, blob, rev)
		}
		if r.rev == 0 || r.foreign {
			st := r.status(c.opt.Now())
			c.mu.Unlock()
			return st, Event{}, fmt.Errorf("%w: the rollout's state is not stored yet; try again in a second", ErrUnavailable)
		}
		m := *r.m
		ev, fresh, err := applyAction(&m, c.opt.Now(), action, note)
		if err != nil {
			st := r.status(c.opt.Now())
			c.mu.Unlock()
			return st, Event{}, err
		}
		w := &pendingWrite{rev: r.rev, m: &m, stepRev: r.stepRev, events: []Event{ev}}
		if fresh {
			w.stepRev = r.rev + 1
		}
		c.mu.Unlock()

		evBlob, _ := json.Marshal(ev)
		state, err := json.Marshal(saved{Version: stateVersion, Fingerprint: m.Config().Fingerprint(), Machine: &m, StepRev: w.stepRev})
		if err != nil {
			return Status{}, Event{}, err
		}
		newRev, err := sh.PutRolloutIf(route, w.rev, 0, state, [][]byte{evBlob})
		if errors.Is(err, store.ErrConflict) && try < actTries {
			continue
		}
		if err != nil {
			return Status{}, Event{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		_ = sh.Notify(route)
		c.mu.Lock()
		if c.routes[route] == r {
			c.install(r, &m, newRev, w.stepRev)
			c.record(r, ev)
		}
		st := r.status(c.opt.Now())
		c.mu.Unlock()
		c.opt.Apply()
		return st, ev, nil
	}
}

// unreachable notes a failed store call of a round: decisions stop
// and the percents stay as they are until the store answers again.
func (c *Controller) unreachable(route string, err error) {
	c.mu.Lock()
	was := c.down
	c.down = true
	c.mu.Unlock()
	if !was {
		c.log.Warn("store unreachable: rollouts keep their percents and decide nothing until it answers", "route", route, "err", err)
	}
}

func (c *Controller) reachable() {
	c.mu.Lock()
	was := c.down
	c.down = false
	c.mu.Unlock()
	if was {
		c.log.Info("store reachable again: rollouts decide again")
	}
}

// closeStored adds the last counts and gives up the leases, so another
// replica takes over at once rather than after LeaseTTL.
func (c *Controller) closeStored(sh Store) {
	c.mu.Lock()
	if c.unwatch != nil {
		c.unwatch()
	}
	var adds []store.TallyAdd
	names := slices.Clone(c.order)
	for _, name := range names {
		if a := c.routes[name].takeDelta(); a != nil {
			adds = append(adds, *a)
		}
	}
	c.mu.Unlock()
	if len(adds) > 0 {
		if _, err := sh.AddTallies(adds); err != nil {
			c.log.Warn("the last rollout counts were not stored", "err", err)
		}
	}
	for _, name := range names {
		_ = sh.Release(name, c.opt.Replica)
	}
}
