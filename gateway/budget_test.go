package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/store"
)

// scrapedValue reads the sample named series (with its labels, as
// /metrics writes them) from the admin handler; -1 when absent.
func scrapedValue(t *testing.T, admin http.Handler, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return f
		}
	}
	return -1
}

// pollUntil polls cond every 10 ms until it holds, failing t with what after
// a generous deadline.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serveOnLoopback serves g on a loopback listener and returns its address.
func serveOnLoopback(t *testing.T, g *Gateway) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(ln) }()
	return ln.Addr().String()
}

// TestTinyBudgetDropsCopiesNotAnswers: with memory.async room for about
// one copy and the shadow side stuck, shadow copies and records are
// dropped and counted under budget, every client gets its whole answer,
// and the budget's use returns to 0 once the shadow side answers.
func TestTinyBudgetDropsCopiesNotAnswers(t *testing.T) {
	body := strings.Repeat("x", 2000)
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, body+r.URL.Query().Get("i"))
	}))
	defer old.Close()
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	defer unblock()
	stuckNew := jsonUpstream(t, func() { <-release })
	cfg, err := configs.Parse("budget.yaml", []byte(`
listen: "127.0.0.1:0"
store: { path: "`+filepath.Join(t.TempDir(), "cutover.db")+`", buffer: 4KiB }
memory: { async: 8KiB }
record: { sample: 1 }
services:
  old: { targets: ["`+strings.TrimPrefix(old.URL, "http://")+`"] }
  new: { targets: ["`+stuckNew+`"] }
routes:
  - name: orders
    old: old
    new: new
    shadow: { percent: 100, concurrency: 1, queue: 64, timeout: 30s }
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Open(cfg, "", nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())
	addr := serveOnLoopback(t, g)
	admin := g.AdminHandler()
	if got := scrapedValue(t, admin, "cutover_memory_async_limit_bytes"); got != 8<<10 {
		t.Fatalf("cutover_memory_async_limit_bytes %v, want %d", got, 8<<10)
	}

	const n = 40
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get("http://" + addr + "/orders?i=" + strconv.Itoa(i))
			if err != nil {
				t.Error(err)
				bad.Add(1)
				return
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(got) != body+strconv.Itoa(i) {
				t.Errorf("request %d: %s, %d bytes; want 200 and its whole answer", i, resp.Status, len(got))
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of %d client answers broken", bad.Load(), n)
	}
	shadowBudget := scrapedValue(t, admin, `cutover_shadow_dropped_total{route="orders",reason="budget"}`)
	recordBudget := scrapedValue(t, admin, `cutover_records_dropped_total{reason="budget"}`)
	if shadowBudget <= 0 || recordBudget <= 0 {
		t.Errorf("budget drops: shadow %v, records %v; want both above 0", shadowBudget, recordBudget)
	}
	if used := scrapedValue(t, admin, "cutover_memory_async_bytes"); used > 8<<10 {
		t.Errorf("cutover_memory_async_bytes %v over the limit", used)
	}
	unblock()
	pollUntil(t, "cutover_memory_async_bytes to return to 0", func() bool {
		return scrapedValue(t, admin, "cutover_memory_async_bytes") == 0
	})
}

// fullDisk is a store whose record writes fail while full is set, as a
// full disk makes the embedded store's do.
type fullDisk struct {
	Store
	full atomic.Bool
}

func (f *fullDisk) Append(recs []*store.Record) error {
	if f.full.Load() {
		return errors.New("write cutover.db.segments/000001: no space left on device")
	}
	return f.Store.Append(recs)
}

// readiness returns /readyz's status and its store check.
func readiness(t *testing.T, admin http.Handler) (status, storeCheck string) {
	t.Helper()
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var r struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return r.Status, r.Checks["store"]
}

// TestFullStoreDegradesAndRecovers: while the embedded store cannot write,
// /readyz says degraded and the proxy answers on; once it can, the held
// records are written by themselves and the gateway is ready again.
func TestFullStoreDegradesAndRecovers(t *testing.T) {
	up := jsonUpstream(t, func() {})
	cfg := lifecycleConfig(t, up, up, filepath.Join(t.TempDir(), "cutover.db"))
	g, err := build(cfg, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disk := &fullDisk{Store: st}
	disk.full.Store(true)
	if err := g.useStore(cfg, disk); err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())
	addr := serveOnLoopback(t, g)
	admin := g.AdminHandler()
	get := func() {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/api/orders/7")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != `{"id":7}` {
			t.Fatalf("GET with the store full: %s %q", resp.Status, b)
		}
	}
	get()
	pollUntil(t, "/readyz to say degraded", func() bool {
		status, _ := readiness(t, admin)
		return status == "degraded"
	})
	if _, check := readiness(t, admin); !strings.Contains(check, "no space left on device") {
		t.Errorf("store check %q does not say why", check)
	}
	get() // still served
	if written := scrapedValue(t, admin, "cutover_records_written_total"); written != 0 {
		t.Fatalf("%v records written to a full store", written)
	}
	disk.full.Store(false)
	pollUntil(t, "/readyz ready and the held records written", func() bool {
		status, _ := readiness(t, admin)
		return status == "ready" && scrapedValue(t, admin, "cutover_records_held") == 0 &&
			scrapedValue(t, admin, "cutover_records_written_total") >= 2
	})
}
