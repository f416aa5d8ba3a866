package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/rollout"
)

// These tests drive `cutover rollout` against canned admin API answers on
// loopback: they test the client. The end-to-end test against the real
// gateway lives in e2e/.

var rolloutTestNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testRollout(route string, state rollout.State, step int, percent float64) rollout.Status {
	s := rollout.Status{
		Route: route, State: state, Step: step, Steps: []float64{1, 2, 10, 20, 40, 80, 100}, Percent: percent,
		Since: rolloutTestNow.Add(-80 * time.Second), StepStarted: rolloutTestNow.Add(-80 * time.Second),
		Limits: rollout.Limits{MinSamples: 500, MinDuration: "10m0s", MaxDiffRate: 0.005, MaxErrorRate: 0.01, MaxP99Ratio: 1.5, OnFail: "rollback", Confidence: 0.95},
	}
	switch state {
	case rollout.Progressing:
		s.WaitingFor = "188 more compared pairs (312 of 500), 8m40s more time (1m20s of 10m0s)"
		s.Counts = rollout.StepCounts{Compared: 312, Differing: 1, Calls: 340, OldP99: 12.1, NewP99: 13}
		s.Checks = []rollout.Check{
			{Name: "samples", Status: "wait", Count: 312, N: 500, Value: 312, Limit: 500},
			{Name: "duration", Status: "wait", Value: 80, Limit: 600},
			{Name: "diff_rate", Status: "wait", Count: 1, N: 312, Value: 1.0 / 312, Upper: 0.0179, Limit: 0.005},
		}
	case rollout.RolledBack:
		s.Reason = "diff rate 2.4% (12 of 500 pairs): its lower bound 1.38% is above the 0.5% limit at 95% confidence"
	}
	return s
}

// fakeAdmin is a canned admin API. orders turns rolled_back on its
// flipAt-th GET (never when 0); users is promoted; POSTs to orders are
// recorded and answered, resume with a 409.
type fakeAdmin struct {
	flipAt int64
	polls  atomic.Int64

	mu    sync.Mutex
	posts []*http.Request
}

func (f *fakeAdmin) orders() rollout.Status {
	if f.flipAt > 0 && f.polls.Add(1) >= f.flipAt {
		return testRollout("orders", rollout.RolledBack, 2, 0)
	}
	return testRollout("orders", rollout.Progressing, 2, 2)
}

func (f *fakeAdmin) handler() http.Handler {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /api/rollouts", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, map[string]any{"rollouts": []rollout.Status{f.orders(), testRollout("users", rollout.Promoted, 7, 100)}})
	})
	mux.HandleFunc("GET /api/rollouts/{route}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("route") {
		case "orders":
			reply(w, 200, f.orders())
		case "users":
			reply(w, 200, testRollout("users", rollout.Promoted, 7, 100))
		default:
			reply(w, 404, map[string]string{"error": "no rollout on route " + r.PathValue("route")})
		}
	})
	mux.HandleFunc("GET /api/rollouts/{route}/events", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("limit") != "2" {
			reply(w, 400, map[string]string{"error": "want limit=2, got " + r.URL.RawQuery})
			return
		}
		t0 := time.Date(2025, 6, 1, 11, 0, 0, 0, time.UTC)
		reply(w, 200, map[string]any{"route": "orders", "events": []rollout.Event{
			{Time: t0, Route: "orders", From: rollout.Pending, To: rollout.Progressing, Step: 1, Percent: 1, By: "controller", Reason: "first compared pair"},
			{Time: t0.Add(10 * time.Minute), Route: "orders", From: rollout.Progressing, To: rollout.Progressing, Step: 2, Percent: 2, By: "controller", Reason: "every check passed"},
		}})
	})
	mux.HandleFunc("POST /api/rollouts/{route}/{action}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.posts = append(f.posts, r)
		f.mu.Unlock()
		if r.PathValue("route") != "orders" {
			reply(w, 404, map[string]string{"error": "no rollout on route " + r.PathValue("route")})
			return
		}
		ev := rollout.Event{Time: rolloutTestNow, Route: "orders", From: rollout.Progressing, Step: 2, By: "hand"}
		switch r.PathValue("action") {
		case "pause":
			ev.To, ev.Percent, ev.Reason = rollout.Paused, 2, "paused by hand"
		case "rollback":
			ev.To, ev.Reason = rollout.RolledBack, "rolled back by hand: "+r.URL.Query().Get("reason")
		case "resume":
			reply(w, 409, map[string]string{"error": "orders is progressing: resume applies to a paused, holding or rolled-back rollout"})
			return
		default:
			reply(w, 400, map[string]string{"error": "unknown action"})
			return
		}
		reply(w, 200, map[string]any{"rollout": testRollout("orders", ev.To, ev.Step, ev.Percent), "event": ev})
	})
	return mux
}

