package upstream

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http/httputil"
	"time"

	"github.com/valyala/fasthttp"
)

// Exchange says how one call reads its answer beyond reading it whole.
// The zero value reads every body whole and drops interim responses.
type Exchange struct {
	// StreamAbove: an answer whose body is longer than this, or of
	// unknown length, is not read; Do hands it back as a Stream for the
	// caller to pass on as it arrives. 0 or less reads every body whole.
	StreamAbove int
	// SizedOnly streams only bodies of known length: one of unknown
	// length is read whole, for a client that cannot take a chunked
	// answer (HTTP/1.0).
	SizedOnly bool
	// Interim is given each interim (1xx) response as it arrives, before
	// the final one: all but 100 Continue, which answered the gateway's
	// own request, and 101, which is final. Nil drops them.
	Interim Interim
}

// Interim receives interim responses. h is valid only during the call.
type Interim interface {
	Interim(h *fasthttp.ResponseHeader)
}

// maxInterim bounds the interim responses accepted before the final one,
// so an upstream cannot hold a call forever with them.
const maxInterim = 100

// maxIdempotentAttempts is how often an idempotent call is sent again
// when a reused keep-alive connection turns out closed, as fasthttp's
// own client does.
const maxIdempotentAttempts = 5

var errTooManyInterim = errors.New("upstream: too many interim (1xx) responses")

// do sends req to t within deadline and reads the answer into resp,
// leaving a long body as a Stream when x says so. It is fasthttp's
// HostClient.Do with two hooks fasthttp has no place for: interim
// responses are handed on as they arrive, and the body is left unread once
// its head shows it long.
func (t *Target) do(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, timeout time.Duration, x *Exchange) (*Stream, error) {
	// A streamed body is read once: a failed attempt has consumed (and
	// closed) it, so it cannot be sent again.
	once := req.IsBodyStream()
	for attempt := 1; ; attempt++ {
		s, retry, err := t.roundTrip(req, resp, deadline, timeout, x)
		if err == nil {
			return s, nil
		}
		if !retry || once || attempt >= maxIdempotentAttempts || !isIdempotent(req) {
			if err == io.EOF {
				err = fasthttp.ErrConnectionClosed
			}
			return nil, err
		}
	}
}

func isIdempotent(req *fasthttp.Request) bool {
	h := &req.Header
	return h.IsGet() || h.IsHead() || h.IsPut() || h.IsQuery()
}

// roundTrip is one attempt on one connection. retry says whether the
// request may not have reached the target (a reused connection that was
// closed), so an idempotent one can be sent again.
func (t *Target) roundTrip(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, timeout time.Duration, x *Exchange) (s *Stream, retry bool, err error) {
	hc := t.client
	resp.Reset()
	req.URI().DisablePathNormalizing = true
	left := time.Until(deadline)
	if left <= 0 {
		return nil, false, fasthttp.ErrTimeout
	}
	cc, err := hc.AcquireConn(left, req.ConnectionClose())
	if err != nil {
		return nil, false, err
	}
	conn := cc.Conn()
	resp.ParseNetConn(conn)

	streamed := req.IsBodyStream()
	var bw *bufio.Writer
	if streamed {
		// A streamed body is bounded by silences, not by the call's
		// deadline: each write may wait up to the timeout.
		bw = bufio.NewWriterSize(idleWriter{conn, timeout}, 16<<10)
	} else {
		if err = conn.SetWriteDeadline(earliest(deadline, hc.WriteTimeout)); err != nil {
			hc.CloseConn(cc)
			return nil, true, err
		}
		bw = hc.AcquireWriter(conn)
	}
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if !streamed {
		hc.ReleaseWriter(bw)
	}
	if err != nil {
		hc.CloseConn(cc)
		if te, ok := err.(interface{ Timeout() bool }); ok && te.Timeout() {
			err = fasthttp.ErrTimeout
		}
		return nil, true, err
	}
	readBy := earliest(deadline, hc.ReadTimeout)
	if streamed {
		// The upload took what it took; the answer gets the timeout.
		readBy = time.Now().Add(timeout)
	}
	if err = conn.SetReadDeadline(readBy); err != nil {
		hc.CloseConn(cc)
		return nil, true, err
	}
	br := hc.AcquireReader(conn)
	fail := func(err error) (*Stream, bool, error) {
		hc.ReleaseReader(br)
		hc.CloseConn(cc)
		return nil, err != fasthttp.ErrBodyTooLarge, err
	}
	if err = readHead(resp, br, x); err != nil {
		return fail(err)
	}
	noBody := req.Header.IsHead() || bodyless(resp.Header.StatusCode())
	if noBody {
		resp.SkipBody = true
	}
	closeConn := req.ConnectionClose() || resp.ConnectionClose()
	n := resp.Header.ContentLength()
	if !noBody && x != nil && x.StreamAbove > 0 && ((n < 0 && !x.SizedOnly) || n > x.StreamAbove) {
		s := newStream(br, conn, &resp.Header, n, timeout)
		s.release = func(reuse bool) {
			hc.ReleaseReader(br)
			if reuse && !closeConn {
				hc.ReleaseConn(cc)
			} else {
				hc.CloseConn(cc)
			}
		}
		return s, false, nil
	}
	if !noBody {
		if err = resp.ReadBody(br, hc.MaxResponseBodySize); err != nil {
			return fail(err)
		}
		if n == -1 {
			if err = resp.Header.ReadTrailer(br); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return fail(err)
			}
		}
	}
	hc.ReleaseReader(br)
	if closeConn || n == -2 {
		hc.CloseConn(cc)
	} else {
		hc.ReleaseConn(cc)
	}
	return nil, false, nil
}

