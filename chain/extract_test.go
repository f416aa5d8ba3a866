package chain

import (
	"strings"
	"testing"
)

// testHeaders is a Headers backed by a map, with names matched
// case-insensitively as HTTP does: keys are stored in lowercase and Peek
// lowercases its key into a stack buffer, so Peek does not allocate and the
// allocation tests and benchmarks measure Extract alone.
type testHeaders map[string][]byte

func (h testHeaders) Peek(key string) []byte {
	var buf [64]byte
	k := buf[:0]
	for i := range len(key) {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		k = append(k, c)
	}
	return h[string(k)]
}

func hdrs(kv ...string) testHeaders {
	h := testHeaders{}
	for i := 0; i < len(kv); i += 2 {
		h[strings.ToLower(kv[i])] = []byte(kv[i+1])
	}
	return h
}

const (
	tp      = "00-" + tHex + "-" + sHex + "-01"
	otherT  = "11111111111111111111111111111111"
	otherS  = "2222222222222222"
	b3Other = otherT + "-" + otherS + "-1"
	badTP   = "00-" + tHex + "-" + sHex + "-01-extra"
)

func TestExtract(t *testing.T) {
	cases := []struct {
		name    string
		h       testHeaders
		source  Source
		trace   string // empty: a new random trace
		parent  string // empty: zero
		sampled bool
		state   string
	}{
		{"traceparent beats b3", hdrs(HeaderTraceparent, tp, HeaderB3, b3Other), SourceTraceparent, tHex, sHex, true, ""},
		{"traceparent beats chain header", hdrs(HeaderTraceparent, tp, "X-Chain-Id", otherT), SourceTraceparent, tHex, sHex, true, ""},
		{"malformed traceparent falls through to b3", hdrs(HeaderTraceparent, badTP, HeaderB3, b3Other), SourceB3, otherT, otherS, true, ""},
		{"unsampled traceparent", hdrs(HeaderTraceparent, "00-"+tHex+"-"+sHex+"-00"), SourceTraceparent, tHex, sHex, false, ""},
		{"tracestate kept with traceparent", hdrs(HeaderTraceparent, tp, HeaderTracestate, "rojo=1"), SourceTraceparent, tHex, sHex, true, "rojo=1"},
		{"tracestate dropped without valid traceparent",
			hdrs(HeaderTraceparent, badTP, HeaderTracestate, "rojo=1", HeaderB3, b3Other), SourceB3, otherT, otherS, true, ""},
		{"tracestate alone is no context", hdrs(HeaderTracestate, "rojo=1"), SourceNone, "", "", true, ""},
		{"b3 beats b3 multi", hdrs(HeaderB3, tHex+"-"+sHex+"-0", HeaderB3TraceID, otherT, HeaderB3SpanID, otherS), SourceB3, tHex, sHex, false, ""},
		{"lone b3 flag falls through", hdrs(HeaderB3, "0", HeaderB3TraceID, otherT, HeaderB3SpanID, otherS), SourceB3Multi, otherT, otherS, true, ""},
		{"b3 multi", hdrs("x-b3-traceid", t16, "x-b3-spanid", sHex, "x-b3-sampled", "0"), SourceB3Multi, t16, sHex, false, ""},
		{"b3 multi debug flag samples",
			hdrs(HeaderB3TraceID, tHex, HeaderB3SpanID, sHex, HeaderB3Sampled, "0", HeaderB3Flags, "1"), SourceB3Multi, tHex, sHex, true, ""},
		{"malformed b3 multi falls through to jaeger",
			hdrs(HeaderB3TraceID, tHex, HeaderB3Sampled, "1", HeaderJaeger, otherT+":"+otherS+":0:0"), SourceJaeger, otherT, otherS, false, ""},
		{"jaeger beats chain header", hdrs(HeaderJaeger, "abc:def:0:1", "X-Chain-Id", otherT), SourceJaeger, "abc", "def", true, ""},
		{"chain header", hdrs("x-chain-id", strings.ToUpper(tHex)), SourceChainHeader, tHex, "", true, ""},
		{"64-bit chain header", hdrs("X-Chain-Id", t16), SourceChainHeader, t16, "", true, ""},
		{"no headers", hdrs(), SourceNone, "", "", true, ""},
		{"malformed everything", hdrs(
			HeaderTraceparent, "00-"+zero16+"-"+sHex+"-01",
			HeaderTracestate, "rojo=1",
			HeaderB3, "1",
			HeaderB3TraceID, strings.ToUpper(tHex), HeaderB3SpanID, sHex,
			HeaderJaeger, "0:1:0:1",
			"X-Chain-Id", "not-a-chain-id",
		), SourceNone, "", "", true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Extract(c.h, "X-Chain-Id")
			if got.Source != c.source {
				t.Errorf("Source = %v, want %v", got.Source, c.source)
			}
			if got.Trace.IsZero() || got.Span.IsZero() {
				t.Errorf("zero ID: %+v", got)
			}
			if c.trace != "" && got.Trace != mustTrace(t, c.trace) {
				t.Errorf("Trace = %v, want %v", got.Trace, c.trace)
			}
			if c.trace == "" && (got.Trace == mustTrace(t, tHex) || got.Trace == mustTrace(t, otherT)) {
				t.Errorf("Trace = %v, want a new one", got.Trace)
			}
			var wantParent SpanID
			if c.parent != "" {
				wantParent = mustSpan(t, c.parent)
			}
			if got.Parent != wantParent {
				t.Errorf("Parent = %v, want %v", got.Parent, wantParent)
			}
			if got.Span == got.Parent {
				t.Errorf("Span %v was not made new", got.Span)
			}
			if got.Sampled != c.sampled {
				t.Errorf("Sampled = %v, want %v", got.Sampled, c.sampled)
			}
			if string(got.State) != c.state || (c.state == "" && got.State != nil) {
				t.Errorf("State = %q, want %q", got.State, c.state)
			}
		})
	}
}

