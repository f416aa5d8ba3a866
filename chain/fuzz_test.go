package chain

import (
	"bytes"
	"testing"
)

// The fuzz targets check what every parser promises: no panic, non-zero IDs
// whenever ok, and that cutover's own rendering of a parsed context parses
// back to the same IDs. Only the seeds run under go test; run one with
// go test -run='^$' -fuzz=FuzzParseTraceparent ./chain/ to explore.

func FuzzParseTraceparent(f *testing.F) {
	for _, s := range []string{
		tp, "00-" + tHex + "-" + sHex + "-00", "cc-" + tHex + "-" + sHex + "-01-future",
		"ff-" + tHex + "-" + sHex + "-01", "00-" + zero16 + "-" + sHex + "-01", badTP, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		trace, parent, sampled, ok := ParseTraceparent(v)
		if !ok {
			return
		}
		if trace.IsZero() || parent.IsZero() {
			t.Fatalf("ok with a zero ID for %q", v)
		}
		// The IDs are read verbatim, so the input holds their lowercase hex.
		if !bytes.Equal(v[3:35], trace.AppendHex(nil)) || !bytes.Equal(v[36:52], parent.AppendHex(nil)) {
			t.Fatalf("%q parsed to %v %v", v, trace, parent)
		}
		c := Chain{Trace: trace, Span: parent, Sampled: sampled}
		out := AppendTraceparent(nil, &c)
		t2, p2, s2, ok2 := ParseTraceparent(out)
		if !ok2 || t2 != trace || p2 != parent || s2 != sampled {
			t.Fatalf("%q → %q did not round-trip", v, out)
		}
	})
}

func FuzzParseB3(f *testing.F) {
	for _, s := range []string{
		tHex + "-" + sHex, tHex + "-" + sHex + "-1-" + pHex, t16 + "-" + sHex + "-d",
		tHex + "-" + sHex + "-0", "0", "d", tHex + "--" + sHex, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		trace, span, sampled, ok := ParseB3(v)
		if !ok {
			return
		}
		if trace.IsZero() || span.IsZero() {
			t.Fatalf("ok with a zero ID for %q", v)
		}
		c := Chain{Trace: trace, Span: span, Sampled: sampled}
		out := AppendB3(nil, &c)
		t2, s2, smp2, ok2 := ParseB3(out)
		if !ok2 || t2 != trace || s2 != span || smp2 != sampled {
			t.Fatalf("%q → %q did not round-trip", v, out)
		}
	})
}

func FuzzParseB3Multi(f *testing.F) {
	f.Add([]byte(tHex), []byte(sHex), []byte("1"))
	f.Add([]byte(t16), []byte(sHex), []byte(""))
	f.Add([]byte(tHex), []byte(sHex), []byte("false"))
	f.Add([]byte(zero16), []byte(sHex), []byte("1"))
	f.Add([]byte(""), []byte(""), []byte(""))
	f.Fuzz(func(t *testing.T, traceID, spanID, smp []byte) {
		trace, span, sampled, ok := ParseB3Multi(traceID, spanID, smp)
		if !ok {
			return
		}
		if trace.IsZero() || span.IsZero() {
			t.Fatalf("ok with a zero ID for %q %q", traceID, spanID)
		}
		out := []byte("0")
		if sampled {
			out = []byte("1")
		}
		t2, s2, smp2, ok2 := ParseB3Multi(trace.AppendHex(nil), span.AppendHex(nil), out)
		if !ok2 || t2 != trace || s2 != span || smp2 != sampled {
			t.Fatalf("%q %q %q did not round-trip", traceID, spanID, smp)
		}
	})
}

func FuzzParseJaeger(f *testing.F) {
	for _, s := range []string{
		tHex + ":" + sHex + ":0:1", tHex + ":" + sHex + ":" + pHex + ":03", "abc:def:0:0",
		tHex + "%3A" + sHex + "%3A0%3A1", "0:1:0:1", tHex + ":" + sHex + "%3A0%3A1", "%3a%3a%3a", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		trace, span, sampled, ok := ParseJaeger(v)
		if !ok {
			return
		}
		if trace.IsZero() || span.IsZero() {
			t.Fatalf("ok with a zero ID for %q", v)
		}
		c := Chain{Trace: trace, Span: span, Sampled: sampled}
		out := AppendJaeger(nil, &c)
		t2, s2, smp2, ok2 := ParseJaeger(out)
		if !ok2 || t2 != trace || s2 != span || smp2 != sampled {
			t.Fatalf("%q → %q did not round-trip", v, out)
		}
	})
}

func FuzzParseChainID(f *testing.F) {
	for _, s := range []string{tHex, t16, "4BF92F3577B34DA6A3CE929D0E0E4736", zero16, tHex[1:], ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		trace, ok := ParseChainID(v)
		if !ok {
			return
		}
		if trace.IsZero() {
			t.Fatalf("ok with a zero ID for %q", v)
		}
		out := trace.AppendHex(nil)
		if !bytes.HasSuffix(out, bytes.ToLower(v)) {
			t.Fatalf("%q parsed to %s", v, out)
		}
		if t2, ok2 := ParseChainID(out); !ok2 || t2 != trace {
			t.Fatalf("%q → %q did not round-trip", v, out)
		}
	})
}
