// Package demo is cutover's self-contained tour: it starts demo services on
// loopback, puts the gateway in front of them with a generated config, and
// drives traffic through it, printing what happens. It needs no files,
// network or setup beyond the binary.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/gateway"
	"github.com/cutover/cutover/record"
)

// Options tune the tour.
type Options struct {
	// Requests is how many requests the load phase drives; 0 means 2000.
	Requests int
	// Stay keeps the gateway and services running after the tour until ctx ends.
	Stay bool
	// Out receives the tour's narration.
	Out io.Writer
}

// DefaultRequests is the load phase's size when Options.Requests is 0.
const DefaultRequests = 2000

// Run runs the tour.
func Run(ctx context.Context, opt Options) error {
	if opt.Requests <= 0 {
		opt.Requests = DefaultRequests
	}
	out := opt.Out
	p := func(format string, args ...any) { fmt.Fprintf(out, format, args...) }

	// Two instances of the old service, one of the new: the route sends
	// everything to old until gray rules move tenants over.
	oldA, err := startService("order-v1", "a")
	if err != nil {
		return err
	}
	defer oldA.close()
	oldB, err := startService("order-v1", "b")
	if err != nil {
		return err
	}
	defer oldB.close()
	newA, err := startService("order-v2", "a")
	if err != nil {
		return err
	}
	defer newA.close()
	// A third old instance outside the route's pool: the secondary that
	// gets a third copy of some shadowed requests, to measure noise.
	oldC, err := startService("order-v1", "c")
	if err != nil {
		return err
	}
	defer oldC.close()
	// The rollout step's routes: price-v2 is a clean rewrite of price-v1,
	// stock-v2 a buggy one of stock-v1; price-v1/b is prices' secondary.
	var ramp []*service
	for _, s := range [][2]string{{"price-v1", "a"}, {"price-v1", "b"}, {"price-v2", "a"}, {"stock-v1", "a"}, {"stock-v2", "a"}} {
		svc, err := startService(s[0], s[1])
		if err != nil {
			return err
		}
		defer svc.close()
		ramp = append(ramp, svc)
	}
	dead, err := freeAddr() // a port nobody listens on
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "cutover-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Listening before the config is written leaves no moment in which
	// another process could take the ports; the servers close them.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close() // on a return before the gateway serves
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer adminLn.Close()
	listen, adminAddr := ln.Addr().String(), adminLn.Addr().String()
	checkout, err := startService("checkout", "a")
	if err != nil {
		return err
	}
	defer checkout.close()
	// The services call each other through the gateway, forwarding the
	// traceparent they received, as OpenTelemetry-instrumented services do.
	for _, s := range []*service{oldA, oldB, oldC, newA, checkout} {
		s.gateway = "http://" + listen
	}
	cfgText := fmt.Sprintf(demoConfig, listen, adminAddr, filepath.Join(dir, "cutover.db"), oldA.addr, oldB.addr, oldC.addr, newA.addr, dead, checkout.addr,
		ramp[0].addr, ramp[1].addr, ramp[2].addr, ramp[3].addr, ramp[4].addr)
	cfgPath := filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		return err
	}
	cfg, err := configs.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := gateway.New(cfg, cfgPath, log)
	if err != nil {
		return err
	}
	rec, err := record.Start(cfg, log)
	if err != nil {
		_ = g.CloseRollouts(context.Background())
		return err
	}
	// Deferred before the gateway's shutdown, so it runs after it (defers
	// run last-in-first-out). The order inside is serve's: the last shadow
	// comparisons count in the rollouts, and the rollouts write their state
	// before the store closes.
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.CloseShadows(cctx)
		_ = g.CloseRollouts(cctx)
		_ = rec.Close(cctx)
	}()
	if err := g.SetRecording(rec.Recorder, rec.Store); err != nil {
		return err
	}
	go func() { _ = g.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = g.Shutdown(sctx)
	}()
	admin := &http.Server{Handler: g.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = admin.Serve(adminLn) }()
	defer admin.Close()

	base := "http://" + listen
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

	p("cutover demo\n============\n\n")
	p("Started on loopback:\n")
	p("  order-v1  (old)  %s, %s; a third instance, %s, is the noise secondary\n", oldA.addr, oldB.addr, oldC.addr)
	p("  order-v2  (new)  %s\n", newA.addr)
	p("  price-v1  (old)  %s; a second instance, %s, is the noise secondary\n", ramp[0].addr, ramp[1].addr)
	p("  price-v2  (new)  %s\n", ramp[2].addr)
	p("  stock-v1  (old)  %s\n", ramp[3].addr)
	p("  stock-v2  (new)  %s\n", ramp[4].addr)
	p("  gateway          %s\n", base)
	p("  admin            http://%s\n\n", adminAddr)
	p("Config (%s):\n%s\n", cfgPath, indent(cfgText))

	p("1. A request without trace headers gets a new chain ID, returned in X-Chain-Id\n")
	r, err := call(client, "GET", base+"/api/orders/7", nil)
	if err != nil {
		return err
	}
	p("   GET /api/orders/7 -> %d, X-Chain-Id: %s\n   served by %s; upstream saw traceparent %s\n\n", r.status, r.chainID, r.served(), r.upstreamTraceparent())

	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	p("2. An incoming W3C traceparent is continued: same chain, a new span for this hop\n")
	r, err = call(client, "GET", base+"/api/orders/8", map[string]string{"traceparent": incoming})
	if err != nil {
		return err
	}
	p("   sent     traceparent %s\n   upstream traceparent %s\n   X-Chain-Id %s\n\n", incoming, r.upstreamTraceparent(), r.chainID)

	p("3. A malformed trace header is replaced, never forwarded\n")
	r, err = call(client, "GET", base+"/api/orders/9", map[string]string{"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"})
	if err != nil {
		return err
	}
	p("   sent an all-zero trace ID; upstream got %s\n\n", r.upstreamTraceparent())

	p("4. Failures become clear statuses with the chain ID in a JSON body\n")
	for _, c := range []struct{ path, what string }{
		{"/api/payments/1", "route to a service that is down"},
		{"/nowhere", "no route matches"},
	} {
		r, err = call(client, "GET", base+c.path, nil)
		if err != nil {
			return err
		}
		p("   GET %-16s (%s) -> %d %s", c.path, c.what, r.status, r.body)
	}
	p("\n")

	p("5. Gray routing: the tenant is read from X-Org-Id; acme is always served by new,\n   globex never, and 20%% of the other tenants by their sticky bucket\n")
	for _, tenant := range []string{"acme", "globex", "org-7", "org-12"} {
		r, err = call(client, "GET", base+"/api/orders/1", map[string]string{"X-Org-Id": tenant})
		if err != nil {
			return err
		}
		var b gateway.BucketInfo
		if err := getJSON(client, "http://"+adminAddr+"/api/routes/orders/bucket?tenant="+tenant, &b); err != nil {
			return err
		}
		why := "reason " + b.Reason
		if b.Bucket >= 0 {
			why = fmt.Sprintf("bucket %d of 10000; new serves buckets below %d", b.Bucket, int(b.Percent*100))
		}
		p("   X-Org-Id: %-7s -> %s (X-Cutover-Side: %s; %s)\n", tenant, r.served(), r.side, why)
	}
	p("   Ask the gateway about any tenant: cutover bucket --admin %s --route orders TENANT\n\n", adminAddr)

	p("6. Load: %d requests from 500 tenants, 8 at a time: old spreads over its two\n   instances, new gets the tenants whose bucket is below 20%%\n", opt.Requests)
	stats, err := drive(ctx, client, base+"/api/orders/", opt.Requests, 8, out)
	if err != nil {
		return err
	}
	p("   %d requests in %s (%.0f req/s), statuses %v, latency p50 %s p99 %s\n",
		stats.n, stats.elapsed.Round(time.Millisecond), float64(stats.n)/stats.elapsed.Seconds(),
		stats.statuses, stats.p50.Round(time.Microsecond), stats.p99.Round(time.Microsecond))
	p("   served by: %s\n\n", stats.servedBy())

	p("7. Recording: checkout calls orders through the gateway, orders calls payments\n   through the gateway, and payments is down. Every hop is recorded under one chain\n")
	r, err = call(client, "GET", base+"/checkout/7", map[string]string{"X-Org-Id": "globex"})
	if err != nil {
		return err
	}
	p("   GET /checkout/7 -> %d, X-Chain-Id: %s\n", r.status, r.chainID)
	var tree record.ChainTree
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = getJSON(client, "http://"+adminAddr+"/api/chains/"+r.chainID, &tree)
		if err == nil && countCalls(tree.Roots) == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("reading the recorded chain: %w", err)
	}
	p("   cutover chain --admin %s %s\n\n", adminAddr, r.chainID)
	var tb strings.Builder
	if err := record.Print(&tb, tree.Roots, false); err != nil {
		return err
	}
	p("%s\n", indent(tb.String()))
	p("   The innermost call failed: payments refused the connection, and the\n   failure travelled back up the chain. Bodies and headers of each call:\n   curl 'http://%s/api/records?status=5xx&limit=3'\n\n", adminAddr)

	// Steps 1, 2, 3 and 5 sent 7 GETs to the orders route before the load.
	if err := tourReport(client, "http://"+adminAddr, stats.n+7, out); err != nil {
		return err
	}

	if err := tourRollout(ctx, g.Rollouts(), client, base, "http://"+adminAddr, out); err != nil {
		return err
	}

	p("10. The admin API (http://%s)\n", adminAddr)
	if err := printRoutes(client, "http://"+adminAddr, out); err != nil {
		return err
	}
	p("\n   Try: curl http://%s/api/routes\n        curl http://%s/metrics\n", adminAddr, adminAddr)
	p("\n   The dashboard: http://%s/ui/\n", adminAddr)
	if opt.Stay {
		p("\nEverything keeps running; press Ctrl-C to stop.\n")
		p("   curl -i %s/api/orders/1\n", base)
		<-ctx.Done()
	}
	return nil
}

