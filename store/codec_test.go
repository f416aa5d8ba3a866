package store

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCodecRoundTrip(t *testing.T) {
	r := fullRecord(1)
	assertAllSet(t, r)
	r.ID = makeID(r.Start, 99)
	enc := appendRecord(nil, r)
	if len(enc) != encodedLen(r) {
		t.Fatalf("encodedLen = %d, encoding is %d bytes", encodedLen(r), len(enc))
	}
	got, err := decodeRecord(r.ID[:], enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
	}
	// Appending to one decoded field must not overwrite the next.
	got.Tenant = append(got.Tenant, "XXXX"...)
	if string(got.Method) != "POST" {
		t.Errorf("appending to Tenant overwrote Method: %q", got.Method)
	}
}

// TestCodecReadsVersion1 decodes a record stored before cohort and
// decision were kept: they read as empty, every other field as stored.
func TestCodecReadsVersion1(t *testing.T) {
	r := fullRecord(1)
	r.ID = makeID(r.Start, 7)
	enc := appendRecord(nil, r)
	// A version 1 encoding is the version 3 one without its last two strings.
	v1 := append([]byte{1}, enc[1:len(enc)-2-len(r.Cohort)-len(r.Decision)]...)
	got, err := decodeRecord(r.ID[:], v1)
	if err != nil {
		t.Fatal(err)
	}
	want := *r
	want.Cohort, want.Decision = "", ""
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("version 1:\n got %+v\nwant %+v", got, &want)
	}
}

func TestCodecZeroRecord(t *testing.T) {
	r := &Record{}
	enc := appendRecord(nil, r)
	got, err := decodeRecord(make([]byte, 16), enc)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Start.IsZero() || got.Status != 0 || len(got.ReqBody) != 0 {
		t.Errorf("zero record decoded as %+v", got)
	}
}

func TestCodecRejectsCorrupt(t *testing.T) {
	enc := appendRecord(nil, fullRecord(1))
	for name, v := range map[string][]byte{
		"empty":         nil,
		"short":         enc[:fixedLen-1],
		"version":       append([]byte{99}, enc[1:]...),
		"cut string":    enc[:len(enc)-1],
		"huge length":   append(append([]byte(nil), enc[:fixedLen]...), 0xff, 0xff, 0xff, 0xff, 0x0f),
		"bad uvarint":   append(append([]byte(nil), enc[:fixedLen]...), bytes.Repeat([]byte{0xff}, 11)...),
		"missing field": enc[:fixedLen+1+len("orders")],
	} {
		if _, err := decodeRecord(make([]byte, 16), v); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if _, err := decodeRecord(make([]byte, 3), enc); err == nil {
		t.Error("a short key decoded")
	}
}

// FuzzDecode checks that no stored value, however damaged, panics the
// decoder, and that whatever decodes encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(appendRecord(nil, fullRecord(1)))
	f.Add(appendRecord(nil, &Record{}))
	f.Add([]byte{codecVersion})
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := decodeRecord(make([]byte, 16), v)
		if err != nil {
			return
		}
		// Trailing bytes are ignored, and uvarints have several
		// encodings, so compare by re-decoding.
		again, err := decodeRecord(make([]byte, 16), appendRecord(nil, r))
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("re-encoding changed the record:\n%+v\n%+v", again, r)
		}
	})
}

func TestStartBefore1970(t *testing.T) {
	id := makeID(time.Unix(-5, 0), 1)
	if id.Time().UnixNano() != 0 {
		t.Errorf("a start before 1970 files at %v, want the epoch", id.Time())
	}
}

func TestEntryRoundTrip(t *testing.T) {
	r := fullRecord(1)
	r.Route = strings.Repeat("r", 300) // entries hold names whole
	loc := location{seg: 1 << 40, off: 1<<40 + 3, n: 2276}
	var e entry
	if err := e.parse(appendEntry(nil, r, loc, nil)); err != nil {
		t.Fatal(err)
	}
	if e.loc != loc || e.framed || e.size() != loc.n || e.chain != r.Chain || e.status != r.Status || !e.failed ||
		string(e.route) != r.Route || string(e.tenant) != string(r.Tenant) || e.class() != 5 {
		t.Errorf("entry round trip: %+v", e)
	}
	in := inFrame{off: 70_000, n: 2276, share: 431}
	if err := e.parse(appendEntry(nil, r, loc, &in)); err != nil {
		t.Fatal(err)
	}
	if e.loc != loc || !e.framed || e.in != in || e.size() != in.share || e.chain != r.Chain ||
		string(e.route) != r.Route || string(e.tenant) != string(r.Tenant) {
		t.Errorf("framed entry round trip: %+v", e)
	}
	for name, v := range map[string][]byte{
		"empty":          nil,
		"record, inline": appendRecord(nil, r),
		"cut":            appendEntry(nil, r, loc, nil)[:entryFixed+3],
		"cut framed":     appendEntry(nil, r, loc, &in)[:entryFixed+6],
		"huge length":    appendEntry(nil, r, location{n: 1 << 40}, nil),
		"share too big":  appendEntry(nil, r, loc, &inFrame{n: 10, share: loc.n + 1}),
		"later version":  append([]byte{entryFramed + 1}, appendEntry(nil, r, loc, nil)[1:]...),
	} {
		if err := e.parse(v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzEntry checks that no entry, however damaged, panics the parser, and
// that whatever parses encodes back to the same entry.
func FuzzEntry(f *testing.F) {
	f.Add(appendEntry(nil, fullRecord(1), location{seg: 3, off: 4096, n: 2276}, nil))
	f.Add(appendEntry(nil, fullRecord(1), location{seg: 3, off: 4096, n: 20_000}, &inFrame{off: 4000, n: 2276, share: 400}))
	f.Add(appendEntry(nil, &Record{}, location{}, nil))
	f.Fuzz(func(t *testing.T, v []byte) {
		var e entry
		if e.parse(v) != nil {
			return
		}
		r := &Record{Route: string(e.route), Tenant: e.tenant, Status: e.status, Chain: e.chain}
		if e.failed {
			r.Error = "refused"
		}
		var in *inFrame
		if e.framed {
			in = &e.in
		}
		var again entry
		if err := again.parse(appendEntry(nil, r, e.loc, in)); err != nil {
			t.Fatalf("re-encoding does not parse: %v", err)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("re-encoding changed the entry:\n%+v\n%+v", again, e)
		}
	})
}
