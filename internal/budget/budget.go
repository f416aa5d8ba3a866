// Package budget is cutover's one byte budget for the copies it holds after
// a client is answered (memory.async): shadow jobs, records queued for the
// store or held for a store retry, comparison samples held for a retry.
//
// Each holder charges a copy's bytes with TryCharge when it takes the copy
// and releases them with Release when the copy is done: sent, written or
// dropped. A copy that does not fit is not taken; the holder drops it and
// counts it under its reason "budget". The budget never blocks and never
// allocates: TryCharge is one compare-and-swap loop on an atomic counter,
// so the request path can call it.
package budget

import (
	"sync/atomic"

	"github.com/cutover/cutover/internal/defaults"
)

// Default is the limit of memory.async when it is not configured: 64 MiB.
const Default = 64 << 20

// Budget is a limit on bytes held at once. It is safe for concurrent use.
// The bytes in use never exceed the limit: a charge that would pass it
// fails whole. A nil *Budget has no limit and counts nothing.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// New returns a budget of limit bytes; limit <= 0 means Default.
func New(limit int64) *Budget {
	limit = defaults.Positive(limit, Default)
	return &Budget{limit: limit}
}

// TryCharge takes n bytes from the budget and reports whether it could: it
// fails, taking nothing, when the bytes in use plus n would exceed the
// limit. n <= 0 always succeeds and takes nothing. Each successful charge
// must be matched by a Release of the same n.
func (b *Budget) TryCharge(n int64) bool {
	if b == nil || n <= 0 {
		return true
	}
	for {
		used := b.used.Load()
		if used+n > b.limit || used+n < used {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// Release gives back n bytes that a TryCharge took.
func (b *Budget) Release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.used.Add(-n)
}

// Used returns the bytes in use.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Limit returns the limit in bytes; 0 for a nil budget, which has none.
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}
