package diff

import (
	"math/bits"
	"time"
)

// The latency histogram buckets durations in nanoseconds the way HDR
// histograms do: values below 32 ns are kept exactly, and every octave
// [2^k, 2^(k+1)) above is cut into 32 equal sub-buckets, so a bucket is at
// most 1/32 of its lower bound wide and its midpoint is within 1/64
// (1.6%) of any value in it. Octaves are stored as lazily allocated pages
// of 32 counters: latencies cluster in a few octaves, so a histogram
// usually holds a handful of pages (a few hundred bytes) instead of all 38
// (9.7 KiB) — it matters because every 10-second window bucket has two.
// Durations above 2^42 ns (73 minutes) count in the last bucket; negative
// ones count as zero.
const (
	histSubBits = 5
	histSub     = 1 << histSubBits // sub-buckets per octave
	histMaxBits = 42               // largest value kept apart: 2^42−1 ns
	histPages   = histMaxBits - histSubBits + 1
	histBuckets = histPages * histSub
	histMax     = 1<<histMaxBits - 1
)

// histogram is a mergeable log-bucket histogram of durations with a
// relative error of at most 1/64. The zero value is empty and ready.
// Counting allocates only the first time an octave is used.
type histogram struct {
	n     uint64
	pages [histPages]*[histSub]uint64
}

// histIndex returns the bucket of v nanoseconds.
func histIndex(v int64) int {
	if v < 0 {
		v = 0
	}
	if v > histMax {
		v = histMax
	}
	u := uint64(v)
	if u < histSub {
		return int(u)
	}
	l := bits.Len64(u) // ≥ histSubBits+1
	shift := l - histSubBits - 1
	return (shift+1)*histSub + int(u>>uint(shift)) - histSub
}

// histValue returns the value that stands for bucket i: the exact value
// below 32 ns, else the midpoint of the bucket's range.
func histValue(i int) float64 {
	page, slot := i/histSub, i%histSub
	if page == 0 {
		return float64(slot)
	}
	shift := uint(page - 1)
	lo := uint64(histSub+slot) << shift
	width := uint64(1) << shift
	return float64(lo) + float64(width-1)/2
}

func (h *histogram) add(d time.Duration) {
	i := histIndex(int64(d))
	p := h.pages[i/histSub]
	if p == nil {
		p = new([histSub]uint64)
		h.pages[i/histSub] = p
	}
	p[i%histSub]++
	h.n++
}

// addBucket adds n to bucket i (restoring state).
func (h *histogram) addBucket(i int, n uint64) {
	p := h.pages[i/histSub]
	if p == nil {
		p = new([histSub]uint64)
		h.pages[i/histSub] = p
	}
	p[i%histSub] += n
	h.n += n
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for pi, op := range o.pages {
		if op == nil {
			continue
		}
		p := h.pages[pi]
		if p == nil {
			p = new([histSub]uint64)
			h.pages[pi] = p
		}
		for i, c := range op {
			p[i] += c
		}
	}
	h.n += o.n
}

// reset empties h, keeping its pages for reuse.
func (h *histogram) reset() {
	for _, p := range h.pages {
		if p != nil {
			*p = [histSub]uint64{}
		}
	}
	h.n = 0
}

// quantile returns the q-quantile (0 < q ≤ 1) in nanoseconds: the value
// standing for the bucket that holds the ⌈q·n⌉-th smallest duration. It
// returns 0 for an empty histogram.
func (h *histogram) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if float64(rank) < q*float64(h.n) {
		rank++
	}
	rank = max(rank, 1)
	rank = min(rank, h.n)
	var cum uint64
	for pi, p := range h.pages {
		if p == nil {
			continue
		}
		for i, c := range p {
			cum += c
			if cum >= rank {
				return histValue(pi*histSub + i)
			}
		}
	}
	return histValue(histBuckets - 1) // unreachable while n matches the counts
}

// quantileMs is quantile in milliseconds.
func (h *histogram) quantileMs(q float64) float64 {
	return h.quantile(q) / float64(time.Millisecond)
}

// each calls f for every non-empty bucket in increasing order.
func (h *histogram) each(f func(i int, n uint64)) {
	for pi, p := range h.pages {
		if p == nil {
			continue
		}
		for i, c := range p {
			if c != 0 {
				f(pi*histSub+i, c)
			}
		}
	}
}
