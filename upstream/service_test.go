package upstream

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/internal/loopback"
)

// server is a real loopback upstream that answers with its name and
// counts the connections it accepted.
type server struct {
	addr  string
	conns atomic.Int64
	calls atomic.Int64
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// serve starts a server answering body on addr ("" for a free port),
// stopped when t ends.
func serve(t *testing.T, addr, body string) *server {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: ln.Addr().String()}
	srv := &fasthttp.Server{CloseOnShutdown: true, Handler: func(ctx *fasthttp.RequestCtx) {
		s.calls.Add(1)
		ctx.SetBodyString(body)
	}}
	go func() { _ = srv.Serve(countingListener{ln, &s.conns}) }()
	t.Cleanup(func() {
		// Bounded: a connection a failed test left open must not hang it.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.ShutdownWithContext(ctx)
	})
	return s
}

// call sends one GET through s as if at start and returns the body that
// answered, or the error.
func call(t *testing.T, s *Service, start time.Time) (string, *Target, error) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://upstream.test/x")
	tg, err := s.Do(req, resp, start)
	return string(resp.Body()), tg, err
}

func TestPickSkipsDownTargets(t *testing.T) {
	for _, allDown := range []AllDown{AllDownTry, AllDownSkip} {
		s := &Service{allDown: allDown}
		for _, addr := range []string{"a", "b", "c"} {
			s.targets = append(s.targets, &Target{addr: addr})
		}
		s.targets[1].markDown(0, 1000)
		seen := map[string]int{}
		for range 30 {
			seen[s.pick(10).addr]++
		}
		if seen["b"] != 0 || seen["a"] != 15 || seen["c"] != 15 {
			t.Errorf("AllDown %d: picks %v, want a and c evenly, never b", allDown, seen)
		}
		for _, tg := range s.targets {
			tg.markDown(0, 1000)
		}
		if got := s.pick(10); (got != nil) != (allDown == AllDownTry) {
			t.Errorf("AllDown %d, every target down: pick returned %v", allDown, got)
		}
		if got := s.pick(1000); got == nil {
			t.Errorf("AllDown %d: targets are not used again after fail_timeout", allDown)
		}
	}
}

// TestRoundRobinAroundDeadTarget: a target that refuses connections costs
// one failed dial, is marked down, and the live targets share the calls
// evenly; no call fails.
func TestRoundRobinAroundDeadTarget(t *testing.T) {
	a, b, dead := serve(t, "", "a"), serve(t, "", "b"), loopback.DeadAddr(t)
	m := NewMetrics()
	s := NewPool(m).Build().Service("app", Config{Targets: []string{a.addr, dead, b.addr}, Timeout: 5 * time.Second, FailTimeout: time.Minute})
	served := map[string]int{}
	now := time.Now()
	for i := range 30 {
		body, tg, err := call(t, s, now)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if tg.Addr() == dead {
			t.Fatalf("call %d answered by the dead target", i)
		}
		served[body]++
	}
	if served["a"] != 15 || served["b"] != 15 {
		t.Errorf("served %v, want 15 each", served)
	}
	if s.Targets()[1].Up(now) {
		t.Error("the dead target is still up")
	}
	if n := m.target("app", dead).failures.Load(); n != 1 {
		t.Errorf("dead target marked down %d times within fail_timeout, want 1", n)
	}
}

