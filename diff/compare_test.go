package diff

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// cmpBody compares two JSON (or other) bodies with status 200 and no
// headers and returns the differences as "kind path" lines.
func cmpBody(t *testing.T, rules *Compiled, old, new string) string {
	t.Helper()
	c := NewComparer()
	return goldenFormat(c.Compare(&Response{Status: 200, Body: []byte(old)}, &Response{Status: 200, Body: []byte(new)}, rules, nil))
}

func mustCompileRules(t testing.TB, r Rules) *Compiled {
	t.Helper()
	c, err := Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCompareTable covers cases that are easier to state inline than as
// golden files.
func TestCompareTable(t *testing.T) {
	wide := func(order []int, vals map[int]string) string {
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range order {
			if i > 0 {
				b.WriteByte(',')
			}
			v := "0"
			if s, ok := vals[k]; ok {
				v = s
			}
			fmt.Fprintf(&b, `"key%02d":%s`, k, v)
		}
		b.WriteByte('}')
		return b.String()
	}
	forward := make([]int, 40)
	backward := make([]int, 40)
	for i := range forward {
		forward[i], backward[i] = i, 39-i
	}
	keyedList := func(ids []int, qty map[int]int) string {
		var b strings.Builder
		b.WriteString(`{"items":[`)
		for i, id := range ids {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"sku":"s%03d","qty":%d}`, id, qty[id])
		}
		b.WriteString("]}")
		return b.String()
	}
	ids := make([]int, 50)
	for i := range ids {
		ids[i] = i
	}
	shuffled := append([]int(nil), ids...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	keyedRules := mustCompileRules(t, Rules{Unordered: []Unordered{{Path: "items", Key: "sku"}}})

	for _, tc := range []struct {
		name     string
		rules    *Compiled
		old, new string
		want     string
	}{
		{"duplicate keys matched in order", nil, `{"a":1,"a":2}`, `{"a":1,"a":3}`, "value a\n"},
		{"duplicate key missing", nil, `{"a":1,"a":2}`, `{"a":1}`, "missing a\n"},
		{"wide object reordered", nil, wide(forward, nil), wide(backward, nil), ""},
		{"wide object reordered with diffs", nil, wide(forward, map[int]string{3: "1"}), wide(backward[1:], map[int]string{7: `"x"`}), "value key03\ntype key07\nmissing key39\n"},
		{"wide keyed shuffled", keyedRules, keyedList(ids, nil), keyedList(shuffled, nil), ""},
		{"wide keyed shuffled with diffs", keyedRules, keyedList(ids, map[int]int{5: 1}), keyedList(shuffled[1:], nil), "missing items.#\nvalue items.#.qty\n"},
		{"keyed duplicate keys", keyedRules, `{"items":[{"sku":1,"v":"a"},{"sku":1,"v":"b"}]}`, `{"items":[{"sku":1,"v":"b"},{"sku":1,"v":"a"}]}`, "value items.#.v\n"},
		{"keyed non-object elements", keyedRules, `{"items":[1,[2],"x",null]}`, `{"items":[null,"x",[2],1]}`, ""},
		{"keyed unkeyed extra", keyedRules, `{"items":[1]}`, `{"items":[1,2]}`, "extra items.#\n"},
		{"root array of arrays unordered", mustCompileRules(t, Rules{Unordered: []Unordered{{Path: "#"}}}), `[[1,2],[3]]`, `[[2,1],[3]]`, ""},
		{"root array elements unordered, root ordered", mustCompileRules(t, Rules{Unordered: []Unordered{{Path: "#"}}}), `[[1,2],[3]]`, `[[3],[2,1]]`, "order\n"},
		{"unordered root elements", mustCompileRules(t, Rules{Unordered: []Unordered{{Path: "#"}}}), `[[1,2],[3]]`, `[[3],[1,2]]`, "order\n"},
		{"order inside unordered", mustCompileRules(t, Rules{Unordered: []Unordered{{Path: "xs"}}}), `{"xs":[[1,2],[3,4]]}`, `{"xs":[[2,1],[4,3]]}`, "order xs.#\n"},
		{"unordered pairs leftovers in order", mustCompileRules(t, Rules{Unordered: []Unordered{{Path: "xs"}}}), `{"xs":[[1,2],[3,4]]}`, `{"xs":[[4,3],[2,1]]}`, "value xs.#.#\n"},
		{"number vs string numeric both directions", mustCompileRules(t, Rules{NumericStrings: true}), `{"a":"1e2","b":100,"c":"-0"}`, `{"a":100,"b":"100.0","c":0}`, ""},
		{"numeric string not a number", mustCompileRules(t, Rules{NumericStrings: true}), `{"a":"01","b":"1.","c":"+1","d":"0x10","e":""}`, `{"a":1,"b":1,"c":1,"d":16,"e":0}`, "type a\ntype b\ntype c\ntype d\ntype e\n"},
		{"epsilon zero exact", nil, `{"a":0.1}`, `{"a":0.10000000000000001}`, ""},
		{"epsilon absolute near zero", mustCompileRules(t, Rules{FloatEpsilon: 0.5}), `{"a":0,"b":-0.4,"c":3}`, `{"a":0.5,"b":0.1,"c":10}`, "value c\n"},
		{"integers vs floats", nil, `{"a":10,"b":10,"c":1}`, `{"a":10.0,"b":1e1,"c":1.5}`, "value c\n"},
		{"time with offsets", mustCompileRules(t, Rules{TimeTolerance: time.Millisecond}), `{"t":"2024-01-01T00:00:00+01:00"}`, `{"t":"2023-12-31T23:00:00.001Z"}`, ""},
		{"time tolerance ignores non-times", mustCompileRules(t, Rules{TimeTolerance: time.Hour}), `{"t":"2024-01-01 00:00:00Z00000"}`, `{"t":"2024-01-01 00:00:01Z00000"}`, "value t\n"},
		{"time far apart", mustCompileRules(t, Rules{TimeTolerance: time.Hour}), `{"t":"0001-01-01T00:00:00Z"}`, `{"t":"9999-12-31T23:59:59Z"}`, "value t\n"},
		{"ignore under array at root", mustCompileRules(t, Rules{Ignore: []string{"#.id"}}), `[{"id":1,"v":1}]`, `[{"id":2,"v":2}]`, "value #.v\n"},
		{"ignore bare inside escaped", mustCompileRules(t, Rules{Ignore: []string{`a\.b`}}), `{"x":{"a.b":1,"a":{"b":1}}}`, `{"x":{"a.b":2,"a":{"b":2}}}`, "value x.a.b\n"},
		{"ignore does not match prefix of key", mustCompileRules(t, Rules{Ignore: []string{"item"}}), `{"items":1,"item":1}`, `{"items":2,"item":2}`, "value items\n"},
		{"ignore path through wrong kind", mustCompileRules(t, Rules{Ignore: []string{"a.#.b"}}), `{"a":{"b":1}}`, `{"a":{"b":2}}`, "value a.b\n"},
		{"ignored key missing on one side", mustCompileRules(t, Rules{Ignore: []string{"a.b"}}), `{"a":{"b":1}}`, `{"a":{}}`, ""},
		{"scalar roots", nil, `"x"`, `"y"`, "value\n"},
		{"root string vs number", nil, `"1"`, `1`, "type\n"},
		{"json with surrounding space", nil, " \n{\"a\":1}\t\n", `{"a":1}`, ""},
		{"two json values is not json", nil, `{"a":1} {"b":2}`, `{"a":1}`, "body\n"},
		{"empty vs whitespace", nil, "", " \r\n\t", ""},
		{"escaped key in path", nil, `{"a\\b":{"x.y":[{"#":1}]}}`, `{"a\\b":{"x.y":[{"#":2}]}}`, "value a\\\\b.x\\.y.#.\\#\n"},
		{"null inside arrays", mustCompileRules(t, Rules{NullEqualsMissing: true}), `[null]`, `[]`, "length\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cmpBody(t, tc.rules, tc.old, tc.new); got != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestCompareNilAndStatus(t *testing.T) {
	c := NewComparer()
	if got := c.Compare(nil, nil, nil, nil); len(got) != 0 {
		t.Fatalf("nil vs nil: %v", got)
	}
	got := c.Compare(nil, &Response{Status: 200, Body: []byte(`{}`)}, nil, nil)
	if s := goldenFormat(got); s != "status 0→200\n" {
		t.Fatalf("nil vs 200 {}: %q", s)
	}
}

func TestCompareHeadersRaw(t *testing.T) {
	rules := mustCompileRules(t, Rules{Headers: []string{"X-A", "x-b", "X-C"}})
	old := &Response{Headers: []byte("X-A: 1\r\nx-b:2\r\nX-C: a\r\nX-C: b")} // no final CRLF
	for _, tc := range []struct {
		headers string
		want    string
	}{
		{"X-A: 1\nX-B: 2\nX-C: a\nx-c: b\n", ""},                     // LF only
		{"X-A:  1 \r\nX-B: 2\r\nX-C: a, b\r\n", ""},                  // spaces, joined
		{"X-A: 1\r\nX-B: 2\r\nX-C: b\r\nX-C: a\r\n", "header X-C\n"}, // order counts
		{"X-A: 1\r\nX-C: a\r\nX-C: b\r\n", "header X-B\n"},
		{"X-A: 1\r\nX-B: 3\r\nX-C: a\r\nX-C: b\r\nbroken line\r\n", "header X-B\n"},
		{"", "header X-A\nheader X-B\nheader X-C\n"},
	} {
		c := NewComparer()
		got := goldenFormat(c.Compare(old, &Response{Headers: []byte(tc.headers)}, rules, nil))
		if got != tc.want {
			t.Errorf("headers %q: got %q, want %q", tc.headers, got, tc.want)
		}
	}
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func flateBytes(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestCompareDecoding(t *testing.T) {
	plain := []byte(`{"a":1,"b":[1,2,3]}`)
	other := []byte(`{"b":[1,2,3],"a":2}`)
	gz := []byte("Content-Encoding: gzip\r\n")
	xgz := []byte("content-encoding: X-GZIP\r\n")
	df := []byte("Content-Encoding: deflate\r\n")
	both := []byte("Content-Encoding: gzip\r\nContent-Encoding: br\r\n")
	// Two lines are one list (RFC 9110 section 5.3); the recorder reads
	// the same list, so a stored sample and its comparison agree.
	twoLines := []byte("Content-Encoding: gzip\r\ncontent-encoding: identity\r\n")
	stacked := []byte("Content-Encoding: deflate, gzip\r\n")
	br := []byte("Content-Encoding: br\r\n")
	corrupt := gzipBytes(plain)
	corrupt[len(corrupt)-5] ^= 0xff // the CRC-32 trailer
	bomb := gzipBytes(bytes.Repeat([]byte(" "), MaxDecoded+1))
	bombBody := append(append([]byte(`{"a":1}`), bytes.Repeat([]byte(" "), MaxDecoded-7)...), ' ')
	for _, tc := range []struct {
		name       string
		oh, nh     []byte
		ob, nb     []byte
		want       string
		decodedOld []byte // when set, what the old side decodes to
	}{
		{"gzip vs plain equal", gz, nil, gzipBytes(plain), plain, "", plain},
		{"x-gzip vs gzip differing", xgz, gz, gzipBytes(plain), gzipBytes(other), "value a\n", plain},
		{"zlib deflate", df, nil, zlibBytes(plain), plain, "", plain},
		{"raw deflate", df, nil, flateBytes(plain), plain, "", plain},
		{"identical compressed bytes", gz, gz, corrupt, corrupt, "", nil},
		{"corrupt gzip compares raw", gz, nil, corrupt, plain, "body\n", corrupt},
		{"corrupt deflate compares raw", df, nil, []byte("not deflate at all"), []byte("not deflate at all"), "", []byte("not deflate at all")},
		{"not gzip at all", gz, gz, []byte("plain text"), []byte("plain text!"), "body\n", []byte("plain text")},
		{"a list naming br is not decoded", both, nil, gzipBytes(plain), plain, "body\n", gzipBytes(plain)},
		{"two Content-Encoding lines are one list", twoLines, nil, gzipBytes(plain), plain, "", plain},
		{"two Content-Encoding lines, differing", twoLines, gz, gzipBytes(plain), gzipBytes(other), "value a\n", plain},
		{"codings undone last first", stacked, nil, gzipBytes(zlibBytes(plain)), plain, "", plain},
		{"unknown coding compares raw", br, nil, plain, plain, "", plain},
		{"over the cap compares raw", gz, nil, bomb, plain, "body\n", bomb},
		{"exactly the cap decodes", gz, nil, gzipBytes(bombBody[:MaxDecoded]), []byte(`{"a":1}`), "", bombBody[:MaxDecoded]},
		{"empty gzip body", gz, nil, nil, nil, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewComparer()
			old := &Response{Headers: tc.oh, Body: tc.ob}
			nw := &Response{Headers: tc.nh, Body: tc.nb}
			oldCopy := append([]byte(nil), tc.ob...)
			for range 2 { // cold and warm decoders
				if got := goldenFormat(c.Compare(old, nw, nil, nil)); got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			}
			if !bytes.Equal(old.Body, oldCopy) {
				t.Fatal("Compare modified the old body")
			}
			if tc.decodedOld != nil {
				got := c.decode(c.contentEncoding(tc.oh, 0), tc.ob, 0)
				if !bytes.Equal(got, tc.decodedOld) {
					t.Fatalf("decoded to %.40q…, want %.40q…", got, tc.decodedOld)
				}
			}
		})
	}
}

func TestCompareDepth(t *testing.T) {
	nest := func(depth int, leaf string) string {
		return strings.Repeat("[", depth) + leaf + strings.Repeat("]", depth)
	}
	// 1000 arrays deep is walked: the leaf differs at "#" × 1000.
	want := "value " + strings.TrimSuffix(strings.Repeat("#.", 1000), ".") + "\n"
	if got := cmpBody(t, nil, nest(1000, "1"), nest(1000, "2")); got != want {
		t.Fatalf("depth 1000: got %.60q…", got)
	}
	// 1001 deep differs as a body; a shallow difference is still found.
	if got := cmpBody(t, nil, `{"a":1,"deep":`+nest(1001, "1")+`}`, `{"a":2,"deep":`+nest(1001, "2")+`}`); got != "body\nvalue a\n" {
		t.Fatalf("depth 1001: got %q", got)
	}
	if got := cmpBody(t, nil, `{"a":1,"deep":`+nest(1001, "1")+`}`, `{"a":2,"deep":`+nest(1001, "1")+`}`); got != "value a\n" {
		t.Fatalf("depth 1001, same deep part: got %q", got)
	}
	// Beyond maxParseDepth the body is not parsed at all.
	deep := nest(maxParseDepth+1, "1")
	if got := cmpBody(t, nil, deep, nest(maxParseDepth+1, "2")); got != "body\n" {
		t.Fatalf("too deep to parse: got %q", got)
	}
	if got := cmpBody(t, nil, deep, deep); got != "" {
		t.Fatalf("too deep, identical: got %q", got)
	}
}

// TestCompareBudget: a pathological pair stops with a body difference
// instead of taking cubic time.
func TestCompareBudget(t *testing.T) {
	var o, n strings.Builder
	const depth = 900
	for range depth {
		o.WriteString(`[`)
		n.WriteString(`[`)
	}
	o.WriteString("1")
	n.WriteString("2")
	for range depth {
		o.WriteString(`,0]`)
		n.WriteString(`,0]`)
	}
	start := time.Now()
	got := cmpBody(t, nil, o.String(), n.String())
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	if got == "" {
		t.Fatal("no difference found")
	}
}

func TestCompareLargeUnordered(t *testing.T) {
	n := 2000
	perm := rand.New(rand.NewPCG(3, 4)).Perm(n)
	var o, nw strings.Builder
	o.WriteString(`{"items":[`)
	nw.WriteString(`{"items":[`)
	for i := range n {
		if i > 0 {
			o.WriteString(",")
			nw.WriteString(",")
		}
		fmt.Fprintf(&o, `{"id":%d,"v":"x"}`, i)
		fmt.Fprintf(&nw, `{"v":"y","id":%d}`, perm[i])
	}
	o.WriteString("]}")
	nw.WriteString("]}")
	rules := mustCompileRules(t, Rules{Unordered: []Unordered{{Path: "items"}}, Ignore: []string{"v"}})
	start := time.Now()
	if got := cmpBody(t, rules, o.String(), nw.String()); got != "" {
		t.Fatalf("got %q", got)
	}
	if got := cmpBody(t, mustCompileRules(t, Rules{Ignore: []string{"v"}}), o.String(), nw.String()); got != "order items\n" {
		t.Fatalf("ordered: got %q", got)
	}
	t.Logf("2×2000 shuffled elements: %v", time.Since(start))
}

// TestCompareResultOwnership: the result lives in dst's array, its paths
// survive later calls, and the inputs are not modified.
func TestCompareResultOwnership(t *testing.T) {
	c := NewComparer()
	old := &Response{Status: 200, Body: []byte(`{"a":{"b":1},"c":[1]}`)}
	nw := &Response{Status: 200, Body: []byte(`{"a":{"b":2},"c":[1,2]}`)}
	oldBody, newBody := string(old.Body), string(nw.Body)
	dst := make([]Difference, 0, 8)
	got := c.Compare(old, nw, nil, dst)
	if &got[0] != &dst[:1][0] {
		t.Fatal("the result does not use dst's backing array")
	}
	want := "value a.b\nlength c\n"
	if s := goldenFormat(got); s != want {
		t.Fatalf("got %q", s)
	}
	kept := append([]Difference(nil), got...)
	for range 3 {
		c.Compare(&Response{Body: []byte(`{"zz":{"yy":1}}`)}, &Response{Body: []byte(`{"zz":{"yy":2}}`)}, nil, nil)
	}
	if s := goldenFormat(kept); s != want {
		t.Fatalf("kept paths changed: %q", s)
	}
	if string(old.Body) != oldBody || string(nw.Body) != newBody {
		t.Fatal("inputs modified")
	}
	for _, r := range c.elems[:cap(c.elems)] {
		if r.Raw != "" {
			t.Fatal("the Comparer keeps a reference to a body")
		}
	}
	for _, e := range c.ents[:cap(c.ents)] {
		if e.val.Raw != "" || e.key != "" {
			t.Fatal("the Comparer keeps a reference to a body")
		}
	}
}

func TestCompareMaxDifferences(t *testing.T) {
	var o, n strings.Builder
	o.WriteString("{")
	n.WriteString("{")
	for i := range 400 {
		if i > 0 {
			o.WriteString(",")
			n.WriteString(",")
		}
		fmt.Fprintf(&o, `"k%03d":0`, i)
		fmt.Fprintf(&n, `"k%03d":"0"`, i)
	}
	o.WriteString("}")
	n.WriteString("}")
	c := NewComparer()
	rules := mustCompileRules(t, Rules{Headers: []string{"X-A"}})
	got := c.Compare(&Response{Status: 200, Body: []byte(o.String())}, &Response{Status: 200, Headers: []byte("X-A: 1\r\n"), Body: []byte(n.String())}, rules, nil)
	if len(got) != MaxDifferences {
		t.Fatalf("got %d differences", len(got))
	}
	// Sorted by path: "X-A", then the first 255 keys found.
	if got[0] != (Difference{"X-A", KindHeader}) || got[1] != (Difference{"k000", KindType}) {
		t.Fatalf("first %v, second %v", got[0], got[1])
	}
	if got[MaxDifferences-1] != (Difference{"k254", KindType}) {
		t.Fatalf("last %v", got[len(got)-1])
	}
}

func TestCompareAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	c := NewComparer()
	dst := make([]Difference, 0, MaxDifferences)
	identical := benchOrder(false)
	equivalent := benchOrderReordered()
	differing := benchOrder(true)
	rules := benchRules(t)
	for _, tc := range []struct {
		name     string
		old, new []byte
		max      float64
	}{
		{"identical", identical, identical, 0},
		{"equivalent", identical, equivalent, 0},
		{"differing", identical, differing, 0},
	} {
		o, n := &Response{Status: 200, Body: tc.old}, &Response{Status: 200, Body: tc.new}
		c.Compare(o, n, rules, dst) // warm the scratch memory and interned paths
		allocs := testing.AllocsPerRun(100, func() { dst = c.Compare(o, n, rules, dst) })
		if allocs > tc.max {
			t.Errorf("%s: %v allocations per Compare, want at most %v", tc.name, allocs, tc.max)
		}
	}
}

// TestCompareConcurrentRules: one Compiled shared by Comparers on several
// goroutines (run with -race).
func TestCompareConcurrentRules(t *testing.T) {
	rules := benchRules(t)
	old, differing := benchOrder(false), benchOrder(true)
	done := make(chan string, 4)
	for range 4 {
		go func() {
			c := NewComparer()
			var dst []Difference
			for range 50 {
				dst = c.Compare(&Response{Status: 200, Body: old}, &Response{Status: 200, Body: differing}, rules, dst)
			}
			done <- goldenFormat(dst)
		}()
	}
	for range 4 {
		if got := <-done; got != benchOrderDifferences {
			t.Fatalf("got:\n%s", got)
		}
	}
}
