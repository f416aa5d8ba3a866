package gateway

import (
	"errors"
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
)

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
}

// parseErrorReason classifies an error from reading the client's request.
func parseErrorReason(err error) string {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return reasonTooLarge
	case errors.As(err, &small):
		return reasonHeaderLarge
	}
	return reasonMalformed
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
	if f.status == fasthttp.StatusBadRequest || f.status == fasthttp.StatusRequestHeaderFieldsTooLarge || f.status == fasthttp.StatusRequestEntityTooLarge {
		// The rest of the connection's bytes cannot be trusted to frame
		// the next request.
		resp.SetConnectionClose()
	}
}
