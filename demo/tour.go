package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cutover/cutover/chaintree"
	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/gateway"
	"github.com/cutover/cutover/replay"
)

// tour is the running tour: the demo services, the gateway in front of
// them, and what one step leaves for a later one. Its steps run one after
// the other on one goroutine.
type tour struct {
	out      io.Writer
	requests int // the load step's size

	// Two instances of the old service, one of the new: the route sends
	// everything to old until gray rules move tenants over. oldC, outside
	// the route's pool, is the secondary that gets a third copy of some
	// shadowed requests, to measure noise.
	oldA, oldB, oldC, newA *service
	checkout               *service
	// The rollout step's routes: price-v2 is a clean rewrite of price-v1,
	// stock-v2 a buggy one of stock-v1; price-v1/b is prices' secondary.
	ramp []*service

	cfgPath, cfgText     string
	g                    *gateway.Gateway
	proxyAddr, adminAddr string // the proxy's and the admin API's host:port
	client               *http.Client

	loaded int // requests the load step sent

	undo []func() // what close runs, last first
}

// startTour starts the demo services and the gateway in front of them.
// Whatever it returns, the caller closes the tour.
func startTour(out io.Writer, requests int) (*tour, error) {
	t := &tour{out: out, requests: requests}
	var err error
	if t.oldA, err = t.startService("order-v1", "a"); err != nil {
		return t, err
	}
	if t.oldB, err = t.startService("order-v1", "b"); err != nil {
		return t, err
	}
	if t.newA, err = t.startService("order-v2", "a"); err != nil {
		return t, err
	}
	if t.oldC, err = t.startService("order-v1", "c"); err != nil {
		return t, err
	}
	for _, s := range [][2]string{{"price-v1", "a"}, {"price-v1", "b"}, {"price-v2", "a"}, {"stock-v1", "a"}, {"stock-v2", "a"}} {
		svc, err := t.startService(s[0], s[1])
		if err != nil {
			return t, err
		}
		t.ramp = append(t.ramp, svc)
	}
	dead, err := freeAddr() // a port nobody listens on
	if err != nil {
		return t, err
	}

	dir, err := os.MkdirTemp("", "cutover-demo-")
	if err != nil {
		return t, err
	}
	t.atClose(func() { _ = os.RemoveAll(dir) })
	// Listening before the config is written leaves no moment in which
	// another process could take the ports; the servers close them.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return t, err
	}
	t.atClose(func() { _ = ln.Close() }) // on a return before the gateway serves
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return t, err
	}
	t.atClose(func() { _ = adminLn.Close() })
	t.proxyAddr, t.adminAddr = ln.Addr().String(), adminLn.Addr().String()
	if t.checkout, err = t.startService("checkout", "a"); err != nil {
		return t, err
	}
	// The services call each other through the gateway, forwarding the
	// traceparent they received, as OpenTelemetry-instrumented services do.
	for _, s := range []*service{t.oldA, t.oldB, t.oldC, t.newA, t.checkout} {
		s.gateway = "http://" + t.proxyAddr
	}
	ramp := t.ramp
	t.cfgText = fmt.Sprintf(demoConfig, t.proxyAddr, t.adminAddr, filepath.Join(dir, "cutover.db"), t.oldA.addr, t.oldB.addr, t.oldC.addr, t.newA.addr, dead, t.checkout.addr,
		ramp[0].addr, ramp[1].addr, ramp[2].addr, ramp[3].addr, ramp[4].addr)
	t.cfgPath = filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(t.cfgPath, []byte(t.cfgText), 0o600); err != nil {
		return t, err
	}
	cfg, err := configs.Load(t.cfgPath)
	if err != nil {
		return t, fmt.Errorf("demo config: %w", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := gateway.Open(cfg, t.cfgPath, []byte(t.cfgText), log)
	if err != nil {
		return t, err
	}
	t.g = g
	// Close stops the proxy, then drains the shadows, closes the rollouts
	// and flushes the records, in that order.
	t.atClose(func() { _ = g.Close(context.Background()) })
	go func() { _ = g.Serve(ln) }()
	admin := &http.Server{Handler: g.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = admin.Serve(adminLn) }()
	t.atClose(func() { _ = admin.Close() })
	t.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	return t, nil
}

// atClose adds fn to what close runs.
func (t *tour) atClose(fn func()) { t.undo = append(t.undo, fn) }

// startService starts a demo service that close stops.
func (t *tour) startService(name, instance string) (*service, error) {
	s, err := startService(name, instance)
	if err != nil {
		return nil, err
	}
	t.atClose(s.close)
	return s, nil
}

// close stops what startTour started, last first.
func (t *tour) close() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
}

func (t *tour) p(format string, args ...any) { fmt.Fprintf(t.out, format, args...) }

// proxyURL is the gateway's base URL; adminURL the admin API's.
func (t *tour) proxyURL() string { return "http://" + t.proxyAddr }
func (t *tour) adminURL() string { return "http://" + t.adminAddr }

