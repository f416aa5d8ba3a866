package e2e

import (
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestGracefulDrain sends SIGTERM while a slow request is in flight: the
// gateway stops accepting connections and reports not ready, the slow
// request still completes with 200, and the process exits 0.
func TestGracefulDrain(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	up := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		// Held until the test has seen the drain begin, at most ~1s more.
		select {
		case <-release:
		case <-time.After(pollTimeout):
		}
		time.Sleep(100 * time.Millisecond)
		_, _ = w.Write([]byte("slow but complete"))
	})
	g := startGateway(t, plainConfig(hostPort(up)))

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	c := newClient(t)
	go func() {
		resp, body, err := tryDo(c, "GET", g.url("/slow"), nil, nil)
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{status: resp.StatusCode, body: string(body)}
	}()
	select {
	case <-arrived:
	case <-time.After(pollTimeout):
		t.Fatal("the slow request did not reach the upstream")
	}

	g.signal(syscall.SIGTERM)
	waitFor(t, "the listener to refuse new connections", func() bool {
		c, err := net.DialTimeout("tcp", g.addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	resp, _, err := tryDo(newClient(t), "GET", g.adminURL("/readyz"), nil, nil)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %v %v, want 503", statusOf(resp), err)
	}
	close(release)

	select {
	case r := <-done:
		if r.err != nil || r.status != http.StatusOK || r.body != "slow but complete" {
			t.Errorf("in-flight request: status %d body %q err %v, want 200", r.status, r.body, r.err)
		}
	case <-time.After(requestTimeout):
		t.Fatal("the in-flight request never completed")
	}
	if code := g.wait(); code != 0 {
		t.Errorf("exit code %d, want 0\n%s", code, g.logs.String())
	}
}

func statusOf(resp *http.Response) any {
	if resp == nil {
		return "no response"
	}
	return resp.StatusCode
}
