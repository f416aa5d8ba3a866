package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/chain"
)

// fullRecord returns a record with every field set, so a round trip that
// loses one fails.
func fullRecord(i int) *Record {
	r := &Record{
		Chain:   chain.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, byte(i)},
		Span:    chain.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, byte(i + 1)},
		Parent:  chain.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		Route:   "orders",
		Side:    "old",
		Target:  "127.0.0.1:9001",
		Shadow:  true,
		Cohort:  "checkout",
		Status:  502,
		Start:   time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC).Add(time.Duration(i) * time.Millisecond),
		Latency: 12345678 * time.Nanosecond,
		Error:   "bad_gateway",
	}
	r.Decision = "baggage"
	r.SetTenant([]byte("1001"))
	r.SetMethod([]byte("POST"))
	r.SetURI([]byte("/api/orders/7?expand=items"))
	r.SetReqHeaders([]byte("Host: shop.example.com\r\nContent-Type: application/json\r\nX-Org-Id: 1001\r\n\r\n"))
	r.SetRespHeaders([]byte("Content-Type: application/json\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"))
	r.SetReqBody([]byte(`{"item":"sku-1","qty":2}, "cut here"`), 24)
	r.SetRespBody([]byte{0xff, 0xfe, 0x00, 'b', 'i', 'n', 'a', 'r', 'y'}, 6)
	return r
}

// assertAllSet fails when a field of r is zero, so a field added to Record
// must be added to fullRecord and so to every round trip.
func assertAllSet(t *testing.T, r *Record) {
	t.Helper()
	v := reflect.ValueOf(r).Elem()
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; name != "ID" && v.Field(i).IsZero() {
			t.Errorf("fixture leaves %s zero", name)
		}
	}
}

func TestSetBodyTruncates(t *testing.T) {
	var r Record
	r.SetReqBody([]byte("0123456789"), 4)
	if string(r.ReqBody) != "0123" || !r.ReqTruncated {
		t.Errorf("SetReqBody(10 bytes, 4) = %q truncated=%v, want \"0123\" true", r.ReqBody, r.ReqTruncated)
	}
	r.SetReqBody([]byte("0123"), 4)
	if string(r.ReqBody) != "0123" || r.ReqTruncated {
		t.Errorf("SetReqBody(4 bytes, 4) = %q truncated=%v, want \"0123\" false", r.ReqBody, r.ReqTruncated)
	}
	r.SetRespBody([]byte("abc"), 0)
	if len(r.RespBody) != 0 || !r.RespTruncated {
		t.Errorf("SetRespBody(3 bytes, 0) = %q truncated=%v, want empty, true", r.RespBody, r.RespTruncated)
	}
	r.SetRespBody(nil, 0)
	if r.RespTruncated {
		t.Error("an empty body is never truncated")
	}
}

func TestResetKeepsCapacity(t *testing.T) {
	r := fullRecord(1)
	body := cap(r.ReqBody)
	r.Reset()
	if !reflect.DeepEqual(*r, Record{
		Tenant: r.Tenant, Method: r.Method, URI: r.URI, ReqHeaders: r.ReqHeaders,
		RespHeaders: r.RespHeaders, ReqBody: r.ReqBody, RespBody: r.RespBody,
	}) || len(r.ReqBody) != 0 || len(r.Tenant) != 0 {
		t.Fatalf("Reset left %+v", r)
	}
	if cap(r.ReqBody) != body {
		t.Errorf("Reset dropped the body buffer: cap %d, want %d", cap(r.ReqBody), body)
	}
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset()
		r.SetMethod([]byte("GET"))
		r.SetReqBody([]byte("{}"), 10)
		r.SetReqHeaders([]byte("A: b\r\n"))
	})
	if allocs != 0 {
		t.Errorf("capture into a reused record allocates %.0f times, want 0", allocs)
	}
}

func TestIDText(t *testing.T) {
	id := makeID(time.Unix(0, 1700000000123456789), 42)
	s := id.String()
	if len(s) != 32 || s != string(id.AppendHex(nil)) {
		t.Fatalf("String() = %q, AppendHex = %q", s, id.AppendHex(nil))
	}
	back, err := ParseID(s)
	if err != nil || back != id {
		t.Fatalf("ParseID(%q) = %v, %v; want %v", s, back, err, id)
	}
	if got := id.Time().UnixNano(); got != 1700000000123456789 {
		t.Errorf("Time() = %d", got)
	}
	for _, bad := range []string{"", "00", strings.Repeat("g", 32), strings.Repeat("0", 33)} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
	if a, b := makeID(time.Unix(0, 5), 9), makeID(time.Unix(0, 6), 1); bytes.Compare(a[:], b[:]) >= 0 {
		t.Error("a later start must sort after an earlier one whatever the sequence")
	}
}

