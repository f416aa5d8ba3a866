package gateway

import (
	"errors"
	"io"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/upstream"
)

// Streaming. A request body the server did not read whole (it reads the
// first 8 KiB, fasthttp's prefetch) is read whole here when its length is
// known and at most stream_above, so such calls keep the buffered path
// and everything that reads bodies (tenant from body, recording,
// shadowing) sees them whole. A longer one, or one of unknown length,
// goes upstream as it arrives (upload). Likewise an answer longer than
// stream_above, or of unknown length, reaches the client as the upstream
// sends it (relay), flushed per chunk. Of a streamed body only a prefix is
// kept, up to what recording and shadowing can use; the work after the
// answer runs once the client has the whole body, or either side gave up.

// prefetched is how much of a request body fasthttp reads with its
// header when streaming request bodies: a body this short is whole in
// memory already.
const prefetched = 8 << 10

// takeBody readies a request body the server left as a stream and
// reports whether it goes upstream as it arrives. ok is false when the
// request was answered: a body over max_body, or one the client did not
// send.
func (g *Gateway) takeBody(ctx *fasthttp.RequestCtx, snap *snapshot, chainID []byte) (upload, ok bool) {
	req := &ctx.Request
	if !req.IsBodyStream() {
		return false, true
	}
	n := req.Header.ContentLength()
	switch {
	case n > int(snap.cfg.MaxBody):
		// The body stays unread: handle closes the connection after.
		g.reject(ctx, reasonTooLarge, chainID, snap.chainHeader)
		return false, false
	case n >= 0 && n <= prefetched:
		req.Body() // in memory: nothing left to read or to fail
	case n >= 0 && n <= int(snap.cfg.StreamAbove):
		if err := readWhole(req, n); err != nil {
			g.reject(ctx, parseErrorReason(err), chainID, snap.chainHeader)
			return false, false
		}
	default:
		return true, true
	}
	return false, true
}

var wholeBodies = sync.Pool{New: func() any { return new([]byte) }}

// readWhole reads a streamed request body of n bytes into the request.
// Not req.Body(): on a failed read, that makes the error's text the body.
func readWhole(req *fasthttp.Request, n int) error {
	p := wholeBodies.Get().(*[]byte)
	defer wholeBodies.Put(p)
	if cap(*p) < n {
		*p = make([]byte, n)
	}
	buf := (*p)[:n]
	if _, err := io.ReadFull(req.BodyStream(), buf); err != nil {
		return err
	}
	req.SetBody(buf)
	return nil
}

// keepFor returns how much of a body of length n (-1: unknown) to keep:
// record.max_body + 1 when the call is recorded, so that the record is
// marked truncated when the body was longer, and shadow.max_body + 1 when
// the route is shadowed and the body may fit, so that a longer one is
// skipped as body_too_large.
// status is the answer's, 0 while it is unknown.
func (g *Gateway) keepFor(o *outcome, status, n int) int {
	if o.replayed {
		return 0 // neither recorded nor shadowed
	}
	keep := 0
	if r := g.recordingFor(o.snap, o.cl.rs); r.wants(o.chain.Trace, status) || (status == 0 && r.rec != nil && r.errors) {
		keep = r.maxBody + 1
	}
	if sh := o.cl.rs.shadow; sh != nil && n <= sh.MaxBody() {
		keep = max(keep, sh.MaxBody()+1)
	}
	return keep
}

// tee is a body passing through, of which the first bytes are kept.
type tee struct {
	src   io.Reader
	kept  []byte
	keep  int   // how many bytes to keep at most
	limit int64 // the body's limit, 0 for none
	total int64
	err   error // the first error other than io.EOF
	// drained: the source said io.EOF.
	drained bool
}

func (t *tee) Read(p []byte) (int, error) {
	if t.err != nil {
		// Sticky: fasthttp's chunked writer drops an error that comes
		// with data and reads again.
		return 0, t.err
	}
	n, err := t.src.Read(p)
	t.total += int64(n)
	if t.limit > 0 && t.total > t.limit {
		n, err = 0, fasthttp.ErrBodyTooLarge // a 413, as parseErrorReason maps it
	}
	if room := t.keep - len(t.kept); room > 0 && n > 0 {
		t.kept = append(t.kept, p[:min(n, room)]...)
	}
	switch {
	case err == io.EOF:
		t.drained = true
	case err != nil:
		t.err = err
	}
	return n, err
}

// cut reports whether the body was longer than what was kept of it.
func (t *tee) cut() bool { return t.total > int64(len(t.kept)) }

func (t *tee) reset(src io.Reader, keep int, limit int64) {
	t.src, t.kept, t.keep, t.limit, t.total, t.err, t.drained = src, t.kept[:0], keep, limit, 0, nil, false
}

// uploadState is a request whose body streams upstream: a copy of the
// request (headers as sent upstream) whose body reads the client's
// stream through a tee.
type uploadState struct {
	req  *fasthttp.Request // nil when the request is not streamed
	body tee
}

