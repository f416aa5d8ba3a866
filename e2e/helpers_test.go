package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// requestTimeout bounds one HTTP exchange made by a test.
const requestTimeout = 30 * time.Second

// newClient returns an HTTP client for talking to a gateway: no proxy from
// the environment, no transparent decompression (bodies are compared byte
// for byte), keep-alive on.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 16,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: requestTimeout}
}

// do sends one request and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, url string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	resp, data, err := tryDo(c, method, url, body, hdr)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp, data
}

func tryDo(c *http.Client, method, url string, body []byte, hdr map[string]string) (*http.Response, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, nil, err
	}
	return resp, data, nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// waitFor polls cond until it holds, failing the test after pollTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// echoReply is what the echo upstream answers: what it received.
type echoReply struct {
	Upstream         string      `json:"upstream"`
	Method           string      `json:"method"`
	RequestURI       string      `json:"request_uri"`
	RawQuery         string      `json:"raw_query"`
	Host             string      `json:"host"`
	Proto            string      `json:"proto"`
	Header           http.Header `json:"header"`
	ContentLength    int64       `json:"content_length"`
	TransferEncoding []string    `json:"transfer_encoding"`
	BodyLen          int         `json:"body_len"`
	BodySHA          string      `json:"body_sha256"`
}

// Headers the echo upstream sets on its answers, readable even on HEAD.
const (
	hdrUpstream   = "X-Upstream"
	hdrEchoMethod = "X-Echo-Method"
	hdrEchoSHA    = "X-Echo-Body-Sha256"
)

// newEcho starts an upstream on 127.0.0.1 that answers every request with
// an echoReply as JSON. name tells upstreams apart in X-Upstream.
func newEcho(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(echoHandler(name))
	t.Cleanup(srv.Close)
	return srv
}

// newServer starts an upstream on 127.0.0.1 with handler h.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func echoHandler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rep := echoReply{
			Upstream: name, Method: r.Method, RequestURI: r.RequestURI, RawQuery: r.URL.RawQuery,
			Host: r.Host, Proto: r.Proto, Header: r.Header, ContentLength: r.ContentLength,
			TransferEncoding: r.TransferEncoding, BodyLen: len(body), BodySHA: sha(body),
		}
		w.Header().Set(hdrUpstream, name)
		w.Header().Set(hdrEchoMethod, r.Method)
		w.Header().Set(hdrEchoSHA, rep.BodySHA)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rep)
	}
}

func decodeEcho(t *testing.T, body []byte) echoReply {
	t.Helper()
	var rep echoReply
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("upstream reply is not an echo: %v: %q", err, body)
	}
	return rep
}

// hostPort is the host:port of an httptest server.
func hostPort(srv *httptest.Server) string { return srv.Listener.Addr().String() }

// rawRequest is a request as a raw upstream saw it, byte for byte.
type rawRequest struct {
	Line    string   // request line
	Headers []string // header lines as received, without CRLF
	Body    []byte
}

// header returns the values of every header line named name (any case).
func (r *rawRequest) header(name string) []string {
	var vs []string
	for _, h := range r.Headers {
		k, v, ok := strings.Cut(h, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			vs = append(vs, strings.TrimSpace(v))
		}
	}
	return vs
}

// rawUpstream is an upstream on 127.0.0.1 that reads requests itself and
// writes whatever bytes respond returns, for byte-level control in both
// directions. Requests it has read are sent on seen (buffered; a full
// buffer drops).
type rawUpstream struct {
	ln   net.Listener
	seen chan *rawRequest
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn map[net.Conn]struct{}
}

func newRawUpstream(t *testing.T, respond func(req *rawRequest, conn net.Conn, br *bufio.Reader) []byte) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, seen: make(chan *rawRequest, 64), conn: map[net.Conn]struct{}{}}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.conn[c] = struct{}{}
			u.mu.Unlock()
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer func() {
					u.mu.Lock()
					delete(u.conn, c)
					u.mu.Unlock()
					c.Close()
				}()
				_ = c.SetDeadline(time.Now().Add(requestTimeout))
				br := bufio.NewReader(c)
				for {
					req, err := readRawRequest(br)
					if err != nil {
						return
					}
					select {
					case u.seen <- req:
					default:
					}
					out := respond(req, c, br)
					if out == nil {
						return
					}
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(u.close)
	return u
}

func (u *rawUpstream) addr() string { return u.ln.Addr().String() }

func (u *rawUpstream) close() {
	u.ln.Close()
	u.mu.Lock()
	for c := range u.conn {
		c.Close()
	}
	u.mu.Unlock()
	u.wg.Wait()
}

// next returns the next request the upstream read.
func (u *rawUpstream) next(t *testing.T) *rawRequest {
	t.Helper()
	select {
	case r := <-u.seen:
		return r
	case <-time.After(pollTimeout):
		t.Fatal("the upstream received no request")
		return nil
	}
}

func readRawRequest(br *bufio.Reader) (*rawRequest, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, err
	}
	req := &rawRequest{Line: line}
	length, chunked := 0, false
	for {
		h, err := readLine(br)
		if err != nil {
			return nil, err
		}
		if h == "" {
			break
		}
		req.Headers = append(req.Headers, h)
		k, v, _ := strings.Cut(h, ":")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "content-length":
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(v), "chunked")
		}
	}
	switch {
	case chunked:
		req.Body, err = io.ReadAll(httputil.NewChunkedReader(br))
	case length > 0:
		req.Body = make([]byte, length)
		_, err = io.ReadFull(br, req.Body)
	}
	return req, err
}