// startAdmin serves f on loopback and fixes the status clock.
func startAdmin(t *testing.T, f *fakeAdmin) string {
	t.Helper()
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	clock := rolloutClock
	rolloutClock = func() time.Time { return rolloutTestNow }
	t.Cleanup(func() { rolloutClock = clock })
	return srv.URL
}

func runRollout(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"rollout"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRolloutStatusTable(t *testing.T) {
	admin := startAdmin(t, &fakeAdmin{})
	code, out, errOut := runRollout(t, "status", "--admin", admin)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var want bytes.Buffer
	_ = rollout.WriteStatus(&want, []rollout.Status{testRollout("orders", rollout.Progressing, 2, 2), testRollout("users", rollout.Promoted, 7, 100)}, rolloutTestNow)
	if out != want.String() {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want.String())
	}
	for _, s := range []string{"orders  progressing  2/7   2%       1m20s", "users   promoted     7/7   100%", "waiting for: 188 more compared pairs"} {
		if !strings.Contains(out, s) {
			t.Errorf("stdout lacks %q:\n%s", s, out)
		}
	}

	// One route; flags after the route.
	code, out, _ = runRollout(t, "status", "users", "--admin", admin)
	if code != exitOK || !strings.HasPrefix(out, "ROUTE  STATE        STEP  PERCENT  FOR\nusers  promoted") || strings.Contains(out, "orders") {
		t.Errorf("status users: exit %d, stdout:\n%s", code, out)
	}
}

func TestRolloutStatusJSON(t *testing.T) {
	admin := startAdmin(t, &fakeAdmin{})
	code, out, errOut := runRollout(t, "status", "--admin", admin, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var all struct {
		Rollouts []rollout.Status `json:"rollouts"`
	}
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("stdout is not the API's JSON: %v\n%s", err, out)
	}
	if len(all.Rollouts) != 2 || all.Rollouts[0].Route != "orders" || all.Rollouts[0].State != rollout.Progressing || all.Rollouts[1].State != rollout.Promoted {
		t.Errorf("rollouts = %+v", all.Rollouts)
	}

	code, out, _ = runRollout(t, "status", "orders", "--admin", admin, "--format", "json")
	var s rollout.Status
	if err := json.Unmarshal([]byte(out), &s); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if s.Route != "orders" || s.Step != 2 || s.Counts.Compared != 312 || len(s.Checks) != 3 {
		t.Errorf("status = %+v", s)
	}
}

