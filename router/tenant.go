package router

import (
	"bytes"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/cutover/cutover/configs"
)

// Source says where a request's tenant was found.
type Source uint8

// Tenant sources, in the order a route may list them.
const (
	SourceNone Source = iota
	SourceHeader
	SourceQuery
	SourceCookie
	SourcePath
	SourceJSON
)

var sourceNames = [...]string{"none", "header", "query", "cookie", "path_segment", "json"}

// String returns the source's config key ("header", "path_segment", …) or
// "none".
func (s Source) String() string { return sourceNames[s] }

// tenantSource is one compiled entry of a route's tenant list.
type tenantSource struct {
	kind    Source
	name    string // header, query or cookie name; gjson path
	nameB   []byte // name as bytes, for query and cookie scans
	segment int    // 1-based path segment
}

func compileTenant(list []*configs.TenantSource) []tenantSource {
	out := make([]tenantSource, 0, len(list))
	for _, s := range list {
		var ts tenantSource
		switch {
		case s.Header != "":
			ts = tenantSource{kind: SourceHeader, name: s.Header}
		case s.Query != "":
			ts = tenantSource{kind: SourceQuery, name: s.Query}
		case s.Cookie != "":
			ts = tenantSource{kind: SourceCookie, name: s.Cookie}
		case s.PathSegment > 0:
			ts = tenantSource{kind: SourcePath, segment: s.PathSegment}
		case s.JSON != "":
			ts = tenantSource{kind: SourceJSON, name: s.JSON}
		default:
			continue
		}
		ts.nameB = []byte(ts.name)
		out = append(out, ts)
	}
	return out
}

// extractTenant returns the first tenant the route's sources find, or nil.
// The result may alias the request's memory or req.Scratch.
func extractTenant(sources []tenantSource, req *Request) ([]byte, Source) {
	for i := range sources {
		s := &sources[i]
		var v []byte
		switch s.kind {
		case SourceHeader:
			if req.Headers != nil {
				v = req.Headers.Peek(s.name)
			}
		case SourceQuery:
			v = queryValue(req, s.nameB)
		case SourceCookie:
			if req.Headers != nil {
				v = cookieValue(req.Headers.Peek("Cookie"), s.nameB)
			}
		case SourcePath:
			v = pathSegment(req.Path, s.segment)
		case SourceJSON:
			v = jsonValue(req, s.name)
		}
		if len(v) > 0 {
			return v, s.kind
		}
	}
	return nil, SourceNone
}

// queryValue finds name in the raw request URI's query string and returns
// its value, percent-decoded into req.Scratch when it needs decoding. The
// raw URI is scanned, not a parsed query: parsing would make the proxy
// re-encode the URI it forwards.
func queryValue(req *Request, name []byte) []byte {
	uri := req.URI
	q := bytes.IndexByte(uri, '?')
	if q < 0 {
		return nil
	}
	rest := uri[q+1:]
	if h := bytes.IndexByte(rest, '#'); h >= 0 {
		rest = rest[:h]
	}
	for len(rest) > 0 {
		var pair []byte
		if amp := bytes.IndexByte(rest, '&'); amp >= 0 {
			pair, rest = rest[:amp], rest[amp+1:]
		} else {
			pair, rest = rest, nil
		}
		key, val := pair, []byte(nil)
		if eq := bytes.IndexByte(pair, '='); eq >= 0 {
			key, val = pair[:eq], pair[eq+1:]
		}
		if !bytes.Equal(key, name) {
			continue
		}
		if bytes.IndexByte(val, '%') < 0 && bytes.IndexByte(val, '+') < 0 {
			return val
		}
		req.Scratch = unescapeQuery(req.Scratch[:0], val)
		return req.Scratch
	}
	return nil
}

// unescapeQuery appends the form-decoded val to dst. A malformed escape is
// kept as it is, as browsers do.
func unescapeQuery(dst, val []byte) []byte {
	for i := 0; i < len(val); i++ {
		switch c := val[i]; {
		case c == '+':
			dst = append(dst, ' ')
		case c == '%' && i+2 < len(val) && isHex(val[i+1]) && isHex(val[i+2]):
			dst = append(dst, unhex(val[i+1])<<4|unhex(val[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// cookieValue finds name in a Cookie header ("a=1; b=2", RFC 6265 §4.2.1)
// and returns its value without surrounding quotes.
func cookieValue(header, name []byte) []byte {
	for len(header) > 0 {
		var pair []byte
		if semi := bytes.IndexByte(header, ';'); semi >= 0 {
			pair, header = header[:semi], header[semi+1:]
		} else {
			pair, header = header, nil
		}
		pair = bytes.TrimSpace(pair)
		eq := bytes.IndexByte(pair, '=')
		if eq < 0 || !bytes.Equal(bytes.TrimSpace(pair[:eq]), name) {
			continue
		}
		v := bytes.TrimSpace(pair[eq+1:])
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v
	}
	return nil
}

// pathSegment returns the n-th (1-based) segment of path: 3 of
// /api/orgs/42/orders is "42". Empty segments (//) count.
func pathSegment(path []byte, n int) []byte {
	if len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	for i := 1; ; i++ {
		slash := bytes.IndexByte(path, '/')
		if i == n {
			if slash >= 0 {
				return path[:slash]
			}
			return path
		}
		if slash < 0 {
			return nil
		}
		path = path[slash+1:]
	}
}

// jsonValue reads a gjson path from a JSON request body. A body that is not
// JSON, is over the size cap, or is malformed yields nothing, so the next
// source is tried. Only strings and numbers are tenants.
func jsonValue(req *Request, path string) []byte {
	body := req.Body
	if len(body) == 0 || len(body) > configs.DefaultTenantJSONMax || !isJSONType(req.ContentType) {
		return nil
	}
	// The body is only read, and the result is copied below before the
	// string view goes away, so no copy of the body is needed.
	s := unsafe.String(unsafe.SliceData(body), len(body))
	if !gjson.Valid(s) {
		return nil
	}
	r := gjson.Get(s, path)
	var v string
	switch r.Type {
	case gjson.String:
		v = r.Str
	case gjson.Number:
		v = r.Raw
	default:
		return nil
	}
	req.Scratch = append(req.Scratch[:0], v...)
	return req.Scratch
}

// isJSONType reports whether a Content-Type is application/json or a
// +json type (application/vnd.api+json), any parameters aside.
func isJSONType(ct []byte) bool {
	if semi := bytes.IndexByte(ct, ';'); semi >= 0 {
		ct = ct[:semi]
	}
	ct = bytes.TrimSpace(ct)
	return bytes.EqualFold(ct, []byte("application/json")) ||
		len(ct) > 5 && bytes.EqualFold(ct[len(ct)-5:], []byte("+json"))
}
