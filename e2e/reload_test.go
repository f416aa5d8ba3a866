package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// loadLoop drives GET requests through a gateway from several goroutines
// until stopped, counting failures and which upstream served.
type loadLoop struct {
	stopc  chan struct{}
	wg     sync.WaitGroup
	ok     atomic.Int64
	failed atomic.Int64

	mu       sync.Mutex
	errs     []string
	byServer map[string]int64
}

const loadWorkers = 4

func startLoad(t *testing.T, g *gatewayProc) *loadLoop {
	l := &loadLoop{stopc: make(chan struct{}), byServer: map[string]int64{}}
	c := newClient(t)
	for w := range loadWorkers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stopc:
					return
				default:
				}
				resp, body, err := tryDo(c, "GET", g.url(fmt.Sprintf("/api/load/%d/%d", w, i)), nil, nil)
				if err != nil || resp.StatusCode != http.StatusOK {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 10 {
						if err != nil {
							l.errs = append(l.errs, err.Error())
						} else {
							l.errs = append(l.errs, fmt.Sprintf("status %d: %s", resp.StatusCode, body))
						}
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
				up := resp.Header.Get(hdrUpstream)
				l.mu.Lock()
				l.byServer[up]++
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(l.stop)
	return l
}

func (l *loadLoop) stop() {
	select {
	case <-l.stopc:
	default:
		close(l.stopc)
	}
	l.wg.Wait()
}

// servedBy reports how many answers came from upstream so far.
func (l *loadLoop) servedBy(upstream string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byServer[upstream]
}

// reloadConfig is a config whose only route goes to service target.
func reloadConfig(target string, services map[string]string) string {
	var b strings.Builder
	b.WriteString(configHead)
	b.WriteString("services:\n")
	for _, name := range []string{"a", "b", "c"} {
		fmt.Fprintf(&b, "  %s: { targets: [%q] }\n", name, services[name])
	}
	fmt.Fprintf(&b, "routes:\n  - name: api\n    match: { path_prefix: /api }\n    upstream: %s\n", target)
	return b.String()
}

// TestReloadUnderLoad changes the config three ways while four clients
// keep sending requests, none of which may fail: the file watcher applies
// a changed file; a broken file is refused by POST /api/reload with an
// error naming its line and key while the old config keeps serving; SIGHUP
// reloads (and applies a good file).
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	svcs := map[string]string{
		"a": hostPort(newEcho(t, "a")),
		"b": hostPort(newEcho(t, "b")),
		"c": hostPort(newEcho(t, "c")),
	}
	path := t.TempDir() + "/cutover.yaml"
	writeFileAtomic(t, path, reloadConfig("a", svcs))
	g := startGatewayFile(t, path)
	load := startLoad(t, g)
	waitFor(t, "load served by a", func() bool { return load.servedBy("a") > 20 })

	// (a) The file watcher picks up a changed file.
	writeFileAtomic(t, path, reloadConfig("b", svcs))
	waitFor(t, "the watcher to switch the route to b", func() bool { return load.servedBy("b") > 20 })

	// (b) A broken file is refused; b keeps serving.
	errorsBefore := g.metrics(t, nil)[`cutover_config_reloads_total{result="error"}`]
	broken := strings.Replace(reloadConfig("c", svcs), "routes:\n", "routes:\n  - name: extra\n    upstraem: c\n", 1)
	brokenLine := 1 + strings.Count(broken[:strings.Index(broken, "upstraem")], "\n")
	writeFileAtomic(t, path, broken)
	resp, body := do(t, newClient(t), "POST", g.adminURL("/api/reload"), nil, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("POST /api/reload of a broken file: status %d: %s", resp.StatusCode, body)
	}
	var rr struct {
		Reloaded bool   `json:"reloaded"`
		Error    string `json:"error"`
	}
	if err := json.Unmarshal(body, &rr); err != nil {
		t.Fatalf("reload answer is not JSON: %v: %s", err, body)
	}
	wantErr := fmt.Sprintf("%s:%d: routes[0].upstraem: unknown key \"upstraem\"", path, brokenLine)
	if rr.Reloaded || !strings.Contains(rr.Error, wantErr) {
		t.Errorf("reload answer %+v, want an error containing %q", rr, wantErr)
	}
	if got := g.routes(t).Config.LastReloadError; !strings.Contains(got, wantErr) {
		t.Errorf("/api/routes last_reload_error %q, want it to contain %q", got, wantErr)
	}
	// The watcher tries the broken content once too; then nothing retries
	// it until something asks.
	metricErrors := func() float64 { return g.metrics(t, nil)[`cutover_config_reloads_total{result="error"}`] }
	waitFor(t, "the watcher to try the broken file", func() bool { return metricErrors() >= errorsBefore+2 })
	if n := metricErrors(); n != errorsBefore+2 {
		t.Errorf("failed reloads %v, want %v (one by the API, one by the watcher)", n, errorsBefore+2)
	}
	okBefore := load.servedBy("b")
	waitFor(t, "b to keep serving", func() bool { return load.servedBy("b") > okBefore+20 })
	if n := load.servedBy("c"); n != 0 {
		t.Errorf("the broken config was applied: c served %d requests", n)
	}

	// (c) SIGHUP reloads: with the broken file still there it fails once
	// more (the watcher does not retry unchanged content, so only the
	// signal can have caused it); with a good file it applies.
	g.signal(syscall.SIGHUP)
	waitFor(t, "SIGHUP to retry the broken file", func() bool { return metricErrors() >= errorsBefore+3 })
	writeFileAtomic(t, path, reloadConfig("c", svcs))
	g.signal(syscall.SIGHUP)
	waitFor(t, "the route to switch to c", func() bool { return load.servedBy("c") > 20 })
	if got := g.routes(t).Config.LastReloadError; got != "" {
		t.Errorf("last_reload_error %q after a good reload, want none", got)
	}

	load.stop()
	if n := load.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed during reloads: %q", n, n+load.ok.Load(), load.errs)
	}
	t.Logf("%d requests, all 200: a %d, b %d, c %d", load.ok.Load(), load.servedBy("a"), load.servedBy("b"), load.servedBy("c"))
	select {
	case <-g.done:
		t.Fatalf("cutover exited: %v", g.err)
	default:
	}
}
