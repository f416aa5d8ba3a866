package chain

import (
	"strings"
	"testing"
)

const (
	tHex  = "4bf92f3577b34da6a3ce929d0e0e4736"
	t16   = "a3ce929d0e0e4736"
	sHex  = "00f067aa0ba902b7"
	pHex  = "e457b5a2e4d86bd1"
	zero8 = "0000000000000000"
)

var zero16 = strings.Repeat("0", 32)

func mustTrace(t testing.TB, s string) TraceID {
	t.Helper()
	var id TraceID
	if !decodeHexPadded(id[:], []byte(s), anyHex) {
		t.Fatalf("bad test trace %q", s)
	}
	return id
}

func mustSpan(t testing.TB, s string) SpanID {
	t.Helper()
	var id SpanID
	if !decodeHexPadded(id[:], []byte(s), anyHex) {
		t.Fatalf("bad test span %q", s)
	}
	return id
}

// idCase is one parser case. On a valid case trace and span are the expected
// IDs in hex; on an invalid one they are empty.
type idCase struct {
	name    string
	in      string
	trace   string
	span    string
	sampled bool
}

func (c idCase) valid() bool { return c.trace != "" }

func checkIDs(t *testing.T, c idCase, trace TraceID, span SpanID, sampled, ok bool) {
	t.Helper()
	if ok != c.valid() {
		t.Fatalf("%q: ok = %v, want %v", c.in, ok, c.valid())
	}
	if !ok {
		if !trace.IsZero() || !span.IsZero() || sampled {
			t.Fatalf("%q: rejected but returned %v %v %v", c.in, trace, span, sampled)
		}
		return
	}
	if want := mustTrace(t, c.trace); trace != want {
		t.Errorf("%q: trace = %v, want %v", c.in, trace, want)
	}
	if want := mustSpan(t, c.span); span != want {
		t.Errorf("%q: span = %v, want %v", c.in, span, want)
	}
	if sampled != c.sampled {
		t.Errorf("%q: sampled = %v, want %v", c.in, sampled, c.sampled)
	}
}

func TestParseTraceparent(t *testing.T) {
	tp := "00-" + tHex + "-" + sHex + "-01"
	cases := []idCase{
		{"sampled", tp, tHex, sHex, true},
		{"not sampled", "00-" + tHex + "-" + sHex + "-00", tHex, sHex, false},
		{"other flags with sampled bit", "00-" + tHex + "-" + sHex + "-03", tHex, sHex, true},
		{"other flags without sampled bit", "00-" + tHex + "-" + sHex + "-02", tHex, sHex, false},
		{"future version", "01-" + tHex + "-" + sHex + "-01", tHex, sHex, true},
		{"future version with more fields", "cc-" + tHex + "-" + sHex + "-01-what-the-future-holds", tHex, sHex, true},
		{"future version with trailing dash", "cc-" + tHex + "-" + sHex + "-01-", tHex, sHex, true},

		{name: "empty", in: ""},
		{name: "short", in: tp[:54]},
		{name: "version 00 too long", in: tp + "-"},
		{name: "version 00 with garbage", in: tp + "x"},
		{name: "future version with garbage", in: "cc-" + tHex + "-" + sHex + "-01x"},
		{name: "version ff", in: "ff-" + tHex + "-" + sHex + "-01"},
		{name: "uppercase version", in: "0A-" + tHex + "-" + sHex + "-01"},
		{name: "bad version", in: "0g-" + tHex + "-" + sHex + "-01"},
		{name: "uppercase trace", in: "00-" + strings.ToUpper(tHex) + "-" + sHex + "-01"},
		{name: "uppercase parent", in: "00-" + tHex + "-00F067AA0BA902B7-01"},
		{name: "uppercase flags", in: "00-" + tHex + "-" + sHex + "-0A"},
		{name: "bad hex trace", in: "00-" + tHex[:31] + "g-" + sHex + "-01"},
		{name: "bad hex flags", in: "00-" + tHex + "-" + sHex + "-0x"},
		{name: "zero trace", in: "00-" + zero16 + "-" + sHex + "-01"},
		{name: "zero parent", in: "00-" + tHex + "-" + zero8 + "-01"},
		{name: "short trace", in: "00-" + tHex[1:] + "-" + sHex + "-01x"},
		{name: "wrong separator", in: "00_" + tHex + "-" + sHex + "-01"},
		{name: "leading space", in: " " + tp},
		{name: "b3 value", in: tHex + "-" + sHex + "-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			trace, parent, sampled, ok := ParseTraceparent([]byte(c.in))
			checkIDs(t, c, trace, parent, sampled, ok)
		})
	}
}

