package recorder

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/cutover/cutover/store"
)

// BenchmarkDecodeGzip is the writer goroutine's cost for a record whose
// 1 KiB JSON response came gzip-encoded: decoding, header renaming and
// redaction.
func BenchmarkDecodeGzip(b *testing.B) {
	rd, _ := newRedactor(Rules{JSON: []string{"password", "card.number"}}, nil)
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(jsonBody())
	_ = w.Close()
	body := buf.Bytes()
	headers := []byte("Content-Type: application/json\r\nContent-Encoding: gzip\r\nSet-Cookie: a=b\r\n\r\n")
	r := &store.Record{}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r.SetRespHeaders(headers)
		r.SetRespBody(body, 64<<10)
		rd.record(r)
	}
	if !bytes.Contains(r.RespHeaders, []byte(DecodedHeader)) {
		b.Fatalf("not decoded: %q", r.RespHeaders)
	}
}
