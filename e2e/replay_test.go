package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/loopback"
)

// orderService answers GET /orders/{id} with an order whose fields depend
// on the ID, plus a timestamp and a random request ID that differ on
// every answer (the noise a recording always has). With rewrite, the
// orders whose ID is a multiple of 5 have another status and those whose
// ID is a multiple of 7 another total: known differences at known shares.
// Every request it gets is kept, with when it arrived.
type orderService struct {
	mu   sync.Mutex
	seen []orderCall
	addr string
}

type orderCall struct {
	method, path string
	header       http.Header
	at           time.Time
}

func startOrderService(t *testing.T, rewrite bool) *orderService {
	s := &orderService{}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, orderCall{r.Method, r.URL.Path, r.Header.Clone(), time.Now()})
		s.mu.Unlock()
		id, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/orders/"))
		status, total := "open", id*10
		if rewrite && id%5 == 0 {
			status = "OPEN"
		}
		if rewrite && id%7 == 0 {
			total++
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%d,"status":%q,"total":%d,"ts":%d,"request_id":"%016x","method":%q}`,
			id, status, total, time.Now().UnixNano(), rand.Uint64(), r.Method)
	})
	s.addr = hostPort(srv)
	return s
}

func (s *orderService) calls() []orderCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]orderCall(nil), s.seen...)
}

// replayReport is the JSON report of cutover replay.
type replayReport struct {
	reportReply
	Replay struct {
		Total         int64             `json:"total"`
		Sent          uint64            `json:"sent"`
		Skipped       map[string]uint64 `json:"skipped"`
		Errors        uint64            `json:"errors"`
		ErrorKinds    map[string]uint64 `json:"error_kinds"`
		Rate          float64           `json:"rate"`
		NoiseMeasured bool              `json:"noise_measured"`
		Latency       struct {
			P50 float64 `json:"p50_ms"`
			P99 float64 `json:"p99_ms"`
		} `json:"latency"`
	} `json:"replay"`
}

func parseReplay(t *testing.T, stdout, stderr string) replayReport {
	t.Helper()
	var rep replayReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("replay output is not its JSON report: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	return rep
}

// recordOrders starts a gateway in front of old with recording on, sends
// GET /orders/1..gets and posts POSTs through it, and waits until all are
// recorded.
func recordOrders(t *testing.T, old *orderService, gets, posts int) (*gatewayProc, string) {
	t.Helper()
	dir := t.TempDir()
	config := fmt.Sprintf(`store: { path: %q }
services:
  orders-v1: { targets: [%q] }
routes:
  - name: orders
    match: { path_prefix: /orders }
    upstream: orders-v1
    diff: { ignore: [method] }
