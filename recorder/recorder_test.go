package recorder

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/store"
)

func openBolt(t *testing.T) *store.Bolt {
	t.Helper()
	b, err := store.OpenBolt(filepath.Join(t.TempDir(), "cutover.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// quietLog discards log output.
var quietLog = slog.New(slog.DiscardHandler)

// fill makes r look like a captured call.
func fill(r *store.Record, i int) {
	r.Chain = chain.NewTraceID()
	r.Span = chain.NewSpanID()
	r.Route, r.Side, r.Target = "orders", "old", "127.0.0.1:9001"
	r.Status = 200
	r.Start = time.Unix(1700000000, int64(i))
	r.SetMethod([]byte("POST"))
	r.SetURI([]byte("/api/orders"))
	r.SetReqHeaders([]byte("Authorization: Bearer secret-token\r\nContent-Type: application/json\r\n"))
	r.SetReqBody([]byte(`{"user":"u","password":"hunter2"}`), 1024)
}

// storedCount reads every record back from b, page by page.
func storedCount(t *testing.T, b *store.Bolt) int {
	t.Helper()
	n, q := 0, store.Query{Limit: store.MaxLimit}
	for {
		page, err := b.Records(q)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Records)
		if page.Next == "" {
			return n
		}
		q.Cursor = page.Next
	}
}

func dropped(rc *Recorder) uint64 {
	var n uint64
	for _, v := range rc.Dropped() {
		n += v
	}
	return n
}

func closeNow(t testing.TB, rc *Recorder) {
	t.Helper()
	if err := rc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// gate is a slow store: each Append announces itself on entered, then
// waits for release before writing to the real store underneath.
type gate struct {
	w       Writer
	entered chan struct{}
	release chan struct{}
}

func (g *gate) Append(recs []*store.Record) error {
	g.entered <- struct{}{}
	<-g.release
	return g.w.Append(recs)
}

func TestFullQueueDropsWithoutBlocking(t *testing.T) {
	b := openBolt(t)
	g := &gate{w: b, entered: make(chan struct{}, 64), release: make(chan struct{})}
	const queue = 8
	rc := New(g, Options{QueueSize: queue, BatchSize: 4, Logger: quietLog})
	submitted := 0
	submit := func() bool {
		r := rc.Get()
		fill(r, submitted)
		submitted++
		return rc.Submit(r)
	}
	for range 4 {
		if !submit() {
			t.Fatal("Submit dropped a record with the queue empty")
		}
	}
	<-g.entered // the writer is now held inside Append: nothing leaves the queue
	waiting := rc.QueueLen()
	accepted := 0
	const more = 3 * queue
	for range more {
		if submit() {
			accepted++
		}
	}
	// Reaching this line at all shows Submit returned while the writer
	// was blocked; the counts show it dropped rather than waited.
	if accepted != queue-waiting {
		t.Errorf("accepted %d with %d of %d queue slots taken, want %d", accepted, waiting, queue, queue-waiting)
	}
	if got := rc.Dropped()[ReasonQueueFull]; got != uint64(more-accepted) {
		t.Errorf("queue_full = %d, want %d", got, more-accepted)
	}
	if rc.QueueLen() != queue {
		t.Errorf("QueueLen = %d, want %d", rc.QueueLen(), queue)
	}
	if rc.Written() != 0 {
		t.Errorf("Written = %d while the store is blocked", rc.Written())
	}

	close(g.release)
	closeNow(t, rc)
	if got := rc.Written() + dropped(rc); got != uint64(submitted) {
		t.Errorf("written %d + dropped %d = %d, submitted %d", rc.Written(), dropped(rc), got, submitted)
	}
	if n := storedCount(t, b); n != int(rc.Written()) {
		t.Errorf("store holds %d records, Written says %d", n, rc.Written())
	}
}

func TestSubmitDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items")
	}
	g := &gate{w: discard{}, entered: make(chan struct{}, 64), release: make(chan struct{})}
	rc := New(g, Options{QueueSize: 4, BatchSize: 1, Logger: quietLog})
	defer func() { close(g.release); closeNow(t, rc) }()
	body := []byte(`{"a":1}`)
	submit := func() {
		r := rc.Get()
		r.Route = "orders"
		r.SetMethod([]byte("GET"))
		r.SetReqBody(body, 1024)
		rc.Submit(r)
	}
	submit()
	<-g.entered
	for range 4 {
		submit() // fill the queue
	}
	// Every Submit now drops its record back into the pool, and Get
	// takes it out again.
	if allocs := testing.AllocsPerRun(1000, submit); allocs > 0.01 {
		t.Errorf("Get, fill and Submit allocate %.3f times a call", allocs)
	}
}

func TestCloseFlushesEverything(t *testing.T) {
	b := openBolt(t)
	// A long interval and a large batch: without Close, most of these
	// would still be waiting.
	rc := New(b, Options{BatchSize: 1000, Interval: time.Hour, RedactJSON: []string{"password"}, Logger: quietLog})
	const n = 2500
	for i := range n {
		r := rc.Get()
		fill(r, i)
		if !rc.Submit(r) {
			t.Fatalf("record %d dropped", i)
		}
	}
	closeNow(t, rc)
	if rc.Written() != n || dropped(rc) != 0 {
		t.Fatalf("Written = %d, dropped = %v; want %d, none", rc.Written(), rc.Dropped(), n)
	}
	if got := storedCount(t, b); got != n {
		t.Fatalf("store holds %d records, want %d", got, n)
	}
	page, err := b.Records(store.Query{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := page.Records[0]
	if bytes.Contains(r.ReqHeaders, []byte("secret-token")) || bytes.Contains(r.ReqBody, []byte("hunter2")) {
		t.Errorf("stored record not redacted: %q %q", r.ReqHeaders, r.ReqBody)
	}
	if string(r.ReqBody) != `{"user":"u","password":"[redacted]"}` {
		t.Errorf("stored body = %s", r.ReqBody)
	}
}

// failing fails its first fail Appends, then writes to w. Each call is
// announced on calls; failed counts the records of failed calls, kept
// those of successful ones (read them after Close).
type failing struct {
	w            Writer
	fail         int
	calls        chan struct{}
	n            int
	failed, kept int
}

func (f *failing) Append(recs []*store.Record) error {
	f.n++
	defer func() {
		select {
		case f.calls <- struct{}{}:
		default:
		}
	}()
	if f.n <= f.fail {
		f.failed += len(recs)
		return errors.New("disk full")
	}
	f.kept += len(recs)
	return f.w.Append(recs)
}

// submitN fills and submits k records numbered from *next.
func submitN(t *testing.T, rc *Recorder, next *int, k int) {
	t.Helper()
	for range k {
		r := rc.Get()
		fill(r, *next)
		*next++
		if !rc.Submit(r) {
			t.Fatal("record dropped by Submit")
		}
	}
}

func TestStoreErrorsHoldRecordsUntilTheStoreAnswers(t *testing.T) {
	b := openBolt(t)
	var logs bytes.Buffer
	w := &failing{w: b, fail: 3, calls: make(chan struct{}, 64)}
	rc := New(w, Options{BatchSize: 10, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rc.logEvery = time.Hour // so the count of log lines does not depend on timing
	submitted := 0
	// Each round fills a batch and waits for the store to be called; the
	// held records are tried again after a growing wait.
	for range w.fail {
		submitN(t, rc, &submitted, 10)
		<-w.calls
	}
	if rc.Held() == 0 {
		t.Error("no record held after the store failed")
	}
	submitN(t, rc, &submitted, 5)
	closeNow(t, rc)
	if w.failed == 0 || w.kept == 0 {
		t.Fatalf("the test did not exercise both paths: failed %d, kept %d", w.failed, w.kept)
	}
	if got := rc.Dropped()[ReasonStoreError]; got != 0 {
		t.Errorf("store_error = %d, want 0: the buffer had room", got)
	}
	if rc.Written() != uint64(submitted) || storedCount(t, b) != submitted || rc.Held() != 0 {
		t.Errorf("after the store recovered: Written = %d, stored %d, held %d; want %d, %d, 0", rc.Written(), storedCount(t, b), rc.Held(), submitted, submitted)
	}
	if lines := strings.Count(logs.String(), "not stored"); lines != 1 {
		t.Errorf("%d log lines for %d failures in a row, want 1:\n%s", lines, w.fail, logs.String())
	}
	if !strings.Contains(logs.String(), "disk full") {
		t.Errorf("the log does not say why: %s", logs.String())
	}
}

func TestStoreErrorsDropBeyondTheBuffer(t *testing.T) {
	b := openBolt(t)
	w := &failing{w: b, fail: 1 << 30, calls: make(chan struct{}, 64)}
	// Room for about 4 records of fill's size.
	rc := New(w, Options{BatchSize: 10, Buffer: 4 * int(recordBytes(filled())+1), Logger: slog.New(slog.DiscardHandler)})
	submitted := 0
	submitN(t, rc, &submitted, 10)
	<-w.calls
	submitN(t, rc, &submitted, 10)
	closeNow(t, rc)
	dropped := rc.Dropped()[ReasonStoreError]
	if dropped != uint64(submitted) || rc.Written() != 0 || rc.Held() != 0 {
		t.Errorf("store_error %d, written %d, held %d after Close; want %d, 0, 0", dropped, rc.Written(), rc.Held(), submitted)
	}
}

func filled() *store.Record {
	r := new(store.Record)
	fill(r, 0)
	return r
}

func TestSubmitAfterClose(t *testing.T) {
	rc := New(openBolt(t), Options{Logger: quietLog})
	closeNow(t, rc)
	closeNow(t, rc) // twice is fine
	r := rc.Get()
	fill(r, 0)
	if rc.Submit(r) {
		t.Error("Submit after Close accepted a record")
	}
	if got := rc.Dropped()[ReasonClosed]; got != 1 {
		t.Errorf("closed = %d, want 1", got)
	}
}

func TestCloseHonoursContext(t *testing.T) {
	g := &gate{w: openBolt(t), entered: make(chan struct{}, 4), release: make(chan struct{})}
	rc := New(g, Options{BatchSize: 1, Logger: quietLog})
	r := rc.Get()
	fill(r, 0)
	rc.Submit(r)
	<-g.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := rc.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close with a blocked store and a done context = %v", err)
	}
	close(g.release)
	closeNow(t, rc)
	if rc.Written() != 1 {
		t.Errorf("Written = %d after the store unblocked, want 1", rc.Written())
	}
}

func TestConcurrentSubmitAndClose(t *testing.T) {
	b := openBolt(t)
	rc := New(b, Options{QueueSize: 64, BatchSize: 16, Logger: quietLog})
	var submitted atomic.Uint64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range 500 {
				r := rc.Get()
				fill(r, g*1000+i)
				rc.Submit(r)
				submitted.Add(1)
			}
		}()
	}
	close(start)
	closeNow(t, rc) // races the submitters on purpose
	wg.Wait()
	if got := rc.Written() + dropped(rc); got != submitted.Load() {
		t.Errorf("written %d + dropped %v != submitted %d", rc.Written(), rc.Dropped(), submitted.Load())
	}
	if n := storedCount(t, b); n != int(rc.Written()) {
		t.Errorf("store holds %d, Written says %d", n, rc.Written())
	}
}

func TestOptionsDefaults(t *testing.T) {
	rc := New(openBolt(t), Options{Interval: time.Hour, RedactJSON: []string{"ok", "a..b"}, Logger: quietLog})
	defer closeNow(t, rc)
	if rc.opt.QueueSize != DefaultQueueSize || rc.opt.BatchSize != DefaultBatchSize || cap(rc.queue) != DefaultQueueSize {
		t.Errorf("defaults not applied: %+v", rc.opt)
	}
	if rc.opt.Interval != MaxInterval {
		t.Errorf("Interval = %v, want it capped at %v", rc.opt.Interval, MaxInterval)
	}
	if len(rc.rd.headers) != len(DefaultRedactHeaders) {
		t.Errorf("%d header rules, want the %d defaults", len(rc.rd.headers), len(DefaultRedactHeaders))
	}
	if len(rc.rd.json.names) != 1 {
		t.Errorf("the bad path was not left out: %+v", rc.rd.json)
	}
}

func TestSampled(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]chain.TraceID, 100_000)
	for i := range ids {
		for j := range ids[i] {
			ids[i][j] = byte(rng.Uint32())
		}
	}
	for _, rate := range []float64{0.001, 0.01, 0.1, 0.25, 0.5, 0.9} {
		n := 0
		first := make([]bool, len(ids))
		for i, id := range ids {
			first[i] = Sampled(id, rate)
			if first[i] {
				n++
			}
		}
		// Another hop sees the same chain ID, parsed afresh.
		for i, id := range ids[:1000] {
			again, ok := chain.ParseChainID(id.AppendHex(nil))
			if !ok {
				t.Fatalf("cannot parse %v", id)
			}
			if Sampled(again, rate) != first[i] {
				t.Fatal("Sampled is not deterministic")
			}
		}
		if got := float64(n) / float64(len(ids)); got < rate-0.01 || got > rate+0.01 {
			t.Errorf("rate %v sampled %v of chains", rate, got)
		}
	}
	for _, id := range ids[:1000] {
		if !Sampled(id, 1) || Sampled(id, 0) || Sampled(id, -1) {
			t.Fatal("rate 1 must sample every chain and rate 0 none")
		}
		// A chain sampled at a rate stays sampled at every higher rate.
		if Sampled(id, 0.3) && !Sampled(id, 0.6) {
			t.Fatal("raising the rate dropped a chain")
		}
	}
	max := chain.TraceID{8: 0xff, 9: 0xff, 10: 0xff, 11: 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff}
	if Sampled(max, 0.9999999) || !Sampled(chain.TraceID{15: 1}, 1e-9) {
		t.Error("the extremes of the low 64 bits are misplaced")
	}
}

