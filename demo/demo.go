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
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/chaintree"
	"github.com/cutover/cutover/gateway"
	"github.com/cutover/cutover/internal/defaults"
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

// Run runs the tour: it starts the services and the gateway (with
// gateway.Open), runs the steps in order, and closes everything (with
// Gateway.Close) when one fails, when ctx ends, or after the last.
func Run(ctx context.Context, opt Options) error {
	opt.Requests = defaults.Positive(opt.Requests, DefaultRequests)
	t, err := startTour(opt.Out, opt.Requests)
	defer t.close()
	if err != nil {
		return err
	}
	t.intro()
	for _, step := range []func(*tour, context.Context) error{
		(*tour).newChain,       // 1
		(*tour).continuedChain, // 2
		(*tour).malformedTrace, // 3
		(*tour).errorStatuses,  // 4
		(*tour).grayRouting,    // 5
		(*tour).load,           // 6
		(*tour).recordedChain,  // 7
		(*tour).diffReport,     // 8
		(*tour).rollout,        // 9
		(*tour).adminAPI,       // 10
		(*tour).replayOrders,   // 11
	} {
		if err := step(t, ctx); err != nil {
			return err
		}
	}
	t.dashboard()
	if opt.Stay {
		t.stay(ctx)
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

func countCalls(nodes []*chaintree.Node) int {
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