// readHead reads the final response head into resp, handing the interim
// ones before it to x.
func readHead(resp *fasthttp.Response, br *bufio.Reader, x *Exchange) error {
	h := &resp.Header
	if err := h.Read(br); err != nil {
		return err
	}
	for n := 0; isInterim(h.StatusCode()); n++ {
		if n >= maxInterim {
			return errTooManyInterim
		}
		if x != nil && x.Interim != nil && h.StatusCode() != fasthttp.StatusContinue {
			x.Interim.Interim(h)
		}
		if err := h.Read(br); err != nil {
			return err
		}
	}
	return nil
}

func isInterim(code int) bool {
	return code >= 100 && code < 200 && code != fasthttp.StatusSwitchingProtocols
}

// bodyless reports whether a response with this status never has a body
// (RFC 9110 §6.4.1).
func bodyless(code int) bool {
	return (code >= 100 && code < 200) || code == fasthttp.StatusNoContent || code == fasthttp.StatusNotModified
}

func earliest(deadline time.Time, d time.Duration) time.Time {
	if d > 0 {
		if t := time.Now().Add(d); t.Before(deadline) {
			return t
		}
	}
	return deadline
}

// idleWriter bounds each write to the connection by timeout, so a long
// upload is bounded by its silences rather than by one deadline.
type idleWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (w idleWriter) Write(p []byte) (int, error) {
	if err := w.conn.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
		return 0, err
	}
	return w.conn.Write(p)
}

// Stream is an answer's body as its target sends it, its framing
// removed. The caller reads it and then closes it exactly once: a stream
// read to its end (trailers included) gives its connection back for
// reuse; one closed earlier closes the connection, which also stops the
// target from sending more.
type Stream struct {
	body    io.Reader
	br      *bufio.Reader
	conn    net.Conn
	header  *fasthttp.ResponseHeader // where a chunked body's trailers go
	chunked bool
	// length is the declared length, -1 for chunked, -2 for a body that
	// ends when the connection closes.
	length  int
	timeout time.Duration // the longest silence between two reads
	done    bool
	release func(reuse bool)
}

func newStream(br *bufio.Reader, conn net.Conn, h *fasthttp.ResponseHeader, length int, timeout time.Duration) *Stream {
	s := &Stream{br: br, conn: conn, header: h, length: length, timeout: timeout}
	switch {
	case length == -1:
		s.chunked = true
		s.body = httputil.NewChunkedReader(br)
	case length >= 0:
		s.body = &exactReader{r: br, left: int64(length)}
	default:
		s.body = br
	}
	return s
}

// Length returns the body's declared length, or -1 when it has none (a
// chunked body, or one that ends with its connection).
func (s *Stream) Length() int {
	if s.length < 0 {
		return -1
	}
	return s.length
}

// Read reads the next bytes of the body, waiting at most the service
// timeout for them. A body cut short by its target ends in
// io.ErrUnexpectedEOF, never in io.EOF.
func (s *Stream) Read(p []byte) (int, error) {
	if s.done {
		return 0, io.EOF
	}
	if err := s.conn.SetReadDeadline(time.Now().Add(s.timeout)); err != nil {
		return 0, err
	}
	n, err := s.body.Read(p)
	if err == io.EOF {
		if s.chunked {
			if terr := s.header.ReadTrailer(s.br); terr != nil && terr != io.EOF {
				return n, terr
			}
		}
		s.done = true
	}
	return n, err
}

// Close ends the stream: the connection is reused when the body was read
// to its end and its framing allows, and closed otherwise.
func (s *Stream) Close() error {
	if s.release != nil {
		s.release(s.done && s.length != -2)
		s.release = nil
	}
	return nil
}

// exactReader reads exactly left bytes, reporting a body that ends early
// as io.ErrUnexpectedEOF.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case e.left == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}
