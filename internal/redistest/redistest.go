// Package redistest runs a real redis-server on a free loopback port for
// tests. A missing redis-server fails the test: `make test` installs it.
package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is one redis-server process, bound to 127.0.0.1 only.
type Server struct {
	Addr string
	t    testing.TB
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	log  syncBuffer // the server's output, shown when the test fails
}

// syncBuffer is a bytes.Buffer safe for the process's two pipes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Start starts redis-server on a free loopback port, with its data in a
// temporary directory, and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed; `make test` installs it (apt-get install redis-server)")
	}
	s := &Server{t: t, dir: t.TempDir(), Addr: freeAddr(t)}
	s.Start()
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("redis-server log:\n%s", s.log.String())
		}
	})
	return s
}

// Start starts the server again after Stop, on the same port and with the
// data Stop saved.
func (s *Server) Start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command("redis-server",
		"--bind", "127.0.0.1", "--port", port, "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--dbfilename", "dump.rdb",
		"--protected-mode", "yes", "--loglevel", "warning")
	s.cmd.Stdout = &s.log
	s.cmd.Stderr = &s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("cannot start redis-server: %v", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := s.Do("PING"); err == nil {
			return
		}
		select {
		case <-s.done:
			s.t.Fatal("redis-server exited at start")
		default:
		}
		if time.Now().After(deadline) {
			s.Kill()
			s.t.Fatal("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop saves the data and stops the server, as a planned Redis restart
// does; Start brings it back with the data.
func (s *Server) Stop() {
	s.t.Helper()
	_ = s.Do("SHUTDOWN", "SAVE")
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.Kill()
		s.t.Fatal("redis-server did not stop within 10s")
	}
}

// Pause freezes the process (SIGSTOP): connections open but nothing
// answers, as with a hung server or a network partition. Resume undoes it.
func (s *Server) Pause()  { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *Server) Resume() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// Kill ends the process without saving; it is idempotent.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Do sends one command over a fresh connection and fails unless the
// reply is a status or an integer (PING, SHUTDOWN, FLUSHALL, CONFIG SET).
func (s *Server) Do(args ...string) error {
	conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		if len(args) > 0 && strings.EqualFold(args[0], "SHUTDOWN") {
			return nil // the server closes the connection as it exits
		}
		return err
	}
	if strings.HasPrefix(line, "-") {
		return fmt.Errorf("redis: %s", strings.TrimSpace(line[1:]))
	}
	return nil
}

// Dir is the server's data directory.
func (s *Server) Dir() string { return filepath.Clean(s.dir) }

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
