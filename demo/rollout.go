package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/rollout"
)

// The rollout step's two rewrites, one clean and one buggy:
//
//   - price-v2 answers what price-v1 does;
//   - stock-v2 leaves out "reserved" for the items of its newest
//     warehouse, osl-1: the items whose number is a multiple of 25
//     (missing, 4%).
//
// All of them stamp meta.requestId and meta.generatedAt as the order
// services do. The prices route has them cancelled as noise, measured on
// its secondary; the stock route lists them in diff.ignore.

// body is the JSON a demo service answers for path.
func body(service, path string) any {
	switch {
	case strings.HasPrefix(service, "price-"):
		return price(path)
	case strings.HasPrefix(service, "stock-"):
		return stock(service, path)
	}
	return order(service, path)
}

func price(path string) map[string]any {
	id := pathID(path)
	return map[string]any{
		"sku":         "P-" + strconv.Itoa(id),
		"currency":    "EUR",
		"amount":      4.99 + float64(id%100),
		"vat_rate":    0.19,
		"valid_until": "2030-12-31",
		"meta":        stamp(),
	}
}

func stock(service, path string) map[string]any {
	id := pathID(path)
	warehouse := []string{"fra-1", "ams-1", "dub-1"}[id%3]
	if id%25 == 0 {
		warehouse = "osl-1"
	}
	onHand, reserved := id%40, id%7
	s := map[string]any{
		"sku":       "S-" + strconv.Itoa(id),
		"warehouse": warehouse,
		"on_hand":   onHand,
		"reserved":  reserved,
		"available": max(onHand-reserved, 0),
		"meta":      stamp(),
	}
	if service == "stock-v2" && warehouse == "osl-1" {
		delete(s, "reserved")
	}
	return s
}

// stamp is what differs between any two answers, old against old too.
func stamp() map[string]any {
	return map[string]any{"requestId": randomID(), "generatedAt": time.Now().UTC().Format(time.RFC3339Nano)}
}

// pathID reads N from a path ending in /N.
func pathID(path string) int {
	n, _ := strconv.Atoi(path[strings.LastIndexByte(path, '/')+1:])
	return n
}

// Bounds of the rollout step's load; it stops at the first one reached.
// The rate keeps a step's 200 pairs within its 1s, so the steps last as
// long as the rules say and the load stays far below the caps.
const (
	rampRequests = 6000
	rampTime     = 60 * time.Second
	rampRate     = 300 // requests a second to each route whose rollout runs
	rampWorkers  = 8
	rampProgress = 2 * time.Second
)

// rampRoute is one route the rollout step drives and follows.
type rampRoute struct {
	name, path string
	n          atomic.Int64 // requests sent; request i asks for item i
	final      atomic.Bool  // the rollout ended: no more traffic
	// Answers in the current step, and those served by new.
	answered, byNew atomic.Int64

	// Read and written by the step's goroutine only.
	seen     int // events printed
	percents []float64
	events   []rollout.Event
	end      *rollout.Event
}

