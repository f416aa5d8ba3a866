package diff

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 31, 32, 33, 63, 64, 65, 127, 128, 1000, 1e6, 1e9, 1e12, histMax} {
		i := histIndex(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d after %d", v, i, prev)
		}
		prev = i
		rep := histValue(i)
		if v < histSub && rep != float64(v) {
			t.Errorf("histValue(histIndex(%d)) = %v, want exact", v, rep)
		}
		if v > 0 && math.Abs(rep-float64(v))/float64(v) > 1.0/64 {
			t.Errorf("histValue(histIndex(%d)) = %v: more than 1/64 off", v, rep)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := int64(r.Uint64N(histMax))
		rep := histValue(histIndex(v))
		if v > 0 && math.Abs(rep-float64(v))/float64(v) > 1.0/64 {
			t.Fatalf("histValue(histIndex(%d)) = %v: more than 1/64 off", v, rep)
		}
	}
	if histIndex(-5) != 0 || histIndex(math.MaxInt64) != histBuckets-1 {
		t.Error("out-of-range values are not clamped")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	dists := map[string]func() time.Duration{
		"uniform 1-100ms": func() time.Duration { return time.Millisecond + time.Duration(r.Int64N(int64(99*time.Millisecond))) },
		"exponential 20ms": func() time.Duration {
			return time.Duration(r.ExpFloat64() * float64(20*time.Millisecond))
		},
		"lognormal": func() time.Duration {
			return time.Duration(math.Exp(r.NormFloat64()*1.5) * float64(5*time.Millisecond))
		},
		"constant 12.1ms": func() time.Duration { return 12100 * time.Microsecond },
		"bimodal 1ms/1s": func() time.Duration {
			if r.IntN(100) < 97 {
				return time.Millisecond + time.Duration(r.Int64N(int64(time.Millisecond)))
			}
			return time.Second + time.Duration(r.Int64N(int64(time.Second)))
		},
		"sub-microsecond": func() time.Duration { return time.Duration(r.Int64N(2000)) },
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			var h, h1, h2 histogram
			vals := make([]time.Duration, 20000)
			for i := range vals {
				vals[i] = gen()
				h.add(vals[i])
				if i%2 == 0 {
					h1.add(vals[i])
				} else {
					h2.add(vals[i])
				}
			}
			h1.merge(&h2)
			slices.Sort(vals)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				rank := int(math.Ceil(q * float64(len(vals))))
				exact := float64(vals[rank-1])
				got := h.quantile(q)
				if exact > 0 && math.Abs(got-exact)/exact > 0.02 {
					t.Errorf("q%v = %v, exact %v: off by %.2f%%", q, got, exact, 100*math.Abs(got-exact)/exact)
				}
				if exact == 0 && got != 0 {
					t.Errorf("q%v = %v, exact 0", q, got)
				}
				if m := h1.quantile(q); m != got {
					t.Errorf("merged q%v = %v, want %v", q, m, got)
				}
			}
		})
	}
}

func TestHistogramResetKeepsPages(t *testing.T) {
	var h histogram
	h.add(5 * time.Millisecond)
	p := h.pages[histIndex(int64(5*time.Millisecond))/histSub]
	h.reset()
	if h.n != 0 || h.quantile(0.5) != 0 {
		t.Fatal("reset histogram is not empty")
	}
	if allocs := testing.AllocsPerRun(100, func() { h.add(5 * time.Millisecond) }); allocs != 0 {
		t.Errorf("add after reset allocates %v times", allocs)
	}
	if h.pages[histIndex(int64(5*time.Millisecond))/histSub] != p {
		t.Error("reset dropped a page")
	}
}
