package upstream

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// rawServer answers every request on every connection with answer(n),
// n counting requests from 0, and counts the connections accepted. An
// answer ending in hangUp is sent without it, and the connection closed.
const hangUp = "\x00"

type rawServer struct {
	addr  string
	conns atomic.Int64
}

func serveRaw(t *testing.T, answer func(n int) string) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &rawServer{addr: ln.Addr().String()}
	var calls atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					var req fasthttp.Request
					if err := req.Read(br); err != nil {
						return
					}
					a, closing := strings.CutSuffix(answer(int(calls.Add(1)-1)), hangUp)
					if _, err := io.WriteString(c, a); err != nil || closing {
						return
					}
				}
			}()
		}
	}()
	return s
}

type interims []string

func (i *interims) Interim(h *fasthttp.ResponseHeader) {
	*i = append(*i, string(h.Peek("Link"))+"/"+string(rune('0'+h.StatusCode()%10)))
}

func rawService(t *testing.T, addr string) *Service {
	t.Helper()
	return NewPool(nil).Build().Service("raw", Config{Targets: []string{addr}, Timeout: 5 * time.Second, FailTimeout: time.Second})
}

func get(t *testing.T, s *Service, x *Exchange) (*fasthttp.Response, *Stream) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	t.Cleanup(func() { fasthttp.ReleaseRequest(req); fasthttp.ReleaseResponse(resp) })
	req.SetRequestURI("http://x/")
	_, st, err := s.Exchange(req, resp, time.Now(), x)
	if err != nil {
		t.Fatal(err)
	}
	return resp, st
}

// TestInterimResponses: 102 and 103 are handed on in order, 100 Continue
// is not, and the final answer is read whole after them.
func TestInterimResponses(t *testing.T) {
	srv := serveRaw(t, func(int) string {
		return "HTTP/1.1 100 Continue\r\n\r\n" +
			"HTTP/1.1 102 Processing\r\n\r\n" +
			"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" +
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	var got interims
	resp, st := get(t, rawService(t, srv.addr), &Exchange{Interim: &got})
	if st != nil || resp.StatusCode() != 200 || string(resp.Body()) != "ok" {
		t.Fatalf("final answer %d %q (stream %v)", resp.StatusCode(), resp.Body(), st != nil)
	}
	if strings.Join(got, ",") != "/2,</a.css>/3" {
		t.Fatalf("interim responses handed on: %q, want 102 then 103 with its Link", got)
	}
}

// TestTooManyInterimResponses: an upstream that never stops sending
// interim responses fails the call instead of holding it.
func TestTooManyInterimResponses(t *testing.T) {
	srv := serveRaw(t, func(int) string {
		return strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", maxInterim+1) + "HTTP/1.1 204 No Content\r\n\r\n"
	})
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://x/")
	if _, _, err := rawService(t, srv.addr).Exchange(req, resp, time.Now(), &Exchange{}); !errors.Is(err, errTooManyInterim) {
		t.Fatalf("err %v, want %v", err, errTooManyInterim)
	}
}

// TestStreamsAndTheirConnections: a body over StreamAbove, or chunked,
// comes back as a Stream; one read to its end gives the connection back
// (the next call reuses it), one closed early closes it (the next call
// dials again); a body cut short ends in io.ErrUnexpectedEOF.
func TestStreamsAndTheirConnections(t *testing.T) {
	long := strings.Repeat("L", 1000)
	srv := serveRaw(t, func(n int) string {
		switch n {
		case 1:
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n"
		case 3:
			return "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nshort" + hangUp
		default:
			return "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + long
		}
	})
	s := rawService(t, srv.addr)
	x := &Exchange{StreamAbove: 100}

	_, st := get(t, s, x)
	if st == nil || st.Length() != 1000 {
		t.Fatalf("a 1000-byte body over StreamAbove 100: stream %v", st)
	}
	b, err := io.ReadAll(st)
	if err != nil || string(b) != long {
		t.Fatalf("streamed body: %d bytes, %v", len(b), err)
	}
	st.Close()

	resp, st := get(t, s, x)
	if st == nil || st.Length() != -1 {
		t.Fatal("a chunked body was not streamed")
	}
	b, err = io.ReadAll(st)
	if err != nil || string(b) != "abcde" || string(resp.Header.Peek("X-Sum")) != "5" {
		t.Fatalf("chunked body %q, %v, trailer X-Sum %q", b, err, resp.Header.Peek("X-Sum"))
	}
	st.Close()
	if n := srv.conns.Load(); n != 1 {
		t.Fatalf("%d connections for two streams read to their end, want 1", n)
	}

	_, st = get(t, s, x)
	if _, err := st.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	st.Close() // early: the connection cannot be reused
	_, st = get(t, s, x)
	b, err = io.ReadAll(st)
	st.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != "short" {
		t.Fatalf("a body cut short: %q, %v; want io.ErrUnexpectedEOF", b, err)
	}
	if n := srv.conns.Load(); n != 2 {
		t.Fatalf("%d connections after a stream closed early, want 2", n)
	}
	// The server hung up after the short body: a new connection.
	// Bodies within StreamAbove are read whole, as without an Exchange.
	resp, st = get(t, s, &Exchange{StreamAbove: 2000})
	if st != nil || resp.StatusCode() != 200 {
		t.Fatalf("a body within StreamAbove came back as a stream: %v", st != nil)
	}
}

// TestStreamedBodyIsNotSentTwice: an idempotent call whose reused
// connection turns out closed is sent again, but not one whose body was
// a stream, which the first attempt consumed.
func TestStreamedBodyIsNotSentTwice(t *testing.T) {
	srv := serveRaw(t, func(n int) string {
		if n == 0 {
			return hangUp // read the request, then close without an answer
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPut)
	req.SetRequestURI("http://x/")
	req.SetBodyStream(strings.NewReader("data"), 4)
	if _, _, err := rawService(t, srv.addr).Exchange(req, resp, time.Now(), &Exchange{}); err == nil {
		t.Fatalf("a PUT whose streamed body was consumed was sent again: %d %q", resp.StatusCode(), resp.Body())
	}
	if n := srv.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1: the call was tried again", n)
	}
}
