package diff

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestCheckPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		err  string // substring of the error; "" = valid
	}{
		{"a", ""},
		{"meta.requestId", ""},
		{"items.#.updatedAt", ""},
		{"#", ""},
		{"#.#", ""},
		{"a.#.#.b", ""},
		{`a\.b`, ""},
		{`a\.b.c`, ""},
		{`\#`, ""},
		{`x\\y`, ""},
		{`q\*`, ""},
		{`w\?`, ""},
		{`\@type`, ""},
		{`a\|b`, ""},
		{"user@example", ""},
		{"a-b_c:d", ""},
		{"", "empty path"},
		{"items..x", "empty key"},
		{".a", "empty key"},
		{"a.", "empty key"},
		{"a.#.", "empty key"},
		{".", "empty key"},
		{`a\`, "lone backslash"},
		{"a.*", "wildcard"},
		{"a*", "wildcard"},
		{"it?ms", "wildcard"},
		{"a|b", `"|"`},
		{"@reverse", "modifier"},
		{"a.@this", "modifier"},
		{"a#", `"#" must be a whole segment`},
		{"#a", `"#" must be a whole segment`},
		{"items.#(name==x)", `"#" must be a whole segment`},
		{"a.##", `"#" must be a whole segment`},
	} {
		err := CheckPath(tc.path)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("CheckPath(%q) = %v, want nil", tc.path, err)
		case tc.err != "" && err == nil:
			t.Errorf("CheckPath(%q) = nil, want an error with %q", tc.path, tc.err)
		case tc.err != "" && !strings.Contains(err.Error(), tc.err):
			t.Errorf("CheckPath(%q) = %v, want it to contain %q", tc.path, err, tc.err)
		case err != nil && !strings.HasPrefix(err.Error(), "diff: path "):
			t.Errorf("CheckPath(%q) = %v, want the path named", tc.path, err)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules Rules
		err   string // the whole error; "" = valid
	}{
		{"zero", Rules{}, ""},
		{"full", Rules{
			Ignore:            []string{"meta.requestId", "items.#.updatedAt", "updatedAt", "updatedAt"},
			Unordered:         []Unordered{{Path: "items", Key: "sku"}, {Path: "tags"}, {Path: "a.b", Key: `x\.y`}},
			FloatEpsilon:      1e-6,
			Headers:           []string{"content-type", "Content-Type", "X-Version"},
			NullEqualsMissing: true,
			NumericStrings:    true,
			TimeTolerance:     time.Second,
		}, ""},
		{"empty ignore key", Rules{Ignore: []string{"items..x"}}, `diff: ignore path "items..x": empty key`},
		{"empty ignore path", Rules{Ignore: []string{""}}, `diff: ignore path "": empty path`},
		{"ignore wildcard", Rules{Ignore: []string{"items.*.x"}}, `diff: ignore path "items.*.x": wildcard "*" is not supported (escape it as "\*")`},
		{"ignore modifier", Rules{Ignore: []string{"@reverse"}}, `diff: ignore path "@reverse": modifier "@" is not supported (escape it as "\@")`},
		{"ignore pipe", Rules{Ignore: []string{"a|b"}}, `diff: ignore path "a|b": "|" is not supported (escape it as "\|")`},
		{"unordered query", Rules{Unordered: []Unordered{{Path: "items.#(a>1)"}}}, `diff: unordered path "items.#(a>1)": "#" must be a whole segment, meaning any array index (escape it as "\#" for a key)`},
		{"unordered empty", Rules{Unordered: []Unordered{{Path: ""}}}, `diff: unordered path "": empty path`},
		{"unordered twice", Rules{Unordered: []Unordered{{Path: "items"}, {Path: "items", Key: "id"}}}, `diff: unordered path "items": listed twice`},
		{"unordered twice escaped", Rules{Unordered: []Unordered{{Path: `a\.b`}, {Path: `a\.b`}}}, `diff: unordered path "a\\.b": listed twice`},
		{"unordered key path", Rules{Unordered: []Unordered{{Path: "items", Key: "a.b"}}}, `diff: unordered path "items": key "a.b" must be one field name (escape a '.' in it as "\.")`},
		{"unordered key hash", Rules{Unordered: []Unordered{{Path: "items", Key: "#"}}}, `diff: unordered path "items": key "#" must be one field name (escape a '.' in it as "\.")`},
		{"unordered key wildcard", Rules{Unordered: []Unordered{{Path: "items", Key: "i*"}}}, `diff: unordered path "items": key "i*": wildcard "*" is not supported (escape it as "\*")`},
		{"negative epsilon", Rules{FloatEpsilon: -1}, `diff: float_epsilon -1: must be a number >= 0`},
		{"NaN epsilon", Rules{FloatEpsilon: math.NaN()}, `diff: float_epsilon NaN: must be a number >= 0`},
		{"negative tolerance", Rules{TimeTolerance: -time.Second}, `diff: time_tolerance -1s: must not be negative`},
		{"empty header", Rules{Headers: []string{""}}, `diff: header "": not a valid header name`},
		{"header with space", Rules{Headers: []string{"Content Type"}}, `diff: header "Content Type": not a valid header name`},
		{"header with colon", Rules{Headers: []string{"X-A:"}}, `diff: header "X-A:": not a valid header name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Compile(tc.rules)
			if tc.err == "" {
				if err != nil || c == nil {
					t.Fatalf("Compile = %v, %v; want a result", c, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Compile = nil error, want %q", tc.err)
			}
			if err.Error() != tc.err {
				t.Fatalf("Compile error:\n got %s\nwant %s", err, tc.err)
			}
		})
	}
}

func TestCompileHeadersCanonical(t *testing.T) {
	c, err := Compile(Rules{Headers: []string{"content-type", "CONTENT-TYPE", "x-request-id"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.headers, ","); got != "Content-Type,X-Request-Id" {
		t.Fatalf("headers = %s", got)
	}
}

func TestCompileTrie(t *testing.T) {
	c, err := Compile(Rules{
		Ignore:    []string{`a\.b.c`, "#.x", "bare"},
		Unordered: []Unordered{{Path: "list", Key: `k\.1`}, {Path: "a.#.b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := c.root.keys["a.b"].keys["c"]; n == nil || !n.ignore {
		t.Error(`a\.b.c is not the ignored path a.b → c`)
	}
	if n := c.root.elem.keys["x"]; n == nil || !n.ignore {
		t.Error("#.x is not anchored at the root array")
	}
	if b := c.bare["bare"]; b == nil || !b.ignore {
		t.Error("bare is not a bare ignore")
	}
	if b := c.bare["list"]; b == nil || !b.unordered || b.key != "k.1" {
		t.Errorf("list: %+v", c.bare["list"])
	}
	if n := c.root.keys["a"].elem.keys["b"]; n == nil || !n.unordered || n.key != "" {
		t.Error("a.#.b is not an unordered anchored path")
	}
}
