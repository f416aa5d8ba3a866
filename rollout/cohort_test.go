package rollout

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/store"
)

// cohortController runs the rollout of cohort checkout (a, b, c) beside the
// lone route solo; with st, on the store.
func cohortController(t *testing.T, st *store.Bolt, clk *clock) *Controller {
	t.Helper()
	c := New(Options{Interval: time.Hour, Now: clk.Now})
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	c.Configure([]RouteSpec{
		{Name: "a", Config: testConfig(), Cohort: "checkout", Members: []string{"a", "b", "c"}},
		{Name: "solo", Config: testConfig()},
	})
	if st != nil {
		if err := c.SetStore(st); err != nil {
			t.Fatal(err)
		}
		c.Tick()
	}
	return c
}

// TestCohortRampsAsOneUnit: the members count toward one step and share
// one percent, and a regression on one member alone — too small to fail
// the pooled figures — rolls every member back, naming the member.
func TestCohortRampsAsOneUnit(t *testing.T) {
	for _, withStore := range []bool{false, true} {
		t.Run(map[bool]string{false: "memory", true: "store"}[withStore], func(t *testing.T) {
			clk := newClock()
			var st *store.Bolt
			if withStore {
				st = openStore(t, filepath.Join(t.TempDir(), "cutover.db"))
				t.Cleanup(func() { _ = st.Close() })
			}
			c := cohortController(t, st, clk)
			fa, fb, fc := c.Feed("a"), c.Feed("b"), c.Feed("c")
			if fa == nil || fb == nil || fc == nil || fa == fb || c.Feed("solo") == nil {
				t.Fatalf("feeds a %p b %p c %p solo %p: each member wants its own", fa, fb, fc, c.Feed("solo"))
			}
			s, ok := c.Status("c")
			if !ok || s.Route != "a" || s.Cohort != "checkout" || !slices.Equal(s.Members, []string{"a", "b", "c"}) {
				t.Fatalf("status of c: %+v %v", s, ok)
			}
			// Clean pairs on a and b advance the unit: every member moves.
			feedClean(fa, 400)
			feedClean(fb, 400)
			c.Tick()
			clk.advance(time.Minute)
			c.Tick()
			for _, m := range []string{"a", "b", "c"} {
				if basis, ok := c.Percent(m); !ok || basis != 1000 {
					t.Fatalf("%s after a clean step: %d %v, want 1000", m, basis, ok)
				}
			}
			if basis, _ := c.Percent("solo"); basis != 100 {
				t.Fatalf("solo moved with the cohort: %d", basis)
			}
			// c regresses on 5 of 300 answers: 1.7% against a 0.5% limit,
			// but 0.08% of the cohort's 6300 pairs.
			feedClean(fa, 3000)
			feedClean(fb, 3000)
			feedClean(fc, 295)
			for range 5 {
				fc.ObservePair(&diff.Pair{OldStatus: 200, NewStatus: 200, OldLatency: time.Millisecond, NewLatency: time.Millisecond,
					Diffs: []diff.Difference{{Path: "price", Kind: diff.KindType}}})
				fc.ObserveNewCall(false)
			}
			clk.advance(time.Minute)
			c.Tick()
			for _, m := range []string{"a", "b", "c"} {
				s, _ := c.Status(m)
				if basis, _ := c.Percent(m); s.State != RolledBack || basis != 0 {
					t.Fatalf("%s after c regressed: %s at %d, want rolled_back at 0", m, s.State, basis)
				}
			}
			if s, _ := c.Status("a"); !strings.HasPrefix(s.Reason, "member c: step 2 (10%) failed: diff rate") || s.Counts.Compared != 6300 {
				t.Fatalf("reason %q after %d pairs, want member c's diff rate named, over the cohort's 6300", s.Reason, s.Counts.Compared)
			}
			// A hand action by any member's name acts on the cohort.
			if _, _, err := c.Act("b", "resume", "fixed"); err != nil {
				t.Fatal(err)
			}
			if s, _ := c.Status("a"); s.State != Pending {
				t.Fatalf("after resume on b: %s", s.State)
			}
			if _, _, err := c.Act("nope", "pause", ""); !errors.Is(err, ErrNoRollout) {
				t.Fatalf("unknown route: %v", err)
			}
			evs, err := c.Events("c", 0)
			if err != nil || len(evs) == 0 || evs[len(evs)-1].Route != "a" {
				t.Fatalf("events of c: %v %v", evs, err)
			}
		})
	}
}