const demoConfig = `listen: "%s"
debug_headers: true
admin:
  listen: "%s"
store:
  path: "%s"
record:
  sample: 1
  redact:
    json: [password, card.number]
chain:
  header: X-Chain-Id
  inject: [w3c, b3]
services:
  order-v1: { targets: ["%s", "%s"], timeout: 2s }
  order-v1-c: { targets: ["%s"], timeout: 2s }
  order-v2: { targets: ["%s"], timeout: 2s }
  payments: { targets: ["%s"], timeout: 1s, fail_timeout: 5m }
  checkout: { targets: ["%s"], timeout: 3s }
  price-v1: { targets: ["%s"], timeout: 2s }
  price-v1-b: { targets: ["%s"], timeout: 2s }
  price-v2: { targets: ["%s"], timeout: 2s }
  stock-v1: { targets: ["%s"], timeout: 2s }
  stock-v2: { targets: ["%s"], timeout: 2s }
routes:
  - name: orders
    match: { path_prefix: /api/orders, methods: [GET, POST] }
    old: order-v1
    new: order-v2
    tenant:
      - header: X-Org-Id
    gray:
      tenants: [acme]
      exclude: [globex]
      percent: 20
    shadow:
      percent: 100
      secondary: order-v1-c
      secondary_percent: 25
    diff:
      ignore: [version]
  - name: payments
    match: { path_prefix: /api/payments }
    upstream: payments
  - name: checkout
    match: { path_prefix: /checkout }
    upstream: checkout
  - name: prices
    match: { path_prefix: /api/prices, methods: [GET] }
    old: price-v1
    new: price-v2
    tenant:
      - header: X-Org-Id
    shadow:
      percent: 100
      secondary: price-v1-b
      secondary_percent: 25
    rollout:
      min_samples: 200
      min_duration: 1s
      max_diff_rate: 2%%
      max_error_rate: 2%%
      max_p99_ratio: 3
  - name: stock
    match: { path_prefix: /api/stock, methods: [GET] }
    old: stock-v1
    new: stock-v2
    tenant:
      - header: X-Org-Id
    shadow:
      percent: 100
    diff:
      ignore: [meta.requestId, meta.generatedAt]
    rollout:
      min_samples: 200
      min_duration: 1s
      max_diff_rate: 2%%
      max_error_rate: 2%%
      max_p99_ratio: 3
`

