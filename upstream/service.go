package upstream

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/configs"
)

// AllDown says what a call does when every target of its service is
// marked down.
type AllDown uint8

const (
	// AllDownTry sends the call to the next target anyway: refusing
	// outright would turn a brief outage into a longer one, and a call
	// that fails answers its client with the failure. The proxy's choice.
	AllDownTry AllDown = iota
	// AllDownSkip fails the call at once with ErrAllDown, sending
	// nothing, so a dead side costs a failed dial per fail_timeout, not
	// one per call. The shadow's choice.
	AllDownSkip
)

// ErrAllDown is returned by Service.Do under AllDownSkip when no target
// could be connected to within fail_timeout: every one was marked down
// before the call or refused it.
var ErrAllDown = errors.New("upstream: every target of the service is down")

// Config is one service's settings. Zero values mean fasthttp's defaults
// (MaxConns), no limit (MaxResponseBodySize), no Host override, or
// AllDownTry.
type Config struct {
	Targets []string // host:port, used round robin
	Host    string   // replaces the Host header sent; "" keeps the request's
	// Timeout bounds one call from its start to the whole response, and
	// the clients' reads and writes.
	Timeout time.Duration
	// FailTimeout is how long a target that could not be connected to is
	// skipped.
	FailTimeout         time.Duration
	MaxConns            int // per target
	MaxResponseBodySize int // larger answers fail with fasthttp.ErrBodyTooLarge
	AllDown             AllDown
}

// ConfigOf returns the settings of a configured service as the proxy uses
// them.
func ConfigOf(sc *configs.Service) Config {
	return Config{
		Targets:     sc.Targets,
		Host:        sc.Host,
		Timeout:     sc.Timeout.D(),
		FailTimeout: sc.FailTimeout.D(),
		MaxConns:    sc.MaxConns,
	}
}

// Service is a set of targets used round robin with passive health
// checking. It never changes once built, but for its targets' health and
// its counters; it is safe for concurrent use.
type Service struct {
	name        string
	targets     []*Target
	next        atomic.Uint32
	timeout     time.Duration
	failTimeout time.Duration
	allDown     AllDown
	host        []byte          // nil keeps the request's Host
	metrics     *serviceMetrics // nil: not counted
}

// Target is one address of a service with its keep-alive client.
type Target struct {
	addr      string
	client    *fasthttp.HostClient
	downUntil atomic.Int64   // unix nanoseconds; up when not after now
	metrics   *targetMetrics // nil: not counted
}

// Name returns the service's name.
func (s *Service) Name() string { return s.name }

// Timeout returns the bound of one call.
func (s *Service) Timeout() time.Duration { return s.timeout }

// Targets returns the service's targets in configuration order. Callers
// must not modify the slice.
func (s *Service) Targets() []*Target { return s.targets }

// SetHost writes the service's Host override into h; without one, h keeps
// its Host.
func (s *Service) SetHost(h *fasthttp.RequestHeader) {
	if s.host != nil {
		h.SetHostBytes(s.host)
	}
}

// Down reports whether every target is marked down at now.
func (s *Service) Down(now time.Time) bool {
	n := now.UnixNano()
	for _, t := range s.targets {
		if t.up(n) {
			return false
		}
	}
	return true
}

// pick returns the next target that is not marked down at now. When every
// target is down it returns the next one anyway under AllDownTry, and nil
// under AllDownSkip.
func (s *Service) pick(now int64) *Target {
	n := uint32(len(s.targets))
	if n == 1 {
		if t := s.targets[0]; s.allDown == AllDownTry || t.up(now) {
			return t
		}
		return nil
	}
	// Each skipped target consumes a turn, so the healthy ones keep an
	// even share instead of the one after a dead target taking its turns.
	for range n {
		if t := s.targets[s.next.Add(1)%n]; t.up(now) {
			return t
		}
	}
	if s.allDown == AllDownSkip {
		return nil
	}
	return s.targets[s.next.Add(1)%n]
}

// Do sends req to one of the service's targets and reads the answer into
// resp, whole, within the service timeout counted from start. See
// Exchange.
func (s *Service) Do(req *fasthttp.Request, resp *fasthttp.Response, start time.Time) (*Target, error) {
	t, _, err := s.Exchange(req, resp, start, nil)
	return t, err
}

// Exchange sends req to one of the service's targets and reads the answer
// into resp within the service timeout counted from start, as x says: a
// long body is returned unread as a Stream, which the caller must close.
// A target that could not be connected to is marked down and the next one
// is tried: the request was never sent, so this is safe for every method.
// It returns the target that answered, or the last one tried. Under
// AllDownSkip it returns nil and ErrAllDown when no target could be
// connected to. Exchange does not count: the caller knows when the answer
// is complete and calls Observe or Fail.
func (s *Service) Exchange(req *fasthttp.Request, resp *fasthttp.Response, start time.Time, x *Exchange) (*Target, *Stream, error) {
	deadline := start.Add(s.timeout)
	now := start.UnixNano()
	var (
		t      *Target
		stream *Stream
		err    error
	)
	for range len(s.targets) {
		if t = s.pick(now); t == nil {
			return nil, nil, ErrAllDown
		}
		stream, err = t.do(req, resp, deadline, s.timeout, x)
		if err == nil || !isConnectFailure(err) {
			return t, stream, err
		}
		t.markDown(now, s.failTimeout)
	}
	if s.allDown == AllDownSkip {
		return nil, nil, ErrAllDown
	}
	return t, nil, err
}

// Dial connects to the next target for a call the caller carries itself
// (a protocol upgrade), within the service timeout. A target that cannot
// be connected to is marked down; no other is tried, since the caller
// answers the client with the failure.
func (s *Service) Dial(now time.Time) (net.Conn, error) {
	t := s.pick(now.UnixNano())
	if t == nil {
		return nil, ErrAllDown
	}
	conn, err := net.DialTimeout("tcp", t.addr, s.timeout)
	if err != nil {
		t.markDown(now.UnixNano(), s.failTimeout)
	}
	return conn, err
}

// Addr returns the target's host:port.
func (t *Target) Addr() string { return t.addr }

// Up reports whether passive health checking uses the target at now.
func (t *Target) Up(now time.Time) bool { return t.up(now.UnixNano()) }

func (t *Target) up(now int64) bool { return t.downUntil.Load() <= now }

func (t *Target) markDown(now int64, failTimeout time.Duration) {
	t.downUntil.Store(now + int64(failTimeout))
	if t.metrics != nil {
		t.metrics.failures.Add(1)
	}
}