`, filepath.Join(dir, "cutover.db"), old.addr)
	g := startGateway(t, config)
	c := newClient(t)
	for i := 1; i <= gets; i++ {
		if r, b := do(t, c, "GET", g.url(fmt.Sprintf("/orders/%d", i)), nil, nil); r.StatusCode != http.StatusOK {
			t.Fatalf("GET /orders/%d: %d %s", i, r.StatusCode, b)
		}
	}
	for i := 1; i <= posts; i++ {
		do(t, c, "POST", g.url(fmt.Sprintf("/orders/%d", 1000+i)), []byte(`{"qty":1}`), map[string]string{"Content-Type": "application/json"})
	}
	waitRecords(t, g, gets+posts)
	return g, g.config
}

// waitRecords waits until the gateway has n serving calls recorded.
func waitRecords(t *testing.T, g *gatewayProc, n int) {
	t.Helper()
	c := newClient(t)
	waitFor(t, fmt.Sprintf("%d recorded calls", n), func() bool {
		return countServing(t, c, g) == n
	})
}

func countServing(t *testing.T, c *http.Client, g *gatewayProc) int {
	var p struct {
		Records []json.RawMessage `json:"records"`
	}
	_, b := do(t, c, "GET", g.adminURL("/api/records?shadow=false&limit=1000"), nil, nil)
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("/api/records: %v: %s", err, b)
	}
	return len(p.Records)
}

func fieldOf(rep *routeReport, path string) (count uint64, noise, found bool) {
	for _, f := range rep.Fields {
		if f.Path == path {
			return f.Count, f.Noise, true
		}
	}
	return 0, false, false
}

// checkOrdersVerdict checks the report of 40 recorded GETs replayed
// against the rewrite with an old instance as baseline.
func checkOrdersVerdict(t *testing.T, rep replayReport, where string) {
	t.Helper()
	if rep.Replay.Sent != 40 || rep.Replay.Skipped["method"] != 5 || rep.Replay.Errors != 0 {
		t.Errorf("%s: sent %d, skipped %v, errors %d; want 40 sent, 5 writes skipped, no error", where, rep.Replay.Sent, rep.Replay.Skipped, rep.Replay.Errors)
	}
	if len(rep.Routes) != 1 || rep.Routes[0].Route != "orders" {
		t.Fatalf("%s: routes %+v, want the one recorded route orders", where, rep.Routes)
	}
	r := &rep.Routes[0]
	// IDs 1..40: 8 multiples of 5, 5 of 7, 35 is both.
	if r.Compared != 40 || r.Differing != 12 || math.Abs(r.DiffRate-0.3) > 1e-9 {
		t.Errorf("%s: compared %d, differing %d (rate %v); want 40, 12 (0.3)", where, r.Compared, r.Differing, r.DiffRate)
	}
	for _, want := range []struct {
		path  string
		count uint64
		noise bool
	}{{"status", 8, false}, {"total", 5, false}, {"ts", 40, true}, {"request_id", 40, true}} {
		count, noise, found := fieldOf(r, want.path)
		if !found || count != want.count || noise != want.noise {
			t.Errorf("%s: field %s: found %v, count %d, noise %v; want count %d, noise %v", where, want.path, found, count, noise, want.count, want.noise)
		}
	}
	if !rep.Replay.NoiseMeasured || r.NoisePairs != 40 {
		t.Errorf("%s: noise measured %v over %d pairs, want 40 baseline pairs", where, rep.Replay.NoiseMeasured, r.NoisePairs)
	}
}

func TestReplayVerdictMarkingAndExport(t *testing.T) {
	old := startOrderService(t, false)
	g, cfgPath := recordOrders(t, old, 40, 5)
	candidate := startOrderService(t, true)
	baseline := startOrderService(t, false)
	out := filepath.Join(t.TempDir(), "calls.jsonl")

	code, stdout, stderr := runCLI(t, "replay", "--admin", g.adminURL(""), "--to", "http://"+candidate.addr,
		"--baseline", "http://"+baseline.addr, "-c", cfgPath, "--format", "json", "--out", out)
	if code != 0 {
		t.Fatalf("replay exited %d: %s", code, stderr)
	}
	rep := parseReplay(t, stdout, stderr)
	checkOrdersVerdict(t, rep, "replay from the admin API")

	// Every call reached the candidate marked, in its recorded chain; no
	// write did.
	calls := candidate.calls()
	if len(calls) != 40 {
		t.Fatalf("the candidate got %d calls, want the 40 recorded GETs", len(calls))
	}
	var recs struct {
		Records []struct {
			URI     string `json:"uri"`
			ChainID string `json:"chain_id"`
			SpanID  string `json:"span_id"`
		} `json:"records"`
	}
	_, b := do(t, newClient(t), "GET", g.adminURL("/api/records?limit=1000"), nil, nil)
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	chainOf := map[string][2]string{}
	for _, r := range recs.Records {
		chainOf[r.URI] = [2]string{r.ChainID, r.SpanID}
	}
	for _, c := range calls {
		if c.method != "GET" {
			t.Errorf("the candidate got a %s %s without --allow-writes", c.method, c.path)
		}
		want := chainOf[c.path]
		tp := strings.Split(c.header.Get("Traceparent"), "-")
		switch {
		case c.header.Get("X-Cutover-Replay") != "1":
			t.Errorf("%s: X-Cutover-Replay %q, want 1", c.path, c.header.Get("X-Cutover-Replay"))
		case !strings.HasPrefix(c.header.Get("Tracestate"), "cutover=replay"):
			t.Errorf("%s: tracestate %q, want cutover=replay first", c.path, c.header.Get("Tracestate"))
		case c.header.Get("X-Chain-Id") != want[0] || len(tp) != 4 || tp[1] != want[0] || tp[2] == want[1]:
			t.Errorf("%s: chain header %q, traceparent %q; want the recorded chain %s with a new span", c.path, c.header.Get("X-Chain-Id"), c.header.Get("Traceparent"), want[0])
		}
	}

	// --chain replays the calls of one chain.
	code, stdout, stderr = runCLI(t, "replay", "--admin", g.adminURL(""), "--chain", chainOf["/orders/5"][0], "--to", "http://"+candidate.addr, "--format", "json")
	if rep := parseReplay(t, stdout, stderr); code != 0 || rep.Replay.Sent != 1 || len(rep.Routes) != 1 || rep.Routes[0].Differing != 1 {
		t.Errorf("--chain of /orders/5: exit %d, replay %+v; want the one call sent and differing\n%s", code, rep.Replay, stderr)
	}

	// --out lists every call.
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, skipped, differing := 0, 0, 0
	for sc := bufio.NewScanner(f); sc.Scan(); lines++ {
		var o struct {
			ID             string   `json:"id"`
			RecordedStatus int      `json:"recorded_status"`
			Status         int      `json:"status"`
			Skipped        string   `json:"skipped"`
			Diffs          []string `json:"diffs"`
		}
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil || o.ID == "" {
			t.Fatalf("--out line %q: %v, want an outcome with a record ID", sc.Text(), err)
		}
		if o.Skipped != "" {
			skipped++
		}
		for _, p := range o.Diffs {
			if p == "status" || p == "total" {
				differing++
				break
			}
		}
	}
	if lines != 45 || skipped != 5 || differing != 12 {
		t.Errorf("--out: %d lines, %d skipped, %d with a real difference; want 45, 5, 12", lines, skipped, differing)
	}

	// Export to HAR, replay from the HAR: the same verdict.
	har := filepath.Join(t.TempDir(), "orders.har")
	if code, _, stderr := runCLI(t, "export", "--admin", g.adminURL(""), "-o", har); code != 0 {
		t.Fatalf("export exited %d: %s", code, stderr)
	}
	code, stdout, stderr = runCLI(t, "replay", "--from", har, "--to", "http://"+candidate.addr,
		"--baseline", "http://"+baseline.addr, "-c", cfgPath, "--format", "json")
	if code != 0 {
		t.Fatalf("replay --from exited %d: %s", code, stderr)
	}
	checkOrdersVerdict(t, parseReplay(t, stdout, stderr), "replay from the exported HAR")

	// A CI gate: above --max-diff-rate, exit 3 after the report.
	code, stdout, stderr = runCLI(t, "replay", "--from", har, "--to", "http://"+candidate.addr,
		"--baseline", "http://"+baseline.addr, "-c", cfgPath, "--max-diff-rate", "10%")
	if code != 3 || !strings.Contains(stdout, "orders") || !strings.Contains(stderr, "above 10%") {
		t.Errorf("--max-diff-rate 10%% with a 30%% diff rate: exit %d (want 3)\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	// Without a baseline the report says noise was not measured.
	code, stdout, _ = runCLI(t, "replay", "--from", har, "--to", "http://"+candidate.addr, "--limit", "3")
	if code != 0 || !strings.Contains(stdout, "noise not measured") {
		t.Errorf("replay without --baseline: exit %d, want 0 and a report saying noise was not measured:\n%s", code, stdout)
	}
}

func TestReplayThroughGatewayIsNotRecorded(t *testing.T) {
	old := startOrderService(t, false)
	g, _ := recordOrders(t, old, 10, 0)
	code, stdout, stderr := runCLI(t, "replay", "--admin", g.adminURL(""), "--to", g.url(""), "--format", "json")
	if code != 0 {
		t.Fatalf("replay through the gateway exited %d: %s", code, stderr)
	}
	if rep := parseReplay(t, stdout, stderr); rep.Replay.Sent != 10 || rep.Replay.Errors != 0 {
		t.Fatalf("replay: sent %d, errors %d; want 10 answered", rep.Replay.Sent, rep.Replay.Errors)
	}
	c := newClient(t)
	waitFor(t, "cutover_replay_received_total{route=\"orders\"} 10", func() bool {
		_, b := do(t, c, "GET", g.adminURL("/metrics"), nil, nil)
		return strings.Contains(string(b), `cutover_replay_received_total{route="orders"} 10`)
	})
	// One more production call: once it is recorded, the replayed ones
	// would have been too, had they been.
	do(t, c, "GET", g.url("/orders/99"), nil, nil)
	waitFor(t, "the production call recorded", func() bool {
		var p struct {
			Records []struct {
				URI string `json:"uri"`
			} `json:"records"`
		}
		_, b := do(t, c, "GET", g.adminURL("/api/records?limit=1"), nil, nil)
		return json.Unmarshal(b, &p) == nil && len(p.Records) == 1 && p.Records[0].URI == "/orders/99"
	})
	if n := countServing(t, c, g); n != 11 {
		t.Errorf("%d recorded calls after replaying 10 through the gateway and one production call; want 11: a replayed call was recorded", n)
	}
}

func TestReplaySpeedKeepsSpacing(t *testing.T) {
	old := startOrderService(t, false)
	dir := t.TempDir()
	g := startGateway(t, fmt.Sprintf(`store: { path: %q }