func TestExtractWithoutChainHeader(t *testing.T) {
	got := Extract(hdrs("X-Chain-Id", tHex), "")
	if got.Source != SourceNone || got.Trace == mustTrace(t, tHex) {
		t.Errorf("an empty chain header name was read: %+v", got)
	}
}

func TestExtractNewSpanEachTime(t *testing.T) {
	h := hdrs(HeaderTraceparent, tp)
	a, b := Extract(h, ""), Extract(h, "")
	if a.Trace != b.Trace || a.Span == b.Span {
		t.Errorf("two extractions: %+v and %+v", a, b)
	}
}

func TestChild(t *testing.T) {
	c := Extract(hdrs(HeaderTraceparent, "00-"+tHex+"-"+sHex+"-00", HeaderTracestate, "rojo=1"), "")
	k := c.Child()
	if k.Trace != c.Trace || k.Parent != c.Span || k.Span.IsZero() || k.Span == c.Span ||
		k.Sampled != c.Sampled || k.Source != c.Source || string(k.State) != "rojo=1" {
		t.Errorf("Child of %+v = %+v", c, k)
	}
}

// TestNoAllocs pins the promise that tagging a request costs no allocation.
// Allocation counts are deterministic, unlike timings, so this is a test and
// not only a benchmark.
func TestNoAllocs(t *testing.T) {
	extract := map[string]testHeaders{
		"traceparent":  hdrs(HeaderTraceparent, tp, HeaderTracestate, "rojo=1"),
		"b3":           hdrs(HeaderB3, tHex+"-"+sHex+"-1"),
		"b3 multi":     hdrs(HeaderB3TraceID, tHex, HeaderB3SpanID, sHex, HeaderB3Flags, "1"),
		"jaeger":       hdrs(HeaderJaeger, tHex+"%3A"+sHex+"%3A0%3A1"),
		"chain header": hdrs("X-Chain-Id", tHex),
		"none":         hdrs(),
		"malformed":    hdrs(HeaderTraceparent, badTP, HeaderB3, "0", HeaderJaeger, "x"),
	}
	var sink Chain
	for name, h := range extract {
		if n := testing.AllocsPerRun(100, func() { sink = Extract(h, "X-Chain-Id") }); n != 0 {
			t.Errorf("Extract (%s) allocates %v times", name, n)
		}
	}

	c := testChain(t, true, pHex)
	buf := make([]byte, 0, 1024)
	state := []byte("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,cutover=old")
	service := strings.Repeat("checkout", 10)
	appenders := map[string]func(){
		"traceparent": func() { buf = AppendTraceparent(buf[:0], &c) },
		"tracestate":  func() { buf = AppendTracestate(buf[:0], state, "cutover=shadow") },
		"b3":          func() { buf = AppendB3(buf[:0], &c) },
		"jaeger":      func() { buf = AppendJaeger(buf[:0], &c) },
		"sw8":         func() { buf = AppendSW8(buf[:0], &c, service, "orders", "order-v1") },
		"child":       func() { sink = c.Child() },
		"hex":         func() { buf = c.Trace.AppendHex(buf[:0]) },
	}
	for name, f := range appenders {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times", name, n)
		}
	}
	_ = sink
}
