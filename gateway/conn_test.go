package gateway

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
)

// TestHeadCheck finds a bare LF in a request head however the bytes are
// split across reads, and never in what follows the head.
func TestHeadCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		bad  int // offset of the bare LF, or -1
	}{
		{"CRLF head", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", -1},
		{"bare LF everywhere", "GET / HTTP/1.1\nHost: a\n\n", 14},
		{"bare LF in the start line only", "GET / HTTP/1.1\nHost: a\r\n\r\n", 14},
		{"bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 25},
		{"leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\n\r\n", -1},
		{"leading bare LF", "\nGET / HTTP/1.1\r\n\r\n", 0},
		{"body after the head is not checked", "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\na\n\nb", -1},
		{"head not complete yet", "GET / HTTP/1.1\r\nHost: a\r", -1},
	} {
		for split := 0; split <= len(tc.in); split++ {
			h := headCheck{on: true}
			got := -1
			if bad := h.scan([]byte(tc.in[:split])); bad >= 0 {
				got = bad
			} else if h.on {
				if bad := h.scan([]byte(tc.in[split:])); bad >= 0 {
					got = split + bad
				}
			}
			if got != tc.bad {
				t.Errorf("%s, split at %d: bare LF at %d, want %d", tc.name, split, got, tc.bad)
			}
		}
	}
}

// TestParseErrorReason: a read timeout is not a malformed request, and a
// bare LF is.
func TestParseErrorReason(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{timeout, reasonRequestTimeout},
		{fmt.Errorf("error when reading request headers: %w", timeout), reasonRequestTimeout},
		{fmt.Errorf("error when reading request headers: %w", errBareLF), reasonMalformed},
		{errors.New("cannot find http request method"), reasonMalformed},
	} {
		if got := parseErrorReason(tc.err); got != tc.want {
			t.Errorf("parseErrorReason(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
	if f := failures[reasonRequestTimeout]; f.status != 408 || f.reason != reasonTimeout {
		t.Errorf("a request timeout answers %d %s, want 408 timeout", f.status, f.reason)
	}
}

// BenchmarkHeadCheck is what the bare-LF check adds to reading a typical
// request head.
func BenchmarkHeadCheck(b *testing.B) {
	head := []byte(benchRequest + strings.Repeat("x", 1024))
	b.SetBytes(int64(len(benchRequest)))
	b.ReportAllocs()
	for b.Loop() {
		h := headCheck{on: true}
		if h.scan(head) >= 0 || h.on {
			b.Fatal("the head did not check out")
		}
	}
}
