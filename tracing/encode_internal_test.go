package tracing

import (
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/cutover/cutover/chain"
)

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func num(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

func yes(k string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}}
}

// TestEncodeSpan decodes appendSpan's bytes with the generated OTLP types
// and compares them with the span the conventions ask for.
func TestEncodeSpan(t *testing.T) {
	trace, span, parent := chain.NewTraceID(), chain.NewSpanID(), chain.NewSpanID()
	start := time.Unix(1700000000, 5)
	for _, tc := range []struct {
		name string
		call Call
		want *tracepb.Span
	}{
		{"proxied", Call{Kind: KindProxy, Trace: trace, Span: span, Parent: parent, Start: start, Duration: time.Second,
			Method: []byte("GET"), Path: []byte("/orders/7"), Host: []byte("[::1]:8080"), Tenant: []byte("acme"),
			Route: "orders", Side: "new", Target: "10.0.0.2:9000", Status: 200},
			&tracepb.Span{TraceId: trace[:], SpanId: span[:], ParentSpanId: parent[:], Name: "GET orders", Kind: tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(start.Add(time.Second).UnixNano()), Flags: 0x301,
				Attributes: []*commonpb.KeyValue{str("http.request.method", "GET"), str("url.path", "/orders/7"), str("url.scheme", "http"),
					str("server.address", "::1"), num("server.port", 8080), num("http.response.status_code", 200), str("cutover.route", "orders"),
					str("cutover.side", "new"), str("cutover.tenant", "acme"), str("cutover.target", "10.0.0.2:9000")}}},
		{"proxied root, failed", Call{Kind: KindProxy, Trace: trace, Span: span, Start: start,
			Method: []byte("POST"), Path: []byte("/"), Host: []byte("shop"), Route: "all", Side: "upstream", Status: 504, Error: "timeout"},
			&tracepb.Span{TraceId: trace[:], SpanId: span[:], Name: "POST all", Kind: tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(start.UnixNano()), Flags: 0x01,
				Attributes: []*commonpb.KeyValue{str("http.request.method", "POST"), str("url.path", "/"), str("url.scheme", "http"),
					str("server.address", "shop"), num("http.response.status_code", 504), str("cutover.route", "all"),
					str("cutover.side", "upstream"), str("error.type", "timeout")},
				Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "timeout"}}},
		{"shadow 404", Call{Kind: KindShadow, Trace: trace, Span: span, Parent: parent, Start: start,
			Method: []byte("GET"), Path: []byte("/x"), Route: "r", Side: "old", Target: "127.0.0.1:81", Status: 404},
			&tracepb.Span{TraceId: trace[:], SpanId: span[:], ParentSpanId: parent[:], Name: "shadow GET r", Kind: tracepb.Span_SPAN_KIND_CLIENT,
				StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(start.UnixNano()), Flags: 0x101,
				Attributes: []*commonpb.KeyValue{str("http.request.method", "GET"), str("url.path", "/x"), str("server.address", "127.0.0.1"),
					num("server.port", 81), yes("cutover.shadow"), num("http.response.status_code", 404), str("cutover.route", "r"),
					str("cutover.side", "old"), str("cutover.target", "127.0.0.1:81"), str("error.type", "404")},
				Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}}},
	} {
		var r record
		r.fill(&tc.call)
		var got tracepb.Span
		if err := proto.Unmarshal(r.appendSpan(nil), &got); err != nil {
			t.Fatalf("%s: the encoded span does not decode: %v", tc.name, err)
		}
		if !proto.Equal(tc.want, &got) {
			t.Errorf("%s: span\n%s\nwant\n%s", tc.name, prototext.Format(&got), prototext.Format(tc.want))
		}
	}
}

func TestSplitHostPort(t *testing.T) {
	for _, tc := range []struct {
		in, host string
		port     int
	}{{"a:80", "a", 80}, {"a", "a", 0}, {"[::1]:9", "::1", 9}, {"[::1]", "::1", 0}, {"::1", "::1", 0}, {"a:x", "a", 0}, {"a:", "a", 0}, {"[::1", "[::1", 0}} {
		h, p := splitHostPort([]byte(tc.in))
		if string(h) != tc.host || p != tc.port {
			t.Errorf("splitHostPort(%q) = %q, %d; want %q, %d", tc.in, h, p, tc.host, tc.port)
		}
	}
}
