package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/loopback"
)

// reportReply is GET /api/report, as an outside client reads it.
type reportReply struct {
	GeneratedAt string        `json:"generated_at"`
	Routes      []routeReport `json:"routes"`
}

type routeReport struct {
	Route      string  `json:"route"`
	Compared   uint64  `json:"compared"`
	Differing  uint64  `json:"differing"`
	DiffRate   float64 `json:"diff_rate"`
	NoisePairs uint64  `json:"noise_pairs"`
	NoiseRate  float64 `json:"noise_rate"`
	Percent    float64 `json:"percent"`
	Cohort     string  `json:"cohort"`
	Fields     []struct {
		Path      string   `json:"path"`
		Kind      string   `json:"kind"`
		Count     uint64   `json:"count"`
		Rate      float64  `json:"rate"`
		NoiseRate float64  `json:"noise_rate"`
		Noise     bool     `json:"noise"`
		Samples   []string `json:"samples"`
	} `json:"fields"`
	Status []struct {
		Old   int    `json:"old"`
		New   int    `json:"new"`
		Count uint64 `json:"count"`
	} `json:"status"`
	Latency map[string]float64 `json:"latency"`
	Tenants []struct {
		Tenant    string `json:"tenant"`
		Compared  uint64 `json:"compared"`
		Differing uint64 `json:"differing"`
	} `json:"tenants"`
	Suggest []string `json:"suggest_ignore"`
}

func (g *gatewayProc) report(t *testing.T, query string) reportReply {
	t.Helper()
	resp, body := do(t, newClient(t), "GET", g.adminURL("/api/report"+query), nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/report answered %d: %s", resp.StatusCode, body)
	}
	var r reportReply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("/api/report is not JSON: %v: %s", err, body)
	}
	return r
}

// seenRequest is what a shadow-test upstream received.
type seenRequest struct {
	method, path, shadow, traceparent, tracestate, chainID string
}

// itemService answers GET /api/items/N with an item whose fields depend on
// N, plus a fresh timestamp and random request ID in every answer, like
// real services. rewrite makes it the new version, with known
// differences: price is off on items whose N is a multiple of 4 (value),
// and a field "v2" is added on multiples of 10 (extra).
func itemService(t *testing.T, name string, rewrite bool, seen *[]seenRequest, mu *sync.Mutex) string {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*seen = append(*seen, seenRequest{r.Method, r.URL.Path, r.Header.Get("X-Cutover-Shadow"), r.Header.Get("traceparent"), r.Header.Get("tracestate"), r.Header.Get("X-Chain-Id")})
		mu.Unlock()
		n, _ := strconv.Atoi(path.Base(r.URL.Path))
		var rid [8]byte
		_, _ = rand.Read(rid[:])
		item := map[string]any{
			"id":    n,
			"name":  "item-" + strconv.Itoa(n),
			"price": float64(n) + 0.5,
			"tags":  []string{"a", "b"},
			"meta":  map[string]any{"ts": time.Now().UTC().Format(time.RFC3339Nano), "rid": hex.EncodeToString(rid[:])},
		}
		if rewrite && n%4 == 0 {
			item["price"] = float64(n) + 0.75
		}
		if rewrite && n%10 == 0 {
			item["v2"] = true
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(hdrUpstream, name)
		_ = json.NewEncoder(w).Encode(item)
	})
	return hostPort(srv)
}

