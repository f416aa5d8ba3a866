package recorder

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strings"
	"testing"

	"github.com/cutover/cutover/store"
)

func compress(t *testing.T, encoding string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch encoding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "zlib":
		w = zlib.NewWriter(&buf)
	case "raw":
		w, _ = flate.NewWriter(&buf, flate.DefaultCompression)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeCompressedBodies(t *testing.T) {
	const doc = `{"user":"ada","password":"hunter2","items":[{"sku":"a"}]}`
	redactedDoc := `{"user":"ada","password":"[redacted]","items":[{"sku":"a"}]}`
	gz := compress(t, "gzip", []byte(doc))
	long := bytes.Repeat([]byte("x"), 5000)
	tests := []struct {
		name          string
		json          bool // Content-Type application/json, else text/plain
		encoding      string
		body          []byte
		truncated     bool
		limit         int
		wantBody      string
		wantTruncated bool
		wantRenamed   bool
	}{
		{"gzip JSON is decoded, then redacted", true, "gzip", gz, false, 1 << 10, redactedDoc, false, true},
		{"x-gzip", true, "x-gzip", gz, false, 1 << 10, redactedDoc, false, true},
		{"zlib deflate", true, "deflate", compress(t, "zlib", []byte(doc)), false, 1 << 10, redactedDoc, false, true},
		{"raw deflate", true, "deflate", compress(t, "raw", []byte(doc)), false, 1 << 10, redactedDoc, false, true},
		{"decoded beyond the cap is cut", false, "gzip", compress(t, "gzip", long), false, 100, string(long[:100]), true, true},
		{"a body cut before its end decodes as far as it goes", false, "gzip", compress(t, "gzip", long)[:30], true, 1 << 10, "", true, true},
		{"other encodings stay, and JSON rules replace them", true, "br", []byte("\x8b\x02\x80{}"), false, 1 << 10, Withheld + " 5 bytes of application/json", false, false},
		{"bytes that do not decode stay", false, "gzip", []byte("not gzip at all"), false, 1 << 10, "not gzip at all", false, false},
		{"JSON that does not decode is replaced whole", true, "gzip", []byte(`{"password":"x"}`), false, 1 << 10, Withheld + " 16 bytes of application/json", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, _ := newRedactor(Rules{JSON: []string{"password"}, MaxBody: tt.limit}, nil)
			ct := "application/json"
			if !tt.json {
				ct = "text/plain"
			}
			r := &store.Record{
				RespHeaders:   []byte("Content-Type: " + ct + "\r\nContent-Encoding: " + tt.encoding + "\r\nX-A: 1\r\n\r\n"),
				RespBody:      append([]byte(nil), tt.body...),
				RespTruncated: tt.truncated,
			}
			rd.record(r)
			body := string(r.RespBody)
			if tt.name == "a body cut before its end decodes as far as it goes" {
				if len(body) == 0 || strings.Trim(body, "x") != "" {
					t.Errorf("partial decode gave %q", body)
				}
			} else if body != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
			if r.RespTruncated != tt.wantTruncated {
				t.Errorf("truncated %v, want %v", r.RespTruncated, tt.wantTruncated)
			}
			renamed := strings.Contains(string(r.RespHeaders), "\r\n"+DecodedHeader+": "+tt.encoding+"\r\n")
			if renamed != tt.wantRenamed || !strings.HasSuffix(string(r.RespHeaders), "X-A: 1\r\n\r\n") {
				t.Errorf("headers %q: renamed %v, want %v", r.RespHeaders, renamed, tt.wantRenamed)
			}
		})
	}
}

// TestDecodeContentEncodingList: every Content-Encoding line is one list,
// read as the comparison reads it, and every line is renamed once the
// body is decoded.
func TestDecodeContentEncodingList(t *testing.T) {
	const doc = `{"id":7}`
	tests := []struct {
		name, headers string
		body          []byte
		wantBody      string
		wantHeaders   string
	}{
		{
			"two lines, gzip then identity",
			"Content-Encoding: gzip\r\nX-A: 1\r\ncontent-encoding : identity\r\n\r\n",
			compress(t, "gzip", []byte(doc)), doc,
			DecodedHeader + ": gzip\r\nX-A: 1\r\n" + DecodedHeader + ": identity\r\n\r\n",
		},
		{
			"codings undone last first",
			"Content-Encoding: deflate, gzip\r\n",
			compress(t, "gzip", compress(t, "zlib", []byte(doc))), doc,
			DecodedHeader + ": deflate, gzip\r\n",
		},
		{
			"a list naming br stays",
			"Content-Encoding: gzip\r\nContent-Encoding: br\r\n",
			compress(t, "gzip", []byte(doc)), string(compress(t, "gzip", []byte(doc))),
			"Content-Encoding: gzip\r\nContent-Encoding: br\r\n",
		},
		{
			"identity stays as it is",
			"Content-Encoding: identity\r\n",
			[]byte(doc), doc,
			"Content-Encoding: identity\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, _ := newRedactor(Rules{Headers: []string{}, MaxBody: 1 << 10}, nil)
			r := &store.Record{RespHeaders: []byte(tt.headers), RespBody: append([]byte(nil), tt.body...)}
			rd.record(r)
			if string(r.RespBody) != tt.wantBody {
				t.Errorf("body %q, want %q", r.RespBody, tt.wantBody)
			}
			if string(r.RespHeaders) != tt.wantHeaders {
				t.Errorf("headers %q, want %q", r.RespHeaders, tt.wantHeaders)
			}
		})
	}
}
