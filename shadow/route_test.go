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
	"github.com/cutover/cutover/internal/loopback"
	"github.com/cutover/cutover/store"
	"github.com/cutover/cutover/upstream"
)

// sides builds shadow sides from a pool of their own, as Mirror.Build
// does.
var sides = upstream.NewPool(nil)

// side returns a shadow side named name for addr: timeout bounds each
// copy, maxBody caps the answers (0: no cap).
func side(name, addr string, timeout time.Duration, maxBody int) *upstream.Service {
	return sides.Build().Service(name, upstream.Config{
		Targets: []string{addr}, Timeout: timeout, FailTimeout: time.Minute,
		MaxResponseBodySize: maxBody, AllDown: upstream.AllDownSkip,
	})
}

// serve starts a loopback server with h and returns a shadow side for it.
func serve(t *testing.T, name string, h fasthttp.RequestHandler) *upstream.Service {
	t.Helper()
	return side(name, listen(t, h), 5*time.Second, 0)
}

// listen starts a loopback server with h and returns its address.
func listen(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func settings(old, new *upstream.Service) *Settings {
	rules, err := diff.Compile(diff.Rules{})
	if err != nil {
		panic(err)
	}
	return &Settings{Old: old, New: new, Rules: rules, RecordMaxBody: 1 << 10, ChainHeader: "X-Chain-Id", Inject: chain.FormatW3C}
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

// TestSubmitNeverBlocks: with the one worker stuck and the queue full,
// Submit refuses at once; a Submit that blocked fails the test within a
// bound instead of hanging it.
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
	accepted := make(chan int, 1)
	go func() {
		ok := 0
		for range n {
			if r.Submit(job(r, `{"a":1}`)) {
				ok++
			}
		}
		accepted <- ok
	}()
	var ok int
	select {
	case ok = <-accepted:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("Submit blocked behind a stuck worker and a full queue")
	}
	// One job in the stuck worker and two queued at most.
	if ok > 3 {
		t.Errorf("Submit accepted %d of %d with one stuck worker and a queue of 2, want at most 3", ok, n)
	}
	dropped := r.Dropped(ReasonQueueFull)
	if dropped != uint64(n-ok) {
		t.Errorf("dropped %d as queue_full, want the %d refused", dropped, n-ok)
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
	stuck := serve(t, "stuck", func(ctx *fasthttp.RequestCtx) { time.Sleep(300 * time.Millisecond) })
	big := serve(t, "big", func(ctx *fasthttp.RequestCtx) { ctx.SetBody(make([]byte, 4096)) })
	m := NewMirror(Options{})
	for _, c := range []struct {
		side   *upstream.Service
		reason string
	}{
		{side("dead", loopback.DeadAddr(t), 50*time.Millisecond, 0), ReasonError},
		{side("stuck", stuck.Targets()[0].Addr(), 50*time.Millisecond, 0), ReasonTimeout},
		{side("big", big.Targets()[0].Addr(), 50*time.Millisecond, 1024), ReasonBodyTooLarge},
	} {
		r := m.Route(c.side.Name(), settings(c.side, c.side), 2, 8)
		for range 3 {
			r.Submit(job(r, `{}`))
		}
		deadline := time.Now().Add(10 * time.Second)
		for r.Dropped(c.reason) < 3 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := r.Dropped(c.reason); got != 3 || r.Compared() != 0 {
			t.Errorf("%s side: dropped %d as %s and compared %d, want 3 and 0", c.side.Name(), got, c.reason, r.Compared())
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