// TestShadowDiffReport drives 200 GETs through a shadowed route, half
// served by old and half by new, with a secondary old instance for noise,
// and checks the report against the differences the services were built
// with.
func TestShadowDiffReport(t *testing.T) {
	var mu sync.Mutex
	var oldSeen, newSeen, secSeen []seenRequest
	oldAddr := itemService(t, "old", false, &oldSeen, &mu)
	newAddr := itemService(t, "new", true, &newSeen, &mu)
	secAddr := itemService(t, "old-b", false, &secSeen, &mu)
	config := fmt.Sprintf(`debug_headers: true
services:
  items-v1: { targets: ["%s"] }
  items-v1-b: { targets: ["%s"] }
  items-v2: { targets: ["%s"] }
routes:
  - name: items
    match: { path_prefix: /api/items }
    old: items-v1
    new: items-v2
    tenant: [{ header: X-Org-Id }]
    gray: { tenants: [t-new] }
    shadow: { percent: 100, secondary: items-v1-b, secondary_percent: 100 }
`, oldAddr, secAddr, newAddr)
	g := startGateway(t, config)
	c := newClient(t)
	const n = 200
	chains := map[string]string{} // path -> chain ID the client got
	for i := 1; i <= n; i++ {
		tenant := "t-old"
		if i%2 == 0 {
			tenant = "t-new"
		}
		p := fmt.Sprintf("/api/items/%d", i)
		resp, body := do(t, c, "GET", g.url(p), nil, map[string]string{"X-Org-Id": tenant})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, resp.StatusCode, body)
		}
		wantSide := map[string]string{"t-old": "old", "t-new": "new"}[tenant]
		if side := resp.Header.Get("X-Cutover-Side"); side != wantSide {
			t.Fatalf("GET %s as %s served by %s, want %s", p, tenant, side, wantSide)
		}
		chains[p] = resp.Header.Get("X-Chain-Id")
	}
	for i := 1; i <= 10; i++ {
		resp, _ := do(t, c, "POST", g.url(fmt.Sprintf("/api/items/%d", i)), []byte(`{}`), map[string]string{"X-Org-Id": "t-old", "Content-Type": "application/json"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST: %d", resp.StatusCode)
		}
	}

	var rep routeReport
	waitFor(t, "200 compared pairs", func() bool {
		r := g.report(t, "?route=items")
		if len(r.Routes) != 1 {
			t.Fatalf("report has %d routes, want 1", len(r.Routes))
		}
		rep = r.Routes[0]
		return rep.Compared == n && rep.NoisePairs == n
	})

	type fk struct{ path, kind string }
	fields := map[fk]int{}
	for i, f := range rep.Fields {
		fields[fk{f.Path, f.Kind}] = i
	}
	want := []struct {
		path, kind string
		count      uint64
		noise      bool
	}{
		{"price", "value", n / 4, false},
		{"v2", "extra", n / 10, false},
		{"meta.ts", "value", n, true},
		{"meta.rid", "value", n, true},
	}
	for _, w := range want {
		i, ok := fields[fk{w.path, w.kind}]
		if !ok {
			t.Errorf("report lacks %s %s; fields %+v", w.path, w.kind, rep.Fields)
			continue
		}
		f := rep.Fields[i]
		if f.Count != w.count || f.Noise != w.noise || f.Rate != float64(w.count)/n {
			t.Errorf("%s %s: count %d rate %v noise %v, want count %d rate %v noise %v", w.path, w.kind, f.Count, f.Rate, f.Noise, w.count, float64(w.count)/n, w.noise)
		}
		if !f.Noise && len(f.Samples) == 0 {
			t.Errorf("%s %s has no sample IDs", w.path, w.kind)
		}
	}
	if len(rep.Fields) != len(want) {
		t.Errorf("report has %d fields, want %d: %+v", len(rep.Fields), len(want), rep.Fields)
	}
	// Differing: multiples of 4 or of 10 among 1..200 (50 + 20 - 10).
	if rep.Differing != 60 || rep.DiffRate != 0.3 {
		t.Errorf("differing %d, diff rate %v; want 60 and 0.3 (noise must not count)", rep.Differing, rep.DiffRate)
	}
	for _, s := range []string{"meta.ts", "meta.rid"} {
		if !strings.Contains(strings.Join(rep.Suggest, ","), s) {
			t.Errorf("suggested ignore %v lacks %s", rep.Suggest, s)
		}
	}

	// The copies: old served odd items and new got their copies, new
	// served even items and old got theirs; the secondary got every one.
	// No POST was shadowed.
	mu.Lock()
	counts := func(seen []seenRequest) (primary, shadow, posts int) {
		for _, s := range seen {
			switch {
			case s.method == "POST":
				posts++
			case s.shadow == "1":
				shadow++
			default:
				primary++
			}
		}
		return
	}
	oldPrimary, oldShadow, oldPosts := counts(oldSeen)
	newPrimary, newShadow, newPosts := counts(newSeen)
	_, secShadow, secPosts := counts(secSeen)
	for _, s := range newSeen {
		if s.shadow != "1" {
			continue
		}
		id := chains[s.path]
		if s.chainID != id || !strings.Contains(s.traceparent, id) {
			t.Errorf("shadow copy of %s: chain %q traceparent %q, want chain %s", s.path, s.chainID, s.traceparent, id)
		}
		if !strings.HasPrefix(s.tracestate, "cutover=shadow") {
			t.Errorf("shadow copy of %s: tracestate %q, want cutover=shadow first", s.path, s.tracestate)
		}
	}
	mu.Unlock()
	if oldPrimary != n/2 || oldShadow != n/2 || newPrimary != n/2 || newShadow != n/2 || secShadow != n {
		t.Errorf("old got %d primary and %d shadow, new %d and %d, secondary %d shadow; want 100/100/100/100/200",
			oldPrimary, oldShadow, newPrimary, newShadow, secShadow)
	}
	if oldPosts != 10 || newPosts != 0 || secPosts != 0 {
		t.Errorf("POSTs: old %d, new %d, secondary %d; want 10, 0, 0 (writes are not shadowed by default)", oldPosts, newPosts, secPosts)
	}
	m := g.metrics(t, nil)
	if v := m[`cutover_shadow_dropped_total{route="items",reason="method"}`]; v != 10 {
		t.Errorf("shadow drops for method = %v, want 10", v)
	}
	if v := m[`cutover_shadow_compared_total{route="items"}`]; v != n {
		t.Errorf("cutover_shadow_compared_total = %v, want %d", v, n)
	}

	// The shadow call is recorded in its chain, under the serving call.
	var tree struct {
		Calls int `json:"calls"`
		Roots []struct {
			Side     string `json:"side"`
			Shadow   bool   `json:"shadow"`
			Children []struct {
				Side   string `json:"side"`
				Shadow bool   `json:"shadow"`
			} `json:"children"`
		} `json:"roots"`
	}
	waitFor(t, "the shadow call in the chain", func() bool {
		resp, body := do(t, c, "GET", g.adminURL("/api/chains/"+chains["/api/items/3"]), nil, nil)
		return resp.StatusCode == http.StatusOK && json.Unmarshal(body, &tree) == nil && tree.Calls == 2
	})
	if len(tree.Roots) != 1 || tree.Roots[0].Side != "old" || tree.Roots[0].Shadow || len(tree.Roots[0].Children) != 1 ||
		tree.Roots[0].Children[0].Side != "new" || !tree.Roots[0].Children[0].Shadow {
		t.Errorf("chain of /api/items/3: %+v, want the old call with the shadow call to new under it", tree)
	}

	// A sample of the price difference holds both answers.
	price := rep.Fields[fields[fk{"price", "value"}]]
	var sample struct {
		ID          string `json:"id"`
		Served      string `json:"served"`
		Differences []struct {
			Path string `json:"path"`
			Kind string `json:"kind"`
		} `json:"differences"`
		Old struct {
			Side     string `json:"side"`
			Shadow   bool   `json:"shadow"`
			Response struct {
				Status int    `json:"status"`
				Body   string `json:"body"`
			} `json:"response"`
		} `json:"old"`
		New struct {
			Side     string `json:"side"`
			Shadow   bool   `json:"shadow"`
			Response struct {
				Body string `json:"body"`
			} `json:"response"`
		} `json:"new"`
	}
	waitFor(t, "the sample to be readable", func() bool {
		resp, body := do(t, c, "GET", g.adminURL("/api/samples/"+price.Samples[0]), nil, nil)
		return resp.StatusCode == http.StatusOK && json.Unmarshal(body, &sample) == nil
	})
	hasPrice := false
	for _, d := range sample.Differences {
		hasPrice = hasPrice || d.Path == "price" && d.Kind == "value"
	}
	if !hasPrice || sample.Old.Side != "old" || sample.New.Side != "new" || sample.Old.Shadow == sample.New.Shadow ||
		!strings.Contains(sample.Old.Response.Body, ".5") || !strings.Contains(sample.New.Response.Body, ".75") {
		t.Errorf("sample %s: %+v", price.Samples[0], sample)
	}
	if resp, _ := do(t, c, "GET", g.adminURL("/api/samples/00000000deadbeef"), nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown sample answered %d, want 404", resp.StatusCode)
	}
	if resp, _ := do(t, c, "GET", g.adminURL("/api/report?since=2h"), nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("since beyond the window answered %d, want 400", resp.StatusCode)
	}
	if r := g.report(t, "?route=items&since=10m"); len(r.Routes) != 1 || r.Routes[0].Compared != n {
		t.Errorf("report since=10m: %+v, want the %d pairs", r.Routes, n)
	}

	// The CLI: a table, Markdown, JSON, and the CI gate.
	code, out, errOut := runCLI(t, "report", "--admin", "http://"+g.admin)
	if code != 0 || !strings.Contains(out, "price") || !strings.Contains(out, "noise") || !strings.Contains(out, "30") {
		t.Errorf("cutover report: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "report", "--admin", "http://"+g.admin, "--format", "markdown")
	if code != 0 || !strings.Contains(out, "| ") || !strings.Contains(out, "price") {
		t.Errorf("cutover report --format markdown: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "report", "--admin", "http://"+g.admin, "--format", "json")
	var cliRep reportReply
	if code != 0 || json.Unmarshal([]byte(out), &cliRep) != nil || len(cliRep.Routes) != 1 {
		t.Errorf("cutover report --format json: exit %d\n%s", code, out)
	}
	if code, _, errOut = runCLI(t, "report", "--admin", "http://"+g.admin, "--max-diff-rate", "10%"); code != 3 || !strings.Contains(errOut, "items") {
		t.Errorf("--max-diff-rate 10%% with a 30%% diff rate: exit %d (want 3), stderr %s", code, errOut)
	}
	if code, _, errOut = runCLI(t, "report", "--admin", "http://"+g.admin, "--max-diff-rate", "0.5"); code != 0 {
		t.Errorf("--max-diff-rate 0.5 with a 30%% diff rate: exit %d (want 0), stderr %s", code, errOut)
	}
	if code, _, _ = runCLI(t, "report", "--admin", "http://"+g.admin, "--max-diff-rate", "150%"); code != 2 {
		t.Errorf("--max-diff-rate 150%%: exit %d, want 2", code)
	}

	// A reload that ignores price applies to the next pairs; the counts
	// so far stay.
	writeFileAtomic(t, g.config, configHead+config+"    diff: { ignore: [price] }\n")
	if resp, body := do(t, c, "POST", g.adminURL("/api/reload"), nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %d %s", resp.StatusCode, body)
	}
	for i := 1; i <= 20; i++ {
		do(t, c, "GET", g.url(fmt.Sprintf("/api/items/%d", 4*i)), nil, nil)
	}
	waitFor(t, "the pairs after the reload", func() bool {
		rep = g.report(t, "?route=items").Routes[0]
		return rep.Compared == n+20
	})
	for _, f := range rep.Fields {
		if f.Path == "price" && f.Count != n/4 {
			t.Errorf("price differences after ignoring it: %d, want still %d", f.Count, n/4)
		}
	}
}

// TestShadowSideDownOrSlow: a shadow side that refuses connections or
// answers after 2 s changes nothing the client gets; the lost copies are
// counted.
func TestShadowSideDownOrSlow(t *testing.T) {
	var mu sync.Mutex
	var seen []seenRequest
	oldAddr := itemService(t, "old", false, &seen, &mu)
	release := make(chan struct{})
	slow := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-release:
		}
		w.WriteHeader(http.StatusOK)
	})
	t.Cleanup(func() { close(release) })
	g := startGateway(t, fmt.Sprintf(`
services:
  items-v1: { targets: ["%s"] }
  dead: { targets: ["%s"] }
  slow: { targets: ["%s"] }
routes:
  - name: to-dead
    match: { path_prefix: /api/items }
    old: items-v1
    new: dead
    shadow: { percent: 100 }
  - name: to-slow
    match: { path_prefix: /slow/api/items }
    old: items-v1
    new: slow
    shadow: { percent: 100, timeout: 300ms, concurrency: 2, queue: 4 }
`, oldAddr, loopback.DeadAddr(t), hostPort(slow)))
	c := newClient(t)
	for _, prefix := range []string{"", "/slow"} {
		for i := 1; i <= 50; i++ {
			resp, body := do(t, c, "GET", g.url(fmt.Sprintf("%s/api/items/%d", prefix, i)), nil, nil)
			var item map[string]any
			if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &item) != nil || item["id"] != float64(i) {
				t.Fatalf("GET %s/api/items/%d: %d %s", prefix, i, resp.StatusCode, body)
			}
		}
	}
	// A call made by a service answering a shadow copy carries
	// cutover=shadow in its tracestate: it is served, not copied again.
	resp, _ := do(t, c, "GET", g.url("/api/items/1"), nil, map[string]string{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"tracestate":  "cutover=shadow,vendor=x",
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a shadow chain's call: %d", resp.StatusCode)
	}
	waitFor(t, "the lost copies to be counted", func() bool {
		m := g.metrics(t, nil)
		dead := m[`cutover_shadow_dropped_total{route="to-dead",reason="error"}`]
		slowLost := m[`cutover_shadow_dropped_total{route="to-slow",reason="timeout"}`] + m[`cutover_shadow_dropped_total{route="to-slow",reason="queue_full"}`]
		return dead == 50 && slowLost == 50
	})
	m := g.metrics(t, nil)
	if v := m[`cutover_shadow_dropped_total{route="to-dead",reason="shadow_chain"}`]; v != 1 {
		t.Errorf("calls of a shadow chain not copied: %v, want 1", v)
	}
	if m[`cutover_shadow_dropped_total{route="to-slow",reason="queue_full"}`] == 0 {
		t.Errorf("a queue of 4 behind 2 slow calls dropped nothing: %v", m)
	}
	if r := g.report(t, "?route=to-dead"); r.Routes[0].Compared != 0 {
		t.Errorf("pairs compared against a dead side: %d", r.Routes[0].Compared)
	}
}
