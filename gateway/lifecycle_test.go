package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/internal/redistest"
	"github.com/cutover/cutover/store"
)

// lifecycleConfig is a route that old serves and that shadows every
// request to new and records it, with its store at storePath.
func lifecycleConfig(t *testing.T, old, new, storePath string) *configs.Config {
	t.Helper()
	cfg, err := configs.Parse("lifecycle.yaml", []byte(`
listen: "127.0.0.1:0"
store:
  path: "`+storePath+`"
record:
  sample: 1
services:
  old: { targets: ["`+old+`"] }
  new: { targets: ["`+new+`"] }
routes:
  - name: orders
    match: { path_prefix: /api/orders }
    old: old
    new: new
    shadow: { percent: 100 }
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// cutoverGoroutines counts the goroutines that cutover's own packages
// started: the mirror's workers and flush loop, the rollout controller's
// loop, the recorder's writer, retention, the store's health loop.
func cutoverGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "\ncreated by github.com/cutover/cutover/")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitGoroutines fails t unless cutover's goroutines come back to at most
// want before a generous deadline.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := cutoverGoroutines()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines started by cutover's packages are left, want at most %d:\n%s", n, want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jsonUpstream answers every request with one JSON object, after before
// returns.
func jsonUpstream(t *testing.T, before func()) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":7}`)
	}))
	t.Cleanup(up.Close)
	return strings.TrimPrefix(up.URL, "http://")
}

// TestOpenFailureLeavesNothingRunning opens a gateway whose store cannot
// open (its path is a directory): build has started the mirror and the
// rollout controller by then, and Open must stop both.
func TestOpenFailureLeavesNothingRunning(t *testing.T) {
	up := jsonUpstream(t, func() {})
	cfg := lifecycleConfig(t, up, up, t.TempDir())
	before := cutoverGoroutines()
	g, err := Open(cfg, "", nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		_ = g.Close(context.Background())
		t.Fatal("Open succeeded on a store path that is a directory")
	}
	waitGoroutines(t, before)
}

// TestCloseDrainsShadowsIntoTheStore serves a request that is shadowed
// and recorded, holds the shadow copy at the new side until Close has
// stopped the proxy, and reads the store back: Close waited for the copy
// and recorded it before the last flush, closed the store (else it could
// not be opened again), and left nothing running.
func TestCloseDrainsShadowsIntoTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cutover.db")
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	slowNew := jsonUpstream(t, func() {
		arrived <- struct{}{}
		<-release
	})
	cfg := lifecycleConfig(t, jsonUpstream(t, func() {}), slowNew, path)
	before := cutoverGoroutines()
	g, err := Open(cfg, "", nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/orders/7")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %s", resp.Status)
	}
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the shadow copy did not reach the new side")
	}
	closed := make(chan error, 1)
	go func() { closed <- g.Close(context.Background()) }()
	for deadline := time.Now().Add(5 * time.Second); !g.draining.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Close did not stop the proxy")
		}
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := g.Close(context.Background()); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	waitGoroutines(t, before)

	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatalf("the store is still held after Close: %v", err)
	}
	defer st.Close()
	page, err := st.Records(store.Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var served, shadowed int
	for _, r := range page.Records {
		if r.Shadow {
			shadowed++
		} else {
			served++
		}
	}
	if served != 1 || shadowed != 1 {
		t.Errorf("the store holds %d served and %d shadow calls, want 1 and 1", served, shadowed)
	}
}

// TestOpenRefusesANewerRedisStore: a gateway that reaches a Redis holding
// records of a later release refuses to start, naming the key prefix and
// both formats, rather than misreading or overwriting them.
func TestOpenRefusesANewerRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	if err := srv.Do("SET", "shop:format", "99"); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Parse("redis.yaml", []byte(`
listen: "127.0.0.1:0"
store: { driver: redis, redis: { addrs: ["`+srv.Addr+`"], prefix: "shop:" } }
services:
  app: { targets: ["127.0.0.1:1"] }
routes:
  - name: app
    upstream: app
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Open(cfg, "", nil, slog.New(slog.DiscardHandler))
	if err == nil {
		_ = g.Close(context.Background())
		t.Fatal("a gateway started on a Redis store of format 99")
	}
	if !errors.Is(err, store.ErrNewerFormat) || !strings.Contains(err.Error(), `"shop:"`) || !strings.Contains(err.Error(), "format 99") {
		t.Fatalf("error %q does not name the store and its format", err)
	}
}
