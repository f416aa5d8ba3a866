package gateway

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/rollout"
)

// TestRolloutFollowsActionsAndReloads: a manual action moves the router's
// percent for the next request, a reload keeps the rollout's state unless
// its rules change, and a reload that removes the rollout leaves the
// percent to gray.percent again.
func TestRolloutFollowsActionsAndReloads(t *testing.T) {
	const head = `
services:
  v1: { targets: ["127.0.0.1:9001"] }
  v2: { targets: ["127.0.0.1:9002"] }
routes:
  - name: orders
    old: v1
    new: v2
    gray: { percent: 30 }
    shadow: { percent: 100 }
`
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	write := func(tail string) {
		if err := os.WriteFile(path, []byte(head+tail), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("    rollout: { steps: [5, 100], min_samples: 100 }\n")
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := build(cfg, path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer g.closeRollouts(context.Background())
	defer g.closeShadows(context.Background())
	percent := func() int { return g.snap.Load().table.Route("orders").Percent() }
	state := func() rollout.State { st, _ := g.Rollouts().Status("orders"); return st.State }

	if p := percent(); p != 500 {
		t.Fatalf("at start the router serves new %d/10000, want the first step's 500 (not gray.percent)", p)
	}
	if _, _, err := g.Rollouts().Act("orders", "pause", ""); err != nil {
		t.Fatal(err)
	}
	// A change elsewhere in the route: the rollout stays paused at 5%.
	write("    diff: { ignore: [meta] }\n    rollout: { steps: [5, 100], min_samples: 100 }\n")
	if _, err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if s, p := state(), percent(); s != rollout.Paused || p != 500 {
		t.Fatalf("after an unrelated reload: %s at %d, want paused at 500", s, p)
	}
	if _, _, err := g.Rollouts().Act("orders", "promote", ""); err != nil {
		t.Fatal(err)
	}
	if p := percent(); p != 10000 {
		t.Fatalf("after promote the router serves new %d/10000, want 10000", p)
	}
	// New rules: the rollout starts over at its first step.
	write("    rollout: { steps: [2, 100], min_samples: 100 }\n")
	if _, err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if s, p := state(), percent(); s != rollout.Pending || p != 200 {
		t.Fatalf("after a rule change: %s at %d, want pending at 200", s, p)
	}
	// No rollout: gray.percent rules again, and the feed is gone.
	write("")
	if _, err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Rollouts().Status("orders"); ok || percent() != 3000 || g.snap.Load().routes[0].rollout != nil {
		t.Fatalf("after removing the rollout: percent %d, feed %v", percent(), g.snap.Load().routes[0].rollout)
	}
}