// tourRollout drives traffic to the prices and stock routes until both
// rollouts end, printing each transition as it happens, then sums up.
func tourRollout(ctx context.Context, ro *rollout.Controller, client *http.Client, base, admin string, out io.Writer) error {
	p := func(format string, args ...any) { fmt.Fprintf(out, format, args...) }
	addr := strings.TrimPrefix(admin, "http://")
	p("9. Automatic rollout, with the durations compressed. The prices and stock routes have\n" +
		"   a rollout block: the gateway raises the share of tenants that new serves step by\n" +
		"   step, 1 2 10 20 40 80 100%%. A step passes after 200 compared pairs and 1s (minutes\n" +
		"   in production) once the Wilson upper bounds of the diff rate and of new's error\n" +
		"   rate are below 2%% and new's p99 is at most 3 × old's (1.5 by default; a loopback\n" +
		"   call takes a fraction of a millisecond, so its p99 measures the machine's\n" +
		"   scheduler); a rate whose lower bound is above its limit rolls the route back to 0%%.\n" +
		"   price-v2 is a clean rewrite: its answers differ from price-v1's only in\n" +
		"   meta.requestId and meta.generatedAt, as two calls of price-v1 do. A quarter of the\n" +
		"   shadowed requests also go to price-v1/b; the gate waits for 30 of these\n" +
		"   old/secondary pairs before its diff rate decides, and counts what differs in them\n" +
		"   as noise, with no ignore rule.\n" +
		"   stock-v2 leaves out \"reserved\" for the items of warehouse osl-1, 1 in 25 (4%%).\n" +
		"   The stock route has no secondary: it lists its random fields in diff.ignore.\n")
	for _, st := range ro.Statuses() {
		p("   %s is %s at step %d (%s)\n", st.Route, st.State, st.Step, percentText(st.Percent))
	}
	p("   Driving GET /api/prices/N and /api/stock/N, %d a second each, until both rollouts\n"+
		"   end (at most %d requests or %.0fs):\n", rampRate, rampRequests, rampTime.Seconds())

	routes := []*rampRoute{{name: "prices", path: "/api/prices/"}, {name: "stock", path: "/api/stock/"}}
	for _, r := range routes {
		// The rollouts' start, with the gateway, is shown above.
		evs, err := ro.Events(r.name, 0)
		if err != nil {
			return err
		}
		r.seen = len(evs)
	}

	start := time.Now()
	stop := make(chan struct{})
	jobs := make(chan *rampRoute)
	var capped atomic.Bool
	var errMu sync.Mutex
	var loadErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		capped.Store(pace(ctx, stop, jobs, routes, start))
	}()
	for range rampWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				i := r.n.Add(1)
				a, err := call(client, "GET", fmt.Sprint(base, r.path, i), map[string]string{"X-Org-Id": fmt.Sprint("org-", i%500)})
				if err == nil && a.status != http.StatusOK {
					err = fmt.Errorf("GET %s%d answered %d: %s", r.path, i, a.status, a.body)
				}
				if err != nil {
					errMu.Lock()
					if loadErr == nil {
						loadErr = err
					}
					errMu.Unlock()
					continue
				}
				r.answered.Add(1)
				if a.side == "new" {
					r.byNew.Add(1)
				}
			}
		}()
	}

	stopped := ""
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	nextProgress := start.Add(rampProgress)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-poll.C:
		}
		ended := true
		for _, r := range routes {
			if err := r.follow(ro, start, out); err != nil {
				close(stop)
				wg.Wait()
				return err
			}
			ended = ended && r.final.Load()
		}
		switch {
		case ended:
			break loop
		case capped.Load():
			stopped = fmt.Sprintf("the load stopped at its cap of %d requests", rampRequests)
			break loop
		case time.Since(start) >= rampTime:
			stopped = fmt.Sprintf("the load stopped at its cap of %.0fs", rampTime.Seconds())
			break loop
		}
		if now := time.Now(); !now.Before(nextProgress) {
			progress(ro, routes, now.Sub(start), out)
			nextProgress = nextProgress.Add(rampProgress)
		}
	}
	close(stop)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if loadErr != nil {
		return loadErr
	}
	var sent int64
	for _, r := range routes {
		sent += r.n.Load()
	}
	p("   %d requests in %s", sent, time.Since(start).Round(100*time.Millisecond))
	if stopped != "" {
		p("; %s before both rollouts ended", stopped)
	}
	p("\n\n")
	return rampSummary(client, admin, addr, routes, start, out)
}

// pace hands the workers rampRate requests a second for each route still
// rolling out, until stop or ctx ends; it reports whether it stopped at
// rampRequests.
func pace(ctx context.Context, stop <-chan struct{}, jobs chan<- *rampRoute, routes []*rampRoute, start time.Time) (capped bool) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	sent, rounds := 0, 0
	for {
		select {
		case <-ctx.Done():
			return false
		case <-stop:
			return false
		case <-t.C:
		}
		// By the clock rather than by ticks, so that a late tick catches up.
		due := int(time.Since(start).Seconds() * rampRate)
		for ; rounds < due; rounds++ {
			for _, r := range routes {
				if r.final.Load() {
					continue
				}
				if sent == rampRequests {
					return true
				}
				select {
				case jobs <- r:
					sent++
				case <-ctx.Done():
					return false
				case <-stop:
					return false
				}
			}
		}
	}
}

