package gateway

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/internal/loopback"
	"github.com/cutover/cutover/internal/otlptest"
)

func TestTracingRestartRequired(t *testing.T) {
	parse := func(head string) *configs.Config {
		c, err := configs.Parse("t.yaml", []byte(head+"services: { app: { targets: [\"127.0.0.1:9001\"] } }\nroutes: [ { name: all, upstream: app } ]\n"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	on := "tracing: { otlp: { endpoint: \"http://127.0.0.1:4318\" } }\n"
	for _, tc := range []struct {
		old, cur string
		want     []string
	}{
		{"", "", nil},
		{on, "tracing: { otlp: { endpoint: \"http://127.0.0.1:4318\", sample: 0.1 } }\n", nil},
		{"", on, []string{"tracing.otlp"}},
		{on, "", []string{"tracing.otlp"}},
		{on, "tracing: { otlp: { endpoint: \"http://127.0.0.1:4319\" } }\n", []string{"tracing.otlp"}},
		{on, "tracing: { otlp: { endpoint: \"http://127.0.0.1:4318\", service_name: gw } }\n", []string{"tracing.otlp"}},
	} {
		if got := restartRequired(parse(tc.old), parse(tc.cur)); !slices.Equal(got, tc.want) {
			t.Errorf("%q → %q: restart required for %v, want %v", tc.old, tc.cur, got, tc.want)
		}
	}
}

// TestTracingReloadSample: a reload applies a new sample at once and says
// that a new endpoint needs a restart.
func TestTracingReloadSample(t *testing.T) {
	rcv := otlptest.Start(t)
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	write := func(tracing string) {
		if err := os.WriteFile(path, []byte(tracing+"services: { app: { targets: [\"127.0.0.1:9001\"] } }\nroutes: [ { name: all, upstream: app } ]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("tracing: { otlp: { endpoint: \"" + rcv.URL() + "\", sample: 1 } }\n")
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := build(cfg, path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.closeShadows(shortContext(t)); _ = g.closeTracing(shortContext(t)) })
	c := chain.Chain{Trace: chain.NewTraceID(), Sampled: true}
	if !g.Tracer().Sampled(&c) {
		t.Fatal("not sampled at 1")
	}
	write("tracing: { otlp: { endpoint: \"" + rcv.URL() + "\", sample: 0 } }\n")
	res, err := g.Reload()
	if err != nil || len(res.RestartRequired) > 0 {
		t.Fatalf("reload: %+v, %v; want it applied without a restart", res, err)
	}
	if g.Tracer().Sampled(&c) {
		t.Error("still sampled after a reload to sample 0")
	}
	write("tracing: { otlp: { endpoint: \"http://127.0.0.1:1\", sample: 0 } }\n")
	if res, err := g.Reload(); err != nil || !slices.Equal(res.RestartRequired, []string{"tracing.otlp"}) {
		t.Errorf("reload to a new endpoint: %+v, %v; want tracing.otlp restart-required", res, err)
	}
}

// TestTracedProxyFailure: a call whose upstream refuses the connection is
// answered 502 and exported as an error span under the caller's span.
func TestTracedProxyFailure(t *testing.T) {
	rcv := otlptest.Start(t)
	dead := loopback.DeadAddr(t)
	cfg, err := configs.Parse("t.yaml", []byte("tracing: { otlp: { endpoint: \""+rcv.URL()+"\" } }\n"+
		"services: { app: { targets: [\""+dead+"\"], timeout: 2s } }\nroutes: [ { name: all, upstream: app } ]\n"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := build(cfg, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.closeShadows(shortContext(t)); _ = g.closeTracing(shortContext(t)) })
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, nil)
	const trace, caller = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	if err := ctx.Request.Read(bufioReader("DELETE /items/9 HTTP/1.1\r\nHost: shop.example\r\ntraceparent: 00-" + trace + "-" + caller + "-01\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	g.handle(&ctx)
	if ctx.Response.StatusCode() != fasthttp.StatusBadGateway {
		t.Fatalf("status %d, want 502", ctx.Response.StatusCode())
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(rcv.Find(trace)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no span received")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := rcv.Find(trace)[0]
	if s.Parent != caller || !s.Error || s.Attr("http.response.status_code") != "502" || s.Attr("error.type") == "" ||
		s.Attr("http.request.method") != "DELETE" || s.Attr("url.path") != "/items/9" || s.Attr("server.address") != "shop.example" ||
		s.Attr("cutover.target") != dead || s.Attr("cutover.side") != "upstream" {
		t.Errorf("span %+v; want an error span under %s: DELETE /items/9 to shop.example, 502, error.type set, target %s, side upstream", s, caller, dead)
	}
}
