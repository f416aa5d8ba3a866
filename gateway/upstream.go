package gateway

import (
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/configs"
)

// upstreamIdle is how long an idle keep-alive connection to a target is kept.
const upstreamIdle = 60 * time.Second

// service is a pool of targets used round robin with passive health
// checking: a target whose connection fails is skipped for failTimeout.
// It is safe for concurrent use.
type service struct {
	name        string
	targets     []*target
	next        atomic.Uint32
	timeout     time.Duration
	failTimeout time.Duration
	host        []byte // Host override; nil keeps the client's
	metrics     *serviceMetrics
}

// target is one upstream address with its own keep-alive pool.
type target struct {
	addr      string
	client    *fasthttp.HostClient
	downUntil atomic.Int64 // unix nanoseconds; 0 when up
	metrics   *targetMetrics
}

// clientKey identifies a HostClient that a reload may reuse: same address
// and same settings keep their warm connections.
type clientKey struct {
	addr     string
	timeout  time.Duration
	maxConns int
}

func newHostClient(addr string, timeout time.Duration, maxConns int) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                     addr,
		NoDefaultUserAgentHeader: true,
		MaxConns:                 maxConns,
		MaxIdleConnDuration:      upstreamIdle,
		// The whole call is bounded by DoDeadline; these only stop a
		// connection from hanging past it.
		ReadTimeout:  timeout,
		WriteTimeout: timeout,
		// Paths go upstream exactly as the client sent them.
		DisablePathNormalizing: true,
		ReadBufferSize:         16 << 10,
		// A request's header and a body up to this size go in one write.
		WriteBufferSize: 16 << 10,
	}
}

// newService builds a service, reusing clients from a previous
// configuration where the key matches so reloads keep warm connections.
func newService(name string, sc *configs.Service, reuse map[clientKey]*fasthttp.HostClient, m *metrics) *service {
	s := &service{
		name:        name,
		timeout:     sc.Timeout.D(),
		failTimeout: sc.FailTimeout.D(),
		metrics:     m.service(name),
	}
	if sc.Host != "" {
		s.host = []byte(sc.Host)
	}
	for _, addr := range sc.Targets {
		key := clientKey{addr, s.timeout, sc.MaxConns}
		hc := reuse[key]
		if hc == nil {
			hc = newHostClient(addr, s.timeout, sc.MaxConns)
			reuse[key] = hc
		}
		s.targets = append(s.targets, &target{addr: addr, client: hc, metrics: m.target(name, addr)})
	}
	return s
}

// pick returns the next target that is not marked down; when every target
// is down it returns the next one anyway, since refusing outright would
// turn a brief outage into a longer one.
func (s *service) pick(now int64) *target {
	n := uint32(len(s.targets))
	if n == 1 {
		return s.targets[0]
	}
	// Each skipped target consumes a turn, so the healthy ones keep an
	// even share instead of the one after a dead target taking its turns.
	for range n {
		t := s.targets[s.next.Add(1)%n]
		if t.downUntil.Load() <= now {
			return t
		}
	}
	return s.targets[s.next.Add(1)%n]
}

// do sends req to one of the service's targets and reads the answer into
// resp, within the service timeout counted from start. A target that could
// not be connected to is marked down and the next one is tried: the request
// was never sent, so this is safe for every method. It returns the target
// that answered, or the last one tried.
func (s *service) do(req *fasthttp.Request, resp *fasthttp.Response, start time.Time) (*target, error) {
	deadline := start.Add(s.timeout)
	now := start.UnixNano()
	var (
		t   *target
		err error
	)
	for range len(s.targets) {
		t = s.pick(now)
		err = t.client.DoDeadline(req, resp, deadline)
		if err == nil || !isConnectFailure(err) {
			break
		}
		t.markDown(now, s.failTimeout)
	}
	return t, err
}

func (t *target) markDown(now int64, failTimeout time.Duration) {
	t.downUntil.Store(now + int64(failTimeout))
	t.metrics.failures.Add(1)
}

// up reports whether passive health checking currently uses the target.
func (t *target) up(now int64) bool { return t.downUntil.Load() <= now }
