package budget

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/quick"
)

func TestChargeAndRelease(t *testing.T) {
	b := New(100)
	if !b.TryCharge(60) {
		t.Fatal("60 of 100 refused")
	}
	if b.TryCharge(41) {
		t.Fatal("41 more accepted with 40 left")
	}
	if got := b.Used(); got != 60 {
		t.Fatalf("a refused charge took bytes: used %d, want 60", got)
	}
	if !b.TryCharge(40) {
		t.Fatal("40 refused with 40 left")
	}
	b.Release(60)
	b.Release(40)
	if got := b.Used(); got != 0 {
		t.Fatalf("used %d after every release, want 0", got)
	}
	if b.Limit() != 100 {
		t.Fatalf("limit %d, want 100", b.Limit())
	}
}

func TestDefaultAndNil(t *testing.T) {
	if got := New(0).Limit(); got != Default {
		t.Fatalf("New(0) limit %d, want %d", got, Default)
	}
	var b *Budget
	if !b.TryCharge(1 << 40) {
		t.Fatal("a nil budget refused a charge")
	}
	b.Release(1 << 40)
	if b.Used() != 0 || b.Limit() != 0 {
		t.Fatal("a nil budget counts")
	}
	if !New(10).TryCharge(0) || !New(10).TryCharge(-5) {
		t.Fatal("an empty charge refused")
	}
	if New(10).TryCharge(11) {
		t.Fatal("a charge over the whole limit accepted")
	}
}

// TestConcurrentNeverExceeds charges and releases from many goroutines and
// checks, inside every charge, that the bytes in use never pass the limit,
// and that all of them come back.
func TestConcurrentNeverExceeds(t *testing.T) {
	const limit = 10_000
	b := New(limit)
	var over atomic.Int64
	var refused, taken atomic.Uint64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			var held []int64
			for range 20_000 {
				if len(held) > 0 && rng.IntN(2) == 0 {
					n := held[len(held)-1]
					held = held[:len(held)-1]
					b.Release(n)
					continue
				}
				n := int64(1 + rng.IntN(1500))
				if !b.TryCharge(n) {
					refused.Add(1)
					continue
				}
				taken.Add(1)
				if u := b.Used(); u > limit {
					over.Store(u)
				}
				held = append(held, n)
			}
			for _, n := range held {
				b.Release(n)
			}
		}()
	}
	wg.Wait()
	if u := over.Load(); u != 0 {
		t.Fatalf("used reached %d, over the limit %d", u, limit)
	}
	if b.Used() != 0 {
		t.Fatalf("used %d after every release, want 0", b.Used())
	}
	if refused.Load() == 0 || taken.Load() == 0 {
		t.Fatalf("the load did not exercise both outcomes: %d taken, %d refused", taken.Load(), refused.Load())
	}
}

// TestPropertySequence: for any sequence of charges and releases, the
// budget agrees with a plain model of it.
func TestPropertySequence(t *testing.T) {
	prop := func(limit uint16, ops []int16) bool {
		b := New(int64(limit) + 1)
		var model int64
		var held []int64
		for _, op := range ops {
			if op < 0 && len(held) > 0 {
				n := held[0]
				held = held[1:]
				b.Release(n)
				model -= n
				continue
			}
			n := int64(op)
			if n < 0 {
				n = -n
			}
			ok := b.TryCharge(n)
			if ok != (n <= 0 || model+n <= b.Limit()) {
				return false
			}
			if ok && n > 0 {
				model += n
				held = append(held, n)
			}
			if b.Used() != model || model > b.Limit() {
				return false
			}
		}
		return true
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 2000}); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkTryCharge(b *testing.B) {
	bg := New(1 << 30)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if bg.TryCharge(1024) {
				bg.Release(1024)
			}
		}
	})
}
