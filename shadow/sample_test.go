package shadow

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/store"
)

// TestSampleShowsWhatWasCompared: the comparison and the stored sample
// read a response's Content-Encoding the same way, here written on two
// lines (one list, RFC 9110 section 5.3), so both see the decoded body.
func TestSampleShowsWhatWasCompared(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write([]byte(`{"a":1,"b":2}`))
	_ = w.Close()
	oldCall := &store.Record{
		Status:      200,
		RespHeaders: []byte("Content-Type: application/json\r\n"),
		RespBody:    []byte(`{"a":1,"b":3}`),
	}
	newCall := &store.Record{
		Status:      200,
		RespHeaders: []byte("Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Encoding: identity\r\n"),
		RespBody:    gz.Bytes(),
	}
	old := diff.Response{Status: oldCall.Status, Headers: oldCall.RespHeaders, Body: oldCall.RespBody}
	nw := diff.Response{Status: newCall.Status, Headers: newCall.RespHeaders, Body: newCall.RespBody}
	diffs := diff.NewComparer().Compare(&old, &nw, nil, nil)
	if want := []diff.Difference{{Path: "b", Kind: diff.KindValue}}; len(diffs) != 1 || diffs[0] != want[0] {
		t.Fatalf("compared %v, want %v: the comparison did not decode the body", diffs, want)
	}

	m := NewMirror(Options{})
	defer func() {
		if err := m.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	r := m.Route("items", settings(nil, nil), 1, 1)
	id := store.NewSampleID(time.Now())
	m.keepSample(r, id, oldCall, newCall, "old", diffs)
	data, err := m.Sample(id)
	if err != nil {
		t.Fatal(err)
	}
	var s Sample
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if string(s.New.RespBody) != `{"a":1,"b":2}` {
		t.Errorf("the sample stores %q, not the body that was compared", s.New.RespBody)
	}
	if len(s.Differences) != 1 || s.Differences[0] != diffs[0] {
		t.Errorf("the sample's differences %v, want %v", s.Differences, diffs)
	}
	// The calls handed in are copied, not changed.
	if !bytes.Equal(newCall.RespBody, gz.Bytes()) {
		t.Error("keepSample changed the call it was given")
	}
}
