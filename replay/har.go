package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/internal/buildinfo"
	"github.com/cutover/cutover/message"
	"github.com/cutover/cutover/store"
)

// HARVersion is the version of the HAR format written and read.
const HARVersion = "1.2"

// Entry is one call of a HAR 1.2 log, with cutover's "_cutover"
// extension when cutover wrote it.
type Entry struct {
	StartedDateTime string      `json:"startedDateTime"`
	Time            float64     `json:"time"` // milliseconds
	Request         harRequest  `json:"request"`
	Response        harResponse `json:"response"`
	Cache           struct{}    `json:"cache"`
	Timings         harTimings  `json:"timings"`
	Cutover         *Cutover    `json:"_cutover,omitempty"`
}

// Cutover is the "_cutover" extension of an entry: where the call sits in
// its chain and how the gateway routed it.
type Cutover struct {
	ID       string `json:"id,omitempty"` // the record ID
	ChainID  string `json:"chain_id"`
	SpanID   string `json:"span_id"`
	ParentID string `json:"parent_span_id,omitempty"`
	Route    string `json:"route"`
	Tenant   string `json:"tenant"`
	Side     string `json:"side"`
}

type harNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harRequest struct {
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []harNV     `json:"cookies"`
	Headers     []harNV     `json:"headers"`
	QueryString []harNV     `json:"queryString"`
	PostData    *harPayload `json:"postData,omitempty"`
	HeadersSize int         `json:"headersSize"`
	BodySize    int         `json:"bodySize"`
}

type harResponse struct {
	Status      *int       `json:"status"`
	StatusText  string     `json:"statusText"`
	HTTPVersion string     `json:"httpVersion"`
	Cookies     []harNV    `json:"cookies"`
	Headers     []harNV    `json:"headers"`
	Content     harPayload `json:"content"`
	RedirectURL string     `json:"redirectURL"`
	HeadersSize int        `json:"headersSize"`
	BodySize    int        `json:"bodySize"`
}

// harPayload is a request's postData or a response's content. A body that
// is not UTF-8 is base64 with Encoding "base64" (HAR 1.2 defines it for
// content; cutover writes it for postData too).
type harPayload struct {
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
	Encoding string `json:"encoding,omitempty"`
}

type harTimings struct {
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
}

// HARWriter streams recorded calls as a HAR 1.2 log: one entry is encoded
// and written at a time, so an export of any size holds one record.
type HARWriter struct {
	w   *bufio.Writer
	buf bytes.Buffer
	enc *json.Encoder
	n   int
	err error
}

// NewHARWriter writes the log's head to w.
func NewHARWriter(w io.Writer) *HARWriter {
	h := &HARWriter{w: bufio.NewWriterSize(w, 64<<10)}
	h.enc = json.NewEncoder(&h.buf)
	// Bodies are HTML and JSON more often than not: keep them readable.
	h.enc.SetEscapeHTML(false)
	creator, _ := json.Marshal(map[string]string{"name": "cutover", "version": buildinfo.Version})
	_, h.err = fmt.Fprintf(h.w, "{\"log\":{\"version\":%q,\"creator\":%s,\"pages\":[],\"entries\":[\n", HARVersion, creator)
	return h
}

// Write appends one call as an entry.
func (h *HARWriter) Write(r *store.Record) error {
	if h.err != nil {
		return h.err
	}
	h.buf.Reset()
	if err := h.enc.Encode(EntryOf(r)); err != nil {
		return fmt.Errorf("cannot encode %s: %w", describe(r), err)
	}
	if h.n > 0 {
		_ = h.w.WriteByte(',')
	}
	_, h.err = h.w.Write(h.buf.Bytes())
	h.n++
	return h.err
}

// Close ends the log and flushes it; it does not close the underlying
// writer.
func (h *HARWriter) Close() error {
	if h.err != nil {
		return h.err
	}
	if _, err := h.w.WriteString("]}}\n"); err != nil {
		return err
	}
	return h.w.Flush()
}

