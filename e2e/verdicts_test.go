package e2e

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cutover/cutover/rollout"
)

// verdictReport is one route of GET /api/report with the verdict fields:
// examples, noise evidence, likely noise, status samples, the tenants'
// rest.
type verdictReport struct {
	Route      string  `json:"route"`
	Compared   uint64  `json:"compared"`
	Differing  uint64  `json:"differing"`
	DiffRate   float64 `json:"diff_rate"`
	NoisePairs uint64  `json:"noise_pairs"`
	Fields     []struct {
		Path     string `json:"path"`
		Kind     string `json:"kind"`
		Count    uint64 `json:"count"`
		Noise    bool   `json:"noise"`
		Examples []struct {
			Old    string `json:"old"`
			New    string `json:"new"`
			Sample string `json:"sample"`
		} `json:"examples"`
		Why *struct {
			Rate       float64 `json:"rate"`
			NoiseRate  float64 `json:"noise_rate"`
			NoisePairs uint64  `json:"noise_pairs"`
			Relative   float64 `json:"relative"`
			Reason     string  `json:"reason"`
		} `json:"why"`
		LikelyNoise  bool   `json:"likely_noise"`
		LikelyReason string `json:"likely_noise_reason"`
		Suggest      string `json:"suggest"`
	} `json:"fields"`
	Status []struct {
		Old     int      `json:"old"`
		New     int      `json:"new"`
		Count   uint64   `json:"count"`
		Samples []string `json:"samples"`
	} `json:"status"`
	Tenants []struct {
		Tenant    string `json:"tenant"`
		Compared  uint64 `json:"compared"`
		Differing uint64 `json:"differing"`
	} `json:"tenants"`
	TenantsRest *struct {
		Compared  uint64 `json:"compared"`
		Differing uint64 `json:"differing"`
	} `json:"tenants_rest"`
}

func (g *gatewayProc) verdict(t *testing.T, route string) verdictReport {
	t.Helper()
	resp, body := do(t, newClient(t), "GET", g.adminURL("/api/report?route="+route), nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/report answered %d: %s", resp.StatusCode, body)
	}
	var r struct {
		Routes []verdictReport `json:"routes"`
	}
	if err := json.Unmarshal(body, &r); err != nil || len(r.Routes) != 1 {
		t.Fatalf("/api/report: %v: %s", err, body)
	}
	return r.Routes[0]
}

// waitCompared waits until the route compared n pairs (and, with a
// secondary, noise old/secondary pairs).
func (g *gatewayProc) waitCompared(t *testing.T, route string, n, noise uint64) verdictReport {
	t.Helper()
	var r verdictReport
	waitFor(t, fmt.Sprintf("%d compared pairs and %d noise pairs on %s", n, noise, route), func() bool {
		r = g.verdict(t, route)
		return r.Compared >= n && r.NoisePairs >= noise
	})
	return r
}

// accountService answers GET /accounts/N with an account document. With
// failEvery > 0 it is the new version that answers 503 with an error
// document to every failEvery-th account; with badTenant set, it gives
// that tenant's accounts another tier. Every answer carries a fresh
// request ID, as real services do.
func accountService(t *testing.T, failEvery int, badTenant string) string {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(path.Base(r.URL.Path))
		w.Header().Set("Content-Type", "application/json")
		if failEvery > 0 && n%failEvery == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "backend unavailable", "retryAfter": 5})
			return
		}
		tier := "gold"
		if badTenant != "" && r.Header.Get("X-Org-Id") == badTenant {
			tier = "enterprise"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": n, "tier": tier, "balance": float64(n) + 0.25, "createdAt": "2024-01-02T03:04:05Z",
			"owner": map[string]any{"name": "Ada", "email": "ada@example.com"}, "requestId": rand.Text(),
		})
	})
	return hostPort(srv)
}

// accountsConfig is the accounts route over old and new, tenants from
// X-Org-Id, with the route's extra keys; secondaryAddr, when set, is the
// service accounts-v1b.
func accountsConfig(oldAddr, newAddr, route, secondaryAddr string) string {
	extra := ""
	if secondaryAddr != "" {
		extra = fmt.Sprintf("  accounts-v1b: { targets: [%q] }\n", secondaryAddr)
	}
	return fmt.Sprintf(`debug_headers: true
services:
  accounts-v1: { targets: ["%s"] }
  accounts-v2: { targets: ["%s"] }
%sroutes:
  - name: accounts
    match: { path_prefix: /accounts }
    old: accounts-v1
    new: accounts-v2
    tenant:
      - header: X-Org-Id
%s`, oldAddr, newAddr, extra, route)
}

// getAccounts sends GET /accounts/N for N in [from, to), as tenant
// "t<N mod 5>", whatever the answer.
func getAccounts(t *testing.T, c *http.Client, g *gatewayProc, from, to int) {
	t.Helper()
	for n := from; n < to; n++ {
		do(t, c, "GET", g.url("/accounts/"+strconv.Itoa(n)), nil, map[string]string{"X-Org-Id": "t" + strconv.Itoa(n%5)})
	}
}