// TestMarkDownAndRecovery: a target that refused is skipped until its
// fail_timeout has passed, then used again, and serves once it is back.
func TestMarkDownAndRecovery(t *testing.T) {
	a := serve(t, "", "a")
	back := loopback.DeadAddr(t)
	const failTimeout = time.Minute
	s := NewPool(nil).Build().Service("app", Config{Targets: []string{a.addr, back}, Timeout: 5 * time.Second, FailTimeout: failTimeout})
	t0 := time.Now()
	if body, _, err := call(t, s, t0); err != nil || body != "a" {
		t.Fatalf("first call: %q, %v; want a, the live target after the refusal", body, err)
	}
	down := s.Targets()[1]
	if down.Up(t0) || down.Up(t0.Add(failTimeout-1)) || !down.Up(t0.Add(failTimeout)) {
		t.Errorf("the refusing target is up at t0 %v, just before fail_timeout %v, at fail_timeout %v; want false, false, true",
			down.Up(t0), down.Up(t0.Add(failTimeout-1)), down.Up(t0.Add(failTimeout)))
	}
	// Within fail_timeout every call goes to a, even the turns of the
	// refusing target.
	for i := range 4 {
		if body, _, err := call(t, s, t0.Add(failTimeout/2)); err != nil || body != "a" {
			t.Fatalf("call %d within fail_timeout: %q, %v", i, body, err)
		}
	}
	// The target comes back on its address; after fail_timeout it gets
	// its turns again.
	serve(t, back, "back")
	served := map[string]int{}
	for i := range 4 {
		body, _, err := call(t, s, t0.Add(failTimeout+time.Second))
		if err != nil {
			t.Fatalf("call %d after fail_timeout: %v", i, err)
		}
		served[body]++
	}
	if served["back"] != 2 || served["a"] != 2 {
		t.Errorf("after fail_timeout: served %v, want 2 each", served)
	}
}

// TestAllDown: with every target down, the proxy's policy still sends the
// call (and fails with the refusal), the shadow's sends nothing.
func TestAllDown(t *testing.T) {
	dead1, dead2 := loopback.DeadAddr(t), loopback.DeadAddr(t)
	m := NewMetrics()
	b := NewPool(m).Build()
	cfg := Config{Targets: []string{dead1, dead2}, Timeout: 5 * time.Second, FailTimeout: time.Minute}
	try := b.Service("try", cfg)
	cfg.AllDown = AllDownSkip
	skip := b.Service("skip", cfg)
	now := time.Now()

	for i := range 2 {
		_, tg, err := call(t, try, now)
		if tg == nil || err == nil || Reason(err) != ReasonRefused {
			t.Errorf("AllDownTry call %d: target %v, err %v; want a target and a refusal", i, tg, err)
		}
		_, tg, err = call(t, skip, now)
		if tg != nil || !errors.Is(err, ErrAllDown) {
			t.Errorf("AllDownSkip call %d: target %v, err %v; want nil and ErrAllDown", i, tg, err)
		}
	}
	if !try.Down(now) || !skip.Down(now) {
		t.Error("services with every target refused are not down")
	}
	// The first call of each marked both targets down; only AllDownTry
	// dialled both again on the second.
	if n := m.target("try", dead1).failures.Load() + m.target("try", dead2).failures.Load(); n != 4 {
		t.Errorf("AllDownTry: %d mark-downs, want 4 (two a call)", n)
	}
	if n := m.target("skip", dead1).failures.Load() + m.target("skip", dead2).failures.Load(); n != 2 {
		t.Errorf("AllDownSkip: %d mark-downs, want 2 (none on the second call)", n)
	}
	if _, err := skip.Dial(now); !errors.Is(err, ErrAllDown) {
		t.Errorf("AllDownSkip Dial with every target down: %v", err)
	}
}