// EntryOf returns the HAR entry of a recorded call.
func EntryOf(r *store.Record) *Entry {
	host, _ := message.AppendValues(nil, r.ReqHeaders, "Host")
	if len(host) == 0 {
		host = []byte("localhost")
	}
	u := "http://" + string(host) + string(r.URI)
	ms := store.Millis(r.Latency)
	e := &Entry{
		StartedDateTime: store.FormatTime(r.Start),
		Time:            ms,
		Timings:         harTimings{Wait: ms},
		Request: harRequest{
			Method: string(r.Method), URL: u, HTTPVersion: "HTTP/1.1",
			Cookies: []harNV{}, Headers: nvOf(r.ReqHeaders), QueryString: queryOf(r.URI),
			HeadersSize: -1, BodySize: len(r.ReqBody),
		},
		Response: harResponse{
			Status: &r.Status, StatusText: http.StatusText(r.Status), HTTPVersion: "HTTP/1.1",
			Cookies: []harNV{}, Headers: nvOf(r.RespHeaders),
			Content:     payloadOf(r.RespBody, r.RespHeaders),
			HeadersSize: -1, BodySize: len(r.RespBody),
		},
		Cutover: &Cutover{
			ChainID: r.Chain.String(), SpanID: r.Span.String(),
			Route: r.Route, Tenant: string(r.Tenant), Side: r.Side,
		},
	}
	if !r.ID.IsZero() {
		e.Cutover.ID = r.ID.String()
	}
	if !r.Parent.IsZero() {
		e.Cutover.ParentID = r.Parent.String()
	}
	if len(r.ReqBody) > 0 {
		p := payloadOf(r.ReqBody, r.ReqHeaders)
		e.Request.PostData = &p
	}
	return e
}

func nvOf(block []byte) []harNV {
	out := []harNV{}
	for _, p := range store.HeaderPairs(block) {
		out = append(out, harNV{Name: p[0], Value: p[1]})
	}
	return out
}

func queryOf(uri []byte) []harNV {
	out := []harNV{}
	_, q, ok := strings.Cut(string(uri), "?")
	if !ok {
		return out
	}
	for part := range strings.SplitSeq(q, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		out = append(out, harNV{Name: k, Value: v})
	}
	return out
}

func payloadOf(body, headers []byte) harPayload {
	ct, _ := message.AppendValues(nil, headers, "Content-Type")
	p := harPayload{Size: len(body), MimeType: string(ct)}
	if utf8.Valid(body) {
		p.Text = string(body)
	} else {
		p.Text, p.Encoding = base64.StdEncoding.EncodeToString(body), "base64"
	}
	return p
}

func (p *harPayload) body() ([]byte, error) {
	switch p.Encoding {
	case "":
		return []byte(p.Text), nil
	case "base64":
		return base64.StdEncoding.DecodeString(p.Text)
	}
	return nil, fmt.Errorf("encoding %q is not base64", p.Encoding)
}

// RouteOf names the route of a HAR entry that has no "_cutover" block,
// from its request; "" when no route matches. The command line passes the
// config's matcher.
type RouteOf func(method, host, path []byte, headers []byte) string

// NoRoute is the route of a HAR entry that no route matches.
const NoRoute = "(none)"

// Record returns the call that e describes. It fails with a message that
// names the field at fault.
func (e *Entry) Record(routeOf RouteOf) (*store.Record, error) {
	if e.Request.Method == "" {
		return nil, errors.New("request.method is missing")
	}
	u, err := url.Parse(e.Request.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("request.url %q is not an absolute URL", e.Request.URL)
	}
	if e.Response.Status == nil {
		return nil, errors.New("response.status is missing")
	}
	r := &store.Record{Method: []byte(e.Request.Method), URI: []byte(u.RequestURI()), Status: *e.Response.Status}
	if r.Start, err = time.Parse(time.RFC3339Nano, e.StartedDateTime); err != nil {
		return nil, fmt.Errorf("startedDateTime %q is not an ISO 8601 time", e.StartedDateTime)
	}
	r.Latency = time.Duration(e.Time * float64(time.Millisecond))
	hasHost := false
	for _, h := range e.Request.Headers {
		// HTTP/2 pseudo-headers (":authority") are not header fields.
		if strings.HasPrefix(h.Name, ":") {
			continue
		}
		hasHost = hasHost || strings.EqualFold(h.Name, "Host")
		r.ReqHeaders = fmt.Appendf(r.ReqHeaders, "%s: %s\r\n", h.Name, h.Value)
	}
	if !hasHost {
		r.ReqHeaders = fmt.Appendf(r.ReqHeaders, "Host: %s\r\n", u.Host)
	}
	for _, h := range e.Response.Headers {
		if !strings.HasPrefix(h.Name, ":") {
			r.RespHeaders = fmt.Appendf(r.RespHeaders, "%s: %s\r\n", h.Name, h.Value)
		}
	}
	if e.Request.PostData != nil {
		if r.ReqBody, err = e.Request.PostData.body(); err != nil {
			return nil, fmt.Errorf("request.postData: %w", err)
		}
	}
	if r.RespBody, err = e.Response.Content.body(); err != nil {
		return nil, fmt.Errorf("response.content: %w", err)
	}
	if c := e.Cutover; c != nil {
		if c.ID != "" {
			if r.ID, err = store.ParseID(c.ID); err != nil {
				return nil, fmt.Errorf("_cutover.id: %w", err)
			}
		}
		for _, f := range []struct {
			name, v string
			dst     []byte
		}{{"chain_id", c.ChainID, r.Chain[:]}, {"span_id", c.SpanID, r.Span[:]}, {"parent_span_id", c.ParentID, r.Parent[:]}} {
			if err := store.DecodeHexField("_cutover."+f.name, f.v, f.dst); err != nil {
				return nil, err
			}
		}
		r.Route, r.Tenant, r.Side = c.Route, []byte(c.Tenant), c.Side
	} else {
		r.Chain, r.Span = chain.NewTraceID(), chain.NewSpanID()
	}
	if r.Route == "" {
		if routeOf != nil {
			r.Route = routeOf(r.Method, []byte(u.Host), []byte(u.EscapedPath()), r.ReqHeaders)
		}
		if r.Route == "" {
			r.Route = NoRoute
		}
	}
	return r, nil
}