// TestVerdictStatusFirst: new answers 503 to every fifth account. The
// report has exactly one status entry at that share with a sample and no
// body field from those pairs, and the rollout rolls back naming the
// status.
func TestVerdictStatusFirst(t *testing.T) {
	g := startGateway(t, accountsConfig(accountService(t, 0, ""), accountService(t, 5, ""), `    shadow: { percent: 100 }
    diff:
      ignore: [requestId]
    rollout:
      min_samples: 200
      min_duration: 1s
      max_diff_rate: 1%
      max_p99_ratio: 50
`, ""))
	c := newClient(t)
	sent := 0
	st := g.rollout(t, "accounts")
	for sent < 1000 && st.State != rollout.RolledBack {
		getAccounts(t, c, g, sent, sent+25)
		sent += 25
		g.waitCompared(t, "accounts", uint64(sent), 0)
		waitFor(t, "the controller to read the step", func() bool {
			st = g.rollout(t, "accounts")
			return st.Counts.Compared >= uint64(sent) || st.State == rollout.RolledBack
		})
		time.Sleep(600 * time.Millisecond) // the controller decides twice a second
		st = g.rollout(t, "accounts")
	}
	if st.State != rollout.RolledBack {
		t.Fatalf("after %d requests the rollout is %s: %s", sent, st.State, st.Reason)
	}
	if !strings.Contains(st.Reason, "status 200→503 ×") {
		t.Errorf("rollback reason %q does not name the status", st.Reason)
	}
	for _, body := range []string{"balance", "owner", "createdAt", "error"} {
		if strings.Contains(st.Reason, body) {
			t.Errorf("rollback reason %q names a body field %q", st.Reason, body)
		}
	}

	r := g.waitCompared(t, "accounts", uint64(sent), 0)
	if r.Compared != uint64(sent) {
		t.Fatalf("compared %d, sent %d", r.Compared, sent)
	}
	if len(r.Status) != 1 || r.Status[0].Old != 200 || r.Status[0].New != 503 || r.Status[0].Count != uint64(sent/5) || len(r.Status[0].Samples) == 0 {
		t.Fatalf("status %+v, want one 200→503 entry of %d with a sample", r.Status, sent/5)
	}
	if r.Differing != uint64(sent/5) {
		t.Errorf("differing %d, want %d", r.Differing, sent/5)
	}
	for _, f := range r.Fields {
		if f.Kind != "status" {
			t.Errorf("body field %s %s ×%d listed from pairs whose statuses differ", f.Path, f.Kind, f.Count)
		}
	}
	code, out, errOut := runCLI(t, "report", "--admin", g.adminURL(""), "--route", "accounts")
	t.Logf("rolled back after %d requests: %s", sent, st.Reason)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("status 200→503 ×%d (sample ", sent/5)) {
		t.Errorf("cutover report: exit %d\n%s%s", code, out, errOut)
	}
}

// TestVerdictTenantBug: a bug confined to tenant t3, on a route whose
// answers all carry a request ID that a secondary measures as noise.
// t3 heads the tenants with every pair differing, no other tenant is
// listed with a differing pair, the counts add up to the route's, and the
// path shows what changed.
func TestVerdictTenantBug(t *testing.T) {
	g := startGateway(t, accountsConfig(accountService(t, 0, ""), accountService(t, 0, "t3"),
		`    shadow: { percent: 100, secondary: accounts-v1b, secondary_percent: 100 }
`, accountService(t, 0, "")))
	c := newClient(t)
	const sent = 200
	getAccounts(t, c, g, 0, sent)
	r := g.waitCompared(t, "accounts", sent, sent)
	if r.Compared != sent || r.Differing != sent/5 {
		t.Fatalf("compared %d differing %d, want %d and %d", r.Compared, r.Differing, sent, sent/5)
	}
	if len(r.Tenants) == 0 || r.Tenants[0].Tenant != "t3" || r.Tenants[0].Differing != sent/5 || r.Tenants[0].Compared != sent/5 {
		t.Fatalf("tenants %+v, want t3 first with %d of %d differing", r.Tenants, sent/5, sent/5)
	}
	var compared, differing uint64
	for _, tc := range r.Tenants {
		compared += tc.Compared
		differing += tc.Differing
		if tc.Tenant != "t3" && tc.Differing != 0 {
			t.Errorf("tenant %+v listed with differing pairs", tc)
		}
	}
	if r.TenantsRest != nil {
		compared += r.TenantsRest.Compared
		differing += r.TenantsRest.Differing
	}
	if compared != r.Compared || differing != r.Differing {
		t.Errorf("tenants add up to %d/%d, the route counts %d/%d", differing, compared, r.Differing, r.Compared)
	}
	var sawTier, sawNoise bool
	for _, f := range r.Fields {
		switch f.Path {
		case "tier":
			sawTier = !f.Noise && f.Count == sent/5 && len(f.Examples) == 1 &&
				f.Examples[0].Old == "gold" && f.Examples[0].New == "enterprise" && f.Examples[0].Sample != ""
		case "requestId":
			sawNoise = f.Noise && f.Why != nil && f.Why.NoisePairs >= sent && f.Why.Relative == 0.2 &&
				strings.Contains(f.Why.Reason, "old and secondary in 100%")
		}
	}
	if !sawTier || !sawNoise {
		t.Errorf("fields %+v: want tier gold → enterprise with a sample, requestId noise with its evidence", r.Fields)
	}
	code, out, errOut := runCLI(t, "report", "--admin", g.adminURL(""), "--route", "accounts")
	for _, want := range []string{"tier: gold → enterprise (sample ", "noise requestId: old and new differ here in 100% of pairs, old and secondary in 100%",
		"tenants: t3 40/40, ", "1 path cancelled as noise"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("cutover report lacks %q: exit %d\n%s%s", want, code, out, errOut)
		}
	}
}

