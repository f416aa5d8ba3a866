package router

import (
	"bytes"
	"testing"
)

// FuzzTenantSources feeds arbitrary URIs, cookie headers, paths and bodies
// to tenant extraction: it must never panic, and what it returns must be
// shaped as its source allows.
func FuzzTenantSources(f *testing.F) {
	f.Add([]byte("/api/orgs/42?orgId=a%20b&x=1"), []byte(`a=1; org="c"`), []byte(`{"user":{"orgId":"j"}}`), 3)
	f.Add([]byte("?orgId=%zz+%4"), []byte("org"), []byte(`{"user":`), 1)
	f.Add([]byte(""), []byte(";;=;org=;"), []byte(`[1,2]`), 0)
	tab := grayTable("50")
	route := tab.Route("orders")
	f.Fuzz(func(t *testing.T, uri, cookie, body []byte, segment int) {
		req := &Request{URI: uri, Path: uri, Body: body, ContentType: []byte("application/json"), ChainID: []byte("0123456789abcdef0123456789abcdef")}
		if v := queryValue(req, []byte("orgId")); bytes.IndexByte(v, '&') >= 0 && bytes.IndexByte(uri, '%') < 0 {
			t.Errorf("query value %q spans a parameter separator", v)
		}
		if v := cookieValue(cookie, []byte("org")); bytes.IndexByte(v, ';') >= 0 {
			t.Errorf("cookie value %q spans a separator", v)
		}
		if v := pathSegment(uri, segment%64); bytes.IndexByte(v, '/') >= 0 {
			t.Errorf("path segment %q holds a slash", v)
		}
		req.Headers = headerMap{"Cookie": cookie}
		var d Decision
		tab.Decide(route, req, &d)
		if d.Bucket >= Buckets || (d.Reason == ReasonBucket || d.Reason == ReasonChain) && d.Bucket < 0 {
			t.Errorf("bucket %d with reason %v", d.Bucket, d.Reason)
		}
	})
}