// TestSetRulesAppliesToNextBatch: rules set while the recorder runs apply
// to the next batch it writes, with no restart.
func TestSetRulesAppliesToNextBatch(t *testing.T) {
	b := openBolt(t)
	g := &gate{w: b, entered: make(chan struct{}, 4), release: make(chan struct{}, 4)}
	rc := New(g, Options{BatchSize: 1, RedactHeaders: []string{}, Logger: quietLog})
	submit := func(i int) {
		r := rc.Get()
		fill(r, i)
		if !rc.Submit(r) {
			t.Fatal("dropped")
		}
	}
	submit(0)
	<-g.entered // the first batch is being written with the rules of New
	if bad := rc.SetRules(Rules{Headers: []string{"Authorization"}, JSON: []string{"password", "bad.*"}}); len(bad) != 1 || bad[0] != "bad.*" {
		t.Errorf("SetRules refused %q, want only bad.*", bad)
	}
	g.release <- struct{}{}
	submit(1)
	<-g.entered
	g.release <- struct{}{}
	closeNow(t, rc)
	page, err := b.Records(store.Query{})
	if err != nil || len(page.Records) != 2 {
		t.Fatalf("%d records, %v", len(page.Records), err)
	}
	newer, older := page.Records[0], page.Records[1]
	if !bytes.Contains(older.ReqBody, []byte("hunter2")) || !bytes.Contains(older.ReqHeaders, []byte("secret-token")) {
		t.Errorf("the batch written before SetRules was redacted: %q %q", older.ReqHeaders, older.ReqBody)
	}
	if string(newer.ReqBody) != `{"user":"u","password":"[redacted]"}` || bytes.Contains(newer.ReqHeaders, []byte("secret-token")) {
		t.Errorf("the batch after SetRules: %q %q", newer.ReqHeaders, newer.ReqBody)
	}
}
