package diff

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fuzzRules are the rule sets FuzzCompare picks from. The first ones make
// "does not differ" an equivalence relation, under which swapping the
// sides must only trade missing and extra; the lenient ones (epsilon,
// numeric strings, time tolerance) are not transitive, and the greedy
// matching of unordered arrays may then pair elements differently in the
// two directions.
var fuzzRules = []struct {
	rules     Rules
	symmetric bool
}{
	{Rules{}, true},
	{Rules{
		Ignore:            []string{"updatedAt", "meta.requestId", "items.#.ts", "#.id"},
		Unordered:         []Unordered{{Path: "tags"}, {Path: "a.#"}, {Path: "#"}},
		NullEqualsMissing: true,
	}, true},
	{Rules{
		Unordered: []Unordered{{Path: "items", Key: "sku"}, {Path: "a", Key: "id"}, {Path: "b"}, {Path: "#.b"}},
		Ignore:    []string{"x"},
	}, true},
	{Rules{
		FloatEpsilon:   1e-3,
		NumericStrings: true,
		TimeTolerance:  time.Second,
		Unordered:      []Unordered{{Path: "a"}, {Path: "items", Key: "sku"}},
		Headers:        []string{"Content-Type"},
	}, false},
}

func FuzzCompare(f *testing.F) {
	seeds := [][2]string{
		{benchOrderJSON, benchOrderDifferingJSON},
		{benchOrderJSON, benchOrderReorderedJSON},
		{`{"a":[{"id":1,"v":[1,2]},{"id":2}],"b":[3,1,2],"tags":["x","y"]}`, `{"b":[1,2,3],"a":[{"id":2},{"id":1,"v":[2,1]}],"tags":["y"]}`},
		{`{"items":[{"sku":"a","n":1},{"sku":"b"},7,null]}`, `{"items":[null,{"sku":"b","n":2},{"sku":"c"},8]}`},
		{`[1,2,[3,{"a":null}]]`, `[[3,{}],2,1]`},
		{`{"n":1.5,"s":"1.5","t":"2024-01-01T00:00:00Z"}`, `{"n":"1.5000","s":1.5,"t":"2024-01-01T00:00:00.5Z"}`},
		{`{"a.b":{"#":1},"x\\y":[]}`, `{"a.b":{"#":2},"x\\y":{}}`},
		{"", "not json"},
		{`{"a":1}`, `{"a":1,"a":2}`},
	}
	if dirs, err := os.ReadDir("testdata"); err == nil {
		for _, d := range dirs {
			o, err1 := os.ReadFile(filepath.Join("testdata", d.Name(), "old"))
			n, err2 := os.ReadFile(filepath.Join("testdata", d.Name(), "new"))
			if err1 == nil && err2 == nil && len(o)+len(n) < 8<<10 {
				seeds = append(seeds, [2]string{string(o), string(n)})
			}
		}
	}
	for i, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]), uint8(i))
	}
	compiled := make([]*Compiled, len(fuzzRules))
	for i, r := range fuzzRules {
		compiled[i] = mustCompileRules(f, r.rules)
	}
	c := NewComparer()
	f.Fuzz(func(t *testing.T, oldBody, newBody []byte, sel uint8) {
		pick := int(sel) % len(fuzzRules)
		rules := compiled[pick]
		old := &Response{Status: 200, Body: oldBody}
		nw := &Response{Status: 200, Body: newBody}
		if sel&0x80 != 0 { // the old side gzip-encoded
			old.Headers = []byte("Content-Encoding: gzip\r\nContent-Type: a\r\n")
			old.Body = gzipBytes(oldBody)
		}
		if sel&0x40 != 0 { // the new side deflate-encoded
			nw.Headers = []byte("Content-Encoding: deflate\r\n")
			nw.Body = zlibBytes(newBody)
		}
		oldCopy, newCopy := slices.Clone(old.Body), slices.Clone(nw.Body)

		got := slices.Clone(c.Compare(old, nw, rules, nil))
		if string(old.Body) != string(oldCopy) || string(nw.Body) != string(newCopy) {
			t.Fatal("Compare modified a body")
		}
		if len(got) > MaxDifferences {
			t.Fatalf("%d differences", len(got))
		}
		for i := 1; i < len(got); i++ {
			if cmpPathKind(got[i-1], got[i]) >= 0 {
				t.Fatalf("not sorted and unique: %v then %v", got[i-1], got[i])
			}
		}
		if again := c.Compare(old, nw, rules, nil); !slices.Equal(again, got) {
			t.Fatalf("second run differs:\n%v\n%v", again, got)
		}
		for _, r := range []*Response{old, nw} {
			if self := c.Compare(r, r, rules, nil); len(self) != 0 {
				t.Fatalf("a body against itself: %v", self)
			}
		}
		// Matching unordered arrays by hash bucket finds the same pairs as
		// comparing every pair.
		saved := matchHashAbove
		matchHashAbove = 0
		hashed := c.Compare(old, nw, rules, nil)
		matchHashAbove = saved
		if !slices.Equal(hashed, got) {
			t.Fatalf("matched by hash:\n%s\nmatched pairwise:\n%s", goldenFormat(hashed), goldenFormat(got))
		}
		if !fuzzRules[pick].symmetric || len(got) >= MaxDifferences {
			return
		}
		swapped := goldenSwapKinds(c.Compare(nw, old, rules, nil))
		if len(swapped) >= MaxDifferences {
			return
		}
		if !slices.Equal(swapped, got) {
			t.Fatalf("old→new:\n%s\nnew→old, missing/extra swapped back:\n%s", goldenFormat(got), goldenFormat(swapped))
		}
	})
}

// FuzzCheckPath: CheckPath never panics, and a valid path written back
// with Compare's escapes parses to the same segments.
func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{"a", "a.b", "items.#.price", `a\.b`, `\#`, "#", "a..b", `a\`, "a*", "@x", "a|b", "#.#", `x\\y.z`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		segs, reason := parsePath(p)
		if (CheckPath(p) == nil) != (reason == "") {
			t.Fatal("CheckPath and parsePath disagree")
		}
		if reason != "" {
			return
		}
		canon := canonicalPath(segs)
		again, reason := parsePath(canon)
		if reason != "" {
			// Compare does not escape '|' and '@', which rules must.
			return
		}
		if !slices.Equal(again, segs) {
			t.Fatalf("%q → %q: %v vs %v", p, canon, segs, again)
		}
	})
}
