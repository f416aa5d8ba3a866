package e2e

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var traceparentRE = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$`)

// upstreamTrace is the trace context an upstream received.
type upstreamTrace struct {
	chainID string // X-Chain-Id
	trace   string // from traceparent
	span    string // from traceparent: this hop's span
	flags   string
	header  http.Header
}

// sendTraced sends one request with hdr and returns the response's
// X-Chain-Id and what the upstream received.
func sendTraced(t *testing.T, c *http.Client, g *gatewayProc, hdr map[string]string) (string, upstreamTrace) {
	t.Helper()
	resp, body := do(t, c, "GET", g.url("/api/chain"), nil, hdr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	id := resp.Header.Get("X-Chain-Id")
	if !hex32.MatchString(id) || id == strings.Repeat("0", 32) {
		t.Fatalf("response X-Chain-Id %q is not a non-zero 32-hex ID", id)
	}
	rep := decodeEcho(t, body)
	ut := upstreamTrace{chainID: rep.Header.Get("X-Chain-Id"), header: rep.Header}
	tp := rep.Header.Values("Traceparent")
	if len(tp) != 1 {
		t.Fatalf("upstream traceparent %q, want one", tp)
	}
	m := traceparentRE.FindStringSubmatch(tp[0])
	if m == nil {
		t.Fatalf("upstream traceparent %q is malformed", tp[0])
	}
	ut.trace, ut.span, ut.flags = m[1], m[2], m[3]
	if ut.chainID != id || ut.trace != id {
		t.Errorf("response X-Chain-Id %s, upstream X-Chain-Id %s and traceparent trace %s: want all equal", id, ut.chainID, ut.trace)
	}
	return id, ut
}

// TestChainIDs checks that every request gets a chain ID, that each
// incoming trace format is continued with a fresh span for this hop, and
// that all four formats are written upstream when configured.
func TestChainIDs(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "echo")
	g := startGateway(t, "chain:\n  inject: [w3c, b3, jaeger, sw8]\n"+plainConfig(hostPort(up)))
	c := newClient(t)

	const (
		trace  = "4bf92f3577b34da6a3ce929d0e0e4736"
		span   = "00f067aa0ba902b7"
		trace2 = "0af7651916cd43dd8448eb211c80319c"
	)
	for _, tc := range []struct {
		name      string
		hdr       map[string]string
		trace     string // "" when a new chain must start
		parent    string // the span the upstream must see as parent; "" for none
		sampled   bool
		wantState string
	}{
		{name: "none", sampled: true},
		{name: "traceparent", hdr: map[string]string{"traceparent": "00-" + trace + "-" + span + "-01"}, trace: trace, parent: span, sampled: true},
		{name: "traceparent not sampled", hdr: map[string]string{"traceparent": "00-" + trace + "-" + span + "-00"}, trace: trace, parent: span},
		{name: "traceparent with tracestate", hdr: map[string]string{"traceparent": "00-" + trace + "-" + span + "-01", "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
			trace: trace, parent: span, sampled: true, wantState: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
		{name: "b3 single", hdr: map[string]string{"b3": "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"},
			trace: "80f198ee56343ba864fe8b2a57d3eff7", parent: "e457b5a2e4d86bd1", sampled: true},
		{name: "b3 single 64-bit", hdr: map[string]string{"b3": "a3ce929d0e0e4736-00f067aa0ba902b7"}, trace: "0000000000000000a3ce929d0e0e4736", parent: span, sampled: true},
		{name: "b3 multi", hdr: map[string]string{"X-B3-TraceId": "463ac35c9f6413ad48485a3953bb6124", "X-B3-SpanId": "a2fb4a1d1a96d312", "X-B3-ParentSpanId": "0020000000000001", "X-B3-Sampled": "1"},
			trace: "463ac35c9f6413ad48485a3953bb6124", parent: "a2fb4a1d1a96d312", sampled: true},
		{name: "jaeger", hdr: map[string]string{"uber-trace-id": "6e0c63257de34c926f9efcd03927272e:17dd1b4d9e2c5f73:0:1"},
			trace: "6e0c63257de34c926f9efcd03927272e", parent: "17dd1b4d9e2c5f73", sampled: true},
		{name: "jaeger url-encoded", hdr: map[string]string{"uber-trace-id": "6e0c63257de34c926f9efcd03927272e%3A17dd1b4d9e2c5f73%3A0%3A1"},
			trace: "6e0c63257de34c926f9efcd03927272e", parent: "17dd1b4d9e2c5f73", sampled: true},
		{name: "chain header", hdr: map[string]string{"X-Chain-Id": trace2}, trace: trace2, sampled: true},
		{name: "chain header upper case", hdr: map[string]string{"X-Chain-Id": strings.ToUpper(trace2)}, trace: trace2, sampled: true},
		{name: "traceparent wins over the others", hdr: map[string]string{"traceparent": "00-" + trace + "-" + span + "-01", "b3": trace2 + "-" + span, "X-Chain-Id": trace2},
			trace: trace, parent: span, sampled: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, ut := sendTraced(t, c, g, tc.hdr)
			if tc.trace != "" && id != tc.trace {
				t.Errorf("chain ID %s, want the incoming %s continued", id, tc.trace)
			}
			if ut.span == tc.parent || ut.span == span {
				t.Errorf("upstream span %s is not a fresh span", ut.span)
			}
			if want := map[bool]string{true: "01", false: "00"}[tc.sampled]; ut.flags != want {
				t.Errorf("upstream traceparent flags %s, want %s", ut.flags, want)
			}
			if got := ut.header.Get("Tracestate"); got != tc.wantState {
				t.Errorf("upstream tracestate %q, want %q", got, tc.wantState)
			}
			checkInjected(t, ut, tc.parent, tc.sampled)
			// Incoming headers of formats that are not injected never
			// travel on: the gateway writes its own context.
			for _, name := range []string{"X-B3-TraceId", "X-B3-SpanId", "X-B3-ParentSpanId", "X-B3-Sampled", "X-B3-Flags"} {
				if v := ut.header.Values(name); len(v) > 0 {
					t.Errorf("upstream received %s %q", name, v)
				}
			}
		})
	}
}

// checkInjected checks the b3, uber-trace-id and sw8 headers the upstream
// got against its traceparent: same trace, same span, the incoming span as
// parent.
func checkInjected(t *testing.T, ut upstreamTrace, parent string, sampled bool) {
	t.Helper()
	s, f := "0", "00"
	if sampled {
		s, f = "1", "01"
	}
	wantB3 := ut.trace + "-" + ut.span + "-" + s
	wantJaeger := ut.trace + ":" + ut.span + ":0:" + f
	if parent != "" {
		wantB3 += "-" + parent
		wantJaeger = ut.trace + ":" + ut.span + ":" + parent + ":" + f
	}
	if got := ut.header.Values("B3"); len(got) != 1 || got[0] != wantB3 {
		t.Errorf("upstream b3 %q, want %s", got, wantB3)
	}
	if got := ut.header.Values("Uber-Trace-Id"); len(got) != 1 || got[0] != wantJaeger {
		t.Errorf("upstream uber-trace-id %q, want %s", got, wantJaeger)
	}
	b64 := base64.StdEncoding.EncodeToString
	// Parent service and instance are cutover, the parent endpoint is the
	// route (all) and the peer the upstream service (app).
	wantSW8 := strings.Join([]string{s, b64([]byte(ut.trace)), b64([]byte(ut.trace + ut.span)), "0",
		b64([]byte("cutover")), b64([]byte("cutover")), b64([]byte("all")), b64([]byte("app"))}, "-")
	if got := ut.header.Values("Sw8"); len(got) != 1 || got[0] != wantSW8 {
		t.Errorf("upstream sw8 %q, want %s", got, wantSW8)
	}
}

// TestChainMalformedReplaced sends malformed and all-zero trace contexts:
// each is replaced by a new chain and never forwarded, and a tracestate
// without a valid traceparent is dropped.
func TestChainMalformedReplaced(t *testing.T) {
	t.Parallel()
	up := newEcho(t, "echo")
	g := startGateway(t, plainConfig(hostPort(up))) // default inject: w3c only
	c := newClient(t)

	zero32, zero16 := strings.Repeat("0", 32), strings.Repeat("0", 16)
	const good = "0af7651916cd43dd8448eb211c80319c"
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		keep string // the chain that must be continued; "" for a new one
	}{
		{name: "traceparent zero trace", hdr: map[string]string{"traceparent": "00-" + zero32 + "-00f067aa0ba902b7-01", "tracestate": "vendor=dropped"}},
		{name: "traceparent zero span", hdr: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-" + zero16 + "-01"}},
		{name: "traceparent upper case", hdr: map[string]string{"traceparent": "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"}},
		{name: "traceparent version ff", hdr: map[string]string{"traceparent": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
		{name: "traceparent garbage", hdr: map[string]string{"traceparent": "hello", "tracestate": "vendor=dropped"}},
		{name: "b3 zero", hdr: map[string]string{"b3": zero32 + "-" + zero16 + "-1"}},
		{name: "b3 garbage", hdr: map[string]string{"b3": "not-a-b3-value-at-all"}},
		{name: "b3 multi zero", hdr: map[string]string{"X-B3-TraceId": zero32, "X-B3-SpanId": "a2fb4a1d1a96d312"}},
		{name: "jaeger zero", hdr: map[string]string{"uber-trace-id": "0:0:0:1"}},
		{name: "jaeger garbage", hdr: map[string]string{"uber-trace-id": "xyz:abc"}},
		{name: "chain header zero", hdr: map[string]string{"X-Chain-Id": zero32}},
		{name: "chain header garbage", hdr: map[string]string{"X-Chain-Id": "not-a-chain-id"}},
		{name: "chain header too long", hdr: map[string]string{"X-Chain-Id": good + "00"}},
		{name: "b3 with tracestate", hdr: map[string]string{"b3": good + "-00f067aa0ba902b7-1", "tracestate": "vendor=dropped"}, keep: good},
		{name: "bad traceparent, good chain header", hdr: map[string]string{"traceparent": "00-" + zero32 + "-00f067aa0ba902b7-01", "X-Chain-Id": good, "tracestate": "vendor=dropped"}, keep: good},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, ut := sendTraced(t, c, g, tc.hdr)
			if tc.keep != "" && id != tc.keep {
				t.Errorf("chain ID %s, want %s continued", id, tc.keep)
			}
			if id == zero32 {
				t.Errorf("chain ID is all zeros")
			}
			if got := ut.header.Values("Tracestate"); len(got) > 0 {
				t.Errorf("upstream tracestate %q without a valid incoming traceparent", got)
			}
			// No sent value, or any part of it that is malformed, travels on.
			for name, sent := range tc.hdr {
				if tc.keep != "" && strings.EqualFold(sent, tc.keep) {
					continue
				}
				for up, vs := range ut.header {
					for _, v := range vs {
						if v == sent {
							t.Errorf("upstream received the sent %s value in %s: %q", name, up, v)
						}
					}
				}
			}
			for _, name := range []string{"B3", "Uber-Trace-Id", "X-B3-Traceid", "Sw8"} {
				if v := ut.header.Values(name); len(v) > 0 {
					t.Errorf("upstream received %s %q though only w3c is injected", name, v)
				}
			}
		})
	}
}