func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// rawResponse is a response read byte for byte from a socket.
type rawResponse struct {
	Status  int
	Header  textproto.MIMEHeader
	Headers []string // header lines as received
	Body    []byte
}

// readRawResponse reads one response; head says the request was HEAD.
func readRawResponse(br *bufio.Reader, head bool) (*rawResponse, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, err
	}
	parts := strings.SplitN(line, " ", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "HTTP/1.") {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	resp := &rawResponse{Header: textproto.MIMEHeader{}}
	if resp.Status, err = strconv.Atoi(parts[1]); err != nil {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	length, chunked := -1, false
	for {
		h, err := readLine(br)
		if err != nil {
			return nil, err
		}
		if h == "" {
			break
		}
		resp.Headers = append(resp.Headers, h)
		k, v, _ := strings.Cut(h, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		resp.Header.Add(k, v)
		switch strings.ToLower(k) {
		case "content-length":
			length, _ = strconv.Atoi(v)
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(v), "chunked")
		}
	}
	switch {
	case head || resp.Status == 101 || resp.Status == 204 || resp.Status == 304 || resp.Status < 200:
	case chunked:
		resp.Body, err = io.ReadAll(httputil.NewChunkedReader(br))
	case length >= 0:
		resp.Body = make([]byte, length)
		_, err = io.ReadFull(br, resp.Body)
	default:
		resp.Body, err = io.ReadAll(br)
	}
	return resp, err
}

// rawConn is a client connection to the gateway for byte-level requests.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, pollTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(requestTimeout))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatalf("writing to the gateway: %v", err)
	}
}

func (rc *rawConn) read(head bool) *rawResponse {
	rc.t.Helper()
	resp, err := readRawResponse(rc.br, head)
	if err != nil {
		rc.t.Fatalf("reading the gateway's response: %v", err)
	}
	return resp
}

// roundTrip sends one raw request on a new connection and reads the answer.
func roundTrip(t *testing.T, addr, req string) *rawResponse {
	t.Helper()
	rc := dialRaw(t, addr)
	rc.send(req)
	return rc.read(strings.HasPrefix(req, "HEAD "))
}

// closedByPeer reports whether the gateway closed the connection: a read
// sees EOF (or a reset) rather than more bytes or a timeout.
func (rc *rawConn) closedByPeer() bool {
	_ = rc.c.SetReadDeadline(time.Now().Add(pollTimeout))
	var b [1]byte
	n, err := rc.br.Read(b[:])
	if n > 0 {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

// metrics scrapes the admin /metrics into series → value, the series
// written as in the exposition (name{labels}).
func (g *gatewayProc) metrics(t *testing.T, hdr map[string]string) map[string]float64 {
	t.Helper()
	resp, body := do(t, newClient(t), "GET", g.adminURL("/metrics"), nil, hdr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics answered %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type %q, want text/plain", ct)
	}
	return parseMetrics(t, string(body))
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$`)

func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("malformed metrics line %q", line)
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Errorf("malformed metrics value in %q", line)
			continue
		}
		out[m[1]] = v
	}
	return out
}

// routes fetches GET /api/routes.
func (g *gatewayProc) routes(t *testing.T) routesReply {
	t.Helper()
	resp, body := do(t, newClient(t), "GET", g.adminURL("/api/routes"), nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/routes answered %d: %s", resp.StatusCode, body)
	}
	var r routesReply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("/api/routes is not JSON: %v: %s", err, body)
	}
	return r
}

type routesReply struct {
	Routes []struct {
		Name     string            `json:"name"`
		Upstream string            `json:"upstream"`
		Old      string            `json:"old"`
		New      string            `json:"new"`
		Percent  *float64          `json:"percent"`
		Match    map[string]any    `json:"match"`
		Requests map[string]uint64 `json:"requests"`
		Targets  []struct {
			Service string `json:"service"`
			Addr    string `json:"addr"`
			Up      bool   `json:"up"`
		} `json:"targets"`
	} `json:"routes"`
	Config struct {
		File            string `json:"file"`
		LoadedAt        string `json:"loaded_at"`
		LastReloadError string `json:"last_reload_error"`
	} `json:"config"`
}

// errorBody is the JSON body of an error the gateway answers itself.
type errorBody struct {
	Error   string `json:"error"`
	Reason  string `json:"reason"`
	Status  int    `json:"status"`
	ChainID string `json:"chain_id"`
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// checkErrorBody checks a gateway error answer: the status, a JSON body
// with the reason and a chain ID that is also in X-Chain-Id.
func checkErrorBody(t *testing.T, status int, header http.Header, body []byte, wantStatus int, wantReason string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d; body %s", status, wantStatus, body)
	}
	if ct := header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %q", err, body)
	}
	if e.Status != wantStatus || e.Reason != wantReason || e.Error == "" {
		t.Errorf("error body %+v, want status %d reason %q and a message", e, wantStatus, wantReason)
	}
	if !hex32.MatchString(e.ChainID) {
		t.Errorf("error body chain_id %q is not 32 hex digits", e.ChainID)
	}
	if got := header.Get("X-Chain-Id"); got != e.ChainID {
		t.Errorf("X-Chain-Id %q differs from the body's chain_id %q", got, e.ChainID)
	}
}
