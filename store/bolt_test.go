package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// openTest opens a store in a fresh directory that OpenBolt must create.
func openTest(t testing.TB, opt BoltOptions) (*Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "nested", "cutover.db")
	b, err := OpenBolt(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, path
}

func mustAppend(t testing.TB, b *Bolt, recs ...*Record) {
	t.Helper()
	if err := b.Append(recs); err != nil {
		t.Fatal(err)
	}
}

func TestAppendGetRoundTrip(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	r := fullRecord(1)
	assertAllSet(t, r)
	mustAppend(t, b, r)
	if r.ID.IsZero() {
		t.Fatal("Append left the ID zero")
	}
	got, err := b.Get(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("Get:\n got %+v\nwant %+v", got, r)
	}
	if _, err := b.Get(ID{1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
}

func TestAppendAssignsIDs(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	t0 := time.Unix(1700000000, 0)
	same := []*Record{{Start: t0}, {Start: t0}, {Start: t0.Add(-time.Second)}}
	before := time.Now()
	noStart := &Record{}
	mustAppend(t, b, append(same, noStart)...)
	if same[0].ID == same[1].ID {
		t.Error("two records with one start got one ID")
	}
	if bytes.Compare(same[0].ID[:], same[1].ID[:]) >= 0 {
		t.Error("IDs with one start do not follow the append order")
	}
	if bytes.Compare(same[2].ID[:], same[0].ID[:]) >= 0 {
		t.Error("an earlier start does not sort first")
	}
	if !same[0].ID.Time().Equal(t0) {
		t.Errorf("ID time = %v, want the start %v", same[0].ID.Time(), t0)
	}
	if at := noStart.ID.Time(); at.Before(before) {
		t.Errorf("a record without a start is filed at %v, before the append at %v", at, before)
	}
	if !noStart.Start.IsZero() {
		t.Error("Append changed the record's Start")
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cutover.db")
	b, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want []*Record
	for i := range 50 {
		r := fullRecord(i)
		r.Route = []string{"orders", "users"}[i%2]
		want = append(want, r)
	}
	mustAppend(t, b, want[:20]...)
	mustAppend(t, b, want[20:]...)
	statsBefore, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Append([]*Record{fullRecord(0)}); err == nil {
		t.Error("Append after Close succeeded")
	}

	b, err = OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	statsAfter, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if statsAfter != statsBefore || statsAfter.Records != 50 {
		t.Errorf("stats after reopen = %+v, before = %+v", statsAfter, statsBefore)
	}
	for _, r := range want {
		got, err := b.Get(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("after reopen:\n got %+v\nwant %+v", got, r)
		}
	}
	page, err := b.Records(Query{Route: "users", Limit: 1000})
	if err != nil || len(page.Records) != 25 {
		t.Errorf("route index after reopen: %d records, %v; want 25", len(page.Records), err)
	}
	// The sequence survives too, so new IDs never collide with old ones.
	again := fullRecord(0)
	mustAppend(t, b, again)
	if again.ID == want[0].ID {
		t.Error("a record appended after reopen reused an ID")
	}
}

func TestOpenLockedFails(t *testing.T) {
	_, path := openTest(t, BoltOptions{})
	done := make(chan error, 1)
	go func() {
		b, err := OpenBolt(path, BoltOptions{})
		if err == nil {
			b.Close()
		}
		done <- err
	}()
	// OpenBolt gives up after OpenTimeout; the test's own deadline is the
	// bound on "does not hang".
	err := <-done
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("error %q should name the file and the cause", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenBolt(filepath.Join(file, "cutover.db"), BoltOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "store: cannot open ") {
		t.Errorf("OpenBolt under a file: %v", err)
	}
	_, err = OpenBolt(file, BoltOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "store: cannot open ") {
		t.Errorf("OpenBolt of a non-bbolt file: %v", err)
	}
}

func TestStats(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	recs := []*Record{fullRecord(1), fullRecord(2), {Route: "x"}}
	mustAppend(t, b, recs...)
	s, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := int64(0)
	for _, r := range recs {
		want += int64(encodedLen(r))
	}
	if s.Records != 3 || s.Bytes != want || s.FileBytes < want {
		t.Errorf("Stats = %+v, want 3 records, %d bytes", s, want)
	}
}
