package gateway

import (
	"bytes"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/router"
)

// useTargetAuthority applies RFC 9112 §3.2.2 to an absolute-form request
// target ("GET http://a.example/x HTTP/1.1"): the target's authority
// replaces the Host header, for routing and upstream alike, so a route
// matched by host and the Host the upstream sees name the same site. It
// reports false for an absolute-form target without a host, which is
// malformed. Origin-form targets ("/x") cost one byte compare.
func useTargetAuthority(req *fasthttp.Request) bool {
	target := req.Header.RequestURI()
	if len(target) == 0 || target[0] == '/' || bytes.Equal(target, []byte("*")) ||
		!bytes.Contains(target, []byte("://")) {
		return true // origin-form, asterisk-form, or CONNECT's authority-form
	}
	host := req.URI().Host() // without userinfo, lower-cased, port kept
	if len(host) == 0 {
		return false
	}
	req.Header.SetHostBytes(host)
	return true
}

// keepEmptyQuery makes an origin-form target that ends in an empty query
// ("/path?") go upstream as it came. fasthttp writes the target from the
// parsed URI, with a query only when it is not empty; with path
// normalising off (as the upstream clients have it) it writes the
// original path as it is, so the '?' is carried there. Other targets cost
// one byte compare. Call it after routing, which reads the path.
func keepEmptyQuery(req *fasthttp.Request) {
	target := req.Header.RequestURI()
	if len(target) < 2 || target[len(target)-1] != '?' || target[0] != '/' || bytes.IndexByte(target, '?') != len(target)-1 {
		return
	}
	req.URI().SetPathBytes(target)
}

// allowsConnect reports whether a CONNECT request may be forwarded: only
// when the route it matches lists CONNECT in match.methods. Otherwise an
// upstream that implements CONNECT would make cutover an open tunnel.
func allowsConnect(cfg *configs.Config, route *router.Route) bool {
	if route == nil {
		return false
	}
	for _, m := range cfg.Routes[route.Index].Match.Methods {
		if strings.EqualFold(m, fasthttp.MethodConnect) {
			return true
		}
	}
	return false
}
