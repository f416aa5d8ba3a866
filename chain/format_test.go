package chain

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

func testChain(t testing.TB, sampled bool, parent string) Chain {
	c := Chain{Trace: mustTrace(t, tHex), Span: mustSpan(t, sHex), Sampled: sampled}
	if parent != "" {
		c.Parent = mustSpan(t, parent)
	}
	return c
}

func TestAppendFormats(t *testing.T) {
	sampled, unsampled := testChain(t, true, pHex), testChain(t, false, "")
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"traceparent sampled", AppendTraceparent(nil, &sampled), "00-" + tHex + "-" + sHex + "-01"},
		{"traceparent unsampled", AppendTraceparent(nil, &unsampled), "00-" + tHex + "-" + sHex + "-00"},
		{"b3 with parent", AppendB3(nil, &sampled), tHex + "-" + sHex + "-1-" + pHex},
		{"b3 without parent", AppendB3(nil, &unsampled), tHex + "-" + sHex + "-0"},
		{"jaeger with parent", AppendJaeger(nil, &sampled), tHex + ":" + sHex + ":" + pHex + ":01"},
		{"jaeger without parent", AppendJaeger(nil, &unsampled), tHex + ":" + sHex + ":0:00"},
		{"appends to dst", AppendB3([]byte("x="), &unsampled), "x=" + tHex + "-" + sHex + "-0"},
	}
	for _, c := range cases {
		if string(c.got) != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestAppendSW8(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	long := strings.Repeat("svc-é", 20) // not a multiple of three or of the chunk size
	cases := []struct {
		sampled                   bool
		service, endpoint, peer   string
		written, wEndpoint, wPeer string
	}{
		{true, "checkout", "orders", "order-v1", "checkout", "orders", "order-v1"},
		{false, "", "", "", "cutover", "/", "cutover"},
		{true, long, long, long, long, long, long},
	}
	for _, c := range cases {
		ch := testChain(t, c.sampled, pHex)
		got := string(AppendSW8(nil, &ch, c.service, c.endpoint, c.peer))
		sample := "0"
		if c.sampled {
			sample = "1"
		}
		want := strings.Join([]string{
			sample, b64([]byte(tHex)), b64([]byte(tHex + sHex)), "0",
			b64([]byte(c.written)), b64([]byte(c.written)), b64([]byte(c.wEndpoint)), b64([]byte(c.wPeer)),
		}, "-")
		if got != want {
			t.Errorf("AppendSW8(service %q) =\n%s\nwant\n%s", c.service, got, want)
		}
		if n := strings.Count(got, "-"); n != 7 {
			t.Errorf("AppendSW8(service %q) has %d separators, want 7", c.service, n)
		}
	}
}

func TestAppendTracestate(t *testing.T) {
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("k%d=v%d", i, i))
	}
	want32 := append([]string{"cutover=shadow"}, many[:31]...)
	withOurs := append(append(append([]string{}, many[:5]...), "cutover=old"), many[5:]...)

	cases := []struct {
		name, state, entry, want string
	}{
		{"empty state", "", "cutover=shadow", "cutover=shadow"},
		{"prepends", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", "cutover=shadow", "cutover=shadow,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
		{"replaces own key", "rojo=1,cutover=old,congo=2", "cutover=shadow", "cutover=shadow,rojo=1,congo=2"},
		{"keeps longer key", "cutover2=x,rojo=1", "cutover=shadow", "cutover=shadow,cutover2=x,rojo=1"},
		{"trims white space and empty members", " rojo=1 ,\tcongo=2\t, ,,", "cutover=shadow", "cutover=shadow,rojo=1,congo=2"},
		{"value with inner space", "rojo=a b", "cutover=shadow", "cutover=shadow,rojo=a b"},
		{"multi-tenant key", "tenant@sys=1,a@b@c=2", "cutover=shadow", "cutover=shadow,tenant@sys=1"},
		{"drops malformed members", "rojo=1,BAD=2,noequals,=x,k=,_x=1,a=b\r\nX-Evil: y,congo=2", "cutover=shadow", "cutover=shadow,rojo=1,congo=2"},
		{"drops value with equals", "rojo=a=b", "cutover=shadow", "cutover=shadow"},
		{"caps at 32 members", strings.Join(many, ","), "cutover=shadow", strings.Join(want32, ",")},
		{"removed own key frees a place", strings.Join(withOurs, ","), "cutover=shadow", strings.Join(want32, ",")},
		{"no entry cleans state", " rojo=1, congo=2 ", "", "rojo=1,congo=2"},
		{"no entry no state", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := string(AppendTracestate(nil, []byte(c.state), c.entry))
			if got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for name, want := range map[string]Format{"w3c": FormatW3C, "b3": FormatB3, "jaeger": FormatJaeger, "sw8": FormatSW8} {
		got, err := ParseFormat(name)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	for _, name := range []string{"", "x", "W3C", "zipkin"} {
		_, err := ParseFormat(name)
		want := fmt.Sprintf("chain: unknown inject format %q (want w3c, b3, jaeger or sw8)", name)
		if err == nil || err.Error() != want {
			t.Errorf("ParseFormat(%q) error = %v, want %s", name, err, want)
		}
	}
	if all := FormatW3C | FormatB3 | FormatJaeger | FormatSW8; all != 0x0f {
		t.Errorf("formats are not distinct bits: %#x", all)
	}
}

func TestIDs(t *testing.T) {
	tr, sp := mustTrace(t, tHex), mustSpan(t, sHex)
	if tr.String() != tHex || sp.String() != sHex {
		t.Errorf("String() = %s %s", tr, sp)
	}
	if got := string(tr.AppendHex([]byte("id="))); got != "id="+tHex {
		t.Errorf("AppendHex = %q", got)
	}
	if tr.IsZero() || sp.IsZero() || !(TraceID{}).IsZero() || !(SpanID{}).IsZero() {
		t.Error("IsZero is wrong")
	}
	seenT, seenS := map[TraceID]bool{}, map[SpanID]bool{}
	for range 1000 {
		tr, sp := NewTraceID(), NewSpanID()
		if tr.IsZero() || sp.IsZero() || seenT[tr] || seenS[sp] {
			t.Fatalf("NewTraceID/NewSpanID gave a zero or repeated ID: %v %v", tr, sp)
		}
		seenT[tr], seenS[sp] = true, true
	}
}

func TestSourceString(t *testing.T) {
	want := []string{"none", "traceparent", "b3", "b3-multi", "jaeger", "chain-header"}
	for i, w := range want {
		if got := Source(i).String(); got != w {
			t.Errorf("Source(%d) = %q, want %q", i, got, w)
		}
	}
	if got := Source(42).String(); got != "Source(42)" {
		t.Errorf("Source(42) = %q", got)
	}
}