// reasonIndent sets a transition's reason under its route.
const reasonIndent = "            "

// follow prints r's new transitions and notes when its rollout ends.
func (r *rampRoute) follow(ro *rollout.Controller, start time.Time, out io.Writer) error {
	evs, err := ro.Events(r.name, 0)
	if err != nil {
		return err
	}
	for _, ev := range evs[min(r.seen, len(evs)):] {
		from := string(ev.From)
		if from == "" {
			from = "start"
		}
		fmt.Fprintf(out, "   %6.1fs  %-6s  %s → %s  step %d, %s\n", ev.Time.Sub(start).Seconds(), r.name, from, ev.To, ev.Step, percentText(ev.Percent))
		wrap(out, reasonIndent, reasonIndent, ev.Reason)
		if n := len(r.percents); n == 0 || r.percents[n-1] != ev.Percent {
			r.percents = append(r.percents, ev.Percent)
		}
		if len(r.events) == 0 || r.events[len(r.events)-1].Step != ev.Step {
			r.answered.Store(0)
			r.byNew.Store(0)
		}
		r.events = append(r.events, ev)
		if ev.To == rollout.Promoted || ev.To == rollout.RolledBack {
			r.end = &ev
			r.final.Store(true)
		}
	}
	r.seen = len(evs)
	return nil
}

// progress prints one line per rollout still running: its step, what the
// step has counted, and the share of answers new actually served.
func progress(ro *rollout.Controller, routes []*rampRoute, elapsed time.Duration, out io.Writer) {
	for _, r := range routes {
		if r.final.Load() {
			continue
		}
		st, ok := ro.Status(r.name)
		if !ok {
			continue
		}
		counted := fmt.Sprintf("%d differing", st.Counts.Differing)
		for _, c := range st.Checks {
			if c.Name == "noise_baseline" && c.Status == rollout.CheckWait {
				counted = fmt.Sprintf("noise baseline %d of %d pairs", st.Counts.NoisePairs, rollout.MinNoisePairs)
			}
		}
		state := ""
		if st.State != rollout.Progressing {
			state = string(st.State) + ", "
		}
		answered, byNew := r.answered.Load(), r.byNew.Load()
		fmt.Fprintf(out, "   %6.1fs  %-6s  · %sstep %d, %s: %d pairs (%d needed), %s; new served %s of %d requests\n",
			elapsed.Seconds(), r.name, state, st.Step, percentText(st.Percent), st.Counts.Compared, st.Limits.MinSamples,
			counted, diff.FormatRate(ratio(byNew, answered)), answered)
	}
}

var sampleRef = regexp.MustCompile(`\(sample ([0-9a-f]{16})\)`)

