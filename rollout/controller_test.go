package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/store"
)

// clock is a controller's injected time.
type clock struct{ now atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *clock) advance(d time.Duration) { c.now.Add(int64(d)) }

func newClock() *clock {
	c := &clock{}
	c.now.Store(t0.UnixNano())
	return c
}

// testController returns a controller whose loop ticks only when told to
// (the test calls Tick); with st, it has the "orders" rollout on st, and
// has run its first round.
func testController(t *testing.T, st *store.Bolt, clk *clock, applied *atomic.Int64) *Controller {
	t.Helper()
	c := New(Options{Interval: time.Hour, Now: clk.Now, Apply: func() { applied.Add(1) }})
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	if st != nil {
		c.Configure([]RouteSpec{{Name: "orders", Config: testConfig()}})
		if err := c.SetStore(st); err != nil {
			t.Fatal(err)
		}
		c.Tick()
	}
	return c
}

func openStore(t *testing.T, path string) *store.Bolt {
	t.Helper()
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// feedClean counts n clean pairs and n calls to new.
func feedClean(f *Feed, n int) {
	for range n {
		f.ObservePair(&diff.Pair{OldStatus: 200, NewStatus: 200, OldLatency: time.Millisecond, NewLatency: time.Millisecond})
		f.ObserveNewCall(false)
	}
}

func TestControllerAdvancesAndResumesAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cutover.db")
	st := openStore(t, path)
	clk := newClock()
	var applied atomic.Int64
	c := testController(t, st, clk, &applied)
	if basis, ok := c.Percent("orders"); !ok || basis != 100 {
		t.Fatalf("percent at start %d %v, want 100 (1%%)", basis, ok)
	}
	f := c.Feed("orders")
	feedClean(f, 800)
	c.Tick() // the first pairs start the step's clock
	clk.advance(time.Minute)
	c.Tick()
	if basis, _ := c.Percent("orders"); basis != 1000 || applied.Load() == 0 {
		t.Fatalf("after a clean minute: percent %d, applied %d; want 1000 (10%%) and a swap", basis, applied.Load())
	}
	// Step 2 counts afresh: 300 pairs, one with a difference.
	feedClean(f, 299)
	f.ObservePair(&diff.Pair{OldStatus: 200, NewStatus: 200, Diffs: []diff.Difference{{Path: "total", Kind: diff.KindValue}}})
	clk.advance(10 * time.Second)
	c.Tick()
	s1, _ := c.Status("orders")
	if s1.State != Progressing || s1.Step != 2 || s1.Counts.Compared != 300 || s1.Counts.Differing != 1 || s1.Counts.Calls != 299 {
		t.Fatalf("in step 2: %+v", s1)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// A new process: same rules, same store.
	st = openStore(t, path)
	defer st.Close()
	c2 := testController(t, st, clk, &applied)
	s2, _ := c2.Status("orders")
	if s2.State != s1.State || s2.Step != 2 || s2.Counts != s1.Counts || !s2.StepStarted.Equal(s1.StepStarted) {
		t.Fatalf("after restart: %+v\nbefore: %+v", s2, s1)
	}
	if basis, _ := c2.Percent("orders"); basis != 1000 {
		t.Fatalf("after restart: percent %d, want 1000", basis)
	}
	evs, err := c2.Events("orders", 0)
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, ev := range evs {
		to = append(to, string(ev.To))
	}
	if got := strings.Join(to, " "); got != "pending progressing progressing" {
		t.Fatalf("events after restart %q, want pending progressing progressing (the restart itself is no transition)", got)
	}
}

func TestControllerReload(t *testing.T) {
	clk := newClock()
	var applied atomic.Int64
	c := testController(t, nil, clk, &applied)
	cfg := testConfig()
	c.Configure([]RouteSpec{{Name: "orders", Config: cfg}, {Name: "users", Config: testConfig()}})
	feedClean(c.Feed("orders"), 800)
	c.Tick()
	clk.advance(time.Minute)
	c.Tick()

	// The same rules, a new webhook: the state stays.
	same := testConfig()
	same.Webhook = "http://127.0.0.2:1/hook"
	c.Configure([]RouteSpec{{Name: "orders", Config: same}, {Name: "users", Config: testConfig()}})
	if s, _ := c.Status("orders"); s.Step != 2 || s.Webhook != webhookOrigin(same.Webhook) {
		t.Fatalf("after a reload without rule changes: step %d webhook %q, want step 2 and the new webhook", s.Step, s.Webhook)
	}
	// Changed rules restart at the first step, with the reason logged as
	// an event.
	changed := testConfig()
	changed.MaxDiffRate = 0.01
	c.Configure([]RouteSpec{{Name: "orders", Config: changed}})
	s, _ := c.Status("orders")
	if s.State != Pending || s.Step != 1 || s.Counts.Compared != 0 {
		t.Fatalf("after a rule change: %+v", s)
	}
	evs, _ := c.Events("orders", 1)
	if len(evs) != 1 || evs[0].By != ByConfig || !strings.Contains(evs[0].Reason, "rules changed on reload") {
		t.Fatalf("last event %+v", evs)
	}
	// A route dropped from the config has no rollout any more.
	if _, ok := c.Status("users"); ok {
		t.Fatal("users still has a rollout after the reload removed it")
	}
	if _, _, err := c.Act("users", "pause", ""); err == nil {
		t.Fatal("pause of a removed rollout succeeded")
	}
}

func TestControllerManualActions(t *testing.T) {
	clk := newClock()
	var applied atomic.Int64
	c := testController(t, nil, clk, &applied)
	c.Configure([]RouteSpec{{Name: "orders", Config: testConfig()}})
	f := c.Feed("orders")

	st, ev, err := c.Act("orders", "rollback", "checkout errors")
	if err != nil || st.State != RolledBack || st.Percent != 0 || ev.Reason != "rolled back by hand: checkout errors" {
		t.Fatalf("rollback: %v %+v %+v", err, st, ev)
	}
	// A rolled-back rollout counts nothing more.
	feedClean(f, 10)
	if st, _ := c.Status("orders"); st.Counts.Compared != 0 {
		t.Fatalf("counted %d pairs after the rollback", st.Counts.Compared)
	}
	if basis, _ := c.Percent("orders"); basis != 0 || applied.Load() == 0 {
		t.Fatalf("percent %d after rollback (applied %d), want 0 and a swap", basis, applied.Load())
	}
	if _, _, err := c.Act("orders", "rollback", ""); err == nil {
		t.Fatal("a second rollback succeeded")
	}
	if _, _, err := c.Act("orders", "explode", ""); err == nil || !strings.Contains(err.Error(), "unknown action") {
		t.Fatalf("unknown action: %v", err)
	}
	st, _, err = c.Act("orders", "resume", "")
	if err != nil || st.State != Pending || st.Percent != 1 {
		t.Fatalf("resume: %v %+v", err, st)
	}
	feedClean(f, 5)
	if st, _ := c.Status("orders"); st.Counts.Compared != 5 {
		t.Fatalf("after resume counted %d pairs, want 5", st.Counts.Compared)
	}
	if st, _, err = c.Act("orders", "pause", ""); err != nil || st.WaitingFor == "" {
		t.Fatalf("pause: %v %+v", err, st)
	}
	feedClean(f, 800)
	clk.advance(time.Hour)
	c.Tick()
	if st, _ := c.Status("orders"); st.State != Paused || st.Step != 1 {
		t.Fatalf("a paused rollout moved: %+v", st)
	}
	if st, _, err = c.Act("orders", "promote", ""); err != nil || st.Percent != 100 || st.State != Promoted {
		t.Fatalf("promote: %v %+v", err, st)
	}
}

func TestControllerNoiseBaseline(t *testing.T) {
	clk := newClock()
	var applied atomic.Int64
	c := testController(t, nil, clk, &applied)
	// The route's own aggregator has seen meta.ts differ between two old
	// instances in every one of 40 pairs.
	route := diff.NewAggregator("orders", diff.AggregatorOptions{Seed: 1})
	for range 40 {
		route.AddNoise(time.Time{}, []diff.Difference{{Path: "meta.ts", Kind: diff.KindValue}})
	}
	c.Configure([]RouteSpec{{Name: "orders", Config: testConfig(), Baseline: route.Baseline}})
	f := c.Feed("orders")
	for range 800 {
		f.ObservePair(&diff.Pair{OldStatus: 200, NewStatus: 200, Diffs: []diff.Difference{{Path: "meta.ts", Kind: diff.KindValue}}})
		f.ObserveNewCall(false)
	}
	c.Tick()
	clk.advance(time.Minute)
	c.Tick()
	if st, _ := c.Status("orders"); st.Step != 2 {
		t.Fatalf("a step whose only difference is noise did not advance: %+v", st)
	}
}

func TestControllerStoreFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cutover.db")
	st := openStore(t, path)
	clk := newClock()
	var applied atomic.Int64
	c := testController(t, st, clk, &applied)
	// A closed store refuses every call: a manual action, which must be
	// stored to hold, fails and changes nothing.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Act("orders", "pause", ""); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("pause with the store closed: %v, want ErrUnavailable", err)
	}
	if s, _ := c.Status("orders"); s.State != Pending {
		t.Fatalf("state %s after a failed pause, want pending", s.State)
	}
	// Counts taken in a round that cannot store them are kept for the
	// next one.
	feedClean(c.Feed("orders"), 10)
	c.Tick()
	st = openStore(t, path)
	defer st.Close()
	c.mu.Lock()
	c.st = st
	c.mu.Unlock()
	c.Tick()
	if s, _ := c.Status("orders"); s.Counts.Compared != 10 || s.Counts.Calls != 10 {
		t.Fatalf("counts after the store came back: %+v, want the 10 pairs and calls counted while it was away", s.Counts)
	}
	if _, _, err := c.Act("orders", "pause", ""); err != nil {
		t.Fatal(err)
	}
	evs, err := c.Events("orders", 0)
	if err != nil || len(evs) != 3 || evs[2].To != Paused {
		t.Fatalf("events after the store came back: %v %+v", err, evs)
	}
}

