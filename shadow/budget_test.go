package shadow

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/internal/budget"
	"github.com/cutover/cutover/store"
)

// TestSubmitChargesTheBudget: with the one worker stuck, jobs are taken
// while they fit the budget and dropped under budget beyond it, whatever
// room the queue has; once the worker is free every byte comes back.
func TestSubmitChargesTheBudget(t *testing.T) {
	release := make(chan struct{})
	slow := serve(t, "new", func(ctx *fasthttp.RequestCtx) {
		<-release
		ctx.SetBodyString(`{"a":1}`)
	})
	probe := NewMirror(Options{})
	one := jobBytes(&job(probe.Route("probe", settings(slow, slow), 1, 1), `{"a":1}`).Req, &fasthttp.Response{})
	_ = probe.Close(context.Background())

	bg := budget.New(3 * (one + 16))
	m := NewMirror(Options{Budget: bg})
	r := m.Route("items", settings(slow, slow), 1, 64)
	const n = 10
	ok := 0
	for range n {
		if r.Submit(job(r, `{"a":1}`)) {
			ok++
		}
		if bg.Used() > bg.Limit() {
			t.Fatalf("budget used %d over its limit %d", bg.Used(), bg.Limit())
		}
	}
	if ok != 3 {
		t.Errorf("%d jobs taken within a budget of 3, want 3", ok)
	}
	if got := r.Dropped(ReasonBudget); got != uint64(n-ok) {
		t.Errorf("budget drops %d, want %d", got, n-ok)
	}
	if r.Dropped(ReasonQueueFull) != 0 {
		t.Errorf("queue_full %d with a queue of 64", r.Dropped(ReasonQueueFull))
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Compared() != uint64(ok) || bg.Used() != 0 {
		t.Errorf("compared %d, budget used %d after Close; want %d, 0", r.Compared(), bg.Used(), ok)
	}
}

// downStore fails PutSamples while down is set.
type downStore struct {
	Store
	down atomic.Bool
}

func (s *downStore) PutSamples(samples []store.Sample) error {
	if s.down.Load() {
		return errors.New("disk full")
	}
	return s.Store.PutSamples(samples)
}

// TestSamplesKeptForRetryAreCharged: samples a failed flush keeps are
// charged to the budget, the oldest dropped when they do not fit, and
// the charge returns once the store takes them.
func TestSamplesKeptForRetryAreCharged(t *testing.T) {
	bg := budget.New(250)
	m := NewMirror(Options{Budget: bg})
	bolt, err := store.OpenBolt(filepath.Join(t.TempDir(), "cutover.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	st := &downStore{Store: bolt}
	st.down.Store(true)
	if err := m.SetStore(st, nil); err != nil {
		t.Fatal(err)
	}
	// The flush loop stops, so the flushes below are the only ones.
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	sample := func() store.Sample {
		return store.Sample{ID: store.NewSampleID(time.Now()), Data: make([]byte, 100)}
	}
	m.keepForRetry([]store.Sample{sample(), sample()})
	if bg.Used() != 200 || len(m.retry) != 2 {
		t.Fatalf("kept %d samples, budget used %d; want 2, 200", len(m.retry), bg.Used())
	}
	// A third does not fit beside them: the oldest goes.
	m.keepForRetry(append(m.retry, sample()))
	if bg.Used() != 200 || len(m.retry) != 2 || m.samplesLost.Load() != 1 {
		t.Fatalf("kept %d, used %d, lost %d; want 2, 200, 1", len(m.retry), bg.Used(), m.samplesLost.Load())
	}
	st.down.Store(false)
	m.flush()
	if bg.Used() != 0 || len(m.retry) != 0 {
		t.Fatalf("after a flush the store took: kept %d, used %d; want 0, 0", len(m.retry), bg.Used())
	}
}
