package throttle

import (
	"testing"
	"time"
)

func TestAllowOncePerInterval(t *testing.T) {
	th := Throttle{Every: time.Hour}
	if !th.Allow() {
		t.Fatal("the first event was held back")
	}
	for range 100 {
		if th.Allow() {
			t.Fatal("a second event passed within the interval")
		}
	}
	th.next.Store(time.Now().Add(-time.Nanosecond).UnixNano()) // the interval has passed
	if !th.Allow() {
		t.Error("an event after the interval was held back")
	}
}