// BenchmarkFeed is the per-pair and per-call cost a rollout adds to the
// shadow workers and the request path.
func BenchmarkFeed(b *testing.B) {
	f := &Feed{}
	f.cur.Store(newStepCounts("orders", diff.Thresholds{}))
	p := &diff.Pair{OldStatus: 200, NewStatus: 200, OldLatency: time.Millisecond, NewLatency: 2 * time.Millisecond,
		Diffs: []diff.Difference{{Path: "items.#.price", Kind: diff.KindValue}}}
	b.Run("pair", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f.ObservePair(p)
		}
	})
	b.Run("call", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				f.ObserveNewCall(false)
			}
		})
	})
}

// TestControllerResumesLegacyState: an embedded store written before step
// tallies keeps a rollout's step counts inside its state; the rollout
// resumes at its step with those counts.
func TestControllerResumesLegacyState(t *testing.T) {
	pairs, err := os.ReadFile("../diff/testdata/legacy/state.json") // an "orders" aggregator of 300 pairs
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	m, _ := NewMachine("orders", cfg, t0)
	st := clean(300)
	if ev, _ := m.Observe(t0, &st); ev == nil || m.State != Progressing {
		t.Fatalf("machine: %+v", m)
	}
	blob, err := json.Marshal(map[string]any{"v": 1, "fingerprint": cfg.Fingerprint(), "machine": m,
		"counts": map[string]any{"calls": 300, "errors": 2, "pairs": json.RawMessage(pairs)}})
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, filepath.Join(t.TempDir(), "cutover.db"))
	defer s.Close()
	if err := s.PutRollout("orders", blob, nil); err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	var applied atomic.Int64
	c := testController(t, s, clk, &applied)
	c.Tick() // reads the counts moved into the step's tally, and decides on them
	got, _ := c.Status("orders")
	if got.Step != 1 || got.Counts.Compared != 300 || got.Counts.Differing != 180 || got.Counts.Calls != 300 || got.Counts.Errors != 2 || !got.StepStarted.Equal(t0) {
		t.Fatalf("resumed: %+v", got.Counts)
	}
	// The step's pairs differ in 60%: the gate reads them.
	if got.State != RolledBack || !strings.Contains(got.Reason, "diff rate 60% (180 of 300 pairs)") {
		t.Errorf("resumed rollout %s: %s; want rolled back on the moved counts", got.State, got.Reason)
	}
}

// TestControllerReloadOnStore: with a store, changed rules restart the
// rollout at its first step once the restart is stored, saying why.
func TestControllerReloadOnStore(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "cutover.db"))
	defer s.Close()
	clk := newClock()
	var applied atomic.Int64
	c := testController(t, s, clk, &applied)
	feedClean(c.Feed("orders"), 800)
	c.Tick()
	clk.advance(time.Minute)
	c.Tick()
	if st, _ := c.Status("orders"); st.Step != 2 {
		t.Fatalf("before the reload: step %d, want 2", st.Step)
	}
	changed := testConfig()
	changed.MaxDiffRate = 0.01
	c.Configure([]RouteSpec{{Name: "orders", Config: changed}})
	c.Tick()
	st, _ := c.Status("orders")
	evs, err := c.Events("orders", 1)
	if st.State != Pending || st.Step != 1 || err != nil || len(evs) != 1 || !strings.Contains(evs[0].Reason, "rules changed on reload") {
		t.Fatalf("after a rule change: %s step %d, last event %+v (%v)", st.State, st.Step, evs, err)
	}
}
