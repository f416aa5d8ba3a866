package defaults

import (
	"testing"
	"time"
)

func TestPositive(t *testing.T) {
	if got := Positive(0, 8); got != 8 {
		t.Errorf("Positive(0, 8) = %d, want the default", got)
	}
	if got := Positive(-1, 8); got != 8 {
		t.Errorf("Positive(-1, 8) = %d, want the default", got)
	}
	if got := Positive(3, 8); got != 3 {
		t.Errorf("Positive(3, 8) = %d, want the value set", got)
	}
	if got := Positive(time.Duration(0), time.Second); got != time.Second {
		t.Errorf("Positive(0s, 1s) = %v, want the default", got)
	}
	if got := Positive(0.5, 1.0); got != 0.5 {
		t.Errorf("Positive(0.5, 1) = %v, want the value set", got)
	}
}
