package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/store"
)

// openTestStore returns a real embedded store in a temp dir holding n
// serving calls started a millisecond apart, every third followed by a
// shadow copy.
func openTestStore(t *testing.T, n int) *store.Bolt {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "cutover.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	start := time.Now().Add(-time.Hour)
	var recs []*store.Record
	for i := range n {
		method := "GET"
		if i%10 == 9 {
			method = "POST"
		}
		r := &store.Record{
			Chain: chain.NewTraceID(), Span: chain.NewSpanID(), Route: "items", Side: "old",
			Method: []byte(method), URI: []byte(fmt.Sprintf("/items/%d", i)),
			ReqHeaders:  []byte("Host: shop\r\nAuthorization: [redacted]\r\nConnection: keep-alive\r\ntracestate: vendor=1\r\n"),
			RespHeaders: []byte("Content-Type: application/json\r\n"),
			RespBody:    []byte(fmt.Sprintf(`{"id":%d,"ts":1}`, i)),
			Status:      200, Start: start.Add(time.Duration(i) * time.Millisecond), Latency: time.Millisecond,
		}
		recs = append(recs, r)
		if i%3 == 0 {
			s := *r
			s.Shadow, s.Side, s.Start = true, "new", r.Start.Add(time.Microsecond)
			recs = append(recs, &s)
		}
	}
	if err := st.Append(recs); err != nil {
		t.Fatal(err)
	}
	return st
}

