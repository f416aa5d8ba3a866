package shadow

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/internal/loopback"
)

// seenHeaders is what a shadow side saw of the copies it got.
type seenHeaders struct {
	mu   sync.Mutex
	reqs []map[string]string
}

func (s *seenHeaders) add(h *fasthttp.RequestHeader) {
	m := map[string]string{}
	for k, v := range h.All() {
		m[string(k)] = string(v)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, m)
	s.mu.Unlock()
}

func (s *seenHeaders) all() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]string(nil), s.reqs...)
}

// compiled builds the shadowing of one route, old → new, with shadow
// settings extra, on a mirror closed when t ends.
func compiled(t *testing.T, newAddr, extra string) *Compiled {
	t.Helper()
	cfg, err := configs.Parse("shadow.yaml", []byte(fmt.Sprintf(`
services:
  old: { targets: ["127.0.0.1:1"] }
  new: { targets: [%q], fail_timeout: 1m }
chain: { inject: [w3c, b3] }
routes:
  - name: items
    match: { path_prefix: /items }
    old: old
    new: new
    shadow: { percent: 100, max_body: 1KiB%s }
`, newAddr, extra)))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMirror(Options{})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Close(ctx)
	})
	b := m.Build(cfg, chain.FormatW3C|chain.FormatB3)
	c, err := b.Route(cfg.Routes[0])
	if err != nil {
		t.Fatal(err)
	}
	b.Commit()
	if c == nil {
		t.Fatal("a shadowed route compiled to nil")
	}
	return c
}

// answered is a request old answered with body, as the gateway hands it
// over; tracestate "" sends none.
func answered(method, tracestate, body string) (*fasthttp.RequestCtx, *chain.Chain) {
	ctx := new(fasthttp.RequestCtx)
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI("http://shop.example/items/1")
	ctx.Request.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if tracestate != "" {
		ctx.Request.Header.Set("tracestate", tracestate)
	}
	ctx.Response.SetStatusCode(200)
	ctx.Response.SetBodyString(body)
	c := chain.Extract(&ctx.Request.Header, "X-Chain-Id")
	return ctx, &c
}

// TestOfferSkipsByReason: Offer counts every request it does not copy by
// its reason, and copies the rest, tagged as shadow traffic.
func TestOfferSkipsByReason(t *testing.T) {
	var seen seenHeaders
	c := compiled(t, listen(t, func(ctx *fasthttp.RequestCtx) {
		seen.add(&ctx.Request.Header)
		ctx.SetBodyString(`{"a":1}`)
	}), "")
	r := c.Route()
	primary := func() *Primary { return &Primary{Target: "127.0.0.1:1", Sent: time.Now(), Latency: time.Millisecond} }

	ctx, ch := answered("GET", "cutover=shadow,vendor=x", `{"a":1}`)
	c.Offer(&ctx.Request, &ctx.Response, ch, primary())
	ctx, ch = answered("POST", "", `{"a":1}`)
	c.Offer(&ctx.Request, &ctx.Response, ch, primary())
	ctx, ch = answered("GET", "", `{"a":1}`)
	failed := primary()
	failed.Failed = true
	c.Offer(&ctx.Request, &ctx.Response, ch, failed)
	ctx, ch = answered("GET", "", strings.Repeat("x", 2048))
	c.Offer(&ctx.Request, &ctx.Response, ch, primary())
	for reason, want := range map[string]uint64{ReasonShadowChain: 1, ReasonMethod: 1, ReasonPrimaryFailed: 1, ReasonBodyTooLarge: 1} {
		if got := r.Dropped(reason); got != want {
			t.Errorf("dropped as %s: %d, want %d", reason, got, want)
		}
	}

	ctx, ch = answered("GET", "vendor=x", `{"a":1}`)
	c.Offer(&ctx.Request, &ctx.Response, ch, primary())
	deadline := time.Now().Add(10 * time.Second)
	for r.Compared() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if r.Compared() != 1 {
		t.Fatalf("compared %d, want the one copy made", r.Compared())
	}
	got := seen.all()
	if len(got) != 1 {
		t.Fatalf("the shadow side got %d copies, want 1", len(got))
	}
	h := got[0]
	if h[HeaderShadow] != "1" || !strings.HasPrefix(h["Tracestate"], TracestateEntry+",") || !strings.Contains(h["Tracestate"], "vendor=x") {
		t.Errorf("copy not tagged as shadow traffic: %v", h)
	}
	if tp := h["Traceparent"]; !strings.HasPrefix(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || strings.Contains(tp, "00f067aa0ba902b7") {
		t.Errorf("copy traceparent %q: want the chain with a new span", tp)
	}
	if h["X-Chain-Id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || !strings.HasPrefix(h["B3"], "4bf92f3577b34da6a3ce929d0e0e4736-") {
		t.Errorf("copy chain headers: %v", h)
	}
}

// TestOfferSkipsDownSide: once every target of the shadow side refused,
// copies are skipped unsent and counted as error until fail_timeout.
func TestOfferSkipsDownSide(t *testing.T) {
	c := compiled(t, loopback.DeadAddr(t), "")
	r := c.Route()
	ctx, ch := answered("GET", "", `{"a":1}`)
	c.Offer(&ctx.Request, &ctx.Response, ch, &Primary{Sent: time.Now()})
	deadline := time.Now().Add(10 * time.Second)
	for r.Dropped(ReasonError) < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !c.toNew.Down(time.Now()) {
		t.Fatalf("the refusing shadow side is not marked down (dropped as error: %d)", r.Dropped(ReasonError))
	}
	queued := r.QueueLen()
	for range 5 {
		ctx, ch := answered("GET", "", `{"a":1}`)
		c.Offer(&ctx.Request, &ctx.Response, ch, &Primary{Sent: time.Now()})
	}
	if got := r.Dropped(ReasonError); got != 6 {
		t.Errorf("dropped as error: %d, want the first failed copy and 5 skipped", got)
	}
	if r.QueueLen() != queued || r.Compared() != 0 {
		t.Errorf("copies to a down side were queued (%d) or compared (%d)", r.QueueLen(), r.Compared())
	}
}
