package upstream

import (
	"maps"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// idleTimeout is how long an idle keep-alive connection to a target is
// kept.
const idleTimeout = 60 * time.Second

// Pool builds services whose targets keep their keep-alive clients across
// reloads. Each Pool has clients of its own: two pools never share a
// connection. It is safe for concurrent use, though builds are meant to
// follow one another (one per configuration load).
type Pool struct {
	metrics *Metrics // nil: the pool's services are not counted

	mu      sync.Mutex
	clients map[clientKey]*fasthttp.HostClient // of the last committed build
}

// clientKey identifies a client a build may reuse: the same address and
// settings keep their warm connections.
type clientKey struct {
	addr        string
	timeout     time.Duration
	maxConns    int
	maxRespBody int
}

// NewPool returns a pool whose services are counted in m; nil counts
// nothing.
func NewPool(m *Metrics) *Pool {
	return &Pool{metrics: m, clients: map[clientKey]*fasthttp.HostClient{}}
}

// Build starts building the services of a new configuration. A Build is
// for one goroutine.
func (p *Pool) Build() *Build {
	p.mu.Lock()
	reuse := maps.Clone(p.clients)
	p.mu.Unlock()
	return &Build{pool: p, reuse: reuse, used: map[clientKey]*fasthttp.HostClient{}}
}

// Build makes the services of one configuration: targets with the same
// address and settings share one client, taken from the last committed
// build when it had one.
type Build struct {
	pool  *Pool
	reuse map[clientKey]*fasthttp.HostClient
	used  map[clientKey]*fasthttp.HostClient
}

// Service returns a new service named name with settings c.
func (b *Build) Service(name string, c Config) *Service {
	s := &Service{
		name:        name,
		timeout:     c.Timeout,
		failTimeout: c.FailTimeout,
		allDown:     c.AllDown,
		metrics:     b.pool.metrics.service(name),
	}
	if c.Host != "" {
		s.host = []byte(c.Host)
	}
	for _, addr := range c.Targets {
		key := clientKey{addr, c.Timeout, c.MaxConns, c.MaxResponseBodySize}
		hc := b.used[key]
		if hc == nil {
			hc = b.reuse[key]
		}
		if hc == nil {
			hc = newHostClient(key)
		}
		b.used[key] = hc
		s.targets = append(s.targets, &Target{addr: addr, client: hc, metrics: b.pool.metrics.target(name, addr)})
	}
	return s
}

// Commit makes the clients this build used the ones the next build may
// reuse. The clients it did not use are dropped; their idle connections
// close after a minute unused. A build that is not committed (a configuration
// that failed to compile) changes nothing.
func (b *Build) Commit() {
	b.pool.mu.Lock()
	b.pool.clients = b.used
	b.pool.mu.Unlock()
}

func newHostClient(k clientKey) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                     k.addr,
		NoDefaultUserAgentHeader: true,
		MaxConns:                 k.maxConns,
		MaxResponseBodySize:      k.maxRespBody,
		MaxIdleConnDuration:      idleTimeout,
		// The whole call is bounded by DoDeadline; these only stop a
		// connection from hanging past it.
		ReadTimeout:  k.timeout,
		WriteTimeout: k.timeout,
		// Paths go upstream exactly as the client sent them.
		DisablePathNormalizing: true,
		ReadBufferSize:         16 << 10,
		// A request's header and a body up to this size go in one write.
		WriteBufferSize: 16 << 10,
	}
}
