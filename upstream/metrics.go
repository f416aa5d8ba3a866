package upstream

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds, in seconds, of the upstream latency
// histogram: fine below 100 ms where gateways live, coarse above.
var latencyBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

var latencyBucketNanos = func() (b [len(latencyBuckets)]int64) {
	for i, s := range latencyBuckets {
		b[i] = int64(s * 1e9)
	}
	return b
}()

// Metrics holds the counters of a pool's services and targets, by service
// name and target address, so a reload never resets them. Updates are
// lock-free atomics; the mutex only guards creating entries. A nil
// *Metrics counts nothing.
type Metrics struct {
	mu       sync.Mutex
	services map[string]*serviceMetrics
	targets  map[[2]string]*targetMetrics
}

// serviceMetrics holds one service's latency histogram and its failures
// by reason.
type serviceMetrics struct {
	buckets  [len(latencyBuckets) + 1]atomic.Uint64 // last is +Inf
	sumNanos atomic.Uint64
	errors   [len(reasons)]atomic.Uint64
}

// targetMetrics counts how often passive health checking marked a target
// down.
type targetMetrics struct {
	failures atomic.Uint64
}

// NewMetrics returns empty counters.
func NewMetrics() *Metrics {
	return &Metrics{services: map[string]*serviceMetrics{}, targets: map[[2]string]*targetMetrics{}}
}

func (m *Metrics) service(name string) *serviceMetrics {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.services[name]
	if s == nil {
		s = &serviceMetrics{}
		m.services[name] = s
	}
	return s
}

func (m *Metrics) target(service, addr string) *targetMetrics {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{service, addr}
	t := m.targets[k]
	if t == nil {
		t = &targetMetrics{}
		m.targets[k] = t
	}
	return t
}

// Observe counts a call answered whole after latency.
func (s *Service) Observe(latency time.Duration) {
	sm := s.metrics
	if sm == nil {
		return
	}
	n := int64(latency)
	i := 0
	for i < len(latencyBucketNanos) && n > latencyBucketNanos[i] {
		i++
	}
	sm.buckets[i].Add(1)
	sm.sumNanos.Add(uint64(max(n, 0)))
}

// Fail counts a failed call by its reason, and returns the reason.
func (s *Service) Fail(err error) string {
	reason := Reason(err)
	if s.metrics != nil {
		s.metrics.errors[slices.Index(reasons[:], reason)].Add(1)
	}
	return reason
}

// Append appends the counters to b in Prometheus text format: latency and
// failures of every service counted since start, and the health of the
// targets of services, the running configuration's.
func (m *Metrics) Append(b []byte, services map[string]*Service, now time.Time) []byte {
	m.mu.Lock()
	names := make([]string, 0, len(m.services))
	for name := range m.services {
		names = append(names, name)
	}
	m.mu.Unlock()
	slices.Sort(names)

	b = help(b, "cutover_upstream_duration_seconds", "histogram", "Time from sending a request upstream to receiving its whole response, by service.")
	for _, name := range names {
		s := m.service(name)
		var cum uint64
		for i := range s.buckets {
			cum += s.buckets[i].Load()
			le := "+Inf"
			if i < len(latencyBuckets) {
				le = strconv.FormatFloat(latencyBuckets[i], 'g', -1, 64)
			}
			b = fmt.Appendf(b, "cutover_upstream_duration_seconds_bucket{service=%q,le=%q} %d\n", name, le, cum)
		}
		b = fmt.Appendf(b, "cutover_upstream_duration_seconds_sum{service=%q} %g\n", name, float64(s.sumNanos.Load())/1e9)
		b = fmt.Appendf(b, "cutover_upstream_duration_seconds_count{service=%q} %d\n", name, cum)
	}
	b = help(b, "cutover_upstream_errors_total", "counter", "Upstream calls that failed, by service and reason.")
	for _, name := range names {
		s := m.service(name)
		for i, reason := range reasons {
			b = fmt.Appendf(b, "cutover_upstream_errors_total{service=%q,reason=%q} %d\n", name, reason, s.errors[i].Load())
		}
	}

	current := make([]string, 0, len(services))
	for name := range services {
		current = append(current, name)
	}
	slices.Sort(current)
	b = help(b, "cutover_upstream_target_up", "gauge", "1 when passive health checking uses the target, 0 while it is skipped after a failure.")
	for _, name := range current {
		for _, t := range services[name].targets {
			up := 0
			if t.Up(now) {
				up = 1
			}
			b = fmt.Appendf(b, "cutover_upstream_target_up{service=%q,target=%q} %d\n", name, t.addr, up)
		}
	}
	b = help(b, "cutover_upstream_target_failures_total", "counter", "Times a target was marked down by passive health checking.")
	for _, name := range current {
		for _, t := range services[name].targets {
			var n uint64
			if t.metrics != nil {
				n = t.metrics.failures.Load()
			}
			b = fmt.Appendf(b, "cutover_upstream_target_failures_total{service=%q,target=%q} %d\n", name, t.addr, n)
		}
	}
	return b
}

func help(b []byte, name, kind, text string) []byte {
	return fmt.Appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, kind)
}
