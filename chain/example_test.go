package chain_test

import (
	"fmt"

	"github.com/cutover/cutover/chain"
)

// headers stands in for *fasthttp.RequestHeader.
type headers map[string]string

func (h headers) Peek(key string) []byte { return []byte(h[key]) }

func ExampleExtract() {
	h := headers{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"tracestate":  "rojo=00f067aa0ba902b7",
	}
	c := chain.Extract(h, "X-Chain-Id")
	fmt.Println("chain ID:", c.Trace)
	fmt.Println("from:", c.Source, "parent:", c.Parent, "sampled:", c.Sampled)

	// Upstream, this hop's new span becomes the parent-id.
	tp := chain.AppendTraceparent(nil, &c)
	fmt.Println("same trace upstream:", string(tp[3:35]) == c.Trace.String())
	fmt.Println("tracestate upstream:", string(chain.AppendTracestate(nil, c.State, "cutover=primary")))

	// Without a valid context, a new chain starts here.
	n := chain.Extract(headers{"traceparent": "00-not-a-context"}, "X-Chain-Id")
	fmt.Println("new chain from:", n.Source, "sampled:", n.Sampled)
	// Output:
	// chain ID: 4bf92f3577b34da6a3ce929d0e0e4736
	// from: traceparent parent: 00f067aa0ba902b7 sampled: true
	// same trace upstream: true
	// tracestate upstream: cutover=primary,rojo=00f067aa0ba902b7
	// new chain from: none sampled: true
}

func ExampleParseJaeger() {
	// Jaeger clients drop leading zeros and may URL-encode the colons.
	trace, span, sampled, ok := chain.ParseJaeger([]byte("a3ce929d0e0e4736%3A53995c3f42cd8ad8%3A0%3A1"))
	fmt.Println(trace, span, sampled, ok)
	// Output:
	// 0000000000000000a3ce929d0e0e4736 53995c3f42cd8ad8 true true
}

func ExampleParseFormat() {
	_, err := chain.ParseFormat("zipkin")
	fmt.Println(err)
	// Output:
	// chain: unknown inject format "zipkin" (want w3c, b3, jaeger or sw8)
}
