package message

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strings"
	"testing"
)

// encode compresses b with the writer w makes.
func encode(b []byte, w func(io.Writer) io.WriteCloser) []byte {
	var buf bytes.Buffer
	zw := w(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func gzipped(b []byte) []byte {
	return encode(b, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) })
}

func zlibbed(b []byte) []byte {
	return encode(b, func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) })
}

func deflated(b []byte) []byte {
	return encode(b, func(w io.Writer) io.WriteCloser { fw, _ := flate.NewWriter(w, flate.BestSpeed); return fw })
}

func TestDecode(t *testing.T) {
	plain := []byte(`{"a":1,"b":[1,2,3]}`)
	corrupt := gzipped(plain)
	corrupt[len(corrupt)-5] ^= 0xff // the CRC-32 trailer
	long := bytes.Repeat([]byte("x"), 5000)
	for _, tc := range []struct {
		name     string
		encoding string
		body     []byte
		limit    int
		want     []byte // the result, also on failure
		err      error  // nil, or what the error is
	}{
		{"no coding", "", plain, 100, plain, nil},
		{"identity", "identity", plain, 100, plain, nil},
		{"identity over the limit", " identity ", plain, 4, plain[:4], ErrTooLarge},
		{"gzip", "gzip", gzipped(plain), 100, plain, nil},
		{"x-gzip, any case", "X-GZip", gzipped(plain), 100, plain, nil},
		{"deflate as zlib", "deflate", zlibbed(plain), 100, plain, nil},
		{"deflate as raw DEFLATE", "Deflate", deflated(plain), 100, plain, nil},
		{"two codings undone last first", "deflate, gzip", gzipped(zlibbed(plain)), 100, plain, nil},
		{"raw deflate under gzip", "deflate,gzip", gzipped(deflated(plain)), 100, plain, nil},
		{"gzip twice", "gzip, gzip", gzipped(gzipped(plain)), 100, plain, nil},
		{"identity and empty elements skipped", "identity, , gzip,", gzipped(plain), 100, plain, nil},
		{"MaxCodings", "gzip, gzip, gzip, gzip", gzipped(gzipped(gzipped(gzipped(plain)))), 100, plain, nil},
		{"more than MaxCodings", "gzip, gzip, gzip, gzip, gzip", plain, 100, nil, ErrUnsupported},
		{"br is not decoded", "br", plain, 100, nil, ErrUnsupported},
		{"a list naming br is not decoded", "gzip, br", gzipped(plain), 100, nil, ErrUnsupported},
		{"unknown coding", "zstd", plain, 100, nil, ErrUnsupported},
		{"exactly the limit", "gzip", gzipped(long), 5000, long, nil},
		{"over the limit keeps its first bytes", "gzip", gzipped(long), 4999, long[:4999], ErrTooLarge},
		{"limit zero", "gzip", gzipped(plain), 0, nil, ErrTooLarge},
		{"over the limit in a deflate list", "deflate, gzip", gzipped(zlibbed(long)), 100, long[:100], ErrTooLarge},
		{"bad checksum", "gzip", corrupt, 100, plain, errCorrupt},
		{"not gzip at all", "gzip", []byte("plain text"), 100, nil, errCorrupt},
		{"not deflate at all", "deflate", []byte("not deflate at all"), 100, nil, errCorrupt},
		{"trailing garbage", "gzip", append(gzipped(plain), "junk"...), 100, plain, errCorrupt},
		{"cut short", "gzip", gzipped(long)[:40], 10000, nil, io.ErrUnexpectedEOF},
		{"empty gzip body", "gzip", nil, 100, nil, errCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			body := append([]byte(nil), tc.body...)
			for range 2 { // cold and warm decompressors
				got, err := d.Decode([]byte("prefix:"), body, []byte(tc.encoding), tc.limit)
				switch {
				case tc.err == nil && err != nil, tc.err != nil && err == nil:
					t.Fatalf("error %v, want %v", err, tc.err)
				case tc.err != nil && tc.err != errCorrupt && !errors.Is(err, tc.err):
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				rest, ok := bytes.CutPrefix(got, []byte("prefix:"))
				if !ok {
					t.Fatalf("dst lost: %.40q", got)
				}
				// A cut stream decodes as far as it goes.
				if tc.name == "cut short" {
					if len(rest) == 0 || strings.Trim(string(rest), "x") != "" {
						t.Fatalf("cut short decoded to %.40q", rest)
					}
				} else if !bytes.Equal(rest, tc.want) {
					t.Fatalf("decoded to %.40q…, want %.40q…", rest, tc.want)
				}
			}
			if !bytes.Equal(body, tc.body) {
				t.Fatal("Decode modified the body")
			}
		})
	}
}

// errCorrupt stands for any error but the sentinels in TestDecode.
var errCorrupt = errors.New("any decoding error")

func TestDecodeZipBombIsBounded(t *testing.T) {
	bomb := gzipped(make([]byte, 64<<20)) // 64 MiB of zeros in about 64 KiB
	var d Decoder
	got, err := d.Decode(nil, bomb, []byte("gzip"), 1<<20)
	if !errors.Is(err, ErrTooLarge) || len(got) != 1<<20 {
		t.Fatalf("len %d, err %v", len(got), err)
	}
	if cap(got) > 2<<20 {
		t.Fatalf("the output grew to a capacity of %d for a limit of 1 MiB", cap(got))
	}
}

func TestIsIdentity(t *testing.T) {
	for _, tc := range []struct {
		list string
		want bool
	}{
		{"", true}, {"identity", true}, {" Identity , ,identity", true},
		{"gzip", false}, {"identity, br", false}, {"x", false},
	} {
		if got := IsIdentity([]byte(tc.list)); got != tc.want {
			t.Errorf("IsIdentity(%q) = %v", tc.list, got)
		}
	}
}

func TestIsZlibHeader(t *testing.T) {
	z := zlibbed([]byte("x"))
	if !isZlibHeader(z) {
		t.Fatalf("zlib header % x not recognised", z[:2])
	}
	for _, h := range [][]byte{nil, {0x78}, {0x78, 0x9d}, {0x78, 0xbb} /* FDICT */, {0x88, 0x98} /* window too large */, deflated([]byte("x"))} {
		if isZlibHeader(h) {
			t.Errorf("% x taken for a zlib header", h)
		}
	}
}

func TestDecodeWarmDoesNotAllocate(t *testing.T) {
	body := gzipped([]byte(strings.Repeat(`{"sku":"a","qty":1}`, 50)))
	var d Decoder
	dst := make([]byte, 0, 4<<10)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if dst, err = d.Decode(dst[:0], body, []byte("gzip"), 1<<20); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per warm Decode", allocs)
	}
}

func BenchmarkDecodeGzip1KiB(b *testing.B) {
	plain := []byte(strings.Repeat(`{"sku":"sku-0001","qty":3,"price":12.99}`, 25))
	body := gzipped(plain)
	var d Decoder
	var dst []byte
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = d.Decode(dst[:0], body, []byte("gzip"), 8<<20)
	}
	if !bytes.Equal(dst, plain) {
		b.Fatal("decoded wrong")
	}
}

func BenchmarkDecodeDeflateGzip1KiB(b *testing.B) {
	plain := []byte(strings.Repeat(`{"sku":"sku-0001","qty":3,"price":12.99}`, 25))
	body := gzipped(zlibbed(plain))
	var d Decoder
	var dst []byte
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = d.Decode(dst[:0], body, []byte("deflate, gzip"), 8<<20)
	}
	if !bytes.Equal(dst, plain) {
		b.Fatal("decoded wrong")
	}
}