// service is one demo upstream: it answers with its name and what trace
// headers it received, so the tour can show them.
type service struct {
	name, instance, addr string
	gateway              string // base URL for calls to other services
	srv                  *http.Server
}

func startService(name, instance string) (*service, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &service{name: name, instance: instance, addr: ln.Addr().String()}
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// checkout and the pay action call the next service down the chain.
		if next := s.nextHop(r.URL.Path); next != "" {
			s.callNext(w, r, next)
			return
		}
		// What the service saw travels in headers, so the tour can show it
		// while the bodies hold only the order the diff compares.
		w.Header().Set("X-Demo-Service", s.name)
		w.Header().Set("X-Demo-Instance", s.instance)
		w.Header().Set("X-Demo-Traceparent", r.Header.Get("traceparent"))
		w.Header().Set("X-Demo-Shadow", r.Header.Get("X-Cutover-Shadow"))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body(s.name, r.URL.Path))
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *service) close() { _ = s.srv.Close() }

// nextHop is the path a request calls through the gateway, or "".
func (s *service) nextHop(path string) string {
	switch {
	case s.name == "checkout":
		return "/api/orders/" + strings.TrimPrefix(path, "/checkout/") + "/pay"
	case strings.HasSuffix(path, "/pay"):
		return "/api/payments/charge"
	}
	return ""
}

