// Command replaygen writes a store of recorded calls for bench/replay.sh:
// N calls of GET /items/I, each answered 200 with the JSON body of a given
// file, started a millisecond apart an hour ago. It writes the store
// directly, so the benchmark starts from exactly N records.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/store"
)

func main() {
	path := flag.String("store", "", "store `file` to create")
	n := flag.Int("n", 100000, "`number` of calls")
	bodyFile := flag.String("body", "", "`file` holding the recorded answer's body")
	flag.Parse()
	if err := run(*path, *n, *bodyFile); err != nil {
		fmt.Fprintln(os.Stderr, "replaygen:", err)
		os.Exit(1)
	}
}

func run(path string, n int, bodyFile string) error {
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return err
	}
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		return err
	}
	start := time.Now().Add(-time.Hour)
	batch := make([]*store.Record, 0, 1000)
	for i := range n {
		r := &store.Record{
			Chain: chain.NewTraceID(), Span: chain.NewSpanID(),
			Route: "items", Side: "old", Target: "bench",
			Method: []byte("GET"), URI: []byte("/items/" + strconv.Itoa(i)),
			ReqHeaders:  []byte("Host: bench\r\nAccept: application/json\r\n"),
			RespHeaders: []byte("Content-Type: application/json\r\n"),
			RespBody:    body,
			Status:      200,
			Start:       start.Add(time.Duration(i) * time.Millisecond),
			Latency:     time.Millisecond,
		}
		batch = append(batch, r)
		if len(batch) == cap(batch) || i == n-1 {
			if err := st.Append(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return st.Close()
}
