package chaintree

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/store"
)

var treeEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// call makes a record of span s under parent p, started at ms
// milliseconds.
func call(s, p byte, ms float64, status int, errName string) *store.Record {
	r := &store.Record{
		Chain:   chain.TraceID{1},
		Span:    chain.SpanID{7: s},
		Route:   "orders",
		Side:    "old",
		Target:  "127.0.0.1:9001",
		Status:  status,
		Error:   errName,
		Start:   treeEpoch.Add(time.Duration(ms * float64(time.Millisecond))),
		Latency: 2 * time.Millisecond,
	}
	if p != 0 {
		r.Parent = chain.SpanID{7: p}
	}
	r.SetMethod([]byte("GET"))
	r.SetURI([]byte("/s" + string('0'+s)))
	return r
}

// shape renders a tree as nested span numbers, for comparisons.
func shape(nodes []*Node) string {
	var b strings.Builder
	for i, n := range nodes {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('0' + n.Record.Span[7])
		if len(n.Children) > 0 {
			b.WriteString("(" + shape(n.Children) + ")")
		}
	}
	return b.String()
}

func TestBuild(t *testing.T) {
	for _, tc := range []struct {
		name string
		recs []*store.Record
		want string
	}{
		{"empty", nil, ""},
		{"one chain, input out of order",
			[]*store.Record{call(4, 2, 3, 200, ""), call(2, 1, 1, 200, ""), call(1, 0, 0, 200, ""), call(3, 1, 2, 200, ""), call(5, 2, 2.5, 200, "")},
			"1(2(5 4) 3)"},
		{"caller not recorded", []*store.Record{call(2, 9, 1, 200, ""), call(3, 2, 2, 200, "")}, "2(3)"},
		{"two roots by start", []*store.Record{call(2, 0, 5, 200, ""), call(1, 0, 1, 200, "")}, "1 2"},
		{"own parent", []*store.Record{call(1, 1, 0, 200, "")}, "1"},
		{"cycle cut at its earliest call",
			[]*store.Record{call(2, 3, 2, 200, ""), call(3, 2, 1, 200, ""), call(4, 0, 0, 200, "")},
			"4 3(2)"},
		{"a span recorded twice: children go to the first",
			[]*store.Record{call(1, 0, 0, 200, ""), call(2, 1, 1, 200, ""), call(2, 1, 1.5, 200, ""), call(3, 2, 2, 200, "")},
			"1(2(3) 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := shape(Build(tc.recs)); got != tc.want {
				t.Errorf("Build = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBuildKeepsEveryCall(t *testing.T) {
	// A dense mix of parents, cycles and strangers: no call may vanish.
	var recs []*store.Record
	for i := range 60 {
		recs = append(recs, call(byte(i%20+1), byte((i*7)%23), float64(i%13), 200, ""))
	}
	n := 0
	walk(Build(recs), func(*Node) { n++ })
	if n != len(recs) {
		t.Errorf("the tree holds %d calls, want %d", n, len(recs))
	}
}

func TestTreeJSON(t *testing.T) {
	recs := []*store.Record{call(1, 0, 0, 200, ""), call(2, 1, 1, 502, "bad_gateway"), call(3, 1, 4, 0, "timeout")}
	recs[2].Shadow = true
	recs[2].SetTenant([]byte("1001"))
	tree := Tree{ID: chain.TraceID{1}, Roots: Build(recs)}
	data, err := json.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		ChainID    string           `json:"chain_id"`
		Calls      int              `json:"calls"`
		Errors     int              `json:"errors"`
		DurationMS float64          `json:"duration_ms"`
		Roots      []map[string]any `json:"roots"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.ChainID != "01000000000000000000000000000000" || m.Calls != 3 || m.Errors != 2 || m.DurationMS != 6 {
		t.Errorf("summary = %+v", m)
	}
	root := m.Roots[0]
	for _, key := range []string{"id", "span_id", "parent_span_id", "route", "tenant", "side", "target", "shadow",
		"method", "uri", "status", "error", "start", "latency_ms", "offset_ms", "children"} {
		if _, ok := root[key]; !ok {
			t.Errorf("a call lacks %q: %v", key, root)
		}
	}
	last := root["children"].([]any)[1].(map[string]any)
	if last["offset_ms"] != 4.0 || last["error"] != "timeout" || last["shadow"] != true || last["parent_span_id"] != "0000000000000001" {
		t.Errorf("last call = %v", last)
	}

	var back Tree
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != tree.ID || shape(back.Roots) != shape(tree.Roots) {
		t.Fatalf("round trip: %v %q, want %v %q", back.ID, shape(back.Roots), tree.ID, shape(tree.Roots))
	}
	var a, b bytes.Buffer
	if err := Print(&a, tree.Roots, false); err != nil {
		t.Fatal(err)
	}
	if err := Print(&b, back.Roots, false); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("a client printing the API's JSON sees\n%s\ninstead of\n%s", b.String(), a.String())
	}
	if !reflect.DeepEqual(back.Roots[0].Record.Start, recs[0].Start) {
		t.Errorf("start = %v, want %v", back.Roots[0].Record.Start, recs[0].Start)
	}
}

func TestPrintMarksFailures(t *testing.T) {
	recs := []*store.Record{call(1, 0, 0, 200, ""), call(2, 1, 1, 503, ""), call(3, 2, 2, 0, "refused"), call(4, 1, 3, 0, "")}
	var plain, color bytes.Buffer
	if err := Print(&plain, Build(recs), false); err != nil {
		t.Fatal(err)
	}
	if err := Print(&color, Build(recs), true); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"GET /s1 → 200  orders (old 127.0.0.1:9001) 2.0ms  +0.0ms\n" +
		"├─ ✗ GET /s2 → 503  orders (old 127.0.0.1:9001) 2.0ms  +1.0ms\n" +
		"│  └─ ✗ GET /s3 → refused  orders (old 127.0.0.1:9001) 2.0ms  +2.0ms\n" +
		"└─ GET /s4 → no response  orders (old 127.0.0.1:9001) 2.0ms  +3.0ms\n"
	if plain.String() != want {
		t.Errorf("Print:\n%s\nwant:\n%s", plain.String(), want)
	}
	if strings.Contains(plain.String(), "\x1b") {
		t.Error("color escapes without color")
	}
	if n := strings.Count(color.String(), ansiRed); n != 2 {
		t.Errorf("%d red lines, want 2:\n%q", n, color.String())
	}
	if !strings.Contains(color.String(), "├─ "+ansiRed+"✗ GET /s2") {
		t.Errorf("the connector should stay uncolored:\n%q", color.String())
	}
}