// harFile is the Source of a HAR file. Opening it reads every entry once,
// checking each and counting those the filter keeps; Walk reads the file
// again. Neither holds more than one entry.
type harFile struct {
	path    string
	f       Filter
	routeOf RouteOf
	total   int
}

// OpenHAR checks the HAR 1.2 file at path and returns a Source of the
// calls in it that f selects, in file order. A file that is not JSON, not
// a HAR 1.2 log, or has an entry that is not a call fails, naming the
// first bad entry.
func OpenHAR(path string, f Filter, routeOf RouteOf) (Source, error) {
	h := &harFile{path: path, f: f, routeOf: routeOf}
	n := 0
	err := h.each(context.Background(), func(*store.Record) error {
		n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.total = n
	if f.Limit > 0 {
		h.total = min(n, f.Limit)
	}
	return h, nil
}

func (h *harFile) Total() int { return h.total }

func (h *harFile) Walk(ctx context.Context, fn func(*store.Record) error) error {
	// The newest Limit calls: skip the older ones, as the paged sources do.
	skip := 0
	if h.f.Limit > 0 {
		var n int
		_ = h.each(ctx, func(*store.Record) error { n++; return nil })
		skip = max(n-h.f.Limit, 0)
	}
	return h.each(ctx, func(r *store.Record) error {
		if skip > 0 {
			skip--
			return nil
		}
		return fn(r)
	})
}

// each decodes the file's entries one at a time and calls fn with each
// that the filter keeps.
func (h *harFile) each(ctx context.Context, fn func(*store.Record) error) error {
	file, err := os.Open(h.path)
	if err != nil {
		return fmt.Errorf("cannot open HAR file: %w", err)
	}
	defer file.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(file, 64<<10))
	bad := func(what string, err error) error {
		if err != nil {
			return fmt.Errorf("%s is not a HAR 1.2 file: %s: %w", h.path, what, err)
		}
		return fmt.Errorf("%s is not a HAR 1.2 file: %s", h.path, what)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return bad("it is not a JSON object", err)
	}
	sawLog := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return bad("it is not JSON", err)
		}
		if key != "log" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return bad("it is not JSON", err)
			}
			continue
		}
		sawLog = true
		if err := expectDelim(dec, '{'); err != nil {
			return bad(`"log" is not an object`, err)
		}
		version, entries := "", -1
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return bad("it is not JSON", err)
			}
			switch key {
			case "version":
				if err := dec.Decode(&version); err != nil {
					return bad(`"log.version" is not a string`, err)
				}
				if version != HARVersion {
					return bad(fmt.Sprintf("log.version is %q, not %q", version, HARVersion), nil)
				}
			case "entries":
				if err := expectDelim(dec, '['); err != nil {
					return bad(`"log.entries" is not an array`, err)
				}
				for entries = 0; dec.More(); entries++ {
					if err := ctx.Err(); err != nil {
						return err
					}
					var e Entry
					if err := dec.Decode(&e); err != nil {
						return bad(fmt.Sprintf("entry %d (counting from 0) is not a HAR entry", entries), err)
					}
					r, err := e.Record(h.routeOf)
					if err != nil {
						return bad(fmt.Sprintf("entry %d (counting from 0)", entries), err)
					}
					if !h.f.Match(r) {
						continue
					}
					if err := fn(r); err != nil {
						return err
					}
				}
				if _, err := dec.Token(); err != nil {
					return bad("it is not JSON", err)
				}
			default:
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return bad("it is not JSON", err)
				}
			}
		}
		if version == "" {
			return bad("log.version is missing", nil)
		}
		if entries < 0 {
			return bad("log.entries is missing", nil)
		}
		if _, err := dec.Token(); err != nil {
			return bad("it is not JSON", err)
		}
	}
	if !sawLog {
		return bad(`it has no "log" object`, nil)
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("found %v where %q was expected", t, string(want))
	}
	return nil
}