func TestRolloutStatusWatchRolledBack(t *testing.T) {
	f := &fakeAdmin{flipAt: 3}
	admin := startAdmin(t, f)
	code, out, errOut := runRollout(t, "status", "orders", "--watch", "--interval", "10ms", "--admin", admin)
	if code != exitOverThreshold {
		t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr: %s", code, exitOverThreshold, out, errOut)
	}
	if n := f.polls.Load(); n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}
	if n := strings.Count(out, "--- 2025-06-01T12:00:00Z\n"); n != 3 {
		t.Errorf("%d separators, want 3:\n%s", n, out)
	}
	if n := strings.Count(out, "orders  progressing"); n != 2 {
		t.Errorf("%d progressing blocks, want 2:\n%s", n, out)
	}
	last := out[strings.LastIndex(out, "--- "):]
	if !strings.Contains(last, "orders  rolled_back  2/7   0%") || !strings.Contains(last, "reason: diff rate 2.4%") || strings.Contains(last, "waiting for") {
		t.Errorf("last snapshot:\n%s", last)
	}
	if !strings.Contains(errOut, "cutover rollout: orders was rolled back: diff rate 2.4%") {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestRolloutStatusWatchPromoted(t *testing.T) {
	admin := startAdmin(t, &fakeAdmin{})
	code, out, errOut := runRollout(t, "status", "users", "--watch", "--interval", "10ms", "--admin", admin)
	if code != exitOK || strings.Count(out, "--- ") != 1 || errOut != "" {
		t.Errorf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
}

func TestRolloutStatusWatchTimeout(t *testing.T) {
	admin := startAdmin(t, &fakeAdmin{})
	start := time.Now()
	code, _, errOut := runRollout(t, "status", "--watch", "--interval", "10ms", "--timeout", "50ms", "--admin", admin)
	if code != exitError || !strings.Contains(errOut, "not promoted or rolled back after 50ms: orders") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestRolloutStatusUnknownRoute(t *testing.T) {
	admin := startAdmin(t, &fakeAdmin{})
	code, out, errOut := runRollout(t, "status", "nope", "--admin", admin)
	if code != exitError || out != "" || errOut != "cutover rollout: 404 Not Found: no rollout on route nope\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestRolloutActionPrintsTransition(t *testing.T) {
	f := &fakeAdmin{}
	admin := startAdmin(t, f)
	t.Setenv("CUTOVER_TEST_ROLLOUT_TOKEN", "s3cret")

	code, out, errOut := runRollout(t, "rollback", "orders", "--reason", "prices differ, see #812", "--admin", admin, "--token-env", "CUTOVER_TEST_ROLLOUT_TOKEN")
	if code != exitOK || out != "orders: progressing → rolled_back at step 2 (0%)\n" {
		t.Errorf("rollback: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runRollout(t, "pause", "--admin", admin, "orders")
	if code != exitOK || out != "orders: progressing → paused at step 2 (2%)\n" {
		t.Errorf("pause: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.posts) != 2 {
		t.Fatalf("%d POSTs, want 2", len(f.posts))
	}
	rb := f.posts[0]
	if rb.URL.Path != "/api/rollouts/orders/rollback" || rb.URL.Query().Get("reason") != "prices differ, see #812" {
		t.Errorf("rollback sent %s", rb.URL)
	}
	if got := rb.Header.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("Authorization = %q", got)
	}
	if p := f.posts[1]; p.URL.Path != "/api/rollouts/orders/pause" || p.URL.RawQuery != "" {
		t.Errorf("pause sent %s", p.URL)
	}
}

func TestRolloutActionConflict(t *testing.T) {
	admin := startAdmin(t, &fakeAdmin{})
	code, out, errOut := runRollout(t, "resume", "orders", "--admin", admin)
	want := "cutover rollout: 409 Conflict: orders is progressing: resume applies to a paused, holding or rolled-back rollout\n"
	if code != exitError || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runRollout(t, "promote", "nope", "--admin", admin)
	if code != exitError || !strings.Contains(errOut, "404 Not Found: no rollout on route nope") {
		t.Errorf("promote nope: exit %d, stderr %q", code, errOut)
	}
}

func TestRolloutEvents(t *testing.T) {
	admin := startAdmin(t, &fakeAdmin{})
	code, out, errOut := runRollout(t, "events", "orders", "--limit", "2", "--admin", admin)
	want := "TIME                  STEP  PERCENT  TRANSITION                 BY          REASON\n" +
		"2025-06-01T11:00:00Z  1     1%       pending → progressing      controller  first compared pair\n" +
		"2025-06-01T11:10:00Z  2     2%       progressing → progressing  controller  every check passed\n"
	if code != exitOK || out != want {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
	}
	code, out, _ = runRollout(t, "events", "orders", "--limit", "2", "--format", "json", "--admin", admin)
	var ans struct {
		Route  string          `json:"route"`
		Events []rollout.Event `json:"events"`
	}
	if err := json.Unmarshal([]byte(out), &ans); code != exitOK || err != nil || ans.Route != "orders" || len(ans.Events) != 2 {
		t.Errorf("json: exit %d, %v: %s", code, err, out)
	}
}

func TestRolloutUsage(t *testing.T) {
	for _, c := range []struct {
		args   []string
		code   int
		stdout string // a substring; "" wants nothing on stdout
		stderr string // a substring
	}{
		{nil, exitUsage, "", "Usage: cutover rollout <command>"},
		{[]string{"frobnicate", "orders"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"pause"}, exitUsage, "", "cutover rollout pause: give exactly one ROUTE"},
		{[]string{"rollback", "--reason", "x"}, exitUsage, "", "give exactly one ROUTE"},
		{[]string{"events"}, exitUsage, "", "cutover rollout events: give exactly one ROUTE"},
		{[]string{"events", "orders", "--limit", "-1"}, exitUsage, "", "--limit must not be below 0"},
		{[]string{"status", "a", "b"}, exitUsage, "", "give at most one ROUTE"},
		{[]string{"status", "--format", "yaml"}, exitUsage, "", `unknown format "yaml"`},
		{[]string{"status", "--watch", "--interval", "0s"}, exitUsage, "", "--interval must be above 0"},
		{[]string{"pause", "orders", "--reason", "x"}, exitUsage, "", "flag provided but not defined: -reason"},
		{[]string{"--help"}, exitOK, "rolled_back  new serves 0%", ""},
		{[]string{"resume", "--help"}, exitOK, "", "restart a failed holding step with fresh"},
		{[]string{"status", "--help"}, exitOK, "", "3 when a rollout was rolled back"},
	} {
		code, out, errOut := runRollout(t, c.args...)
		if code != c.code || !strings.Contains(out, c.stdout) || (c.stdout == "" && out != "") || !strings.Contains(errOut, c.stderr) {
			t.Errorf("rollout %q: exit %d (want %d)\nstdout: %s\nstderr: %s", c.args, code, c.code, out, errOut)
		}
	}
}

// TestRolloutStatusShowsCohort: a cohort's rollout names the cohort and
// every member that ramps with it.
func TestRolloutStatusShowsCohort(t *testing.T) {
	s := testRollout("a", rollout.Progressing, 2, 2)
	s.Cohort, s.Members = "checkout", []string{"a", "b", "c"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"rollouts": []rollout.Status{s}})
	}))
	t.Cleanup(srv.Close)
	code, out, errOut := runRollout(t, "status", "--admin", srv.URL)
	if code != exitOK || !strings.Contains(out, "a (cohort checkout: a, b, c)  progressing") {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
}
