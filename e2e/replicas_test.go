package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/internal/redistest"
	"github.com/cutover/cutover/rollout"
)

// replicaConfig is a route over old and new that every replica shares
// through the Redis at addr.
func replicaConfig(redisAddr, oldAddr, newAddr, extra string) string {
	return fmt.Sprintf(`store:
  driver: redis
  buffer: 256KiB
  redis: { addrs: ["%s"], prefix: "e2e:" }
`, redisAddr) + itemsConfig(oldAddr, newAddr, extra)
}

// startReplicas starts n gateways on one config file, each its own
// process named replica-i.
func startReplicas(t *testing.T, n int, config string) []*gatewayProc {
	t.Helper()
	first := startGateway(t, config, "CUTOVER_REPLICA=replica-0")
	gs := []*gatewayProc{first}
	for i := 1; i < n; i++ {
		gs = append(gs, startGatewayFile(t, first.config, "CUTOVER_REPLICA=replica-"+strconv.Itoa(i)))
	}
	return gs
}

// report fetches the items report of g.
func (g *gatewayProc) itemsReport(t *testing.T, since string) diff.RouteReport {
	t.Helper()
	url := "/api/report?route=items"
	if since != "" {
		url += "&since=" + since
	}
	resp, body := do(t, newClient(t), "GET", g.adminURL(url), nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s answered %d: %s", url, resp.StatusCode, body)
	}
	var rep diff.Report
	if err := json.Unmarshal(body, &rep); err != nil || len(rep.Routes) != 1 {
		t.Fatalf("report is not one route: %v: %s", err, body)
	}
	return rep.Routes[0]
}

// comparedSum returns what the replicas compared, each by its own count.
func comparedSum(t *testing.T, gs []*gatewayProc) (sum float64, each []float64) {
	for _, g := range gs {
		n := g.metrics(t, nil)[`cutover_shadow_compared_total{route="items"}`]
		each = append(each, n)
		sum += n
	}
	return sum, each
}

// TestReplicasShareOneReport spreads traffic over three gateways on one
// Redis: every replica's report is the merged one, equal to the sum of
// what each compared, and a chain whose hops went through different
// replicas reads as one.
func TestReplicasShareOneReport(t *testing.T) {
	redis := redistest.Start(t)
	oldAddr, newAddr := priceService(t, "old", 0), priceService(t, "new", 10)
	gs := startReplicas(t, 3, replicaConfig(redis.Addr, oldAddr, newAddr, ""))
	c := newClient(t)

	const requests = 300
	for n := range requests {
		g := gs[n%len(gs)]
		resp, body := do(t, c, "GET", g.url("/items/"+strconv.Itoa(n)), nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /items/%d via replica %d answered %d: %s", n, n%3, resp.StatusCode, body)
		}
	}
	waitFor(t, "every copy compared", func() bool {
		sum, _ := comparedSum(t, gs)
		return sum == requests
	})
	sum, each := comparedSum(t, gs)
	for i, n := range each {
		if n != requests/3 {
			t.Errorf("replica %d compared %v, want %d: the load was spread evenly", i, n, requests/3)
		}
	}
	// Each replica adds its counts every few seconds; every one then
	// reads the same merged report.
	for i, g := range gs {
		var rep diff.RouteReport
		waitFor(t, "the merged report to hold every replica's counts", func() bool {
			rep = g.itemsReport(t, "")
			return float64(rep.Compared) == sum
		})
		// Every 10th price is a string on new: 30 type differences.
		if rep.Differing != requests/10 || len(rep.Fields) != 1 || rep.Fields[0].Path != "price" || rep.Fields[0].Count != requests/10 {
			t.Errorf("replica %d report: differing %d, fields %+v; want 30 on price", i, rep.Differing, rep.Fields)
		}
		if win := g.itemsReport(t, "15m"); win.Compared != rep.Compared || win.Differing != rep.Differing {
			t.Errorf("replica %d 15m window: compared %d differing %d, want %d %d", i, win.Compared, win.Differing, rep.Compared, rep.Differing)
		}
		if len(rep.Fields) != 1 || len(rep.Fields[0].Samples) == 0 {
			continue
		}
		// A sample kept by any replica is readable on every one.
		id := rep.Fields[0].Samples[0]
		for _, h := range gs {
			waitFor(t, "sample "+id+" on every replica", func() bool {
				resp, _ := do(t, c, "GET", h.adminURL("/api/samples/"+id), nil, nil)
				return resp.StatusCode == http.StatusOK
			})
		}
	}

	// One chain, two hops, two replicas: the second hop carries the
	// first's trace as its parent, as an instrumented service would.
	trace := "4bf92f3577b34da6a3ce929d0e0e4736"
	for i, hop := range []string{"00f067aa0ba902b7", "b7ad6b7169203331"} {
		hdr := map[string]string{"traceparent": "00-" + trace + "-" + hop + "-01"}
		if resp, body := do(t, c, "GET", gs[i].url("/items/7"), nil, hdr); resp.StatusCode != http.StatusOK {
			t.Fatalf("hop %d answered %d: %s", i, resp.StatusCode, body)
		}
	}
	var tree struct {
		Calls int `json:"calls"`
	}
	waitFor(t, "both hops in the chain on the third replica", func() bool {
		resp, body := do(t, c, "GET", gs[2].adminURL("/api/chains/"+trace), nil, nil)
		if resp.StatusCode != http.StatusOK {
			return false
		}
		if err := json.Unmarshal(body, &tree); err != nil {
			t.Fatalf("chain is not JSON: %v: %s", err, body)
		}
		// Each hop is a served call and its shadow copy.
		return tree.Calls == 4
	})
}

