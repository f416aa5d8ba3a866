package recorder

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/cutover/cutover/store"
)

func testRedactor(t testing.TB, headers, paths []string) *redactor {
	t.Helper()
	rd, bad := newRedactor(Rules{Headers: headers, JSON: paths}, nil)
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
		{"key in another case", `{"Password":"p","CARD":{"Number":1}}`, `{"Password":"[redacted]","CARD":{"Number":"[redacted]"}}`},
		{"key folded beyond ASCII", "{\"pa\u017fsword\":\"p\"}", "{\"pa\u017fsword\":\"[redacted]\"}"},
		{"Kelvin sign", "[{\"to\u212aen\":\"t\"}]", "[{\"to\u212aen\":\"[redacted]\"}]"},
		{"byte-order mark", "\xef\xbb\xbf{\"password\":\"p\"}", "\xef\xbb\xbf{\"password\":\"[redacted]\"}"},
		{"newline-delimited", "{\"password\":\"p\"}\n{\"card\":{\"number\":1}}\n", "{\"password\":\"[redacted]\"}\n{\"card\":{\"number\":\"[redacted]\"}}\n"},
		{"concatenated", `{"a":1}{"password":"p"}[{"token":2}]`, `{"a":1}{"password":"[redacted]"}[{"token":"[redacted]"}]`},
		{"JSON text sequence", "\x1e{\"password\":\"p\"}\n\x1e{\"password\":\"q\"}\n", "\x1e{\"password\":\"[redacted]\"}\n\x1e{\"password\":\"[redacted]\"}\n"},
		{"trailing commas", `{"password":"p","list":["a","b",],}`, `{"password":"[redacted]","list":["a","[redacted]",],}`},
		{"anti-XSSI prefix", ")]}',\n{\"password\":\"p\"}", ")]}',\n{\"password\":\"[redacted]\"}"},
		{"anti-XSSI prefix without comma", ")]}'\n{\"password\":\"p\"}", ")]}'\n{\"password\":\"[redacted]\"}"},
		{"while(1) prefix", `while(1);{"password":"p"}`, `while(1);{"password":"[redacted]"}`},
		{"BOM and prefix", "\xef\xbb\xbf)]}',{\"password\":\"p\"}", "\xef\xbb\xbf)]}',{\"password\":\"[redacted]\"}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &store.Record{}
			r.SetReqHeaders([]byte(jsonCT))
			r.SetReqBody([]byte(tc.in), 1<<20)
			rd.record(r)
			if string(r.ReqBody) != tc.want {
				t.Errorf("got  %s\nwant %s", r.ReqBody, tc.want)
			}
			if err := checkRedacted(r.ReqBody, false); err != nil {
				t.Error(err)
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
		{"ndjson type", "Content-Type: application/x-ndjson\r\n", "\n" + body + "\n", "\n" + want + "\n"},
		{"malformed JSON is withheld", jsonCT, `{"password":"p",,}`, Withheld + " 18 bytes of application/json"},
		{"cut but not flagged truncated is malformed", jsonCT, `{"password":"p"`, Withheld + " 15 bytes of application/json"},
		{"JSON type that is not JSON", jsonCT, `password=p`, Withheld + " 10 bytes of application/json"},
		{"JSON shape that is not JSON", "", `{password: "p"}`, Withheld + " 15 bytes"},
		{"compressed JSON", jsonCT + "Content-Encoding: gzip\r\n", "\x1f\x8b\x08binary", Withheld + " 9 bytes of application/json"},
		{"compressed without a type", "Content-Encoding: br\r\n", "\x1f\x8b\x08binary", Withheld + " 9 bytes"},
		{"compressed other type", "Content-Type: image/png\r\nContent-Encoding: br\r\n", "\x1f\x8b\x08binary", "\x1f\x8b\x08binary"},
		{"identity encoding", jsonCT + "Content-Encoding: identity\r\n", body, want},
		{"too deep", jsonCT, strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), Withheld + " 2002 bytes of application/json"},
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
	if string(r.ReqBody) != Withheld+" 30 bytes of application/json" {
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

func TestRedactExactCase(t *testing.T) {
	rd, _ := newRedactor(Rules{JSON: []string{"password", "card.number"}, ExactCase: true}, nil)
	r := &store.Record{}
	r.SetReqHeaders([]byte(jsonCT))
	in := `{"password":"p","Password":"q","card":{"number":1,"Number":2}}`
	r.SetReqBody([]byte(in), 1<<20)
	rd.record(r)
	if want := `{"password":"[redacted]","Password":"q","card":{"number":"[redacted]","Number":2}}`; string(r.ReqBody) != want {
		t.Errorf("got  %s\nwant %s", r.ReqBody, want)
	}
}

// TestWithheldCounted: each withheld body counts once, on the recorder's
// counter as on a Redactor's.
func TestWithheldCounted(t *testing.T) {
	rd, _ := NewRedactor(Rules{JSON: []string{"password"}})
	r := &store.Record{}
	r.SetReqHeaders([]byte(jsonCT))
	r.SetReqBody([]byte(`{"password":"p",,}`), 1<<20)
	r.SetRespHeaders([]byte(jsonCT))
	r.SetRespBody([]byte(`{"password":"p"}`), 1<<20)
	rd.Record(r)
	if rd.Withheld() != 1 || !strings.HasPrefix(string(r.ReqBody), Withheld) || string(r.RespBody) != `{"password":"[redacted]"}` {
		t.Errorf("withheld %d, bodies %q %q", rd.Withheld(), r.ReqBody, r.RespBody)
	}
}