// start makes the upstream copy of req, whose body is read from the
// client as the upstream takes it.
func (u *uploadState) start(req *fasthttp.Request, keep int, limit int64) *fasthttp.Request {
	u.req = fasthttp.AcquireRequest()
	req.Header.CopyTo(&u.req.Header)
	u.req.UseHostHeader = true
	u.body.reset(req.BodyStream(), keep, limit)
	u.req.SetBodyStream(&u.body, req.Header.ContentLength())
	return u.req
}

// sent returns the request as sent upstream: with a streamed body, the
// copy holding what was kept of it.
func (u *uploadState) sent(ctx *fasthttp.RequestCtx) *fasthttp.Request {
	if u.req == nil {
		return &ctx.Request
	}
	// The stream was closed once written; the client's own is closed by
	// the server.
	u.req.SetBodyRaw(u.body.kept)
	return u.req
}

// cut reports whether a streamed body was longer than what was kept of it.
func (u *uploadState) cut() bool { return u.req != nil && u.body.cut() }

// clientFailed answers a call whose upload failed on the client's side:
// a body over max_body (413) or a client that stopped sending. It reports
// false when the failure was the upstream's.
func (u *uploadState) clientFailed(g *Gateway, ctx *fasthttp.RequestCtx, snap *snapshot, o *outcome, chainID []byte) bool {
	if u.req == nil || u.body.err == nil {
		return false
	}
	if !errors.Is(u.body.err, fasthttp.ErrBodyTooLarge) {
		o.cl.rs.metrics.streamAborted[abortByClient].Add(1)
	}
	g.reject(ctx, parseErrorReason(u.body.err), chainID, snap.chainHeader)
	return true
}

// finish gives back the upstream copy.
func (u *uploadState) finish() {
	if u.req != nil {
		fasthttp.ReleaseRequest(u.req)
		u.req = nil
	}
	u.body.src = nil
}

// Who ended a stream early, in cutover_stream_aborted_total.
const (
	abortByClient = iota
	abortByUpstream
	numAbortSides
)

var abortSideNames = [numAbortSides]string{"client", "upstream"}

// reasonClientAborted is the error of a recorded or traced call whose
// client left before its streamed answer ended.
const reasonClientAborted = "client_aborted"

// relay passes a streamed answer to the client. The server reads it as it
// writes the body and closes it after the last byte, or when either side
// failed; then it does the work after the answer. relays are pooled.
type relay struct {
	g       *Gateway
	ctx     *fasthttp.RequestCtx
	src     *upstream.Stream
	body    tee
	outcome outcome
	tenant  []byte
	upload  uploadState
	closed  bool
}

var relays = sync.Pool{New: func() any { return new(relay) }}

// relay hands the client a streamed answer; the request's upload, if any,
// is the relay's to finish from now on.
func (g *Gateway) relay(ctx *fasthttp.RequestCtx, src *upstream.Stream, o *outcome, u *uploadState) {
	r := relays.Get().(*relay)
	r.g, r.ctx, r.src, r.closed = g, ctx, src, false
	r.outcome = *o
	r.tenant = append(r.tenant[:0], o.tenant...)
	r.outcome.tenant = r.tenant
	r.upload, *u = *u, r.upload
	r.body.reset(src, g.keepFor(o, ctx.Response.StatusCode(), src.Length()), 0)
	o.cl.rs.metrics.streamed.Add(1)
	resp := &ctx.Response
	resp.ImmediateHeaderFlush = true // an event stream's client waits for the head
	resp.SetBodyStream(r, src.Length())
}

func (r *relay) Read(p []byte) (int, error) { return r.body.Read(p) }

// CloseWithError is called by the server once the body is written, or
// failed with werr.
func (r *relay) CloseWithError(werr error) error {
	if r.closed {
		return nil
	}
	r.closed = true
	_ = r.src.Close() // an unfinished stream closes its upstream connection
	o := &r.outcome
	switch {
	case r.body.err != nil:
		o.cl.rs.metrics.streamAborted[abortByUpstream].Add(1)
		o.reason = upstream.Reason(r.body.err)
	case werr != nil:
		o.cl.rs.metrics.streamAborted[abortByClient].Add(1)
		o.reason = reasonClientAborted
	}
	o.cut = r.body.cut() || r.upload.cut()
	resp := fasthttp.AcquireResponse()
	r.ctx.Response.Header.CopyTo(&resp.Header)
	resp.SetBodyRaw(r.body.kept)
	r.g.settle(r.ctx, r.upload.sent(r.ctx), resp, o)
	fasthttp.ReleaseResponse(resp)
	r.upload.finish()
	r.src, r.ctx, r.g, r.body.src = nil, nil, nil, nil
	r.outcome = outcome{}
	relays.Put(r)
	return nil
}

// Interim forwards an interim (1xx) response to the client as it comes,
// cleaned of hop-by-hop fields. HTTP/1.0 clients get none (RFC 9110
// §15.2).
func (st *requestState) Interim(h *fasthttp.ResponseHeader) {
	ctx := st.ctx
	if !ctx.Request.Header.IsHTTP11() {
		return
	}
	cleanUpstreamHeader(h, false)
	if _, err := ctx.Conn().Write(h.Header()); err == nil {
		st.g.metrics.interims.Add(1)
	}
}
