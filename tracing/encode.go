package tracing

import (
	"bytes"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/internal/buildinfo"
)

// The OTLP field numbers this file writes (opentelemetry/proto/trace/v1
// and common/v1); TestEncodeSpan decodes its output with the generated
// types to hold them to the schema.
const (
	fieldScopeSpansSpans = 2

	fieldSpanTraceID    = 1
	fieldSpanID         = 2
	fieldSpanParentID   = 4
	fieldSpanName       = 5
	fieldSpanKind       = 6
	fieldSpanStart      = 7
	fieldSpanEnd        = 8
	fieldSpanAttributes = 9
	fieldSpanStatus     = 15
	fieldSpanFlags      = 16

	fieldStatusMessage = 2
	fieldStatusCode    = 3

	fieldKeyValueKey   = 1
	fieldKeyValueValue = 2
	fieldAnyString     = 1
	fieldAnyBool       = 2
	fieldAnyInt        = 3
)

// batchRequest is the export request of one batch, reused batch to
// batch: the resource and the scope are built once; the spans are
// encoded by encode into the scope's spans field, as raw protobuf.
type batchRequest struct {
	resourceSpans []*tracepb.ResourceSpans
	scope         *tracepb.ScopeSpans
	spans         []byte // the batch's spans, each a ScopeSpans.spans field
	span          []byte // one span, before its length is known
}

func newBatchRequest(res *resource.Resource) *batchRequest {
	scope := &tracepb.ScopeSpans{
		Scope:     &commonpb.InstrumentationScope{Name: "github.com/cutover/cutover/tracing", Version: buildinfo.Version},
		SchemaUrl: semconv.SchemaURL,
	}
	return &batchRequest{
		resourceSpans: []*tracepb.ResourceSpans{{Resource: resourceProto(res), ScopeSpans: []*tracepb.ScopeSpans{scope}, SchemaUrl: res.SchemaURL()}},
		scope:         scope,
	}
}

// encode makes the request carry batch, valid until the next call.
// protobuf-go writes a message's unknown fields as they are, so spans
// encoded here travel inside the generated types the OTLP client sends.
func (q *batchRequest) encode(batch []record) []*tracepb.ResourceSpans {
	q.spans = q.spans[:0]
	for i := range batch {
		q.span = batch[i].appendSpan(q.span[:0])
		q.spans = protowire.AppendTag(q.spans, fieldScopeSpansSpans, protowire.BytesType)
		q.spans = protowire.AppendBytes(q.spans, q.span)
	}
	q.scope.ProtoReflect().SetUnknown(q.spans)
	return q.resourceSpans
}

// The OTLP values of what appendSpan writes.
const (
	spanKindServer  = uint64(tracepb.Span_SPAN_KIND_SERVER)
	spanKindClient  = uint64(tracepb.Span_SPAN_KIND_CLIENT)
	statusCodeError = uint64(tracepb.Status_STATUS_CODE_ERROR)
	// Span flags: the W3C sampled flag, and whether the parent is remote
	// (known, and then set or not).
	flagSampled   = 0x01
	flagHasRemote = uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	flagIsRemote  = uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
)

// appendSpan appends r as an OTLP Span message (without its own tag and
// length). It allocates nothing: every value is written from the record.
// The attributes follow the OpenTelemetry HTTP conventions for the span's
// kind; see the package doc.
func (r *record) appendSpan(b []byte) []byte {
	text := r.text[:int(r.method)+int(r.host)+int(r.tenant)+int(r.path)]
	method, text := text[:r.method], text[r.method:]
	host, text := text[:r.host], text[r.host:]
	tenant, path := text[:r.tenant], text[r.tenant:]

	b = protowire.AppendTag(b, fieldSpanTraceID, protowire.BytesType)
	b = protowire.AppendBytes(b, r.trace[:])
	b = protowire.AppendTag(b, fieldSpanID, protowire.BytesType)
	b = protowire.AppendBytes(b, r.span[:])
	flags := uint32(flagSampled)
	if r.parent != (chain.SpanID{}) {
		b = protowire.AppendTag(b, fieldSpanParentID, protowire.BytesType)
		b = protowire.AppendBytes(b, r.parent[:])
		// A proxied call's parent is its caller's span; a shadow copy's
		// or a replay's is cutover's own.
		flags |= flagHasRemote
		if r.kind == KindProxy {
			flags |= flagIsRemote
		}
	}
	prefix := ""
	switch r.kind {
	case KindShadow:
		prefix = "shadow "
	case KindReplay:
		prefix = "replay "
	}
	b = protowire.AppendTag(b, fieldSpanName, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(prefix)+len(method)+1+len(r.route)))
	b = append(append(append(append(b, prefix...), method...), ' '), r.route...)
	kind := spanKindClient
	if r.kind == KindProxy {
		kind = spanKindServer
	}
	b = protowire.AppendTag(b, fieldSpanKind, protowire.VarintType)
	b = protowire.AppendVarint(b, kind)
	b = protowire.AppendTag(b, fieldSpanStart, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(r.start))
	b = protowire.AppendTag(b, fieldSpanEnd, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(r.start+r.duration))

	b = appendStringAttr(b, string(semconv.HTTPRequestMethodKey), method)
	b = appendStringAttr(b, string(semconv.URLPathKey), path)
	failed := r.cause != ""
	if r.kind == KindProxy {
		// Server spans fail on 5xx, client spans on 4xx too (the HTTP
		// conventions' rule for each kind).
		failed = failed || r.status >= 500
		b = appendStringAttr(b, string(semconv.URLSchemeKey), "http")
		b = appendAddress(b, host)
	} else {
		failed = failed || r.status >= 400
		b = appendAddress(b, r.target)
		if r.kind == KindShadow {
			b = appendBoolAttr(b, AttrShadow)
		} else {
			b = appendBoolAttr(b, AttrReplay)
		}
	}
	if r.status > 0 {
		b = appendIntAttr(b, string(semconv.HTTPResponseStatusCodeKey), int64(r.status))
	}
	b = appendStringAttr(b, AttrRoute, r.route)
	b = appendStringAttr(b, AttrSide, r.side)
	if len(tenant) > 0 {
		b = appendStringAttr(b, AttrTenant, tenant)
	}
	if r.target != "" {
		b = appendStringAttr(b, AttrTarget, r.target)
	}
	if failed {
		if r.cause != "" {
			b = appendStringAttr(b, string(semconv.ErrorTypeKey), r.cause)
		} else {
			var digits [8]byte
			b = appendStringAttr(b, string(semconv.ErrorTypeKey), strconv.AppendInt(digits[:0], int64(r.status), 10))
		}
		size := 1 + protowire.SizeVarint(statusCodeError)
		if r.cause != "" {
			size += 1 + protowire.SizeBytes(len(r.cause))
		}
		b = protowire.AppendTag(b, fieldSpanStatus, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		if r.cause != "" {
			b = protowire.AppendTag(b, fieldStatusMessage, protowire.BytesType)
			b = protowire.AppendString(b, r.cause)
		}
		b = protowire.AppendTag(b, fieldStatusCode, protowire.VarintType)
		b = protowire.AppendVarint(b, statusCodeError)
	}
	b = protowire.AppendTag(b, fieldSpanFlags, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, flags)
}

