package record_test

import (
	"fmt"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/record"
)

func ExampleSampled() {
	id := chain.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	// Every hop of a chain gets the same answer.
	fmt.Println(record.Sampled(id, 0.5), record.Sampled(id, 0.5), record.Sampled(id, 1), record.Sampled(id, 0))
	// Output: false false true false
}