func walkURIs(t *testing.T, src Source) []string {
	t.Helper()
	var uris []string
	if err := src.Walk(context.Background(), func(r *store.Record) error {
		if r.Shadow {
			t.Errorf("a shadow copy of %s was yielded", r.URI)
		}
		uris = append(uris, string(r.URI))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return uris
}

func TestPagedSourceIsOldestFirstAndBounded(t *testing.T) {
	const n = 2*PageSize + 37 // several pages, the last one short
	st := openTestStore(t, n)
	src, err := OpenPaged(st, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if src.Total() != n {
		t.Errorf("Total %d, want the %d serving calls", src.Total(), n)
	}
	uris := walkURIs(t, src)
	if len(uris) != n {
		t.Fatalf("walked %d calls, want %d", len(uris), n)
	}
	for i, u := range uris {
		if want := fmt.Sprintf("/items/%d", i); u != want {
			t.Fatalf("call %d is %s, want %s: not oldest first", i, u, want)
		}
	}
	// The newest 5, still oldest first.
	src, err = OpenPaged(st, Filter{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(walkURIs(t, src), " ")
	want := fmt.Sprintf("/items/%d /items/%d /items/%d /items/%d /items/%d", n-5, n-4, n-3, n-2, n-1)
	if src.Total() != 5 || got != want {
		t.Errorf("--limit 5: total %d, calls %s; want 5: %s", src.Total(), got, want)
	}
}

func TestHARRoundTrip(t *testing.T) {
	rec := &store.Record{
		ID: store.ID{1, 2, 3}, Chain: chain.NewTraceID(), Span: chain.NewSpanID(), Parent: chain.NewSpanID(),
		Route: "items", Tenant: []byte("acme"), Side: "new",
		Method: []byte("POST"), URI: []byte("/items/7?a=1&b=x%20y"),
		ReqHeaders:  []byte("Host: shop\r\nContent-Type: application/json\r\n"),
		ReqBody:     []byte(`{"qty":1}`),
		RespHeaders: []byte("Content-Type: application/octet-stream\r\n"),
		RespBody:    []byte{0xff, 0x00, 0xfe},
		Status:      201, Start: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), Latency: 1500 * time.Microsecond,
	}
	path := filepath.Join(t.TempDir(), "x.har")
	var buf bytes.Buffer
	w := NewHARWriter(&buf)
	for range 2 {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var har struct {
		Log struct {
			Version string  `json:"version"`
			Entries []Entry `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(buf.Bytes(), &har); err != nil || har.Log.Version != "1.2" || len(har.Log.Entries) != 2 {
		t.Fatalf("the export is not a HAR 1.2 log of 2 entries: %v\n%s", err, buf.Bytes())
	}
	e := har.Log.Entries[0]
	if e.Response.Content.Encoding != "base64" || e.Request.URL != "http://shop/items/7?a=1&b=x%20y" || len(e.Request.QueryString) != 2 || e.Request.QueryString[1].Value != "x y" {
		t.Errorf("entry: %+v", e)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := OpenHAR(path, Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []*store.Record
	_ = src.Walk(context.Background(), func(r *store.Record) error { got = append(got, r); return nil })
	if len(got) != 2 {
		t.Fatalf("read back %d calls, want 2", len(got))
	}
	r := got[0]
	switch {
	case r.ID != rec.ID, r.Chain != rec.Chain, r.Span != rec.Span, r.Parent != rec.Parent,
		r.Route != rec.Route, string(r.Tenant) != "acme", r.Side != "new",
		string(r.Method) != "POST", string(r.URI) != string(rec.URI),
		!bytes.Equal(r.ReqBody, rec.ReqBody), !bytes.Equal(r.RespBody, rec.RespBody),
		r.Status != 201, !r.Start.Equal(rec.Start), r.Latency != rec.Latency,
		!bytes.Contains(r.ReqHeaders, []byte("Content-Type: application/json\r\n")):
		t.Errorf("read back %+v\nwant %+v", r, rec)
	}
}

func TestHARBadInputNamesTheEntry(t *testing.T) {
	dir := t.TempDir()
	ok := `{"startedDateTime":"2026-01-02T03:04:05Z","time":1,"request":{"method":"GET","url":"http://x/a","headers":[]},"response":{"status":200,"headers":[],"content":{"text":""}}}`
	for _, tc := range []struct{ content, want string }{
		{`[1,2]`, "not a JSON object"},
		{`{"log":{"version":"1.2"}}`, "log.entries is missing"},
		{`{"log":{"entries":[]}}`, "log.version is missing"},
		{`{"log":{"version":"1.2","entries":[` + ok + `,` + strings.Replace(ok, `"status":200`, `"statusx":200`, 1) + `]}}`, "entry 1 (counting from 0): response.status is missing"},
		{`{"log":{"version":"1.2","entries":[` + strings.Replace(ok, "http://x/a", "/a", 1) + `]}}`, "entry 0 (counting from 0): request.url"},
		{`{"log":{"version":"1.2","entries":[` + strings.Replace(ok, "2026-01-02T03:04:05Z", "yesterday", 1) + `]}}`, "startedDateTime"},
		{`{"log":{"version":"1.2","entries":[` + ok + `,{"request":`, "entry 1"},
	} {
		p := filepath.Join(dir, "bad.har")
		if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := OpenHAR(p, Filter{}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenHAR(%s): %v, want an error with %q", tc.content, err, tc.want)
		}
	}
}

func TestRunnerMarksComparesAndSkipsWrites(t *testing.T) {
	st := openTestStore(t, 30)
	var mu sync.Mutex
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		var id int
		fmt.Sscanf(r.URL.Path, "/items/%d", &id)
		w.Header().Set("Content-Type", "application/json")
		if id%4 == 0 {
			fmt.Fprintf(w, `{"id":%d,"ts":2,"extra":true}`, id)
			return
		}
		fmt.Fprintf(w, `{"id":%d,"ts":1}`, id)
	}))
	defer srv.Close()
	src, err := OpenPaged(st, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []Outcome
	r, err := New(Options{Target: srv.URL, SetHeaders: [][2]string{{"Authorization", "Bearer t"}}, Outcomes: func(o *Outcome) {
		mu.Lock()
		outcomes = append(outcomes, *o)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	// 30 calls: /items/9, 19, 29 are POSTs; of the 27 GETs, the IDs that
	// are multiples of 4 (0, 4, 8, 12, 16, 20, 24, 28) differ.
	if rep.Replay.Sent != 27 || rep.Replay.Skipped[SkipMethod] != 3 || len(seen) != 27 || len(outcomes) != 30 {
		t.Fatalf("sent %d, skipped %v, target saw %d, outcomes %d; want 27, 3 writes, 27, 30", rep.Replay.Sent, rep.Replay.Skipped, len(seen), len(outcomes))
	}
	if len(rep.Routes) != 1 || rep.Routes[0].Compared != 27 || rep.Routes[0].Differing != 8 || rep.Replay.NoiseMeasured {
		t.Errorf("report %+v, want 27 compared, 8 differing, noise not measured", rep.Routes)
	}
	for _, req := range seen {
		switch {
		case req.Method != "GET":
			t.Errorf("a %s was sent without AllowWrites", req.Method)
		case req.Header.Get(Header) != "1", !strings.HasPrefix(req.Header.Get("Tracestate"), "cutover=replay,vendor=1"),
			req.Header.Get("Authorization") != "Bearer t", req.Host != "shop", req.Header.Get("X-Chain-Id") == "":
			t.Errorf("request %s headers %v host %q: want the replay mark, cutover=replay first in tracestate, the set header, the recorded Host and a chain ID", req.URL, req.Header, req.Host)
		}
	}
	var table bytes.Buffer
	if err := WriteTable(&table, rep, 5); err != nil || !strings.Contains(table.String(), "noise not measured") || !strings.Contains(table.String(), "27 sent") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
}

func TestRunnerCountsAnUnreachableTarget(t *testing.T) {
	st := openTestStore(t, 5)
	src, err := OpenPaged(st, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	r, err := New(Options{Target: addr})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Replay.Sent != 5 || rep.Replay.Errors != 5 || len(rep.Routes) != 0 {
		t.Errorf("sent %d, errors %d (%v), routes %d; want 5 failed calls and nothing compared", rep.Replay.Sent, rep.Replay.Errors, rep.Replay.ErrorKinds, len(rep.Routes))
	}
}

func TestLatencyQuantiles(t *testing.T) {
	var l latencies
	for i := 1; i <= 100; i++ {
		l.add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 50}, {0.99, 99}} {
		if got := l.quantile(c.q); got < c.want*0.97 || got > c.want*1.03 {
			t.Errorf("q%v = %vms, want %vms within 3%%", c.q, got, c.want)
		}
	}
}

func TestOptionsAreChecked(t *testing.T) {
	for _, opt := range []Options{
		{Target: "https://x:1"},
		{Target: "http://x:1/prefix"},
		{Target: "http://x:1", Rate: 5, Speed: 2},
	} {
		if _, err := New(opt); err == nil {
			t.Errorf("New(%+v) accepted", opt)
		}
	}
}
