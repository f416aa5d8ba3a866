package gateway

import (
	"errors"
	"net"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/upstream"
)

// Reasons name why a request failed, in the error body and in metrics.
// Those of a failed upstream call are package upstream's (upstream.Reason).
const (
	reasonNoRoute     = "no_route"
	reasonTimeout     = upstream.ReasonTimeout
	reasonRefused     = upstream.ReasonRefused
	reasonReset       = upstream.ReasonReset
	reasonNoFreeConns = upstream.ReasonNoFreeConns
	reasonBadGateway  = upstream.ReasonBadGateway
	reasonTooLarge    = "body_too_large"
	reasonHeaderLarge = "header_too_large"
	reasonMalformed   = "malformed"
	reasonFraming     = "conflicting_framing"
	// reasonMethodNotAllowed answers CONNECT, which no route lists.
	reasonMethodNotAllowed = "method_not_allowed"
	// reasonRequestTimeout is a client that did not send its request in
	// time: answered 408 and counted as "timeout" among rejected requests
	// (reasonTimeout is the upstream's, answered 504).
	reasonRequestTimeout = "request_timeout"
)

// allowHeader is the Allow header of a 405 (RFC 9110 §15.5.6): the
// methods cutover forwards to a route that does not restrict them.
const allowHeader = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE"

// failure is one way a request can fail, with the status the client gets.
type failure struct {
	status  int
	reason  string
	message string
}

var failures = map[string]failure{
	reasonNoRoute:     {fasthttp.StatusNotFound, reasonNoRoute, "no route matches this request"},
	reasonTimeout:     {fasthttp.StatusGatewayTimeout, reasonTimeout, "upstream timed out"},
	reasonRefused:     {fasthttp.StatusBadGateway, reasonRefused, "upstream refused the connection"},
	reasonReset:       {fasthttp.StatusBadGateway, reasonReset, "upstream closed the connection"},
	reasonNoFreeConns: {fasthttp.StatusServiceUnavailable, reasonNoFreeConns, "upstream connection limit reached"},
	reasonBadGateway:  {fasthttp.StatusBadGateway, reasonBadGateway, "upstream failed"},
	reasonTooLarge:    {fasthttp.StatusRequestEntityTooLarge, reasonTooLarge, "request body is larger than max_body"},
	reasonHeaderLarge: {fasthttp.StatusRequestHeaderFieldsTooLarge, reasonHeaderLarge, "request headers are too large"},
	reasonMalformed:   {fasthttp.StatusBadRequest, reasonMalformed, "malformed request"},
	reasonFraming:     {fasthttp.StatusBadRequest, reasonFraming, "request has both Content-Length and Transfer-Encoding"},

	reasonMethodNotAllowed: {fasthttp.StatusMethodNotAllowed, reasonMethodNotAllowed, "CONNECT is not allowed"},
	reasonRequestTimeout:   {fasthttp.StatusRequestTimeout, reasonTimeout, "request not received in time"},
}

// parseErrorReason classifies an error from reading the client's request.
func parseErrorReason(err error) string {
	var (
		small  *fasthttp.ErrSmallBuffer
		netErr net.Error
	)
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return reasonTooLarge
	case errors.As(err, &small):
		return reasonHeaderLarge
	case errors.As(err, &netErr) && netErr.Timeout():
		// The header (client_header_timeout) or the body did not arrive
		// in time: not a malformed request.
		return reasonRequestTimeout
	}
	return reasonMalformed // errBareLF among others
}

// writeError is the one place a failure becomes a response: the status,
// and a small JSON body that carries the chain ID so the caller can find
// the recorded call.
func writeError(ctx *fasthttp.RequestCtx, reason string, chainID []byte, chainHeader string) {
	f := failures[reason]
	resp := &ctx.Response
	resp.Reset()
	resp.SetStatusCode(f.status)
	resp.Header.SetContentType("application/json")
	if len(chainID) > 0 {
		resp.Header.SetBytesV(chainHeader, chainID)
	}
	b := make([]byte, 0, 160)
	b = append(b, `{"error":`...)
	b = strconv.AppendQuote(b, f.message)
	b = append(b, `,"reason":"`...)
	b = append(b, f.reason...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(f.status), 10)
	if len(chainID) > 0 {
		b = append(b, `,"chain_id":"`...)
		b = append(b, chainID...)
		b = append(b, '"')
	}
	b = append(b, "}\n"...)
	resp.SetBodyRaw(b)
	switch f.status {
	case fasthttp.StatusMethodNotAllowed:
		resp.Header.Set(fasthttp.HeaderAllow, allowHeader)
		// A refused CONNECT's client may already be sending the bytes
		// it meant for the tunnel.
		resp.SetConnectionClose()
	case fasthttp.StatusBadRequest, fasthttp.StatusRequestHeaderFieldsTooLarge, fasthttp.StatusRequestEntityTooLarge, fasthttp.StatusRequestTimeout:
		// The rest of the connection's bytes cannot be trusted to frame
		// the next request.
		resp.SetConnectionClose()
	}
}
