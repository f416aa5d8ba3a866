package recorder

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/store"
)

// Fill copies a finished call's request and response into rec: method,
// URI, header lines and bodies (cut at maxBody and flagged), and the
// status. It only copies; decoding and redaction come later.
func Fill(rec *store.Record, req *fasthttp.Request, resp *fasthttp.Response, maxBody int) {
	rec.SetMethod(req.Header.Method())
	rec.SetURI(req.Header.RequestURI())
	rec.SetReqHeaders(HeaderLines(req.Header.Header()))
	rec.SetReqBody(req.Body(), maxBody)
	rec.Status = resp.StatusCode()
	rec.SetRespHeaders(HeaderLines(resp.Header.Header()))
	rec.SetRespBody(resp.Body(), maxBody)
}

// HeaderLines drops the start line of a serialised header block.
func HeaderLines(h []byte) []byte {
	if i := bytes.Index(h, []byte("\r\n")); i >= 0 {
		return h[i+2:]
	}
	return h
}

// Redactor applies the recording rules (body decoding, header and JSON
// redaction) to records outside the recorder, for copies that are stored
// by other means, such as comparison samples. It is safe for concurrent
// use; calls are serialised, since the rules keep scratch memory.
type Redactor struct {
	mu       sync.Mutex
	rd       *redactor
	withheld atomic.Uint64
}

// NewRedactor compiles the rules; bad JSON paths are returned and skipped,
// as the recorder does.
func NewRedactor(rules Rules) (*Redactor, []string) {
	r := &Redactor{}
	var bad []string
	r.rd, bad = newRedactor(rules, &r.withheld)
	return r, bad
}

// Record decodes and redacts r in place.
func (r *Redactor) Record(rec *store.Record) {
	r.mu.Lock()
	r.rd.record(rec)
	r.mu.Unlock()
}

// Withheld returns how many bodies this Redactor replaced with a Withheld
// notice.
func (r *Redactor) Withheld() uint64 { return r.withheld.Load() }