// intro lists what runs where, and the config.
func (t *tour) intro() {
	ramp := t.ramp
	t.p("cutover demo\n============\n\n")
	t.p("Started on loopback:\n")
	t.p("  order-v1  (old)  %s, %s; a third instance, %s, is the noise secondary\n", t.oldA.addr, t.oldB.addr, t.oldC.addr)
	t.p("  order-v2  (new)  %s\n", t.newA.addr)
	t.p("  price-v1  (old)  %s; a second instance, %s, is the noise secondary\n", ramp[0].addr, ramp[1].addr)
	t.p("  price-v2  (new)  %s\n", ramp[2].addr)
	t.p("  stock-v1  (old)  %s\n", ramp[3].addr)
	t.p("  stock-v2  (new)  %s\n", ramp[4].addr)
	t.p("  gateway          %s\n", t.proxyURL())
	t.p("  admin            http://%s\n\n", t.adminAddr)
	t.p("Config (%s):\n%s\n", t.cfgPath, indent(t.cfgText))
}

// newChain is step 1: a request without trace headers.
func (t *tour) newChain(context.Context) error {
	t.p("1. A request without trace headers gets a new chain ID, returned in X-Chain-Id\n")
	r, err := call(t.client, "GET", t.proxyURL()+"/api/orders/7", nil)
	if err != nil {
		return err
	}
	t.p("   GET /api/orders/7 -> %d, X-Chain-Id: %s\n   served by %s; upstream saw traceparent %s\n\n", r.status, r.chainID, r.served(), r.upstreamTraceparent())
	return nil
}

// continuedChain is step 2: an incoming traceparent is continued.
func (t *tour) continuedChain(context.Context) error {
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	t.p("2. An incoming W3C traceparent is continued: same chain, a new span for this hop\n")
	r, err := call(t.client, "GET", t.proxyURL()+"/api/orders/8", map[string]string{"traceparent": incoming})
	if err != nil {
		return err
	}
	t.p("   sent     traceparent %s\n   upstream traceparent %s\n   X-Chain-Id %s\n\n", incoming, r.upstreamTraceparent(), r.chainID)
	return nil
}

// malformedTrace is step 3: a bad trace header is replaced.
func (t *tour) malformedTrace(context.Context) error {
	t.p("3. A malformed trace header is replaced, never forwarded\n")
	r, err := call(t.client, "GET", t.proxyURL()+"/api/orders/9", map[string]string{"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"})
	if err != nil {
		return err
	}
	t.p("   sent an all-zero trace ID; upstream got %s\n\n", r.upstreamTraceparent())
	return nil
}

// errorStatuses is step 4: failures as statuses with a JSON body.
func (t *tour) errorStatuses(context.Context) error {
	t.p("4. Failures become clear statuses with the chain ID in a JSON body\n")
	for _, c := range []struct{ path, what string }{
		{"/api/payments/1", "route to a service that is down"},
		{"/nowhere", "no route matches"},
	} {
		r, err := call(t.client, "GET", t.proxyURL()+c.path, nil)
		if err != nil {
			return err
		}
		t.p("   GET %-16s (%s) -> %d %s", c.path, c.what, r.status, r.body)
	}
	t.p("\n")
	return nil
}

// grayRouting is step 5: which side serves a tenant, and why.
func (t *tour) grayRouting(context.Context) error {
	t.p("5. Gray routing: the tenant is read from X-Org-Id; acme is always served by new,\n   globex never, and 20%% of the other tenants by their sticky bucket\n")
	for _, tenant := range []string{"acme", "globex", "org-7", "org-12"} {
		r, err := call(t.client, "GET", t.proxyURL()+"/api/orders/1", map[string]string{"X-Org-Id": tenant})
		if err != nil {
			return err
		}
		var b gateway.BucketInfo
		if err := getJSON(t.client, t.adminURL()+"/api/routes/orders/bucket?tenant="+tenant, &b); err != nil {
			return err
		}
		why := "reason " + b.Reason
		if b.Bucket >= 0 {
			why = fmt.Sprintf("bucket %d of 10000; new serves buckets below %d", b.Bucket, int(b.Percent*100))
		}
		t.p("   X-Org-Id: %-7s -> %s (X-Cutover-Side: %s; %s)\n", tenant, r.served(), r.side, why)
	}
	t.p("   Ask the gateway about any tenant: cutover bucket --admin %s --route orders TENANT\n\n", t.adminAddr)
	return nil
}

// load is step 6: many tenants' requests, spread over the sides.
func (t *tour) load(ctx context.Context) error {
	t.p("6. Load: %d requests from 500 tenants, 8 at a time: old spreads over its two\n   instances, new gets the tenants whose bucket is below 20%%\n", t.requests)
	stats, err := drive(ctx, t.client, t.proxyURL()+"/api/orders/", t.requests, 8, t.out)
	if err != nil {
		return err
	}
	t.loaded = stats.n
	t.p("   %d requests in %s (%.0f req/s), statuses %v, latency p50 %s p99 %s\n",
		stats.n, stats.elapsed.Round(time.Millisecond), float64(stats.n)/stats.elapsed.Seconds(),
		stats.statuses, stats.p50.Round(time.Microsecond), stats.p99.Round(time.Microsecond))
	t.p("   served by: %s\n\n", stats.servedBy())
	return nil
}