services: { orders-v1: { targets: [%q] } }
routes: [ { name: orders, upstream: orders-v1 } ]
`, filepath.Join(dir, "cutover.db"), old.addr))
	c := newClient(t)
	// The spacing to keep: uneven gaps, as traffic has, over about 2 s so
	// that 10% of the replayed span (1 s) is far above a busy machine's
	// scheduling delays.
	gaps := []time.Duration{0, 300 * time.Millisecond, 100 * time.Millisecond, 600 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond}
	for i, gap := range gaps {
		time.Sleep(gap)
		do(t, c, "GET", g.url(fmt.Sprintf("/orders/%d", i+1)), nil, nil)
	}
	waitRecords(t, g, len(gaps))
	var recs struct {
		Records []struct {
			URI   string `json:"uri"`
			Start string `json:"start"`
		} `json:"records"`
	}
	_, b := do(t, c, "GET", g.adminURL("/api/records"), nil, nil)
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	recorded := map[string]time.Time{}
	for _, r := range recs.Records {
		at, err := time.Parse(time.RFC3339Nano, r.Start)
		if err != nil {
			t.Fatal(err)
		}
		recorded[r.URI] = at
	}
	target := startOrderService(t, false)
	const speed = 2.0
	if code, _, stderr := runCLI(t, "replay", "--admin", g.adminURL(""), "--to", "http://"+target.addr, "--speed", "2"); code != 0 {
		t.Fatalf("replay --speed exited %d: %s", code, stderr)
	}
	calls := target.calls()
	if len(calls) != len(gaps) {
		t.Fatalf("the target got %d calls, want %d", len(calls), len(gaps))
	}
	first, last := calls[0], calls[len(calls)-1]
	wantSpan := recorded[last.path].Sub(recorded[first.path]).Seconds() / speed
	gotSpan := last.at.Sub(first.at).Seconds()
	if ratio := gotSpan / wantSpan; ratio < 0.9 || ratio > 1.1 {
		t.Errorf("--speed 2: the calls arrived over %.3fs where the recorded spacing halved is %.3fs (ratio %.3f, want 0.9 to 1.1)", gotSpan, wantSpan, ratio)
	}
	for i := 1; i < len(calls); i++ {
		want := recorded[calls[i].path].Sub(recorded[first.path]).Seconds() / speed
		got := calls[i].at.Sub(first.at).Seconds()
		if math.Abs(got-want) > 0.1*wantSpan {
			t.Errorf("--speed 2: call %s arrived %.3fs after the first, want %.3fs (within 10%% of the %.3fs span)", calls[i].path, got, want, wantSpan)
		}
	}
}

func TestReplayStoreFileAndBadInput(t *testing.T) {
	old := startOrderService(t, false)
	g, cfgPath := recordOrders(t, old, 6, 0)
	var storePath string
	{
		data, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "store: { path: "); ok {
				storePath, _ = strconv.Unquote(strings.TrimSuffix(rest, " }"))
			}
		}
	}
	target := startOrderService(t, false)

	// The gateway holds the store: the error names its admin address.
	code, _, stderr := runCLI(t, "replay", "--store", storePath, "--to", "http://"+target.addr)
	if code != 1 || !strings.Contains(stderr, g.admin) {
		t.Errorf("replay --store while the gateway runs: exit %d, want 1 and an error naming admin %s:\n%s", code, g.admin, stderr)
	}
	// An unreachable target: counted per call, exit 1 as nothing could be sent.
	code, stdout, stderr := runCLI(t, "replay", "--admin", g.adminURL(""), "--to", "http://"+loopback.DeadAddr(t), "--format", "json")
	if rep := parseReplay(t, stdout, stderr); code != 1 || rep.Replay.Errors != 6 || rep.Replay.Sent != 6 {
		t.Errorf("replay to a dead target: exit %d, %d errors of %d sent; want exit 1, 6 of 6\n%s", code, rep.Replay.Errors, rep.Replay.Sent, stderr)
	}

	g.signal(syscall.SIGTERM)
	if code := g.wait(); code != 0 {
		t.Fatalf("gateway exited %d", code)
	}
	code, stdout, stderr = runCLI(t, "replay", "--store", storePath, "--to", "http://"+target.addr, "--format", "json")
	if rep := parseReplay(t, stdout, stderr); code != 0 || rep.Replay.Sent != 6 || len(rep.Routes) != 1 || rep.Routes[0].Compared != 6 {
		t.Errorf("replay --store of a stopped gateway's file: exit %d, report %+v; want 6 calls compared\n%s", code, rep, stderr)
	}

	// Bad HAR files: a clear error naming the first bad entry.
	dir := t.TempDir()
	for _, tc := range []struct{ name, content, want string }{
		{"not-json.har", "this is not json", "not a HAR 1.2 file"},
		{"old.har", `{"log":{"version":"1.1","entries":[]}}`, `"1.1"`},
		{"bad-entry.har", `{"log":{"version":"1.2","entries":[
			{"startedDateTime":"2026-01-02T03:04:05Z","time":1,"request":{"method":"GET","url":"http://x/a","headers":[]},"response":{"status":200,"headers":[],"content":{"text":"{}"}}},
			{"startedDateTime":"2026-01-02T03:04:06Z","time":1,"request":{"method":"GET","headers":[]},"response":{"status":200,"headers":[],"content":{"text":"{}"}}}]}}`, "entry 1"},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI(t, "replay", "--from", p, "--to", "http://"+target.addr)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("replay --from %s: exit %d, want 1 and an error with %q:\n%s", tc.name, code, tc.want, stderr)
		}
	}
	// A browser's HAR replays too: entries without _cutover take the
	// route the config's matcher gives them.
	browser := filepath.Join(dir, "browser.har")
	if err := os.WriteFile(browser, []byte(`{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},"pages":[],"entries":[
		{"startedDateTime":"2026-01-02T03:04:05.000Z","time":3.2,"request":{"method":"GET","url":"http://shop.example/orders/3","httpVersion":"HTTP/1.1","headers":[{"name":":authority","value":"shop.example"},{"name":"accept","value":"application/json"}],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0},
		 "response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[{"name":"content-type","value":"application/json"}],"cookies":[],"content":{"size":20,"mimeType":"application/json","text":"{\"id\":3,\"status\":\"open\",\"total\":30}"},"redirectURL":"","headersSize":-1,"bodySize":-1},"cache":{},"timings":{"send":0,"wait":3,"receive":0.2}},
		{"startedDateTime":"2026-01-02T03:04:06.000Z","time":1,"request":{"method":"GET","url":"http://shop.example/other","headers":[]},"response":{"status":200,"headers":[],"content":{"text":"x"}},"cache":{},"timings":{"send":0,"wait":1,"receive":0}}]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "replay", "--from", browser, "--to", "http://"+target.addr, "-c", cfgPath, "--format", "json")
	rep := parseReplay(t, stdout, stderr)
	routes := map[string]uint64{}
	for _, r := range rep.Routes {
		routes[r.Route] = r.Compared
	}
	if code != 0 || routes["orders"] != 1 || routes["(none)"] != 1 {
		t.Errorf("a browser's HAR: exit %d, compared by route %v; want orders 1 and (none) 1\n%s", code, routes, stderr)
	}
}

