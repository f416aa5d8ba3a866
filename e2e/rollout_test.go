package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/rollout"
)

// priceService answers GET /items/N with {"id": N, "price": N.5}. With
// regressEvery > 0, every regressEvery-th item's price is a string: a
// type difference, the kind of bug a 200 with a wrong body hides.
func priceService(t *testing.T, name string, regressEvery int) string {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, price := itemPrice(r, regressEvery)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(hdrUpstream, name)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": n, "price": price})
	})
	return hostPort(srv)
}

// itemPrice returns the item N of GET /items/N and its price: N.5, or the
// string "N.50" for every regressEvery-th item when regressEvery > 0.
func itemPrice(r *http.Request, regressEvery int) (int, any) {
	n, _ := strconv.Atoi(path.Base(r.URL.Path))
	if regressEvery > 0 && n%regressEvery == 0 {
		return n, strconv.Itoa(n) + ".50"
	}
	return n, float64(n) + 0.5
}

func rolloutConfig(oldAddr, newAddr, rollout string) string {
	return itemsConfig(oldAddr, newAddr, "    rollout:\n"+rollout)
}

// itemsConfig is the items route over old and new, shadowed, with extra
// keys of the route appended.
func itemsConfig(oldAddr, newAddr, extra string) string {
	return fmt.Sprintf(`debug_headers: true
services:
  items-v1: { targets: ["%s"] }
  items-v2: { targets: ["%s"] }
routes:
  - name: items
    match: { path_prefix: /items }
    old: items-v1
    new: items-v2
    shadow: { percent: 100 }
%s`, oldAddr, newAddr, extra)
}

func (g *gatewayProc) rollout(t *testing.T, route string) rollout.Status {
	t.Helper()
	resp, body := do(t, newClient(t), "GET", g.adminURL("/api/rollouts/"+route), nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/rollouts/%s answered %d: %s", route, resp.StatusCode, body)
	}
	var st rollout.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/api/rollouts/%s is not a status: %v: %s", route, err, body)
	}
	return st
}

