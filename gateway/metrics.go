package gateway

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/internal/buildinfo"
	"github.com/cutover/cutover/router"
	"github.com/cutover/cutover/upstream"
)

// numSides is the number of router.Side values, which index per-side
// counters.
const numSides = int(router.SideNew) + 1

// numSources is the number of router.Source values.
const numSources = int(router.SourceJSON) + 1

// rejectReasons are the failures the gateway answers itself, counted
// under their failure's reason: reasonRequestTimeout as "timeout".
var rejectReasons = [...]string{reasonNoRoute, reasonMalformed, reasonFraming, reasonTooLarge, reasonHeaderLarge, reasonMethodNotAllowed, reasonRequestTimeout}

// metrics holds every counter the gateway exports. Counters are kept by
// route name across reloads, so a reload never resets them; those of
// services and targets are package upstream's, kept by service name.
// Updates are lock-free atomics; the mutex only guards creating entries.
type metrics struct {
	start    time.Time
	upstream *upstream.Metrics

	mu     sync.Mutex
	routes map[string]*routeMetrics

	inflight      atomic.Int64
	rejected      [len(rejectReasons)]atomic.Uint64
	reloadsOK     atomic.Uint64
	reloadsFailed atomic.Uint64
	lastReload    atomic.Int64 // unix seconds of the last successful load
	upgrades      atomic.Uint64
	environments  map[string]*atomic.Uint64 // by overlay tag; guarded by mu
	envUnknown    atomic.Uint64
	interims      atomic.Uint64 // interim responses forwarded
	cohorts       cohortMetrics
}

// routeMetrics counts one route's requests by side and status class
// (1xx to 5xx).
type routeMetrics struct {
	requests [numSides][5]atomic.Uint64
	// tenants counts where the tenant was found; "none" rising means the
	// route's tenant sources miss its traffic.
	tenants [numSources]atomic.Uint64
	// replayed counts the calls marked X-Cutover-Replay.
	replayed atomic.Uint64
	// streamed counts answers passed on as they arrived; streamAborted
	// those that one side ended early, by side.
	streamed      atomic.Uint64
	streamAborted [numAbortSides]atomic.Uint64
}

func newMetrics() *metrics {
	return &metrics{
		start:    time.Now(),
		upstream: upstream.NewMetrics(),
		routes:   map[string]*routeMetrics{},

		environments: map[string]*atomic.Uint64{},
	}
}

// environment returns the request counter of an overlay tag. Tags come
// from the config, so the label's cardinality is bounded; unknown tags
// share one counter.
func (m *metrics) environment(tag string) *atomic.Uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.environments[tag]
	if c == nil {
		c = new(atomic.Uint64)
		m.environments[tag] = c
	}
	return c
}

func (m *metrics) route(name string) *routeMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.routes[name]
	if r == nil {
		r = &routeMetrics{}
		m.routes[name] = r
	}
	return r
}

func (r *routeMetrics) count(side router.Side, status int) {
	class := status/100 - 1
	if class < 0 || class > 4 {
		class = 4
	}
	r.requests[side][class].Add(1)
}

func (m *metrics) reject(reason string) {
	m.rejected[slices.Index(rejectReasons[:], reason)].Add(1)
}