// appendAttr appends the head of a span attribute whose AnyValue
// message is size bytes long.
func appendAttr(b []byte, key string, size int) []byte {
	b = protowire.AppendTag(b, fieldSpanAttributes, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(1+protowire.SizeBytes(len(key))+1+protowire.SizeBytes(size)))
	b = protowire.AppendTag(b, fieldKeyValueKey, protowire.BytesType)
	b = protowire.AppendString(b, key)
	b = protowire.AppendTag(b, fieldKeyValueValue, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(size))
}

func appendStringAttr[T string | []byte](b []byte, key string, v T) []byte {
	b = appendAttr(b, key, 1+protowire.SizeBytes(len(v)))
	b = protowire.AppendTag(b, fieldAnyString, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendIntAttr(b []byte, key string, v int64) []byte {
	b = appendAttr(b, key, 1+protowire.SizeVarint(uint64(v)))
	b = protowire.AppendTag(b, fieldAnyInt, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

// appendBoolAttr appends key=true.
func appendBoolAttr(b []byte, key string) []byte {
	b = appendAttr(b, key, 2)
	b = protowire.AppendTag(b, fieldAnyBool, protowire.VarintType)
	return protowire.AppendVarint(b, 1)
}

// appendAddress appends server.address and, when there is one,
// server.port of a host, host:port or [v6]:port.
func appendAddress[T string | []byte](b []byte, hostPort T) []byte {
	if len(hostPort) == 0 {
		return b
	}
	host, port := splitHostPort([]byte(hostPort))
	b = appendStringAttr(b, string(semconv.ServerAddressKey), host)
	if port > 0 {
		b = appendIntAttr(b, string(semconv.ServerPortKey), int64(port))
	}
	return b
}

// splitHostPort splits host:port or [v6]:port; port is 0 when absent or
// not a number.
func splitHostPort(hp []byte) (host []byte, port int) {
	rest := []byte(nil)
	if hp[0] == '[' {
		end := bytes.IndexByte(hp, ']')
		if end < 0 {
			return hp, 0
		}
		host, rest = hp[1:end], hp[end+1:]
	} else if i := bytes.LastIndexByte(hp, ':'); i >= 0 && bytes.IndexByte(hp[:i], ':') < 0 {
		host, rest = hp[:i], hp[i:]
	} else {
		return hp, 0
	}
	if len(rest) < 2 || rest[0] != ':' || len(rest) > 6 {
		return host, 0
	}
	for _, c := range rest[1:] {
		if c < '0' || c > '9' {
			return host, 0
		}
		port = port*10 + int(c-'0')
	}
	return host, port
}

// resourceProto is res as OTLP writes it.
func resourceProto(res *resource.Resource) *resourcepb.Resource {
	out := &resourcepb.Resource{}
	for _, kv := range res.Attributes() {
		v := &commonpb.AnyValue{}
		switch kv.Value.Type() {
		case attribute.BOOL:
			v.Value = &commonpb.AnyValue_BoolValue{BoolValue: kv.Value.AsBool()}
		case attribute.INT64:
			v.Value = &commonpb.AnyValue_IntValue{IntValue: kv.Value.AsInt64()}
		case attribute.FLOAT64:
			v.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: kv.Value.AsFloat64()}
		default:
			v.Value = &commonpb.AnyValue_StringValue{StringValue: kv.Value.String()}
		}
		out.Attributes = append(out.Attributes, &commonpb.KeyValue{Key: string(kv.Key), Value: v})
	}
	return out
}