// recordedChain is step 7: one chain's calls through three services, as
// `cutover chain` prints them.
func (t *tour) recordedChain(context.Context) error {
	t.p("7. Recording: checkout calls orders through the gateway, orders calls payments\n   through the gateway, and payments is down. Every hop is recorded under one chain\n")
	r, err := call(t.client, "GET", t.proxyURL()+"/checkout/7", map[string]string{"X-Org-Id": "globex"})
	if err != nil {
		return err
	}
	t.p("   GET /checkout/7 -> %d, X-Chain-Id: %s\n", r.status, r.chainID)
	var tree chaintree.Tree
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = getJSON(t.client, t.adminURL()+"/api/chains/"+r.chainID, &tree)
		if err == nil && countCalls(tree.Roots) == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("reading the recorded chain: %w", err)
	}
	t.p("   cutover chain --admin %s %s\n\n", t.adminAddr, r.chainID)
	var tb strings.Builder
	if err := chaintree.Print(&tb, tree.Roots, false); err != nil {
		return err
	}
	t.p("%s\n", indent(tb.String()))
	t.p("   The innermost call failed: payments refused the connection, and the\n   failure travelled back up the chain. Bodies and headers of each call:\n   curl 'http://%s/api/records?status=5xx&limit=3'\n\n", t.adminAddr)
	return nil
}

// diffReport is step 8: the report of what differs between old and new.
func (t *tour) diffReport(context.Context) error {
	// Steps 1, 2, 3 and 5 sent 7 GETs to the orders route before the load.
	return tourReport(t.client, t.adminURL(), t.loaded+7, t.out)
}

// rollout is step 9: two automatic rollouts, one promoted, one rolled back.
func (t *tour) rollout(ctx context.Context) error {
	return tourRollout(ctx, t.g.Rollouts(), t.client, t.proxyURL(), t.adminURL(), t.out)
}

// adminAPI is step 10: the routes as the admin API shows them.
func (t *tour) adminAPI(context.Context) error {
	t.p("10. The admin API (http://%s)\n", t.adminAddr)
	if err := printRoutes(t.client, t.adminURL(), t.out); err != nil {
		return err
	}
	t.p("\n   Try: curl http://%s/api/routes\n        curl http://%s/metrics\n", t.adminAddr, t.adminAddr)
	return nil
}

// replayOrders is step 11: the orders the gateway recorded, sent again to
// the new service with a third old instance as baseline, and the replay's
// verdict beside the live one.
func (t *tour) replayOrders(ctx context.Context) error {
	t.p("\n11. Replay: the orders old served above, sent again to order-v2 with order-v1/c as\n    baseline (noise), compared with the recorded answers: a verdict before any user moves\n")
	cfg, err := configs.Load(t.cfgPath)
	if err != nil {
		return err
	}
	src, err := replay.OpenPaged(replay.AdminPager{Get: func(path string, v any) error {
		return getJSON(t.client, t.adminURL()+path, v)
	}}, replay.Filter{Route: "orders", Side: "old"})
	if err != nil {
		return err
	}
	r, err := replay.New(replay.Options{Target: t.newA.addr, Baseline: t.oldC.addr, Config: cfg})
	if err != nil {
		return err
	}
	rep, err := r.Run(ctx, src)
	if err != nil {
		return err
	}
	var live diff.Report
	if err := getJSON(t.client, t.adminURL()+"/api/report?route=orders", &live); err != nil {
		return err
	}
	for _, side := range []struct {
		what string
		rep  *diff.Report
	}{{"live (shadow)", &live}, {"replay", &rep.Report}} {
		for _, rr := range side.rep.Routes {
			if rr.Route == "orders" {
				t.p("    %-14s compared %5d  diff rate %6s  noise rate %6s\n", side.what, rr.Compared, diff.FormatRate(rr.DiffRate), diff.FormatRate(rr.NoiseRate))
			}
		}
	}
	var b strings.Builder
	if err := replay.WriteTable(&b, rep, 5); err != nil {
		return err
	}
	t.p("\n%s\n    The same from a shell, or in CI with --max-diff-rate:\n    cutover replay --admin %s --route orders --side old --to http://%s --baseline http://%s -c %s\n", indent(b.String()), t.adminAddr, t.newA.addr, t.oldC.addr, t.cfgPath)
	return nil
}

// dashboard ends the tour with the web dashboard's address.
func (t *tour) dashboard() {
	t.p("\nThe dashboard: http://%s/ui/ (every route, its rollout, the differing pairs and chains)\n", t.adminAddr)
}

// stay keeps everything running until ctx ends.
func (t *tour) stay(ctx context.Context) {
	t.p("\nEverything keeps running; press Ctrl-C to stop.\n")
	t.p("   curl -i %s/api/orders/1\n", t.proxyURL())
	<-ctx.Done()
}