func TestReplayInterruptPrintsWhatWasDone(t *testing.T) {
	old := startOrderService(t, false)
	g, _ := recordOrders(t, old, 20, 0)
	target := startOrderService(t, false)
	cmd := exec.Command(binary, "replay", "--admin", g.adminURL(""), "--to", "http://"+target.addr, "--rate", "4", "--format", "json")
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, "the target to get 2 replayed calls", func() bool { return len(target.calls()) >= 2 })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("replay after Ctrl-C: %v, want exit 130\n%s", err, errb.String())
	}
	var rep struct {
		Routes []struct {
			Compared uint64 `json:"compared"`
		} `json:"routes"`
		Replay struct {
			Total       int    `json:"total"`
			Sent        uint64 `json:"sent"`
			Interrupted bool   `json:"interrupted"`
		} `json:"replay"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("no report after Ctrl-C: %v\n%s", err, out.String())
	}
	sent := uint64(len(target.calls()))
	if !rep.Replay.Interrupted || rep.Replay.Total != 20 || rep.Replay.Sent != sent || sent >= 20 || len(rep.Routes) != 1 || rep.Routes[0].Compared != sent {
		t.Errorf("report after Ctrl-C: %+v; want interrupted, 20 selected, and the %d calls the target got sent and compared", rep, sent)
	}
}

func TestReplayThroughGatewayIsNotShadowed(t *testing.T) {
	old := startOrderService(t, false)
	rewrite := startOrderService(t, true)
	dir := t.TempDir()
	g := startGateway(t, fmt.Sprintf(`store: { path: %q }
services:
  orders-v1: { targets: [%q] }
  orders-v2: { targets: [%q] }
routes:
  - name: orders
    old: orders-v1
    new: orders-v2
    shadow: { percent: 100 }
`, filepath.Join(dir, "cutover.db"), old.addr, rewrite.addr))
	c := newClient(t)
	for i := 1; i <= 5; i++ {
		do(t, c, "GET", g.url(fmt.Sprintf("/orders/%d", i)), nil, nil)
	}
	waitFor(t, "5 shadow copies at orders-v2", func() bool { return len(rewrite.calls()) == 5 })
	waitRecords(t, g, 5)
	code, _, stderr := runCLI(t, "replay", "--admin", g.adminURL(""), "--to", g.url(""))
	if code != 0 {
		t.Fatalf("replay through the gateway exited %d: %s", code, stderr)
	}
	// One production call after the replay: once its copy has reached
	// orders-v2, copies of the replayed calls would have too, had any been
	// made.
	do(t, c, "GET", g.url("/orders/99"), nil, nil)
	waitFor(t, "the production call's shadow copy", func() bool {
		calls := rewrite.calls()
		return len(calls) > 0 && calls[len(calls)-1].path == "/orders/99"
	})
	if n := len(rewrite.calls()); n != 6 {
		t.Errorf("orders-v2 got %d shadow copies, want 6: the 5 recorded calls and the one after; a replayed call was shadowed", n)
	}
}
