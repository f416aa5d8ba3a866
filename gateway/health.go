package gateway

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// healthEvery is how often the gateway asks a shared store whether it
// answers, for /readyz and cutover_store_up.
const healthEvery = time.Second

// pinger is a store that can say whether it is reachable: *store.Redis.
type pinger interface{ Ping() error }

// storeHealth is the last answer of the store's Ping, and whether the
// recorder can write to the store.
type storeHealth struct {
	checked atomic.Bool // a store with Ping is in use
	up      atomic.Bool
	err     atomic.Pointer[string] // why it is down
	stop    chan struct{}
	done    chan struct{}
	// writes is the recorder, whose failing writes (a full disk under
	// the embedded store) make the gateway degraded as an unreachable
	// store does; nil before Open.
	writes atomic.Pointer[Recorder]
}

// startHealth pings p every healthEvery until Close. A store that does
// not answer makes the gateway degraded, not down: it proxies and routes
// on, and /readyz says so.
func (g *Gateway) startHealth(p pinger) {
	h := &g.health
	h.checked.Store(true)
	h.up.Store(true) // so that a store down at start is logged
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	h.set(p.Ping(), g)
	go func() {
		defer close(h.done)
		t := time.NewTicker(healthEvery)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.set(p.Ping(), g)
			}
		}
	}()
}

func (h *storeHealth) set(err error, g *Gateway) {
	up := err == nil
	if h.up.Swap(up) != up {
		if up {
			g.log.Info("store reachable")
		} else {
			g.log.Warn("store unreachable: proxying and routing go on with the last known percents; records and samples are held, up to store.buffer", "err", err)
		}
	}
	if err != nil {
		msg := err.Error()
		h.err.Store(&msg)
	}
}

// stopHealth ends the ping loop, if one runs.
func (g *Gateway) stopHealth() {
	h := &g.health
	if h.stop != nil {
		close(h.stop)
		<-h.done
		h.stop = nil
	}
}

// degraded returns why the gateway runs degraded, or "": the shared store
// does not answer, or the store does not take records. Records are then
// held for another try, which goes on by itself: the gateway is ready
// again once a write succeeds.
func (h *storeHealth) degraded() string {
	if h.checked.Load() && !h.up.Load() {
		if p := h.err.Load(); p != nil {
			return "unreachable: " + *p
		}
		return "unreachable"
	}
	if why := h.writeFailure(); why != "" {
		return "cannot write: " + why
	}
	return ""
}

// writeFailure returns why the recorder's last write to the store
// failed, or "".
func (h *storeHealth) writeFailure() string {
	if rec := h.writes.Load(); rec != nil {
		return (*rec).Failing()
	}
	return ""
}

// writeMetrics appends cutover_store_up when a shared store is used.
func (h *storeHealth) writeMetrics(w io.Writer) {
	if !h.checked.Load() {
		return
	}
	// Down as soon as either says so, so the metric and /readyz agree: a
	// failed write is often seen before the next ping.
	up := 0
	if h.up.Load() && h.writeFailure() == "" {
		up = 1
	}
	b := help(nil, "cutover_store_up", "gauge", "1 while the shared store answers and takes writes; 0 while the gateway runs degraded without it.")
	b = fmt.Appendf(b, "cutover_store_up %d\n", up)
	_, _ = w.Write(b)
}

// writeMemoryMetrics appends the memory.async budget and its use.
func (g *Gateway) writeMemoryMetrics(w io.Writer) {
	b := help(nil, "cutover_memory_async_bytes", "gauge", "Bytes held after clients were answered: shadow copies, records queued or held for the store, samples held for a retry.")
	b = fmt.Appendf(b, "cutover_memory_async_bytes %d\n", g.life.budget.Used())
	b = help(b, "cutover_memory_async_limit_bytes", "gauge", "The memory.async budget; copies beyond it are dropped and counted with reason budget.")
	b = fmt.Appendf(b, "cutover_memory_async_limit_bytes %d\n", g.life.budget.Limit())
	_, _ = w.Write(b)
}

// replicaName names this gateway among the replicas that share a store:
// $CUTOVER_REPLICA (a pod's name, from the downward API), else the host
// name and process ID, unique on one host.
func replicaName() string {
	if s := os.Getenv("CUTOVER_REPLICA"); s != "" {
		return s
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "cutover"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}
