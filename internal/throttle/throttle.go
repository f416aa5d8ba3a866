// Package throttle lets an event through at most once per interval, so a
// failure that repeats at the request rate (a dead upstream, a dead shadow
// side) cannot flood the log from the hot path.
package throttle

import (
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/internal/defaults"
)

// DefaultEvery is the interval of a zero Throttle.
const DefaultEvery = time.Second

// Throttle lets an event through at most once per Every (DefaultEvery
// when zero). Its zero value is ready; it is safe for concurrent use.
type Throttle struct {
	Every time.Duration
	next  atomic.Int64 // unix nanoseconds before which nothing passes
}

// Allow reports whether an event happening now may pass.
func (t *Throttle) Allow() bool {
	every := defaults.Positive(t.Every, DefaultEvery)
	now := time.Now().UnixNano()
	next := t.next.Load()
	return now >= next && t.next.CompareAndSwap(next, now+int64(every))
}
