package store

import (
	"errors"
	"testing"
	"time"
)

func TestParseSampleID(t *testing.T) {
	id := NewSampleID(time.Now())
	if got, err := ParseSampleID(id.String()); err != nil || got != id {
		t.Errorf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", "abc", "zzzzzzzzzzzzzzzz", id.String() + "00"} {
		if _, err := ParseSampleID(bad); !errors.Is(err, ErrBadSampleID) {
			t.Errorf("ParseSampleID(%q) = %v, want ErrBadSampleID", bad, err)
		}
	}
}