// TestReplicasHandOverTheRollout kills the replica that decides a rollout
// mid-step: another one takes the lease and continues the same step with
// its counts, and every replica ends at the promoted percent.
//
// Old and new are the same server here, so their latencies differ only
// by how the loaded test machine schedules them: the latency limit is set
// out of the way (the gate's latency rule has tests of its own in
// package rollout).
func TestReplicasHandOverTheRollout(t *testing.T) {
	redis := redistest.Start(t)
	oldAddr, newAddr := priceService(t, "old", 0), priceService(t, "new", 0)
	gs := startReplicas(t, 3, replicaConfig(redis.Addr, oldAddr, newAddr, `    rollout:
      steps: [1, 10, 50, 100]
      min_samples: 150
      min_duration: 1s
      max_diff_rate: 5%
      max_error_rate: 5%
      max_p99_ratio: 50
`))
	c := newClient(t)
	sent := 0
	live := gs
	drive := func(k int) {
		t.Helper()
		for range k {
			g := live[sent%len(live)]
			resp, body := do(t, c, "GET", g.url("/items/"+strconv.Itoa(sent)), nil, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /items/%d answered %d: %s", sent, resp.StatusCode, body)
			}
			sent++
		}
	}
	leader := func() (int, rollout.Status) {
		t.Helper()
		for i, g := range live {
			if st := g.rollout(t, "items"); st.Leading != nil && *st.Leading {
				return i, st
			}
		}
		return -1, rollout.Status{}
	}
	waitFor(t, "one replica to lead", func() bool { i, _ := leader(); return i >= 0 })

	var st rollout.Status
	for sent < 6000 {
		drive(30)
		if _, st = leader(); st.Step >= 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Step != 2 || st.State != rollout.Progressing {
		t.Fatalf("after %d requests: %s step %d, want progressing step 2", sent, st.State, st.Step)
	}
	drive(60)
	var before rollout.Status
	lead := -1
	waitFor(t, "step 2 to count pairs from the replicas", func() bool {
		lead, before = leader()
		return lead >= 0 && before.Step == 2 && before.Counts.Compared >= 30
	})
	if before.Counts.Compared >= 150 {
		t.Fatalf("step 2 already has %d pairs; the test needs it mid-step", before.Counts.Compared)
	}

	live[lead].signal(syscall.SIGKILL)
	live[lead].wait()
	live = append(append([]*gatewayProc{}, live[:lead]...), live[lead+1:]...)
	var after rollout.Status
	waitFor(t, "another replica to take the lease", func() bool {
		i, st := leader()
		after = st
		return i >= 0
	})
	if after.Step != 2 || !after.StepStarted.Equal(before.StepStarted) || after.Counts.Compared < before.Counts.Compared {
		t.Fatalf("after the leader died: step %d started %v with %d pairs; before: step 2 started %v with %d pairs",
			after.Step, after.StepStarted, after.Counts.Compared, before.StepStarted, before.Counts.Compared)
	}
	for sent < 12000 {
		drive(30)
		if _, st = leader(); st.State == rollout.Promoted || st.State == rollout.RolledBack {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.State != rollout.Promoted {
		t.Fatalf("after %d requests: %s step %d: %s", sent, st.State, st.Step, st.Reason)
	}
	for i, g := range live {
		waitFor(t, "every replica to follow the promotion", func() bool { return g.rollout(t, "items").Percent == 100 })
		if sides := driveItems(t, c, g, 20000, 20020); sides["new"] != 20 {
			t.Errorf("replica %d after promotion served %v, want new 20", i, sides)
		}
	}
	var percents []float64
	for _, ev := range live[0].rolloutEvents(t, "items") {
		if len(percents) == 0 || percents[len(percents)-1] != ev.Percent {
			percents = append(percents, ev.Percent)
		}
		if ev.To == rollout.RolledBack || ev.Step == 1 && len(percents) > 1 {
			t.Errorf("unexpected event %+v", ev)
		}
	}
	if fmt.Sprint(percents) != "[1 10 50 100]" {
		t.Errorf("percents visited %v, want [1 10 50 100] once each", percents)
	}
}

// TestReplicasRideOutRedisOutage stops Redis for 10 s under load: no
// client sees an error, the replicas say they are degraded, the records
// that do not fit the buffer are dropped and counted, and when Redis is
// back the replicas recover without a restart: every comparison counted
// during the outage reaches the merged report.
func TestReplicasRideOutRedisOutage(t *testing.T) {
	redis := redistest.Start(t)
	oldAddr, newAddr := priceService(t, "old", 0), priceService(t, "new", 0)
	gs := startReplicas(t, 3, replicaConfig(redis.Addr, oldAddr, newAddr, ""))

	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				g := gs[(w+n)%len(gs)]
				resp, _, err := tryDo(c, "GET", g.url("/items/"+strconv.Itoa(n)), nil, nil)
				sent.Add(1)
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	time.Sleep(time.Second)

	redis.Stop()
	outage := time.Now()
	for i, g := range gs {
		waitFor(t, "the replica to say it is degraded", func() bool {
			resp, body := do(t, newClient(t), "GET", g.adminURL("/readyz"), nil, nil)
			var v struct {
				Status string `json:"status"`
			}
			_ = json.Unmarshal(body, &v)
			return resp.StatusCode == http.StatusOK && v.Status == "degraded"
		})
		if up := g.metrics(t, nil)["cutover_store_up"]; up != 0 {
			t.Errorf("replica %d: cutover_store_up %v while Redis is down", i, up)
		}
	}
	time.Sleep(10*time.Second - time.Since(outage))
	duringOutage := sent.Load()
	redis.Start()

	for i, g := range gs {
		waitFor(t, "the replica to reach Redis again", func() bool {
			m := g.metrics(t, nil)
			return m["cutover_store_up"] == 1 && m["cutover_records_held"] == 0
		})
		_ = i
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed for the client", n, sent.Load())
	}
	if duringOutage < 500 {
		t.Fatalf("only %d requests by the end of the outage: the load did not run through it", duringOutage)
	}

	var dropped, compared float64
	waitFor(t, "every copy compared", func() bool {
		sum, _ := comparedSum(t, gs)
		compared = sum
		return sum == float64(sent.Load())
	})
	for _, g := range gs {
		m := g.metrics(t, nil)
		dropped += m[`cutover_records_dropped_total{reason="store_error"}`]
	}
	if dropped == 0 {
		t.Errorf("no record dropped during a 10 s outage with a 256 KiB buffer; the bound is not enforced")
	}
	// Every replica adds what it held within a flush or two.
	var rep diff.RouteReport
	waitFor(t, "the merged report to hold every pair compared", func() bool {
		rep = gs[0].itemsReport(t, "")
		return float64(rep.Compared) == compared
	})
	t.Logf("%d requests, none failed; %v records dropped and counted; %d pairs in the merged report", sent.Load(), dropped, rep.Compared)
}
