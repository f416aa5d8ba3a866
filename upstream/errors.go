package upstream

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/valyala/fasthttp"
)

// Reasons name why an upstream call failed, in cutover_upstream_errors_total
// and in the gateway's error answers.
const (
	ReasonTimeout     = "timeout"
	ReasonRefused     = "refused"
	ReasonReset       = "reset"
	ReasonNoFreeConns = "no_free_conns"
	ReasonBadGateway  = "bad_gateway"
)

// reasons lists the failure reasons in the order metrics print them.
var reasons = [...]string{ReasonTimeout, ReasonRefused, ReasonReset, ReasonNoFreeConns, ReasonBadGateway}

// Reason classifies an error from an upstream call.
func Reason(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout),
		errors.As(err, &netErr) && netErr.Timeout():
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, ErrAllDown):
		return ReasonRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, fasthttp.ErrConnectionClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ReasonReset
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return ReasonNoFreeConns
	}
	return ReasonBadGateway
}

// isConnectFailure reports whether err means no connection was made, so
// the request never reached the target.
func isConnectFailure(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fasthttp.ErrDialTimeout) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}
