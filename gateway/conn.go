package gateway

import (
	"bytes"
	"errors"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// Client connection limits. The header timeout is configurable
// (client_header_timeout); the rest are generous for real clients and
// bounded against slow or hostile ones.
//
// fasthttp has one ReadTimeout for a request's header and body. The
// server's ReadTimeout is set to the header timeout: it runs from a
// connection's start, and on a keep-alive connection from the first byte
// of the next request (before that byte, IdleTimeout applies), to the end
// of the header. bodyReadTimeout then replaces it, from the end of the
// header, for requests that carry a body.
const (
	bodyReadTimeout = 60 * time.Second
)

// errBareLF is the read error a client connection reports when a
// request's start line or header ends a line with a bare LF. fasthttp's
// header reader waits for CRLF CRLF and would otherwise hold such a
// request until the header timeout; RFC 9112 §2.2 lets a server reject
// it, which is also safer than reading it as a proxy behind us might not.
var errBareLF = errors.New("gateway: bare LF in the request head")

// serverTimeouts sets the server's read timeouts and the connection hooks
// that apply them: headerTimeout for the request head, bodyReadTimeout for
// a body.
func serverTimeouts(s *fasthttp.Server, headerTimeout time.Duration) {
	s.ReadTimeout = headerTimeout
	s.HeaderReceived = bodyTimeout
	s.ConnState = clientConnState
}

// bodyTimeout gives a request that carries a body bodyReadTimeout to send
// it, from the end of its header; a request without one keeps the header
// deadline, which is not read against again.
func bodyTimeout(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	// A positive Content-Length, or -1 for chunked; a request without
	// either has no body.
	if n := h.ContentLength(); n > 0 || n == -1 {
		return fasthttp.RequestConfig{ReadTimeout: bodyReadTimeout}
	}
	return fasthttp.RequestConfig{}
}

// clientListener hands the server each accepted connection as a
// clientConn.
type clientListener struct{ net.Listener }

func (l clientListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &clientConn{Conn: c, head: headCheck{on: true}}, nil
}

// clientConn is a client connection as the server reads it. It records
// whether the client ever sent a byte, so a read timeout on a connection
// that sent nothing closes it without an answer, and it checks the line
// endings of each request head as the bytes arrive (headCheck).
//
// Only the connection's own serving goroutine uses it (fasthttp reads,
// and calls the ConnState hook, from there), and after a hijack only the
// tunnel, so it needs no lock.
type clientConn struct {
	net.Conn
	received bool      // the client sent at least one byte
	head     headCheck // line endings of the request head being read
	err      error     // returned by the next Read
}

func (c *clientConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.received = true
		c.head.afterIdle = false
		if c.head.on {
			if bad := c.head.scan(p[:n]); bad >= 0 {
				// Hand over the bytes before the bare LF and fail the
				// next read: fasthttp then answers through the error
				// handler at once.
				c.err = errBareLF
				if bad == 0 {
					return 0, errBareLF
				}
				return bad, nil
			}
		}
	}
	return n, err
}

// clientConnState re-arms the head check of a keep-alive connection. After
// a response (StateIdle) the server peeks for the next request; if that
// needs a read, its bytes start the next head. If the next request was
// already buffered (pipelined), no read comes before StateActive and the
// check stays off for it: its head is then not checked, and a bare LF in
// it waits for the header timeout as fasthttp would.
func clientConnState(nc net.Conn, state fasthttp.ConnState) {
	c, ok := nc.(*clientConn)
	if !ok {
		return
	}
	switch state {
	case fasthttp.StateIdle:
		c.head = headCheck{on: true, afterIdle: true}
	case fasthttp.StateActive:
		if c.head.afterIdle {
			c.head.on = false
		}
	}
}

// nothingReceived reports whether the client of ctx never sent a byte.
func nothingReceived(ctx *fasthttp.RequestCtx) bool {
	c, ok := ctx.Conn().(*clientConn)
	return ok && !c.received
}

// headCheck finds a line of a request head (start line and header fields,
// up to the empty line) that ends in a bare LF, across reads.
type headCheck struct {
	on        bool // checking: the bytes read are a request head
	afterIdle bool // re-armed after a response, no byte read since
	prev      byte // the last byte checked
	lineLen   int  // bytes of the current line so far
	lines     int  // non-empty lines of the head so far
}

// scan checks the next bytes of the head and returns the offset in b of
// the first bare LF, or -1. It turns itself off at the empty line that
// ends the head; empty lines before the start line are skipped (RFC 9112
// §2.2).
func (h *headCheck) scan(b []byte) int {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			h.lineLen += len(b) - i
			h.prev = b[len(b)-1]
			return -1
		}
		j += i
		prev := h.prev
		if j > 0 {
			prev = b[j-1]
		}
		if prev != '\r' {
			return j
		}
		lineLen := h.lineLen + j - i // with its CR
		h.lineLen, h.prev, i = 0, '\n', j+1
		switch {
		case lineLen > 1:
			h.lines++
		case h.lines > 0:
			h.on = false // the empty line that ends the head
			return -1
		}
	}
	return -1
}
