package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the cutover binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "cutover-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	binary = filepath.Join(dir, "cutover")
	// E2E_BUILD_FLAGS adds go build flags, e.g. "-race" to run the
	// gateway itself under the race detector.
	args := append([]string{"build", "-o", binary}, strings.Fields(os.Getenv("E2E_BUILD_FLAGS"))...)
	build := exec.Command("go", append(args, "./cmd/cutover")...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build failed: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// moduleRoot finds the directory of the module under test.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" {
			return dir, nil
		}
	}
	abs, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
		return "", fmt.Errorf("cannot find the module root: %w", err)
	}
	return abs, nil
}

// Bounds on waits. They are generous: they only stop a broken test from
// hanging, and no test asserts how long anything took.
const (
	startTimeout = 15 * time.Second
	pollTimeout  = 10 * time.Second
	exitTimeout  = 15 * time.Second
)

// configHead is the start of every generated config: both listeners on
// loopback ports the kernel picks, and a short drain.
const configHead = `listen: "127.0.0.1:0"
shutdown_timeout: 5s
admin:
  listen: "127.0.0.1:0"
`

// probeClient polls readiness: no proxy from the environment, short waits.
var probeClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 2 * time.Second}

// gatewayProc is one running `cutover serve`.
type gatewayProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	config string // path of the config file
	addr   string // proxy listener, host:port
	admin  string // admin listener, host:port
	logs   *logSink
	done   chan struct{} // closed when the process has exited
	err    error         // the result of Wait, valid after done
}

// startGateway writes config (configHead is prepended) into a fresh temp
// dir and runs `cutover serve` on it with env added to the environment. It
// returns once the admin /readyz answers 200. The process is killed in
// t.Cleanup unless it has exited.
func startGateway(t *testing.T, config string, env ...string) *gatewayProc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	writeFileAtomic(t, path, configHead+config)
	return startGatewayFile(t, path, env...)
}

func startGatewayFile(t *testing.T, path string, env ...string) *gatewayProc {
	t.Helper()
	g := &gatewayProc{
		t:      t,
		config: path,
		logs:   newLogSink(),
		done:   make(chan struct{}),
	}
	g.cmd = exec.Command(binary, "serve", "-c", path, "--log-format", "json")
	// The config's directory is the working directory, so the default
	// store (./data/cutover.db) is the test's own and parallel tests never
	// share one.
	g.cmd.Dir = filepath.Dir(path)
	g.cmd.Env = append(cleanEnv(), env...)
	g.cmd.Stdout = g.logs
	g.cmd.Stderr = g.logs
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("cannot start cutover: %v", err)
	}
	go func() {
		g.err = g.cmd.Wait()
		close(g.done)
	}()
	t.Cleanup(func() {
		select {
		case <-g.done:
		default:
			_ = g.cmd.Process.Kill()
			select {
			case <-g.done:
			case <-time.After(exitTimeout):
				t.Errorf("cutover (pid %d) did not exit after kill", g.cmd.Process.Pid)
			}
		}
		if strings.Contains(g.logs.String(), "WARNING: DATA RACE") {
			t.Errorf("the race detector reported a data race in cutover")
		}
		if t.Failed() {
			t.Logf("cutover log:\n%s", g.logs.String())
		}
	})

	select {
	case <-g.logs.serving:
	case <-g.done:
		t.Fatalf("cutover exited before serving: %v\n%s", g.err, g.logs.String())
	case <-time.After(startTimeout):
		t.Fatalf("cutover did not log that it is serving\n%s", g.logs.String())
	}
	g.addr, g.admin = g.logs.addresses()

	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := probeClient.Get(g.adminURL("/readyz"))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("cutover /readyz did not answer 200 (last error %v)\n%s", err, g.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cleanEnv is the test's environment without variables that would change
// the gateway's behaviour behind a test's back.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CUTOVER_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (g *gatewayProc) url(path string) string      { return "http://" + g.addr + path }
func (g *gatewayProc) adminURL(path string) string { return "http://" + g.admin + path }

// signal sends sig to the process.
func (g *gatewayProc) signal(sig syscall.Signal) {
	g.t.Helper()
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatalf("cannot send %v to cutover: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (g *gatewayProc) wait() int {
	g.t.Helper()
	select {
	case <-g.done:
	case <-time.After(exitTimeout):
		g.t.Fatalf("cutover did not exit\n%s", g.logs.String())
	}
	if g.err == nil {
		return 0
	}
	if ee, ok := g.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	g.t.Fatalf("waiting for cutover: %v", g.err)
	return -1
}

// writeFileAtomic replaces path with content through a rename, so the
// gateway's file watcher never reads a half-written file.
func writeFileAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// logSink collects the gateway's output and notices the "cutover serving"
// line that names the listeners' addresses.
type logSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	listen  string
	admin   string
	serving chan struct{}
}

func newLogSink() *logSink { return &logSink{serving: make(chan struct{})} }

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := l.partial[:i]
		l.partial = l.partial[i+1:]
		if l.listen != "" {
			continue
		}
		var rec struct {
			Msg    string `json:"msg"`
			Listen string `json:"listen"`
			Admin  string `json:"admin"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "cutover serving" {
			l.listen, l.admin = rec.Listen, rec.Admin
			close(l.serving)
		}
	}
	return len(p), nil
}

func (l *logSink) addresses() (listen, admin string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.listen, l.admin
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
