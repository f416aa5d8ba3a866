package diff

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The -update flag rewrites the golden want files. It is defined in init,
// after every package-level variable, so that another test file of the
// package may define it too.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files from the code's output")
	}
}

func goldenUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestGolden runs every case under testdata/ that has old, new and want
// files (see testdata/README.md). Each case is also checked with the sides
// swapped (missing and extra trade places, nothing else changes) and each
// side against itself (no differences).
func TestGolden(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	c := NewComparer()
	n := 0
	for _, d := range dirs {
		dir := filepath.Join("testdata", d.Name())
		if !d.IsDir() || !goldenHas(dir, "old") || !goldenHas(dir, "new") {
			continue
		}
		n++
		t.Run(d.Name(), func(t *testing.T) {
			old := goldenReadResponse(t, filepath.Join(dir, "old"))
			nw := goldenReadResponse(t, filepath.Join(dir, "new"))
			rules := goldenReadRules(t, filepath.Join(dir, "rules"))
			got := c.Compare(&old, &nw, rules, nil)
			text := goldenFormat(got)
			wantFile := filepath.Join(dir, "want")
			if goldenUpdating() {
				if err := os.WriteFile(wantFile, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if text != string(want) {
				t.Fatalf("got:\n%s\nwant:\n%s", text, want)
			}
			// The values and examples found at each difference, where the
			// case lists them.
			if wantValues, err := os.ReadFile(filepath.Join(dir, "values")); err == nil {
				if got := goldenValues(got, c.Values()); got != string(wantValues) {
					t.Fatalf("values got:\n%s\nwant:\n%s", got, wantValues)
				}
			}
			// The same again with a warm Comparer and a reused dst.
			if again := goldenFormat(c.Compare(&old, &nw, rules, got)); again != text {
				t.Fatalf("second run got:\n%s\nfirst:\n%s", again, text)
			}
			// And with unordered arrays matched by hash bucket.
			saved := matchHashAbove
			matchHashAbove = 0
			hashed := goldenFormat(c.Compare(&old, &nw, rules, nil))
			matchHashAbove = saved
			if hashed != text {
				t.Fatalf("matched by hash got:\n%s\nwant:\n%s", hashed, text)
			}
			if len(got) < MaxDifferences {
				swapped := goldenFormat(goldenSwapKinds(c.Compare(&nw, &old, rules, nil)))
				if swapped != text {
					t.Fatalf("swapped sides got (missing/extra swapped back):\n%s\nwant:\n%s", swapped, text)
				}
			}
			for _, r := range []*Response{&old, &nw} {
				if self := c.Compare(r, r, rules, nil); len(self) != 0 {
					t.Fatalf("a side against itself: %v", self)
				}
			}
		})
	}
	if n < 36 {
		t.Fatalf("only %d golden cases", n)
	}
}

func goldenHas(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// goldenFormat writes differences as the want files hold them.
func goldenFormat(ds []Difference) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.Kind.String())
		if d.Path != "" {
			b.WriteByte(' ')
			b.WriteString(d.Path)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// goldenValues writes, per difference, "<kind> <path>: <raw old> | <raw
// new> | <example>", the example as FormatExample shows it.
func goldenValues(ds []Difference, vs []Values) string {
	var b strings.Builder
	for i, d := range ds {
		e := newExample(vs[i], "s", time.Time{})
		fmt.Fprintf(&b, "%s %s: %s | %s | %s\n", d.Kind, d.Path, vs[i].Old, vs[i].New, FormatExample(e))
	}
	return b.String()
}

// goldenSwapKinds trades missing and extra, in place, and re-sorts.
func goldenSwapKinds(ds []Difference) []Difference {
	for i := range ds {
		switch ds[i].Kind {
		case KindMissing:
			ds[i].Kind = KindExtra
		case KindExtra:
			ds[i].Kind = KindMissing
		case KindStatus:
			if o, n, ok := ParseStatusPath(ds[i].Path); ok {
				ds[i].Path = StatusPath(n, o)
			}
		}
	}
	sortByPathKind(ds)
	return ds
}

// goldenReadResponse reads an old or new file.
func goldenReadResponse(t *testing.T, file string) Response {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r, err := goldenParseResponse(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return r
}

// goldenParseResponse parses the old/new file format: a bare body, or
// "HTTP/1.1 <status>", header lines, a blank line and the body, whose
// text is compressed when a Content-Encoding header says so.
func goldenParseResponse(data []byte) (Response, error) {
	trimBody := func(b []byte) []byte { return bytes.TrimSuffix(b, []byte("\n")) }
	if !bytes.HasPrefix(data, []byte("HTTP/")) {
		return Response{Status: 200, Body: trimBody(data)}, nil
	}
	var head, body []byte
	crlf, lf := bytes.Index(data, []byte("\r\n\r\n")), bytes.Index(data, []byte("\n\n"))
	switch {
	case crlf >= 0 && (lf < 0 || crlf < lf):
		head, body = data[:crlf], data[crlf+4:]
	case lf >= 0:
		head, body = data[:lf], data[lf+2:]
	default:
		head = data
	}
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	fields := strings.Fields(lines[0])
	if len(fields) < 2 {
		return Response{}, fmt.Errorf("bad status line %q", lines[0])
	}
	status, err := strconv.Atoi(fields[1])
	if err != nil {
		return Response{}, fmt.Errorf("bad status line %q", lines[0])
	}
	r := Response{Status: status, Body: trimBody(body)}
	var block []byte
	encoding := ""
	for _, line := range lines[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return Response{}, fmt.Errorf("bad header line %q", line)
		}
		if strings.EqualFold(strings.TrimSpace(name), "Content-Encoding") {
			encoding = strings.ToLower(strings.TrimSpace(value))
		}
		block = append(block, line...)
		block = append(block, "\r\n"...)
	}
	r.Headers = block
	switch encoding {
	case "gzip", "x-gzip":
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(r.Body)
		w.Close()
		r.Body = buf.Bytes()
	case "deflate":
		var buf bytes.Buffer
		w := zlib.NewWriter(&buf)
		w.Write(r.Body)
		w.Close()
		r.Body = buf.Bytes()
	}
	return r, nil
}

// goldenRules is the route config's diff: section, as the rules files
// hold it.
type goldenRules struct {
	Ignore            []string          `yaml:"ignore"`
	Unordered         []goldenUnordered `yaml:"unordered"`
	FloatEpsilon      float64           `yaml:"float_epsilon"`
	Headers           []string          `yaml:"headers"`
	NullEqualsMissing bool              `yaml:"null_equals_missing"`
	NumericStrings    bool              `yaml:"numeric_strings"`
	TimeTolerance     string            `yaml:"time_tolerance"`
}

// goldenUnordered is a path, or {path, key}.
type goldenUnordered Unordered

func (u *goldenUnordered) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&u.Path)
	}
	var v struct {
		Path string `yaml:"path"`
		Key  string `yaml:"key"`
	}
	if err := n.Decode(&v); err != nil {
		return err
	}
	u.Path, u.Key = v.Path, v.Key
	return nil
}

// goldenReadRules reads and compiles a rules file; a missing or empty one
// is nil (strict).
func goldenReadRules(t *testing.T, file string) *Compiled {
	t.Helper()
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var gr goldenRules
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&gr); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	r := Rules{
		Ignore:            gr.Ignore,
		FloatEpsilon:      gr.FloatEpsilon,
		Headers:           gr.Headers,
		NullEqualsMissing: gr.NullEqualsMissing,
		NumericStrings:    gr.NumericStrings,
	}
	for _, u := range gr.Unordered {
		r.Unordered = append(r.Unordered, Unordered(u))
	}
	if gr.TimeTolerance != "" {
		if r.TimeTolerance, err = time.ParseDuration(gr.TimeTolerance); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	c, err := Compile(r)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}
