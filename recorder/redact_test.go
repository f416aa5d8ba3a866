package recorder

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/cutover/cutover/store"
)

func testRedactor(t testing.TB, headers, paths []string) *redactor {
	t.Helper()
	rd, bad := newRedactor(headers, paths, DefaultMaxBody)
	if len(bad) > 0 {
		t.Fatalf("paths refused: %q", bad)
	}
	return rd
}

func TestRedactHeaders(t *testing.T) {
	rd := testRedactor(t, DefaultRedactHeaders, nil)
	for _, tc := range []struct{ name, in, want string }{
		{"none", "Host: a\r\nAccept: */*\r\n\r\n", "Host: a\r\nAccept: */*\r\n\r\n"},
		{"case-insensitive", "authorization: Bearer xyz\r\nHost: a\r\n", "authorization: [redacted]\r\nHost: a\r\n"},
		{"repeated", "Set-Cookie: a=1\r\nX: y\r\nSET-COOKIE: b=2\r\n\r\n", "Set-Cookie: [redacted]\r\nX: y\r\nSET-COOKIE: [redacted]\r\n\r\n"},
		{"LF only and last line unterminated", "Cookie: s=1\nProxy-Authorization:Basic Zm9v", "Cookie: [redacted]\nProxy-Authorization: [redacted]"},
		{"empty value", "Authorization:\r\n", "Authorization: [redacted]\r\n"},
		{"folded continuation", "Authorization: Bearer\r\n  secret-part\r\nHost: a\r\n", "Authorization: [redacted]\r\nHost: a\r\n"},
		{"a name that only contains one", "X-Authorization-Hint: keep\r\n", "X-Authorization-Hint: keep\r\n"},
		{"value mentioning one", "X-Note: Cookie: not a header\r\n", "X-Note: Cookie: not a header\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rd.headerLines([]byte(tc.in)); string(got) != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	none := testRedactor(t, []string{}, nil)
	if got := none.headerLines([]byte("Authorization: x\r\n")); string(got) != "Authorization: x\r\n" {
		t.Errorf("an empty header list redacted %q", got)
	}
}

const jsonCT = "Content-Type: application/json; charset=utf-8\r\n"

func TestRedactJSON(t *testing.T) {
	rd := testRedactor(t, nil, []string{"password", "card.number", "items.#.secret", "list.1", "a\\.b.c", "#.token"})
	for _, tc := range []struct{ name, in, want string }{
		{"bare name at any depth",
			`{"password":"p1","user":{"password":"p2","deep":[{"password":3}]}}`,
			`{"password":"[redacted]","user":{"password":"[redacted]","deep":[{"password":"[redacted]"}]}}`},
		{"every value type",
			`{"password":{"x":[1,2]},"a":[{"password":[true,null]},{"password":-1.5e3},{"password":false},{"password":null}]}`,
			`{"password":"[redacted]","a":[{"password":"[redacted]"},{"password":"[redacted]"},{"password":"[redacted]"},{"password":"[redacted]"}]}`},
		{"nested path from the root only",
			`{"card":{"number":"4111","cvc":"1"},"other":{"card":{"number":"5500"}}}`,
			`{"card":{"number":"[redacted]","cvc":"1"},"other":{"card":{"number":"5500"}}}`},
		{"every array element",
			`{"items":[{"secret":"s1","id":1},{"id":2},{"secret":{"k":"v"}}],"secret":"kept"}`,
			`{"items":[{"secret":"[redacted]","id":1},{"id":2},{"secret":"[redacted]"}],"secret":"kept"}`},
		{"array index", `{"list":["a","b","c"]}`, `{"list":["a","[redacted]","c"]}`},
		{"numeric key", `{"list":{"1":"x","2":"y"}}`, `{"list":{"1":"[redacted]","2":"y"}}`},
		{"escaped dot in a key", `{"a.b":{"c":1},"a":{"b":{"c":2}}}`, `{"a.b":{"c":"[redacted]"},"a":{"b":{"c":2}}}`},
		{"root array", `[{"token":"t"},{"token":"u"}]`, `[{"token":"[redacted]"},{"token":"[redacted]"}]`},
		{"escaped key", `{"pass\u0077ord":"p"}`, `{"pass\u0077ord":"[redacted]"}`},
		{"whitespace kept", "{ \"password\" :\n \"p\" ,\t\"x\" : [ 1 , 2 ] }\n", "{ \"password\" :\n \"[redacted]\" ,\t\"x\" : [ 1 , 2 ] }\n"},
		{"strings that look like keys", `{"note":"\"password\":\"x\"","n":"password"}`, `{"note":"\"password\":\"x\"","n":"password"}`},
		{"nothing to redact", `{"user":"u","n":[1,2,3]}`, `{"user":"u","n":[1,2,3]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &store.Record{}
			r.SetReqHeaders([]byte(jsonCT))
			r.SetReqBody([]byte(tc.in), 1<<20)
			rd.record(r)
			if string(r.ReqBody) != tc.want {
				t.Errorf("got  %s\nwant %s", r.ReqBody, tc.want)
			}
			if !gjson.ValidBytes(r.ReqBody) {
				t.Error("redacted body is not valid JSON")
			}
		})
	}
}

func TestRedactDetectsJSON(t *testing.T) {
	rd := testRedactor(t, DefaultRedactHeaders, []string{"password"})
	const body = `{"password":"p"}`
	const want = `{"password":"[redacted]"}`
	for _, tc := range []struct{ name, headers, body, want string }{
		{"by content type", jsonCT, body, want},
		{"problem+json", "Content-Type: application/problem+json\r\n", body, want},
		{"by shape without content type", "", "\n  " + body, "\n  " + want},
		{"by shape with another content type", "Content-Type: text/plain\r\n", body, want},
		{"not JSON", "Content-Type: text/plain\r\n", `password=p`, `password=p`},
		{"malformed JSON left as it is", jsonCT, `{"password":"p",}`, `{"password":"p",}`},
		{"cut but not flagged truncated is malformed", jsonCT, `{"password":"p"`, `{"password":"p"`},
		{"compressed JSON", jsonCT + "Content-Encoding: gzip\r\n", "\x1f\x8b\x08binary", RedactedUnreadable},
		{"identity encoding", jsonCT + "Content-Encoding: identity\r\n", body, want},
		{"too deep", jsonCT, strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), RedactedUnreadable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &store.Record{}
			r.SetRespHeaders([]byte(tc.headers + "Set-Cookie: s=1\r\n"))
			r.SetRespBody([]byte(tc.body), 1<<20)
			rd.record(r)
			if string(r.RespBody) != tc.want {
				t.Errorf("got  %q\nwant %q", r.RespBody, tc.want)
			}
			if !bytes.Contains(r.RespHeaders, []byte("Set-Cookie: [redacted]")) {
				t.Errorf("headers not redacted: %q", r.RespHeaders)
			}
		})
	}
}

func TestRedactTruncatedJSON(t *testing.T) {
	rd := testRedactor(t, nil, []string{"password", "card.number"})
	full := `{"user":"u","card":{"number":"4111111111111111","exp":"12/30"},"items":[{"password":"p1"},{"password":"p2"}],"note":"done"}`
	for cut := 1; cut < len(full); cut++ {
		r := &store.Record{}
		r.SetReqHeaders([]byte(jsonCT))
		r.SetReqBody([]byte(full), cut)
		rd.record(r)
		got := string(r.ReqBody)
		for _, secret := range []string{"4111", "p1", "p2"} {
			// Any prefix of a secret, down to 2 bytes, would be a leak.
			for l := len(secret); l >= 2; l-- {
				if strings.Contains(got, `"`+secret[:l]) {
					t.Fatalf("cut at %d leaks %q: %s", cut, secret[:l], got)
				}
			}
		}
		if !strings.HasPrefix(full, strings.SplitN(got, `"[redacted]"`, 2)[0]) {
			t.Fatalf("cut at %d: the text before the first redaction is not the body's: %s", cut, got)
		}
	}
	r := &store.Record{}
	r.SetReqHeaders([]byte(jsonCT))
	body := `{"card":{"number":"4111","exp":"1"},"user":"someone"}`
	r.SetReqBody([]byte(body), 46)
	rd.record(r)
	if want := strings.Replace(body[:46], `"4111"`, `"[redacted]"`, 1); string(r.ReqBody) != want {
		t.Errorf("truncated body: got %s, want %s", r.ReqBody, want)
	}
	// Malformed before the cut: nothing can be trusted.
	r.SetReqBody([]byte(`{"a":1,,"password":"p1", "more": "xxxxxxxxxxxxxx"}`), 30)
	rd.record(r)
	if string(r.ReqBody) != RedactedTruncated {
		t.Errorf("malformed truncated body: got %s", r.ReqBody)
	}
}

func TestNoJSONRulesLeavesBodies(t *testing.T) {
	rd := testRedactor(t, nil, nil)
	r := &store.Record{}
	r.SetReqHeaders([]byte(jsonCT))
	r.SetReqBody([]byte(`{"password":"p"`), 5)
	rd.record(r)
	if string(r.ReqBody) != `{"pas` {
		t.Errorf("without JSON rules the body changed: %s", r.ReqBody)
	}
}

func TestCheckPath(t *testing.T) {
	for _, ok := range []string{"password", "card.number", "items.#.secret", "#.id", "list.0", `a\.b`} {
		if err := CheckPath(ok); err != nil {
			t.Errorf("CheckPath(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a..b", ".a", "a.", "#", "items.*.x", "na?e", "items.#(id>1)", "a|b", "@reverse"} {
		if err := CheckPath(bad); !errors.Is(err, ErrBadPath) {
			t.Errorf("CheckPath(%q) = %v, want ErrBadPath", bad, err)
		}
	}
}

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
	rd, _ := newRedactor(nil, []string{"password", "card.number", "items.#.secret"}, DefaultMaxBody)
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &store.Record{}
		r.SetReqHeaders([]byte(jsonCT))
		r.SetReqBody(in, len(in))
		rd.record(r)
		out := r.ReqBody
		if !json.Valid(in) {
			if !bytes.Equal(out, in) && string(out) != RedactedUnreadable {
				t.Fatalf("invalid JSON was changed: %q → %q", in, out)
			}
			return
		}
		if string(out) == RedactedUnreadable {
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
		if bytes.Contains(in, []byte("password")) || bytes.Contains(in, []byte("card")) || bytes.Contains(in, []byte("secret")) || bytes.Contains(in, []byte(`\u`)) {
			return
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
	rd, _ := newRedactor(nil, []string{"password", "card.number", "items.#.secret"}, DefaultMaxBody)
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		if !json.Valid(in) || int(cut) >= len(in) {
			return
		}
		whole := &store.Record{}
		whole.SetReqHeaders([]byte(jsonCT))
		whole.SetReqBody(in, len(in))
		rd.record(whole)
		if string(whole.ReqBody) == RedactedUnreadable {
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
