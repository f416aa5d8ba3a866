package chain

import "testing"

var benchSink Chain

func BenchmarkExtractTraceparent(b *testing.B) {
	h := hdrs(HeaderTraceparent, tp, HeaderTracestate, "rojo=00f067aa0ba902b7")
	b.ReportAllocs()
	for b.Loop() {
		benchSink = Extract(h, "X-Chain-Id")
	}
}

func BenchmarkExtractJaeger(b *testing.B) {
	h := hdrs(HeaderJaeger, tHex+":"+sHex+":0:1")
	b.ReportAllocs()
	for b.Loop() {
		benchSink = Extract(h, "X-Chain-Id")
	}
}

// BenchmarkExtractNone is the common case at the edge: no context comes in,
// every header is looked up in vain, and a new trace ID is made.
func BenchmarkExtractNone(b *testing.B) {
	h := hdrs("Accept", "*/*")
	b.ReportAllocs()
	for b.Loop() {
		benchSink = Extract(h, "X-Chain-Id")
	}
}

func BenchmarkAppendTraceparent(b *testing.B) {
	c := testChain(b, true, pHex)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendTraceparent(buf[:0], &c)
	}
}

func BenchmarkAppendTracestate(b *testing.B) {
	state := []byte("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,cutover=primary")
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendTracestate(buf[:0], state, "cutover=shadow")
	}
}

func BenchmarkAppendSW8(b *testing.B) {
	c := testChain(b, true, pHex)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendSW8(buf[:0], &c, "checkout", "orders", "order-v1")
	}
}