func TestParseB3(t *testing.T) {
	cases := []idCase{
		{"ids only defers sampling", tHex + "-" + sHex, tHex, sHex, true},
		{"sampled", tHex + "-" + sHex + "-1", tHex, sHex, true},
		{"not sampled", tHex + "-" + sHex + "-0", tHex, sHex, false},
		{"debug", tHex + "-" + sHex + "-d", tHex, sHex, true},
		{"with parent", tHex + "-" + sHex + "-1-" + pHex, tHex, sHex, true},
		{"64-bit trace", t16 + "-" + sHex + "-1", t16, sHex, true},

		{name: "empty", in: ""},
		{name: "lone deny", in: "0"},
		{name: "lone accept", in: "1"},
		{name: "lone debug", in: "d"},
		{name: "trace only", in: tHex},
		{name: "extra field", in: tHex + "-" + sHex + "-1-" + pHex + "-1"},
		{name: "bad sampled", in: tHex + "-" + sHex + "-2"},
		{name: "true is not a single-header flag", in: tHex + "-" + sHex + "-true"},
		{name: "empty sampled", in: tHex + "-" + sHex + "-"},
		{name: "empty parent", in: tHex + "-" + sHex + "-1-"},
		{name: "zero parent", in: tHex + "-" + sHex + "-1-" + zero8},
		{name: "bad parent", in: tHex + "-" + sHex + "-1-" + pHex[:15] + "x"},
		{name: "uppercase trace", in: strings.ToUpper(tHex) + "-" + sHex},
		{name: "uppercase span", in: tHex + "-00F067AA0BA902B7"},
		{name: "20-digit trace", in: tHex[:20] + "-" + sHex},
		{name: "zero trace", in: zero16 + "-" + sHex},
		{name: "zero 64-bit trace", in: zero8 + "-" + sHex},
		{name: "zero span", in: tHex + "-" + zero8},
		{name: "short span", in: tHex + "-" + sHex[1:]},
		{name: "bad hex", in: tHex[:31] + "z-" + sHex},
		{name: "empty field", in: tHex + "--" + sHex},
		{name: "traceparent value", in: "00-" + tHex + "-" + sHex + "-01"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			trace, span, sampled, ok := ParseB3([]byte(c.in))
			checkIDs(t, c, trace, span, sampled, ok)
		})
	}
}

func TestParseB3Multi(t *testing.T) {
	cases := []struct {
		name                   string
		traceID, spanID, smpld string
		ok, sampled            bool
	}{
		{"no sampled header defers", tHex, sHex, "", true, true},
		{"sampled", tHex, sHex, "1", true, true},
		{"not sampled", tHex, sHex, "0", true, false},
		{"legacy true", tHex, sHex, "true", true, true},
		{"legacy false", tHex, sHex, "false", true, false},
		{"64-bit trace", t16, sHex, "1", true, true},

		{"bad sampled", tHex, sHex, "yes", false, false},
		{"debug is a flags header", tHex, sHex, "d", false, false},
		{"no trace", "", sHex, "1", false, false},
		{"no span", tHex, "", "1", false, false},
		{"uppercase trace", strings.ToUpper(tHex), sHex, "1", false, false},
		{"zero trace", zero16, sHex, "1", false, false},
		{"zero span", tHex, zero8, "1", false, false},
		{"long span", tHex, sHex + "0", "1", false, false},
		{"bad hex", tHex, sHex[:15] + "-", "1", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			trace, span, sampled, ok := ParseB3Multi([]byte(c.traceID), []byte(c.spanID), []byte(c.smpld))
			ic := idCase{in: c.traceID + "/" + c.spanID + "/" + c.smpld, sampled: c.sampled}
			if c.ok {
				ic.trace, ic.span = c.traceID, c.spanID
			}
			checkIDs(t, ic, trace, span, sampled, ok)
		})
	}
}

func TestParseJaeger(t *testing.T) {
	cases := []idCase{
		{"sampled", tHex + ":" + sHex + ":0:1", tHex, sHex, true},
		{"with parent", tHex + ":" + sHex + ":" + pHex + ":01", tHex, sHex, true},
		{"not sampled", tHex + ":" + sHex + ":0:0", tHex, sHex, false},
		{"two-digit not sampled", tHex + ":" + sHex + ":0:00", tHex, sHex, false},
		{"debug implies sampled", tHex + ":" + sHex + ":0:2", tHex, sHex, true},
		{"other bits", tHex + ":" + sHex + ":0:fc", tHex, sHex, false},
		{"64-bit trace", t16 + ":" + sHex + ":0:1", t16, sHex, true},
		{"short ids", "abc:def:0:1", "abc", "def", true},
		{"uppercase", "ABC:DEF:0:1", "abc", "def", true},
		{"url-encoded", tHex + "%3A" + sHex + "%3A0%3A1", tHex, sHex, true},
		{"url-encoded lowercase", tHex + "%3a" + sHex + "%3a0%3a1", tHex, sHex, true},

		{name: "empty", in: ""},
		{name: "three fields", in: tHex + ":" + sHex + ":0"},
		{name: "five fields", in: tHex + ":" + sHex + ":0:1:1"},
		{name: "long trace", in: tHex + "0:" + sHex + ":0:1"},
		{name: "long span", in: tHex + ":" + sHex + "0:0:1"},
		{name: "long parent", in: tHex + ":" + sHex + ":" + pHex + "0:1"},
		{name: "zero trace", in: "0:" + sHex + ":0:1"},
		{name: "zero span", in: tHex + ":0:0:1"},
		{name: "empty trace", in: ":" + sHex + ":0:1"},
		{name: "empty parent", in: tHex + ":" + sHex + "::1"},
		{name: "empty flags", in: tHex + ":" + sHex + ":0:"},
		{name: "three-digit flags", in: tHex + ":" + sHex + ":0:001"},
		{name: "bad hex flags", in: tHex + ":" + sHex + ":0:g"},
		{name: "bad hex parent", in: tHex + ":" + sHex + ":xyz:1"},
		{name: "mixed separators", in: tHex + ":" + sHex + "%3A0%3A1"},
		{name: "wrong escape", in: tHex + "%3B" + sHex + "%3B0%3B1"},
		{name: "url-encoded extra field", in: tHex + "%3A" + sHex + "%3A0%3A1%3A"},
		{name: "truncated escape", in: tHex + "%3A" + sHex + "%3A0%3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			trace, span, sampled, ok := ParseJaeger([]byte(c.in))
			checkIDs(t, c, trace, span, sampled, ok)
		})
	}
}