// rampSummary tells how each rollout ended and where to look further.
func rampSummary(client *http.Client, admin, addr string, routes []*rampRoute, start time.Time, out io.Writer) error {
	p := func(format string, args ...any) { fmt.Fprintf(out, format, args...) }
	sample := ""
	for _, r := range routes {
		if r.end == nil {
			p("   %s did not end within the load's caps; its state: cutover rollout status %s --admin %s\n", r.name, r.name, addr)
			continue
		}
		pairs := uint64(0)
		for _, ev := range r.events {
			// The gate's decisions carry its readings; those that moved
			// the step on or ended it count the step's pairs.
			if ev.By != rollout.ByController || ev.To == rollout.Holding {
				continue
			}
			for _, c := range ev.Checks {
				if c.Name == "samples" {
					pairs += c.Count
				}
			}
		}
		took := r.end.Time.Sub(start).Round(100 * time.Millisecond)
		if r.end.To == rollout.Promoted {
			var visited []string
			for _, pc := range r.percents {
				visited = append(visited, percentText(pc))
			}
			text := fmt.Sprintf("%s: promoted, new serves 100%%. Its rollout went %s in %s, on %d compared pairs.", r.name, strings.Join(visited, " → "), took, pairs)
			var rep diff.Report
			if err := getJSON(client, admin+"/api/report?route="+r.name, &rep); err != nil {
				return err
			}
			if len(rep.Routes) == 1 && rep.Routes[0].NoisePairs > 0 {
				rr := rep.Routes[0]
				var noise []string
				for _, f := range rr.Fields {
					if f.Noise {
						noise = append(noise, f.Path)
					}
				}
				if len(noise) > 0 {
					text += fmt.Sprintf(" Its pairs differed in %s, and so did the %d old/secondary pairs: noise, not counted. Non-noise differences since the start: %d of %d pairs.",
						strings.Join(noise, " and "), rr.NoisePairs, rr.Differing, rr.Compared)
				}
			}
			wrap(out, "   ", "      ", text)
			continue
		}
		p("   %s: rolled back, new serves 0%% after %d compared pairs in %s. The gate's reason:\n", r.name, pairs, took)
		wrap(out, "      ", "      ", r.end.Reason)
		if m := sampleRef.FindStringSubmatch(r.end.Reason); m != nil && sample == "" {
			sample = m[1]
			if err := printSample(client, admin, sample, out); err != nil {
				return err
			}
		}
	}
	p("   Look further (cutover demo --stay keeps the gateway running):\n")
	p("      cutover rollout status --admin %s\n", addr)
	for _, r := range routes {
		if r.end != nil && r.end.To == rollout.RolledBack {
			p("      cutover rollout events %s --admin %s\n", r.name, addr)
		}
	}
	if sample != "" {
		p("      curl http://%s/api/samples/%s\n", addr, sample)
	}
	for _, r := range routes {
		if r.end != nil && r.end.To == rollout.RolledBack {
			p("   Once %s's new version is fixed, its rollout starts again at step 1 with:\n", r.name)
			p("      cutover rollout resume %s --admin %s\n", r.name, addr)
		}
	}
	p("\n")
	return nil
}

// printSample shows the two answers of one compared pair.
func printSample(client *http.Client, admin, id string, out io.Writer) error {
	type call struct {
		Method   string `json:"method"`
		URI      string `json:"uri"`
		Tenant   string `json:"tenant"`
		Response struct {
			Body string `json:"body"`
		} `json:"response"`
	}
	var s struct {
		Differences []diff.Difference `json:"differences"`
		Old         call              `json:"old"`
		New         call              `json:"new"`
	}
	if err := getJSON(client, admin+"/api/samples/"+id, &s); err != nil {
		return err
	}
	var ds []string
	for _, d := range s.Differences {
		ds = append(ds, d.Path+" "+d.Kind.String())
	}
	fmt.Fprintf(out, "      Sample %s: %s %s (tenant %s) differed in %s\n", id, s.Old.Method, s.Old.URI, s.Old.Tenant, strings.Join(ds, ", "))
	fmt.Fprintf(out, "        old  %s\n        new  %s\n", strings.TrimSpace(s.Old.Response.Body), strings.TrimSpace(s.New.Response.Body))
	return nil
}

func ratio(n, d int64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// percentText writes a percent served by new as 2% or 0.5%.
func percentText(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) + "%" }

// wrap writes text after first, wrapped at 100 columns, the continuation
// lines after indent.
func wrap(out io.Writer, first, indent, text string) {
	const width = 100
	var b strings.Builder
	b.WriteString(first)
	col := len(first)
	for i, w := range strings.Fields(text) {
		n := len([]rune(w))
		switch {
		case i == 0:
		case col+1+n > width:
			b.WriteString("\n" + indent)
			col = len(indent)
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
	}
	b.WriteByte('\n')
	fmt.Fprint(out, b.String())
}
