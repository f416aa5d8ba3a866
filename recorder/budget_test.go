package recorder

import (
	"testing"
	"time"

	"github.com/cutover/cutover/internal/budget"
)

// TestBudgetDropsWhatDoesNotFit: with the writer held, records are
// charged until the budget is spent, the rest are dropped under
// ReasonBudget, and every byte comes back once they are written.
func TestBudgetDropsWhatDoesNotFit(t *testing.T) {
	b := openBolt(t)
	g := &gate{w: b, entered: make(chan struct{}, 64), release: make(chan struct{})}
	bg := budget.New(3 * recordBytes(filled()))
	rc := New(g, Options{BatchSize: 1, Budget: bg, Logger: quietLog})
	submitted, queued := 0, 0
	for range 10 {
		r := rc.Get()
		fill(r, submitted)
		submitted++
		if rc.Submit(r) {
			queued++
		}
		if submitted == 1 {
			<-g.entered // the writer holds the first record inside Append
		}
	}
	if queued != 3 {
		t.Errorf("%d records queued within a budget of 3, want 3", queued)
	}
	if got := rc.Dropped()[ReasonBudget]; got != uint64(submitted-queued) {
		t.Errorf("budget drops %d, want %d", got, submitted-queued)
	}
	if bg.Used() > bg.Limit() {
		t.Errorf("budget used %d over its limit %d", bg.Used(), bg.Limit())
	}
	close(g.release)
	closeNow(t, rc)
	if rc.Written() != uint64(queued) {
		t.Errorf("written %d, want %d", rc.Written(), queued)
	}
	if bg.Used() != 0 {
		t.Errorf("budget used %d after every record was written, want 0", bg.Used())
	}
	if storedCount(t, b) != queued {
		t.Errorf("stored %d, want %d", storedCount(t, b), queued)
	}
}

// TestBudgetHoldsRecordsThroughStoreErrors: records held for a failing
// store stay charged, Failing says why, and both clear once the store
// takes them.
func TestBudgetHoldsRecordsThroughStoreErrors(t *testing.T) {
	b := openBolt(t)
	w := &failing{w: b, fail: 2, calls: make(chan struct{}, 64)}
	bg := budget.New(1 << 20)
	rc := New(w, Options{BatchSize: 10, Budget: bg, Logger: quietLog})
	submitted := 0
	submitN(t, rc, &submitted, 10)
	<-w.calls
	for deadline := time.Now().Add(5 * time.Second); rc.Failing() == ""; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Failing is empty after a failed write")
		}
	}
	if bg.Used() == 0 {
		t.Error("held records are not charged to the budget")
	}
	submitN(t, rc, &submitted, 10)
	for range 2 {
		<-w.calls // the second failure, then the write that succeeds
	}
	closeNow(t, rc)
	if rc.Failing() != "" {
		t.Errorf("Failing %q after the store took the records", rc.Failing())
	}
	if rc.Written() != uint64(submitted) || bg.Used() != 0 {
		t.Errorf("written %d of %d, budget used %d; want all written, 0 used", rc.Written(), submitted, bg.Used())
	}
}

// TestBudgetReturnsAfterStoreErrorDrops: records dropped beyond Buffer
// give their bytes back.
func TestBudgetReturnsAfterStoreErrorDrops(t *testing.T) {
	b := openBolt(t)
	w := &failing{w: b, fail: 1 << 30, calls: make(chan struct{}, 64)}
	bg := budget.New(1 << 20)
	rc := New(w, Options{BatchSize: 10, Buffer: 4 * int(recordBytes(filled())), Budget: bg, Logger: quietLog})
	submitted := 0
	submitN(t, rc, &submitted, 10)
	<-w.calls
	// The writer drops beyond Buffer right after the failed Append.
	most := 4 * recordBytes(filled())
	for deadline := time.Now().Add(5 * time.Second); bg.Used() > most; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("budget used %d with at most 4 records held (%d bytes)", bg.Used(), most)
		}
	}
	closeNow(t, rc)
	if bg.Used() != 0 || rc.Dropped()[ReasonStoreError] != uint64(submitted) {
		t.Errorf("budget used %d, store_error %d; want 0, %d", bg.Used(), rc.Dropped()[ReasonStoreError], submitted)
	}
}