func TestParseChainID(t *testing.T) {
	cases := []struct {
		in   string
		want string // empty when invalid
	}{
		{tHex, tHex},
		{strings.ToUpper(tHex), tHex},
		{"4BF92F3577b34da6a3ce929d0e0e4736", tHex},
		{t16, t16},

		{"", ""},
		{tHex[1:], ""},
		{tHex + "0", ""},
		{t16 + "0", ""},
		{zero16, ""},
		{zero8, ""},
		{tHex[:31] + "g", ""},
		{"4bf92f35-77b3-4da6-a3ce-929d0e0e4736", ""},
		{" " + tHex[1:], ""},
	}
	for _, c := range cases {
		trace, ok := ParseChainID([]byte(c.in))
		if ok != (c.want != "") {
			t.Errorf("ParseChainID(%q) ok = %v", c.in, ok)
			continue
		}
		if ok && trace != mustTrace(t, c.want) {
			t.Errorf("ParseChainID(%q) = %v, want %v", c.in, trace, c.want)
		}
	}
}

func TestDecodeHexPadded(t *testing.T) {
	cases := map[string]string{
		"1":                  "00000000000000000000000000000001",
		"abc":                "00000000000000000000000000000abc",
		"1234":               "00000000000000000000000000001234",
		t16:                  "0000000000000000" + t16,
		tHex[1:]:             "0" + tHex[1:],
		tHex:                 tHex,
		strings.ToUpper(t16): "0000000000000000" + t16,
	}
	for in, want := range cases {
		var id TraceID
		if !decodeHexPadded(id[:], []byte(in), anyHex) {
			t.Errorf("decodeHexPadded(%q) failed", in)
			continue
		}
		if got := id.String(); got != want {
			t.Errorf("decodeHexPadded(%q) = %s, want %s", in, got, want)
		}
	}
}

// randomChains returns chains with random IDs, covering sampled and not,
// with and without a parent.
func randomChains() []Chain {
	var cs []Chain
	for i := range 64 {
		c := Chain{Trace: NewTraceID(), Span: NewSpanID(), Sampled: i%2 == 0}
		if i%4 < 2 {
			c.Parent = NewSpanID()
		}
		if i%8 == 0 {
			// A 64-bit trace ID, as B3 and Jaeger clients send.
			clear(c.Trace[:8])
		}
		cs = append(cs, c)
	}
	return cs
}

func TestRoundTrip(t *testing.T) {
	for _, c := range randomChains() {
		if tr, sp, s, ok := ParseTraceparent(AppendTraceparent(nil, &c)); !ok || tr != c.Trace || sp != c.Span || s != c.Sampled {
			t.Errorf("traceparent round trip of %+v: %v %v %v %v", c, tr, sp, s, ok)
		}
		if tr, sp, s, ok := ParseB3(AppendB3(nil, &c)); !ok || tr != c.Trace || sp != c.Span || s != c.Sampled {
			t.Errorf("b3 round trip of %+v: %v %v %v %v", c, tr, sp, s, ok)
		}
		smpl := "0"
		if c.Sampled {
			smpl = "1"
		}
		if tr, sp, s, ok := ParseB3Multi([]byte(c.Trace.String()), []byte(c.Span.String()), []byte(smpl)); !ok || tr != c.Trace || sp != c.Span || s != c.Sampled {
			t.Errorf("b3 multi round trip of %+v: %v %v %v %v", c, tr, sp, s, ok)
		}
		if tr, sp, s, ok := ParseJaeger(AppendJaeger(nil, &c)); !ok || tr != c.Trace || sp != c.Span || s != c.Sampled {
			t.Errorf("jaeger round trip of %+v: %v %v %v %v", c, tr, sp, s, ok)
		}
		if tr, ok := ParseChainID(c.Trace.AppendHex(nil)); !ok || tr != c.Trace {
			t.Errorf("chain ID round trip of %v: %v %v", c.Trace, tr, ok)
		}
	}
}
