package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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