// TestClientsReusedAcrossBuilds: a committed build hands its clients, and
// their open connections, to the next build with the same settings.
func TestClientsReusedAcrossBuilds(t *testing.T) {
	a := serve(t, "", "a")
	p := NewPool(nil)
	cfg := Config{Targets: []string{a.addr}, Timeout: 5 * time.Second}
	b1 := p.Build()
	s1 := b1.Service("app", cfg)
	b1.Commit()
	if _, _, err := call(t, s1, time.Now()); err != nil {
		t.Fatal(err)
	}

	changed := cfg
	changed.Timeout = time.Second
	b2 := p.Build()
	s2 := b2.Service("app", cfg)
	s2other := b2.Service("other", changed)
	b2.Commit()
	if s2.targets[0].client != s1.targets[0].client {
		t.Error("the same address and settings got a new client after a rebuild")
	}
	if s2other.targets[0].client == s1.targets[0].client {
		t.Error("another timeout shares the client")
	}
	if _, _, err := call(t, s2, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := a.conns.Load(); n != 1 {
		t.Errorf("the upstream accepted %d connections over two builds, want 1 kept alive", n)
	}

	// A build that is not committed changes nothing; one that drops a
	// client does not hand it on.
	p.Build().Service("app", changed)
	b3 := p.Build()
	s3 := b3.Service("app", changed)
	if s3.targets[0].client != s2other.targets[0].client {
		t.Error("a client of the last committed build was not reused")
	}
	b3.Commit()
	if s4 := p.Build().Service("app", cfg); s4.targets[0].client == s1.targets[0].client {
		t.Error("a client the last committed build did not use was reused")
	}
}

// TestPoolsKeepApart: the shadow's pool has clients of its own, with its
// body cap and connection limit, and its mark-downs never reach the
// proxy's targets.
func TestPoolsKeepApart(t *testing.T) {
	big := serve(t, "", strings.Repeat("x", 4096))
	dead := loopback.DeadAddr(t)
	m := NewMetrics()
	primary := NewPool(m).Build()
	shadow := NewPool(nil).Build()
	cfg := Config{Targets: []string{big.addr, dead}, Timeout: 5 * time.Second, FailTimeout: time.Minute}
	p := primary.Service("app", cfg)
	cfg.MaxResponseBodySize, cfg.MaxConns, cfg.AllDown = 1024, 2, AllDownSkip
	s := shadow.Service("app", cfg)
	for i := range p.targets {
		if p.targets[i].client == s.targets[i].client {
			t.Fatalf("target %d: the pools share a client", i)
		}
	}
	if hc := s.targets[0].client; hc.MaxResponseBodySize != 1024 || hc.MaxConns != 2 {
		t.Errorf("shadow client: MaxResponseBodySize %d, MaxConns %d; want 1024, 2", hc.MaxResponseBodySize, hc.MaxConns)
	}

	now := time.Now()
	for range 2 {
		if _, _, err := call(t, s, now); err != nil && !errors.Is(err, fasthttp.ErrBodyTooLarge) {
			t.Fatalf("shadow call: %v, want an answer over the cap", err)
		}
	}
	if s.targets[1].Up(now) {
		t.Fatal("the shadow side's refusing target is not marked down")
	}
	if !p.targets[1].Up(now) {
		t.Error("a shadow mark-down reached the proxy's target")
	}
	if n := m.target("app", dead).failures.Load(); n != 0 {
		t.Errorf("a shadow mark-down was counted in the proxy's metrics: %d", n)
	}
	if body, _, err := call(t, p, now); err != nil || len(body) != 4096 {
		t.Errorf("proxy call: %d bytes, %v; want the whole answer", len(body), err)
	}
}

func TestDialMarksDown(t *testing.T) {
	a, dead := serve(t, "", "a"), loopback.DeadAddr(t)
	s := NewPool(nil).Build().Service("app", Config{Targets: []string{a.addr, dead}, Timeout: 5 * time.Second, FailTimeout: time.Minute})
	now := time.Now()
	for i := range 3 {
		conn, err := s.Dial(now)
		if i == 0 {
			if err == nil || Reason(err) != ReasonRefused {
				t.Fatalf("first dial, to the dead target: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("dial %d: %v, want the live target once the dead one is down", i, err)
		}
		if got := conn.RemoteAddr().String(); got != a.addr {
			t.Errorf("dial %d reached %s", i, got)
		}
		conn.Close()
	}
}

func TestMetricsAppend(t *testing.T) {
	dead := loopback.DeadAddr(t)
	m := NewMetrics()
	s := NewPool(m).Build().Service("app", Config{Targets: []string{dead}, Timeout: time.Second, FailTimeout: time.Minute})
	now := time.Now()
	_, _, err := call(t, s, now)
	s.Fail(err)
	s.Observe(3 * time.Millisecond)
	out := string(m.Append(nil, map[string]*Service{"app": s}, now))
	for _, line := range []string{
		`cutover_upstream_duration_seconds_bucket{service="app",le="0.0025"} 0`,
		`cutover_upstream_duration_seconds_bucket{service="app",le="0.005"} 1`,
		`cutover_upstream_duration_seconds_count{service="app"} 1`,
		`cutover_upstream_errors_total{service="app",reason="refused"} 1`,
		`cutover_upstream_target_up{service="app",target="` + dead + `"} 0`,
		`cutover_upstream_target_failures_total{service="app",target="` + dead + `"} 1`,
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("metrics lack %s:\n%s", line, out)
		}
	}
}