func (g *gatewayProc) rolloutEvents(t *testing.T, route string) []rollout.Event {
	t.Helper()
	resp, body := do(t, newClient(t), "GET", g.adminURL("/api/rollouts/"+route+"/events"), nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/rollouts/%s/events answered %d: %s", route, resp.StatusCode, body)
	}
	var v struct {
		Events []rollout.Event `json:"events"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("events are not JSON: %v: %s", err, body)
	}
	return v.Events
}

// drive sends GET /items/N for N in [from, to) and counts the answers by
// the side that served them; any non-200 fails the test.
func driveItems(t *testing.T, c *http.Client, g *gatewayProc, from, to int) map[string]int {
	t.Helper()
	sides := map[string]int{}
	for n := from; n < to; n++ {
		resp, body := do(t, c, "GET", g.url("/items/"+strconv.Itoa(n)), nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /items/%d answered %d: %s", n, resp.StatusCode, body)
		}
		sides[resp.Header.Get("X-Cutover-Side")]++
	}
	return sides
}

// TestRolloutRollsBackRegression runs a new service that answers 5% of
// requests with a wrong type: the rollout must go back to 0% at its first
// step, after a few hundred compared pairs at most, with the reason.
func TestRolloutRollsBackRegression(t *testing.T) {
	var mu sync.Mutex
	var hooks []rollout.Event
	hook := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev rollout.Event
		if err := json.Unmarshal(body, &ev); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook got %q (%s): %v", body, r.Header.Get("Content-Type"), err)
		}
		mu.Lock()
		hooks = append(hooks, ev)
		mu.Unlock()
	})
	g := startGateway(t, rolloutConfig(priceService(t, "old", 0), priceService(t, "new", 20), `      min_samples: 200
      min_duration: 1s
      max_diff_rate: 1%
      max_p99_ratio: 50
      webhook: "`+hook.URL+`/hook"
`))
	st := g.rollout(t, "items")
	if st.State != rollout.Pending || st.Step != 1 || st.Percent != 1 {
		t.Fatalf("at start: %s step %d at %v%%, want pending step 1 at 1%%", st.State, st.Step, st.Percent)
	}

	c := newClient(t)
	sent := 0
	for sent < 1000 && st.State != rollout.RolledBack {
		driveItems(t, c, g, sent, sent+20)
		sent += 20
		// The controller decides twice a second; give it the chance
		// before more traffic arrives.
		waitFor(t, "the shadow to compare the batch", func() bool {
			st = g.rollout(t, "items")
			return st.Counts.Compared >= uint64(sent)*9/10 || st.State == rollout.RolledBack
		})
		time.Sleep(600 * time.Millisecond)
		st = g.rollout(t, "items")
	}
	if st.State != rollout.RolledBack {
		t.Fatalf("after %d requests the rollout is %s: %+v", sent, st.State, st)
	}
	if st.Counts.Compared > 300 {
		t.Errorf("rolled back after %d compared pairs, want at most a few hundred", st.Counts.Compared)
	}
	t.Logf("rolled back after %d requests, %d compared pairs, %d differing: %s", sent, st.Counts.Compared, st.Counts.Differing, st.Reason)
	for _, want := range []string{"diff rate", "lower bound", "above the 1% limit", "price type"} {
		if !strings.Contains(st.Reason, want) {
			t.Errorf("reason %q lacks %q", st.Reason, want)
		}
	}
	if st.Percent != 0 {
		t.Errorf("rolled back at %v%%, want 0", st.Percent)
	}

	// The next requests are old's, every one.
	if sides := driveItems(t, c, g, 5000, 5100); sides["old"] != 100 {
		t.Errorf("after the rollback: served %v, want old 100", sides)
	}
	routes := g.routes(t)
	if len(routes.Routes) != 1 || routes.Routes[0].Percent == nil || *routes.Routes[0].Percent != 0 {
		t.Errorf("/api/routes: %+v, want items at 0%%", routes.Routes)
	}

	evs := g.rolloutEvents(t, "items")
	var path []string
	for _, ev := range evs {
		path = append(path, string(ev.To))
	}
	if got := strings.Join(path, " "); got != "pending progressing rolled_back" {
		t.Errorf("events %q, want pending progressing rolled_back", got)
	}
	if last := evs[len(evs)-1]; last.By != rollout.ByController || len(last.Checks) == 0 {
		t.Errorf("the rollback event: by %q with %d checks, want the controller's readings", last.By, len(last.Checks))
	}

	m := g.metrics(t, nil)
	for series, want := range map[string]float64{
		`cutover_rollout_percent{route="items"}`:                            0,
		`cutover_rollout_transitions_total{route="items",to="rolled_back"}`: 1,
		`cutover_rollout_state{route="items",state="rolled_back"}`:          1,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	waitFor(t, "the webhook to get the rollback", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hooks) > 0 && hooks[len(hooks)-1].To == rollout.RolledBack
	})
	waitFor(t, "the webhook delivery to be counted", func() bool {
		return g.metrics(t, nil)[`cutover_rollout_webhook_total{route="items",result="delivered"}`] == 3
	})

	code, out, errOut := runCLI(t, "rollout", "status", "--admin", g.admin)
	t.Logf("cutover rollout status:\n%s", out)
	for _, want := range []string{"items", "rolled_back", "0%", "price type ×5", "lower bound 2.15%"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("rollout status: exit %d, output lacks %q:\n%s%s", code, want, out, errOut)
		}
	}
	if code, _, _ := runCLI(t, "rollout", "status", "items", "--watch", "--admin", g.admin); code != 3 {
		t.Errorf("rollout status --watch of a rolled-back rollout: exit %d, want 3", code)
	}

	// By hand: a rolled-back rollout restarts at its first step.
	code, out, errOut = runCLI(t, "rollout", "resume", "items", "--admin", g.admin)
	if code != 0 || !strings.Contains(out, "rolled_back → pending") {
		t.Errorf("rollout resume: exit %d, %q %q", code, out, errOut)
	}
	if st := g.rollout(t, "items"); st.State != rollout.Pending || st.Percent != 1 || st.Counts.Compared != 0 {
		t.Errorf("after resume: %s at %v%% with %d pairs, want pending at 1%% with none", st.State, st.Percent, st.Counts.Compared)
	}
	code, _, errOut = runCLI(t, "rollout", "pause", "nosuch", "--admin", g.admin)
	if code != 1 || !strings.Contains(errOut, `no route "nosuch"`) {
		t.Errorf("pause of an unknown route: exit %d, %q", code, errOut)
	}
}

// TestRolloutPromotesAndSurvivesKill runs a clean new service through
// every step to 100%, with a kill -9 in the middle of a step: the
// restarted gateway resumes the same step with the same counts.
//
// Old and new are the same server here, so their latencies differ only
// by how the loaded test machine schedules them: the latency limit is set
// out of the way (the gate's latency rule has tests of its own in
// package rollout).
func TestRolloutPromotesAndSurvivesKill(t *testing.T) {
	oldAddr, newAddr := priceService(t, "old", 0), priceService(t, "new", 0)
	g := startGateway(t, rolloutConfig(oldAddr, newAddr, `      steps: [1, 10, 50, 100]
      min_samples: 100
      min_duration: 1s
      max_diff_rate: 5%
      max_error_rate: 5%
      max_p99_ratio: 50
      block_kinds: [missing, type]
`))
	c := newClient(t)
	sent := 0
	var st rollout.Status
	waitStep := func(step int) {
		t.Helper()
		for sent < 4000 {
			driveItems(t, c, g, sent, sent+25)
			sent += 25
			time.Sleep(100 * time.Millisecond)
			if st = g.rollout(t, "items"); st.Step >= step || st.State == rollout.RolledBack {
				return
			}
		}
	}
	waitStep(2)
	if st.State != rollout.Progressing || st.Step != 2 || st.Percent != 10 {
		t.Fatalf("after %d requests: %s step %d at %v%%, want progressing step 2 at 10%%: %s", sent, st.State, st.Step, st.Percent, st.Reason)
	}
	// Some pairs into step 2, then quiet until they are stored: the
	// counts a status shows are the step's counts as read back from the
	// store, so once the shadow is idle and they stay the same across a
	// decision round (twice a second), every pair is in the store.
	driveItems(t, c, g, sent, sent+40)
	sent += 40
	var before rollout.Status
	waitFor(t, "the step's counts to be stored", func() bool {
		m := g.metrics(t, nil)
		if m[`cutover_shadow_queued{route="items"}`] != 0 || m[`cutover_shadow_inflight{route="items"}`] != 0 {
			return false
		}
		a := g.rollout(t, "items")
		time.Sleep(600 * time.Millisecond)
		before = g.rollout(t, "items")
		return a.Counts == before.Counts && before.Counts.Compared > 0
	})
	if before.Step != 2 {
		t.Fatalf("step %d before the kill, want 2", before.Step)
	}

	g.signal(syscall.SIGKILL)
	g.wait()
	g = startGatewayFile(t, g.config)
	after := g.rollout(t, "items")
	if after.State != before.State || after.Step != 2 || after.Percent != 10 || after.Counts != before.Counts || !after.StepStarted.Equal(before.StepStarted) {
		t.Fatalf("after kill -9 and restart: %s step %d at %v%%, counts %+v started %v; before: %s step %d, counts %+v started %v",
			after.State, after.Step, after.Percent, after.Counts, after.StepStarted, before.State, before.Step, before.Counts, before.StepStarted)
	}

	waitStep(4)
	for st.State != rollout.Promoted && sent < 4000 {
		driveItems(t, c, g, sent, sent+25)
		sent += 25
		time.Sleep(100 * time.Millisecond)
		st = g.rollout(t, "items")
	}
	if st.State != rollout.Promoted || st.Percent != 100 {
		t.Fatalf("after %d requests: %s at %v%%: %s", sent, st.State, st.Percent, st.Reason)
	}
	if sides := driveItems(t, c, g, 9000, 9050); sides["new"] != 50 {
		t.Errorf("promoted: served %v, want new 50", sides)
	}
	// A step may hold a while for its interval to narrow; the percents
	// must still be visited in order, and nothing rolled back.
	evs := g.rolloutEvents(t, "items")
	var percents []string
	for _, ev := range evs {
		p := fmt.Sprint(ev.Percent)
		if len(percents) == 0 || percents[len(percents)-1] != p {
			percents = append(percents, p)
		}
		if ev.To == rollout.RolledBack || ev.To == rollout.Paused {
			t.Errorf("unexpected event %+v", ev)
		}
	}
	if got := strings.Join(percents, " "); got != "1 10 50 100" {
		t.Errorf("percents visited %q, want 1 10 50 100", got)
	}
	if first, last := evs[0], evs[len(evs)-1]; first.To != rollout.Pending || last.To != rollout.Promoted || last.By != rollout.ByController {
		t.Errorf("events from %+v to %+v, want pending to promoted by the controller", first, last)
	}
}
