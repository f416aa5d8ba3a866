package shadow

import (
	"context"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/store"
)

// hostUpstream is a real loopback upstream behind a fasthttp client.
type hostUpstream struct {
	name string
	hc   *fasthttp.HostClient
}

func (u *hostUpstream) Name() string { return u.name }
func (u *hostUpstream) Do(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) (string, error) {
	return u.hc.Addr, u.hc.DoDeadline(req, resp, deadline)
}

// serve starts a loopback server with h and returns an upstream for it.
func serve(t *testing.T, name string, h fasthttp.RequestHandler) *hostUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return &hostUpstream{name: name, hc: &fasthttp.HostClient{Addr: ln.Addr().String()}}
}

func settings(old, new Upstream) *Settings {
	rules, err := diff.Compile(diff.Rules{})
	if err != nil {
		panic(err)
	}
	return &Settings{
		Old: old, New: new, Timeout: 5 * time.Second, MaxBody: 1 << 20, Rules: rules, RecordMaxBody: 1 << 10,
		Tag: func(req *fasthttp.Request, c *chain.Chain, service string, scratch []byte) []byte {
			req.Header.Set(HeaderShadow, "1")
			return scratch
		},
	}
}

// job is a GET whose primary (old) answered body.
func job(r *Route, body string) *Job {
	j := r.NewJob()
	j.Req.SetRequestURI("http://example.com/items/1")
	j.Primary.SetStatusCode(200)
	j.Primary.Header.SetContentType("application/json")
	j.Primary.SetBodyString(body)
	j.Chain = chain.Chain{Trace: chain.NewTraceID(), Span: chain.NewSpanID()}
	j.Start = time.Now()
	return j
}

func TestSubmitNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	slow := serve(t, "new", func(ctx *fasthttp.RequestCtx) {
		calls.Add(1)
		<-release
		ctx.SetBodyString(`{"a":1}`)
	})
	m := NewMirror(Options{})
	r := m.Route("items", settings(slow, slow), 1, 2)
	const n = 10
	for range n {
		r.Submit(job(r, `{"a":1}`)) // returns at once though the one worker is stuck
	}
	dropped := r.Dropped(ReasonQueueFull)
	if dropped < n-3 {
		t.Errorf("dropped %d of %d with one worker and a queue of 2, want at least %d", dropped, n, n-3)
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.Compared() + r.Dropped(ReasonQueueFull); got != n {
		t.Errorf("compared %d + dropped %d = %d, want every one of %d accounted for", r.Compared(), dropped, got, n)
	}
	if int64(r.Compared()) != calls.Load() {
		t.Errorf("compared %d, but the shadow side got %d calls", r.Compared(), calls.Load())
	}
}

func TestFailuresCountedByReason(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := &hostUpstream{name: "dead", hc: &fasthttp.HostClient{Addr: ln.Addr().String()}}
	ln.Close()
	stuck := serve(t, "stuck", func(ctx *fasthttp.RequestCtx) { time.Sleep(300 * time.Millisecond) })
	big := serve(t, "big", func(ctx *fasthttp.RequestCtx) { ctx.SetBody(make([]byte, 4096)) })
	big.hc.MaxResponseBodySize = 1024
	m := NewMirror(Options{})
	for _, c := range []struct {
		side   *hostUpstream
		reason string
	}{{dead, ReasonError}, {stuck, ReasonTimeout}, {big, ReasonBodyTooLarge}} {
		set := settings(c.side, c.side)
		set.Timeout = 50 * time.Millisecond
		r := m.Route(c.side.name, set, 2, 8)
		for range 3 {
			r.Submit(job(r, `{}`))
		}
		deadline := time.Now().Add(10 * time.Second)
		for r.Dropped(c.reason) < 3 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := r.Dropped(c.reason); got != 3 || r.Compared() != 0 {
			t.Errorf("%s side: dropped %d as %s and compared %d, want 3 and 0", c.side.name, got, c.reason, r.Compared())
		}
	}
	_ = m.Close(context.Background())
}

// TestStatisticsContinueAfterRestart: what one mirror compared is in the
// report of the next one opened on the same store.
func TestStatisticsContinueAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cutover.db")
	newSide := serve(t, "new", func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{"a":2}`) })
	run := func(jobs int) diff.RouteReport {
		st, err := store.OpenBolt(path, store.BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		m := NewMirror(Options{})
		r := m.Route("items", settings(newSide, newSide), 2, 64)
		if err := m.SetStore(st, nil); err != nil {
			t.Fatal(err)
		}
		before := r.Compared()
		for range jobs {
			r.Submit(job(r, `{"a":1}`))
		}
		deadline := time.Now().Add(10 * time.Second)
		for r.Compared() < before+uint64(jobs) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		rep, err := m.Report(r, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	run(5)
	rep := run(3)
	if rep.Compared != 8 || rep.Differing != 8 || len(rep.Fields) != 1 || rep.Fields[0].Path != "a" || rep.Fields[0].Count != 8 {
		t.Errorf("after a restart: %+v, want 8 pairs differing at a", rep)
	}
	// A stored sample is readable by its ID.
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, err := store.ParseSampleID(rep.Fields[0].Samples[0])
	if err != nil {
		t.Fatal(err)
	}
	if data, err := st.Sample(id); err != nil || len(data) == 0 {
		t.Errorf("sample %s: %v", id, err)
	}
}
