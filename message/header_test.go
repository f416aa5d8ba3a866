package message

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// lines renders what Scan reads, one line of text per line of the block.
func lines(block string) string {
	var b strings.Builder
	s := Scan([]byte(block))
	for s.Next() {
		f := s.Field()
		switch {
		case f.Folded:
			fmt.Fprintf(&b, "folded %q", f.Value)
		case f.Name == nil:
			fmt.Fprintf(&b, "bad %q", f.Line)
		default:
			fmt.Fprintf(&b, "%q=%q", f.Name, f.Value)
		}
		fmt.Fprintf(&b, " [%d,%d)\n", f.Start, f.End)
	}
	return b.String()
}

func TestScan(t *testing.T) {
	for _, tc := range []struct {
		name, block, want string
	}{
		{"empty", "", ""},
		{"CRLF", "A: 1\r\nB: 2\r\n", "\"A\"=\"1\" [0,6)\n\"B\"=\"2\" [6,12)\n"},
		{"LF and no final end", "A: 1\nB:2", "\"A\"=\"1\" [0,5)\n\"B\"=\"2\" [5,8)\n"},
		{"spaces and tabs trimmed, inner kept", "X-A \t:\t a  b \t\r\n", "\"X-A\"=\"a  b\" [0,16)\n"},
		{"empty value", "A:\r\n", "\"A\"=\"\" [0,4)\n"},
		{"colon in the value", "Host: a:80\r\n", "\"Host\"=\"a:80\" [0,12)\n"},
		{"empty line ends the block", "A: 1\r\n\r\nB: 2\r\n", "\"A\"=\"1\" [0,6)\n"},
		{"LF-only empty line ends it too", "A: 1\n\nB: 2\n", "\"A\"=\"1\" [0,5)\n"},
		{"folded line", "A: 1\r\n  more\r\n\tand\r\nB: 2", "\"A\"=\"1\" [0,6)\nfolded \"more\" [6,14)\nfolded \"and\" [14,20)\n\"B\"=\"2\" [20,24)\n"},
		{"no colon", "junk\r\nA: 1\r\n", "bad \"junk\" [0,6)\n\"A\"=\"1\" [6,12)\n"},
		{"nothing before the colon", ": x\r\n \t: y\r\n", "bad \": x\" [0,5)\nfolded \": y\" [5,12)\n"},
		{"CR inside a line is kept", "A: 1\r2\r\n", "\"A\"=\"1\\r2\" [0,8)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := lines(tc.block); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestAppendValues(t *testing.T) {
	for _, tc := range []struct {
		name, block, field string
		want               string
		found              bool
	}{
		{"absent", "A: 1\r\n", "B", "", false},
		{"one line", "Content-Type: text/plain\r\n", "Content-Type", "text/plain", true},
		{"names ignore ASCII case", "content-TYPE: x\r\n", "Content-Type", "x", true},
		{"lines joined in order", "Vary: a\r\nX: y\r\nvary: b, c\r\n", "Vary", "a, b, c", true},
		{"empty value is present", "A:\r\n", "A", "", true},
		{"empty values still joined", "A: 1\r\nA:\r\n", "A", "1, ", true},
		{"folded continuation joins with a space", "A: 1\r\n  2\r\nB: x\r\n 3\r\nA: 4\r\n", "A", "1 2, 4", true},
		{"folded onto an empty value", "A:\r\n\t2\r\n", "A", "2", true},
		{"lines without a colon are skipped", "A\r\nA: 1\r\n", "A", "1", true},
		{"after the empty line is not headers", "A: 1\r\n\r\nA: 2\r\n", "A", "1", true},
		{"a name is not a prefix", "Content-Encoding-X: gzip\r\n", "Content-Encoding", "", false},
		{"not Unicode folding", "\u212aey: v\r\n", "Key", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, found := AppendValues([]byte("prefix:"), []byte(tc.block), tc.field)
			if string(got) != "prefix:"+tc.want || found != tc.found {
				t.Errorf("got %q, %v; want %q, %v", got, found, "prefix:"+tc.want, tc.found)
			}
		})
	}
}

func TestEqualFold(t *testing.T) {
	for _, tc := range []struct {
		b, s string
		want bool
	}{
		{"gzip", "GZIP", true},
		{"X-Gzip", "x-gzip", true},
		{"gzip", "gzi", false},
		{"@", "`", false}, // differ only in bit 0x20, but are not letters
		{"[", "{", false},
		{"", "", true},
	} {
		if got := EqualFold([]byte(tc.b), tc.s); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v", tc.b, tc.s, got)
		}
	}
}

// FuzzScan checks the scanner's invariants on any block: lines tile the
// block from its start without gaps, each Line sits at Start inside its
// span, a field line's name and value are trimmed parts of its line, and
// AppendValues finds every name the scanner reports.
func FuzzScan(f *testing.F) {
	for _, seed := range []string{
		"", "A: 1\r\nB: 2\r\n", "A: 1\n\nB", " folded\r\nA:\r\n\tx", "no colon\r\n:\r\n", "A: 1\r2\r\r\n",
		"Content-Encoding: gzip\r\nContent-Encoding: identity\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, block []byte) {
		s := Scan(block)
		pos := 0
		for s.Next() {
			f := s.Field()
			if f.Start != pos || f.End <= f.Start || f.End > len(block) {
				t.Fatalf("line [%d,%d) after %d in %q", f.Start, f.End, pos, block)
			}
			if !bytes.Equal(block[f.Start:f.Start+len(f.Line)], f.Line) || len(f.Line) == 0 {
				t.Fatalf("line %q not at %d", f.Line, f.Start)
			}
			if bytes.IndexByte(f.Line, '\n') >= 0 {
				t.Fatalf("line %q holds an LF", f.Line)
			}
			if !bytes.Contains(f.Line, f.Value) || !bytes.Equal(trimOWS(f.Value), f.Value) {
				t.Fatalf("value %q of line %q", f.Value, f.Line)
			}
			if f.Name != nil {
				if f.Folded || len(f.Name) == 0 || bytes.IndexByte(f.Name, ':') >= 0 || !bytes.Equal(trimOWS(f.Name), f.Name) {
					t.Fatalf("name %q of line %q", f.Name, f.Line)
				}
				if _, found := AppendValues(nil, block, string(f.Name)); !found {
					t.Fatalf("AppendValues does not find %q in %q", f.Name, block)
				}
			}
			pos = f.End
		}
		// The scan stops at the end or at an empty line.
		if rest := block[pos:]; len(rest) > 0 && !bytes.HasPrefix(rest, []byte("\n")) && !bytes.HasPrefix(rest, []byte("\r\n")) && !bytes.Equal(rest, []byte("\r")) {
			t.Fatalf("stopped at %d of %q", pos, block)
		}
	})
}

func BenchmarkAppendValues(b *testing.B) {
	block := []byte("Host: shop.example.com\r\nContent-Type: application/json\r\nAccept-Encoding: gzip, br\r\n" +
		"Vary: Accept-Encoding\r\nCache-Control: no-store\r\nContent-Encoding: gzip\r\nVary: Origin\r\n\r\n")
	var dst []byte
	b.SetBytes(int64(len(block)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = AppendValues(dst[:0], block, "Vary")
	}
	if string(dst) != "Accept-Encoding, Origin" {
		b.Fatalf("got %q", dst)
	}
}
