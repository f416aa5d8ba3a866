package recorder

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/cutover/cutover/store"
)

// FuzzRedact checks the scanner against gjson as an independent oracle:
// on any valid JSON text the output is valid JSON, every value at a rule
// path reads back "[redacted]", and with no match the text is unchanged.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		`{"password":"p","card":{"number":1},"items":[{"secret":2}]}`,
		`[{"password":[1,{"password":2}]}]`,
		`{"a":"\u00e9\"","b":[1e5,-0.5,true,false,null]}`,
		`"just a string"`, `{}`, `[]`, `{"card":[{"number":1}]}`,
	} {
		f.Add([]byte(s))
	}
	rd, _ := newRedactor(Rules{JSON: []string{"password", "card.number", "items.#.secret"}}, nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return // FuzzRedactNeverStoresSecrets covers every other body
		}
		r := &store.Record{}
		r.SetReqHeaders([]byte(jsonCT))
		r.SetReqBody(in, len(in))
		rd.record(r)
		out := r.ReqBody
		if bytes.HasPrefix(out, []byte(Withheld)) {
			if bytes.Count(in, []byte("["))+bytes.Count(in, []byte("{")) <= maxDepth {
				t.Fatalf("valid JSON was withheld: %q", in)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output is not JSON: %q → %q", in, out)
		}
		for _, p := range []string{"card.number", "items.#.secret"} {
			res := gjson.GetBytes(out, p)
			res.ForEach(func(_, v gjson.Result) bool {
				if v.String() != RedactedValue {
					t.Fatalf("%s not redacted in %q: %s", p, out, v.Raw)
				}
				return true
			})
			if res.Exists() && !res.IsArray() && res.String() != RedactedValue {
				t.Fatalf("%s not redacted in %q: %s", p, out, res.Raw)
			}
		}
		lower := bytes.ToLower(in)
		for _, word := range []string{"password", "card", "secret", `\u`, "\xc5"} {
			if bytes.Contains(lower, []byte(word)) {
				return
			}
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("nothing to redact, but %q became %q", in, out)
		}
	})
}

// FuzzRedactTruncated checks the truncation rule: a valid JSON text cut
// anywhere redacts to a prefix of the whole text's redaction, so a cut
// body never shows more than the complete one would.
func FuzzRedactTruncated(f *testing.F) {
	f.Add([]byte(`{"a":{"password":"secret"},"items":[{"secret":"s"},{"password":[1,2]}]}`), uint16(20))
	f.Add([]byte(`[{"card":{"number":"4111 1111"}}, "x", 1.5e-3, true]`), uint16(30))
	f.Add([]byte(`{"pass\u0077ord":"p"}`), uint16(9))
	f.Add([]byte("{\"Password\":\"p\"}\n{\"password\":\"q\"}"), uint16(25))
	rd, _ := newRedactor(Rules{JSON: []string{"password", "card.number", "items.#.secret"}}, nil)
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		if !json.Valid(in) || int(cut) >= len(in) {
			return
		}
		whole := &store.Record{}
		whole.SetReqHeaders([]byte(jsonCT))
		whole.SetReqBody(in, len(in))
		rd.record(whole)
		if bytes.HasPrefix(whole.ReqBody, []byte(Withheld)) {
			return
		}
		part := &store.Record{}
		part.SetReqHeaders([]byte(jsonCT))
		part.SetReqBody(in, int(cut))
		rd.record(part)
		if !bytes.HasPrefix(whole.ReqBody, part.ReqBody) {
			t.Fatalf("cut at %d:\n part %q\nwhole %q", cut, part.ReqBody, whole.ReqBody)
		}
	})
}

