package upstream

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fasthttp.ErrTimeout, ReasonTimeout},
		{fasthttp.ErrDialTimeout, ReasonTimeout},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, ReasonRefused},
		{ErrAllDown, ReasonRefused},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), ReasonReset},
		{io.EOF, ReasonReset},
		{fasthttp.ErrConnectionClosed, ReasonReset},
		{fasthttp.ErrNoFreeConns, ReasonNoFreeConns},
		{errors.New("cannot parse response status line"), ReasonBadGateway},
	}
	for _, tt := range tests {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
	if !isConnectFailure(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}) || isConnectFailure(fasthttp.ErrTimeout) {
		t.Error("isConnectFailure misclassifies")
	}
}
