package message_test

import (
	"bytes"
	"compress/gzip"
	"fmt"

	"github.com/cutover/cutover/message"
)

// A response whose body was gzipped, with its Content-Encoding written on
// two lines: the lines are joined into one list, and the body decoded by
// it.
func Example() {
	var body bytes.Buffer
	w := gzip.NewWriter(&body)
	w.Write([]byte(`{"id":7}`))
	w.Close()
	headers := []byte("Content-Type: application/json\r\nContent-Encoding: gzip\r\ncontent-encoding: identity\r\n\r\n")

	s := message.Scan(headers)
	for s.Next() {
		f := s.Field()
		fmt.Printf("%s = %s\n", f.Name, f.Value)
	}
	encoding, _ := message.AppendValues(nil, headers, "Content-Encoding")
	fmt.Printf("Content-Encoding: %s\n", encoding)

	var d message.Decoder
	decoded, err := d.Decode(nil, body.Bytes(), encoding, 1<<20)
	fmt.Printf("%s %v\n", decoded, err)

	_, err = d.Decode(nil, body.Bytes(), []byte("gzip, br"), 1<<20)
	fmt.Println(err)
	// Output:
	// Content-Type = application/json
	// Content-Encoding = gzip
	// content-encoding = identity
	// Content-Encoding: gzip, identity
	// {"id":7} <nil>
	// message: unsupported content coding
}