// FuzzRedactNeverStoresSecrets is the fail-closed promise over any body,
// mutated and malformed ones included: what is stored is the Withheld
// notice, or a body in which an independent reader (encoding/json, after
// the leniencies the scanner allows are undone) finds no value at a
// redacted key, in any letter case, that is not "[redacted]". A cut body
// is read as far as it goes.
func FuzzRedactNeverStoresSecrets(f *testing.F) {
	for _, s := range []string{
		`{"password":"hunter2","card":{"number":"4111111111111111"}}`,
		"\xef\xbb\xbf{\"password\":\"hunter2\"}",
		"{\"password\":\"hunter2\"}{\"password\":\"hunter2\"}",
		"{\"password\":\"hunter2\"}\n{\"card\":{\"number\":\"4111\"}}\n",
		`{"password":"hunter2",}`,
		")]}',\n{\"password\":\"hunter2\"}",
		`{"Password":"hunter2","CARD":{"NUMBER":"4111"}}`,
		`[{"user":{"pass\u0077ord":["hunter2"]}},{"card":{"number":{"n":4111}}}]`,
		`{"password":"hunter2"} trailing`,
		`{password:"hunter2"}`,
		"\x1e{\"password\":\"hunter2\"}",
	} {
		f.Add([]byte(s), uint16(0), true)
	}
	rd, _ := newRedactor(Rules{JSON: []string{"password", "card.number"}}, nil)
	f.Fuzz(func(t *testing.T, in []byte, cut uint16, declared bool) {
		r := &store.Record{}
		if declared {
			r.SetReqHeaders([]byte(jsonCT))
		}
		limit := len(in)
		if int(cut) > 0 && int(cut) < len(in) {
			limit = int(cut)
		}
		r.SetReqBody(in, limit)
		rd.record(r)
		out := r.ReqBody
		if bytes.HasPrefix(out, []byte(Withheld)) {
			return
		}
		if !declared && !looksJSON(in[:limit]) {
			return // not JSON: stored as it came, as documented
		}
		if err := checkRedacted(out, r.ReqTruncated); err != nil {
			t.Fatalf("%v\n in  %q\n out %q", err, in[:limit], out)
		}
	})
}

// checkRedacted reads body as the scanner's lenient JSON with
// encoding/json and reports a value at password or card.number (any
// case) that is not "[redacted]". A truncated body may end anywhere.
func checkRedacted(body []byte, truncated bool) error {
	body = body[skipPrefix(body):]
	dec := json.NewDecoder(bytes.NewReader(undoLeniency(body)))
	dec.UseNumber()
	var path []string // keys; "" for an array element
	type frame struct{ object, wantKey bool }
	var stack []frame
	secretAt := func() bool {
		n := len(path)
		if n == 0 || path[n-1] == "" {
			return false
		}
		return strings.EqualFold(path[n-1], "password") ||
			n == 2 && strings.EqualFold(path[0], "card") && strings.EqualFold(path[1], "number")
	}
	// valueStart handles the start of a value in the current position.
	valueStart := func(tok json.Token) error {
		if secretAt() {
			if s, ok := tok.(string); !ok || s != RedactedValue {
				return errors.New("a secret value is stored: " + strings.Join(path, "."))
			}
		}
		return nil
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if truncated {
				return nil
			}
			return errors.New("the stored body does not read as JSON: " + err.Error())
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].object && stack[top].wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack, path = stack[:top], path[:len(path)-1]
				if top > 0 {
					stack[top-1].wantKey = stack[top-1].object
				}
				continue
			}
			path[len(path)-1] = tok.(string)
			stack[top].wantKey = false
			continue
		}
		if d, ok := tok.(json.Delim); ok && (d == ']' || d == '}') {
			stack, path = stack[:top], path[:len(path)-1]
			if top > 0 {
				stack[top-1].wantKey = stack[top-1].object
			}
			continue
		}
		if err := valueStart(tok); err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, frame{object: d == '{', wantKey: d == '{'})
			path = append(path, "")
			continue
		}
		if top >= 0 {
			stack[top].wantKey = stack[top].object
		}
	}
}

// undoLeniency turns what the scanner accepts beyond RFC 8259 into what
// encoding/json reads: record separators become spaces and commas before
// a closing bracket or brace are dropped. It knows strings, nothing else.
func undoLeniency(b []byte) []byte {
	out := make([]byte, 0, len(b))
	inString, escaped := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == 0x1e:
			c = ' '
		case c == ',':
			j := i + 1
			for j < len(b) && strings.IndexByte(" \t\r\n\x1e", b[j]) >= 0 {
				j++
			}
			if j < len(b) && (b[j] == ']' || b[j] == '}') {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}