// writeTo writes the Prometheus text exposition format (version 0.0.4).
// snap supplies the state of the current configuration (target health).
func (m *metrics) writeTo(w io.Writer, snap *snapshot) {
	b := make([]byte, 0, 16<<10)
	now := time.Now()
	m.mu.Lock()
	routeNames := slices.Sorted(maps.Keys(m.routes))
	m.mu.Unlock()

	b = help(b, "cutover_requests_total", "counter", "Requests answered, by route, serving side and status class.")
	for _, name := range routeNames {
		r := m.route(name)
		for side := range numSides {
			for class := range 5 {
				if v := r.requests[side][class].Load(); v > 0 {
					b = fmt.Appendf(b, "cutover_requests_total{route=%q,side=%q,code=\"%dxx\"} %d\n", name, router.Side(side), class+1, v)
				}
			}
		}
	}
	b = help(b, "cutover_tenant_source_total", "counter", "Requests by route and where their tenant was found (none: bucketed by chain ID).")
	for _, name := range routeNames {
		r := m.route(name)
		for src := range numSources {
			if v := r.tenants[src].Load(); v > 0 {
				b = fmt.Appendf(b, "cutover_tenant_source_total{route=%q,source=%q} %d\n", name, router.Source(src), v)
			}
		}
	}
	b = help(b, "cutover_replay_received_total", "counter", "Calls marked X-Cutover-Replay (sent by cutover replay), by route: routed, never recorded or shadowed.")
	for _, name := range routeNames {
		if v := m.route(name).replayed.Load(); v > 0 {
			b = fmt.Appendf(b, "cutover_replay_received_total{route=%q} %d\n", name, v)
		}
	}
	b = help(b, "cutover_streamed_total", "counter", "Answers passed to the client as the upstream sent them (longer than stream_above, or of unknown length), by route.")
	for _, name := range routeNames {
		if v := m.route(name).streamed.Load(); v > 0 {
			b = fmt.Appendf(b, "cutover_streamed_total{route=%q} %d\n", name, v)
		}
	}
	b = help(b, "cutover_stream_aborted_total", "counter", "Streamed calls that ended early, by route and the side that ended them: the client left, or the upstream failed mid-body.")
	for _, name := range routeNames {
		r := m.route(name)
		for side := range numAbortSides {
			if v := r.streamAborted[side].Load(); v > 0 {
				b = fmt.Appendf(b, "cutover_stream_aborted_total{route=%q,by=%q} %d\n", name, abortSideNames[side], v)
			}
		}
	}
	b = help(b, "cutover_interim_forwarded_total", "counter", "Interim (1xx) responses of upstreams forwarded to clients.")
	b = fmt.Appendf(b, "cutover_interim_forwarded_total %d\n", m.interims.Load())
	b = help(b, "cutover_environment_requests_total", "counter", "Requests whose environment tag names an overlay, by tag.")
	m.mu.Lock()
	envTags := slices.Sorted(maps.Keys(m.environments))
	m.mu.Unlock()
	for _, tag := range envTags {
		b = fmt.Appendf(b, "cutover_environment_requests_total{environment=%q} %d\n", tag, m.environment(tag).Load())
	}
	b = help(b, "cutover_environment_unknown_total", "counter", "Requests whose environment tag names no overlay; the baseline serves them.")
	b = fmt.Appendf(b, "cutover_environment_unknown_total %d\n", m.envUnknown.Load())
	b = m.cohorts.appendTo(b)
	b = help(b, "cutover_requests_rejected_total", "counter", "Requests answered by the gateway itself, without an upstream, by reason.")
	for i, reason := range rejectReasons {
		b = fmt.Appendf(b, "cutover_requests_rejected_total{reason=%q} %d\n", failures[reason].reason, m.rejected[i].Load())
	}
	b = help(b, "cutover_inflight_requests", "gauge", "Requests being proxied now.")
	b = fmt.Appendf(b, "cutover_inflight_requests %d\n", m.inflight.Load())
	b = help(b, "cutover_upgrades_total", "counter", "Connections tunnelled after a protocol upgrade (WebSocket).")
	b = fmt.Appendf(b, "cutover_upgrades_total %d\n", m.upgrades.Load())

	b = m.upstream.Append(b, snap.services, now)

	b = help(b, "cutover_config_reloads_total", "counter", "Configuration reloads, by result.")
	b = fmt.Appendf(b, "cutover_config_reloads_total{result=\"ok\"} %d\n", m.reloadsOK.Load())
	b = fmt.Appendf(b, "cutover_config_reloads_total{result=\"error\"} %d\n", m.reloadsFailed.Load())
	b = help(b, "cutover_config_last_reload_success_timestamp_seconds", "gauge", "When the running configuration was loaded.")
	b = fmt.Appendf(b, "cutover_config_last_reload_success_timestamp_seconds %d\n", m.lastReload.Load())
	b = help(b, "cutover_start_time_seconds", "gauge", "When the gateway started.")
	b = fmt.Appendf(b, "cutover_start_time_seconds %d\n", m.start.Unix())
	b = help(b, "cutover_build_info", "gauge", "Version of the running binary.")
	b = fmt.Appendf(b, "cutover_build_info{version=%q,goversion=%q} 1\n", buildinfo.Version, runtime.Version())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b = help(b, "cutover_go_heap_bytes", "gauge", "Bytes of allocated heap objects.")
	b = fmt.Appendf(b, "cutover_go_heap_bytes %d\n", ms.HeapAlloc)
	b = help(b, "cutover_go_goroutines", "gauge", "Goroutines that currently exist.")
	b = fmt.Appendf(b, "cutover_go_goroutines %d\n", runtime.NumGoroutine())
	_, _ = w.Write(b)
}

func help(b []byte, name, kind, text string) []byte {
	return fmt.Appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, kind)
}