func TestRecordJSON(t *testing.T) {
	r := fullRecord(3)
	r.ID = makeID(r.Start, 7)
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"id":             r.ID.String(),
		"chain_id":       r.Chain.String(),
		"span_id":        r.Span.String(),
		"parent_span_id": "0102030405060708",
		"route":          "orders",
		"tenant":         "1001",
		"side":           "old",
		"target":         "127.0.0.1:9001",
		"shadow":         true,
		"method":         "POST",
		"uri":            "/api/orders/7?expand=items",
		"start":          "2025-03-01T12:00:00.126456789Z",
		"latency_ms":     12.346,
		"error":          "bad_gateway",
	} {
		if !reflect.DeepEqual(m[key], want) {
			t.Errorf("%s = %#v, want %#v", key, m[key], want)
		}
	}
	req := m["request"].(map[string]any)
	wantHeaders := []any{
		[]any{"Host", "shop.example.com"},
		[]any{"Content-Type", "application/json"},
		[]any{"X-Org-Id", "1001"},
	}
	if !reflect.DeepEqual(req["headers"], wantHeaders) || req["body"] != `{"item":"sku-1","qty":2}` || req["truncated"] != true {
		t.Errorf("request = %#v", req)
	}
	resp := m["response"].(map[string]any)
	if resp["status"] != 502.0 || resp["body_base64"] != "//4AYmlu" || resp["body"] != nil {
		t.Errorf("response = %#v", resp)
	}

	var back Record
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	want := *r
	want.Latency = 12346 * time.Microsecond // the API's resolution
	want.ReqHeaders = []byte("Host: shop.example.com\r\nContent-Type: application/json\r\nX-Org-Id: 1001\r\n")
	if !reflect.DeepEqual(back, want) {
		t.Errorf("JSON round trip:\n got %+v\nwant %+v", back, want)
	}
}

func TestRecordJSONZeroParent(t *testing.T) {
	data, err := json.Marshal(&Record{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"parent_span_id":""`, `"headers":[]`, `"body":""`, `"start":""`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("%s lacks %s", data, want)
		}
	}
}

func TestHeaderPairs(t *testing.T) {
	got := HeaderPairs([]byte("A: 1\r\nB:2\nNoColon\r\nC:  spaced  \r\n\r\nAfter: end\r\n"))
	want := [][2]string{{"A", "1"}, {"B", "2"}, {"NoColon", ""}, {"C", "spaced"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("HeaderPairs = %q, want %q", got, want)
	}
	// A folded line continues the value above it; one with nothing above
	// is kept as a line.
	got = HeaderPairs([]byte(" lead\r\nA: 1\r\n  2\r\nE:\r\n\tx\r\n"))
	want = [][2]string{{"lead", ""}, {"A", "1 2"}, {"E", "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("HeaderPairs = %q, want %q", got, want)
	}
}

// fillEveryField sets every field of r to a value that is not zero and
// depends on seed, by reflection, so a field added to Record is filled
// without a change here. It fails on a kind of field it cannot fill.
func fillEveryField(t *testing.T, r *Record, seed byte) {
	t.Helper()
	v := reflect.ValueOf(r).Elem()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch {
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(time.Unix(1_700_000_000+int64(seed), int64(i)).UTC()))
		case f.Kind() == reflect.String:
			f.SetString(fmt.Sprintf("%s-%d", name, seed))
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.CanInt():
			f.SetInt(int64(i) + int64(seed)*1000 + 1)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Uint8:
			f.SetBytes([]byte(fmt.Sprintf("%s bytes %d", name, seed)))
		case f.Kind() == reflect.Array && f.Type().Elem().Kind() == reflect.Uint8:
			for j := range f.Len() {
				f.Index(j).SetUint(uint64(i+j) + uint64(seed))
			}
		default:
			t.Fatalf("fillEveryField cannot fill %s of type %s: teach it, and make sure CopyTo copies it deeply", name, f.Type())
		}
	}
}

func TestCopyToCopiesEveryField(t *testing.T) {
	var src, dst Record
	fillEveryField(t, &src, 1)
	fillEveryField(t, &dst, 2) // a used record, as from a pool
	src.CopyTo(&dst)
	if !reflect.DeepEqual(&dst, &src) {
		t.Fatalf("copy differs:\n got %+v\nwant %+v", dst, src)
	}
	// The byte slices are copies: writing to the source's memory leaves
	// the copy as it was.
	want := dst
	w, v := reflect.ValueOf(&want).Elem(), reflect.ValueOf(&src).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice {
			w.Field(i).SetBytes(bytes.Clone(w.Field(i).Bytes()))
			for j := range f.Len() {
				f.Index(j).SetUint(0)
			}
		}
	}
	if !reflect.DeepEqual(&dst, &want) {
		t.Fatalf("the copy shares memory with its source:\n got %+v\nwant %+v", dst, want)
	}
}

func TestCopyToReusesBuffers(t *testing.T) {
	src, dst := fullRecord(1), fullRecord(2)
	src.CopyTo(src) // copying onto itself changes nothing
	if !reflect.DeepEqual(src, fullRecord(1)) {
		t.Fatal("CopyTo onto itself changed the record")
	}
	if allocs := testing.AllocsPerRun(50, func() { src.CopyTo(dst) }); allocs != 0 {
		t.Fatalf("%v allocations copying into a record with room", allocs)
	}
	// An empty source leaves the copy's slices empty, not the old bytes.
	(&Record{}).CopyTo(dst)
	if len(dst.ReqBody) != 0 || len(dst.Tenant) != 0 || dst.Status != 0 || !dst.Start.IsZero() {
		t.Fatalf("copy of an empty record: %+v", dst)
	}
}