// TestVerdictDashboard: the route page shows what changed on a path and
// why a path is noise, from the report of TestVerdictTenantBug's setup.
func TestVerdictDashboard(t *testing.T) {
	browser := newBrowser(t)
	g := startGateway(t, accountsConfig(accountService(t, 0, ""), accountService(t, 0, "t3"),
		`    shadow: { percent: 100, secondary: accounts-v1b, secondary_percent: 100 }
`, accountService(t, 0, "")))
	getAccounts(t, newClient(t), g, 0, 50)
	g.waitCompared(t, "accounts", 50, 50)
	tb := newTab(t, browser)
	tb.do("the accounts route page", chromedp.Navigate(g.adminURL("/ui/routes/accounts")),
		chromedp.WaitVisible(chromedp.CSS(`#fields tr[data-path="tier"] .example`)))
	if got := tb.text(`#fields tr[data-path="tier"] .example`); got != "gold → enterprise" {
		t.Errorf("tier shows %q, want gold → enterprise", got)
	}
	why := eval[string](tb, `document.querySelector('#fields tr[data-path="requestId"] .tag')?.title ?? ''`)
	if !strings.Contains(why, "old and secondary in 100% of") {
		t.Errorf("requestId's noise tag says %q, want its evidence", why)
	}
	if got := tb.text(`#tenants tbody tr:first-child td:first-child`); got != "t3" {
		t.Errorf("first tenant %q, want t3", got)
	}
	tb.check(g.admin)
}

// stampService answers GET /stamps/N with a document that carries the
// time of the answer and a fresh UUID, as many services do, and nothing
// else that differs.
func stampService(t *testing.T) string {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": path.Base(r.URL.Path), "generatedAt": time.Now().UTC().Format(time.RFC3339Nano),
			"traceId": newUUID(), "plan": "pro",
		})
	})
	return hostPort(srv)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// TestVerdictLikelyNoise: a route without a secondary whose answers carry
// a timestamp and a UUID. Both are flagged likely noise with a reason and
// an ignore line, and the diff rate stays at 100% — until auto_noise.
func TestVerdictLikelyNoise(t *testing.T) {
	for _, auto := range []bool{false, true} {
		route := "    shadow: { percent: 100 }\n"
		if auto {
			route += "    diff: { auto_noise: true }\n"
		}
		cfg := strings.NewReplacer("/accounts", "/stamps").Replace(accountsConfig(stampService(t), stampService(t), route, ""))
		g := startGateway(t, cfg)
		c := newClient(t)
		const sent = 30
		for n := range sent {
			do(t, c, "GET", g.url("/stamps/"+strconv.Itoa(n)), nil, nil)
		}
		r := g.waitCompared(t, "accounts", sent, 0)
		likely := map[string]string{}
		for _, f := range r.Fields {
			if f.LikelyNoise {
				likely[f.Path] = f.LikelyReason
				if f.Suggest != `diff: { ignore: ["`+f.Path+`"] }` || f.Noise != auto {
					t.Errorf("auto_noise %v: %s %+v", auto, f.Path, f)
				}
			}
		}
		if !strings.Contains(likely["generatedAt"], "RFC 3339 times") || !strings.Contains(likely["traceId"], "UUIDs") {
			t.Errorf("auto_noise %v: likely noise %v, want generatedAt and traceId with reasons", auto, likely)
		}
		want := 1.0
		if auto {
			want = 0
		}
		if r.DiffRate != want {
			t.Errorf("auto_noise %v: diff rate %v, want %v", auto, r.DiffRate, want)
		}
		code, out, errOut := runCLI(t, "report", "--admin", g.adminURL(""))
		for _, w := range []string{"noise not measured (no old/secondary pairs)", "likely noise generatedAt: values look generated per call (RFC 3339 times"} {
			if !auto && (code != 0 || !strings.Contains(out, w)) {
				t.Errorf("cutover report lacks %q: exit %d\n%s%s", w, code, out, errOut)
			}
		}
	}
}
