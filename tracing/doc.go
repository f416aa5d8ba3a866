// Package tracing exports the calls cutover serves and makes as
// OpenTelemetry spans over OTLP/HTTP (tracing.otlp), so that a team's
// Jaeger, Tempo or SkyWalking shows the gateway inside its traces instead
// of a gap.
//
// # Spans
//
// A span is one call, in the chain it belongs to: trace ID = chain ID,
// span ID = the hop's span, parent = the caller's span, exactly the IDs
// cutover already writes upstream (package chain). So the services' own
// spans hang under the gateway's, and the gateway's under its caller's.
//
//   - A proxied call (KindProxy) is a SERVER span named "GET orders"
//     (method and route), with a remote parent.
//   - A shadow copy (KindShadow) is a CLIENT span, child of the proxied
//     call's span, named "shadow GET orders", with cutover.shadow=true.
//   - A replayed call (KindReplay) is a CLIENT span named "replay GET
//     orders", with cutover.replay=true; its parent is what the caller
//     names (the recorded call's span).
//
// Attributes follow the OpenTelemetry HTTP conventions
// (http.request.method, url.path, url.scheme, http.response.status_code,
// server.address, server.port, error.type) plus cutover.route,
// cutover.side, cutover.tenant and cutover.target. A server span is an
// error when its answer is a 5xx or the upstream call failed; a client
// span when the answer is 4xx or 5xx or the call failed (the conventions'
// rule for each kind). error.type is the failure's reason (timeout,
// refused, reset, …) or the status code.
//
// # Sampling
//
// A chain is exported when its ID falls within tracing.otlp.sample
// (chain.TraceID.Within, the rule recording uses), and the caller did not
// mark it unsampled (a traceparent with flags 00): every hop of a chain,
// on every replica, makes the same choice, so a chain is exported whole or
// not at all. With a sample equal to record.sample the exported chains
// are the recorded ones.
//
// # Why not the SDK's tracer, span processor and span exporter
//
// cutover has every ID a span needs before it would start one, and the
// budget is strict: with every chain exported, a pass-through request may
// cost at most 1.3 times what it costs untraced. Measured per span, on one
// core:
//
//   - The SDK's Tracer generates span IDs itself (a custom IDGenerator
//     would have to be handed the hop's IDs through the context, an
//     allocation each) and builds a recording span per call; its
//     BatchSpanProcessor drops spans on a full queue without saying how
//     many, and the contract wants every drop counted.
//   - Feeding the SDK's span exporter (otlptrace) with ReadOnlySpan values
//     instead costs about 4.6 µs and 36 allocations a span: it converts
//     each attribute into three protobuf objects, and protobuf-go's
//     reflection encodes them slowly (a map lookup per oneof). That is a
//     third of a whole pass-through request.
//
// So the request path copies a call into a fixed-size record (no pointers
// into request memory, no allocation) and offers it to a bounded channel
// without blocking; the exporter goroutine sleeps until a batch is full or
// BatchTimeout passes, so sending never wakes it per span. It encodes the
// batch's spans straight into OTLP protobuf (encode.go, about 0.8 µs a
// span, sending included) and hands them to the SDK's OTLP/HTTP client
// (otlptracehttp.NewClient), inside the generated OTLP request types, for
// what the SDK does well: the endpoint, TLS, the OTEL_EXPORTER_OTLP_*
// headers, timeouts and retries. The resource is the SDK's
// (resource.Default with OTEL_RESOURCE_ATTRIBUTES, under cutover's
// service.name, service.version and service.instance.id). TestEncodeSpan
// decodes the encoding with the generated types to hold it to the OTLP
// schema.
//
// A full queue drops the call and counts it
// (cutover_trace_spans_dropped_total{reason="queue_full"}), a batch the
// collector refused or never answered counts as reason="export_failed";
// exported spans count in cutover_trace_spans_exported_total. An
// unreachable or slow collector therefore costs drops and nothing else:
// the request path never waits for it.
//
// # Lifecycle
//
// New starts the export goroutine; Close exports what is queued, bounded
// by its context, and stops the exporter. A nil *Tracer is valid and does
// nothing, so callers hold one pointer and check it for nil.
package tracing