// callNext calls the next hop through the gateway, forwarding the trace
// context, and answers with what came back.
func (s *service) callNext(w http.ResponseWriter, r *http.Request, path string) {
	body := []byte(`{"amount":42.5,"card":{"number":"4111111111111111"},"password":"hunter2"}`)
	req, err := http.NewRequestWithContext(r.Context(), "POST", s.gateway+path, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header.Set("traceparent", r.Header.Get("traceparent"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Org-Id", r.Header.Get("X-Org-Id"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func countCalls(nodes []*record.Node) int {
	n := 0
	for _, c := range nodes {
		n += 1 + countCalls(c.Children)
	}
	return n
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

type answer struct {
	status      int
	chainID     string
	side        string
	body        string
	service     string // the demo service that answered, and its instance
	instance    string
	traceparent string // as the service received it
}

func (a answer) served() string { return a.service + "/" + a.instance }

func (a answer) upstreamTraceparent() string { return a.traceparent }

func call(client *http.Client, method, url string, headers map[string]string) (answer, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return answer{}, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{
		status: resp.StatusCode, chainID: resp.Header.Get("X-Chain-Id"), side: resp.Header.Get(gateway.HeaderSide), body: string(body),
		service: resp.Header.Get("X-Demo-Service"), instance: resp.Header.Get("X-Demo-Instance"), traceparent: resp.Header.Get("X-Demo-Traceparent"),
	}, nil
}

type loadStats struct {
	n        int
	elapsed  time.Duration
	statuses map[int]int
	served   map[string]int
	p50, p99 time.Duration
}

func (s loadStats) servedBy() string {
	keys := make([]string, 0, len(s.served))
	for k := range s.served {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, s.served[k])
	}
	return strings.Join(parts, ", ")
}

// drive sends n requests with the given concurrency, showing progress.
func drive(ctx context.Context, client *http.Client, url string, n, workers int, out io.Writer) (loadStats, error) {
	var next, done atomic.Int64
	var mu sync.Mutex
	st := loadStats{n: n, statuses: map[int]int{}, served: map[string]int{}}
	lat := make([]time.Duration, 0, n)
	var firstErr error
	start := time.Now()
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fmt.Fprintf(out, "   ... %d/%d\n", done.Load(), n)
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				a, err := call(client, "GET", fmt.Sprint(url, i), map[string]string{"X-Org-Id": fmt.Sprint("org-", i%500)})
				d := time.Since(t0)
				done.Add(1)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
				} else {
					st.statuses[a.status]++
					st.served[a.served()]++
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	st.elapsed = time.Since(start)
	if firstErr != nil {
		return st, firstErr
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		st.p50 = lat[len(lat)/2]
		st.p99 = lat[len(lat)*99/100]
	}
	return st, nil
}

// getJSON decodes the JSON answer of a GET into v.
func getJSON(client *http.Client, url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func printRoutes(client *http.Client, admin string, out io.Writer) error {
	var v struct {
		Routes []struct {
			Name     string            `json:"name"`
			Percent  float64           `json:"percent"`
			Requests map[string]uint64 `json:"requests"`
			Targets  []struct {
				Service string `json:"service"`
				Addr    string `json:"addr"`
				Up      bool   `json:"up"`
			} `json:"targets"`
		} `json:"routes"`
	}
	if err := getJSON(client, admin+"/api/routes", &v); err != nil {
		return err
	}
	for _, r := range v.Routes {
		fmt.Fprintf(out, "   route %-9s percent %-4s requests %v\n", r.Name, fmt.Sprint(r.Percent, "%"), r.Requests)
		for _, t := range r.Targets {
			state := "up"
			if !t.Up {
				state = "down (skipped after a failed connection)"
			}
			fmt.Fprintf(out, "      %-9s %s %s\n", t.Service, t.Addr, state)
		}
	}
	return nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}
