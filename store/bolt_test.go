package store

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
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

// TestOpenReadOnly: a store file opens read-only beside another reader,
// reads every committed record, refuses an Append, and changes nothing on
// disk; while a writer holds it, a read-only open fails with ErrLocked.
func TestOpenReadOnly(t *testing.T) {
	b, path := openTest(t, BoltOptions{})
	var want []*Record
	for i := range 30 {
		r := fullRecord(i)
		mustAppend(t, b, r)
		want = append(want, r)
	}
	if _, err := OpenBolt(path, BoltOptions{ReadOnly: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("read-only open beside the writer: %v, want ErrLocked", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	before := dirSnapshot(t, filepath.Dir(path))
	r1, err := OpenBolt(path, BoltOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := OpenBolt(path, BoltOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("a second reader: %v", err)
	}
	defer r2.Close()
	for _, r := range want {
		got, err := r2.Get(r.ID)
		if err != nil || !bytes.Equal(got.RespBody, r.RespBody) || got.Route != r.Route {
			t.Fatalf("Get(%s) read-only: %+v, %v", r.ID, got, err)
		}
	}
	if page, err := r1.Records(Query{Limit: 1000}); err != nil || len(page.Records) != len(want) {
		t.Errorf("Records read-only: %d records, %v; want %d", len(page.Records), err, len(want))
	}
	if err := r1.Append([]*Record{fullRecord(99)}); err == nil {
		t.Error("Append on a read-only store succeeded")
	}
	if after := dirSnapshot(t, filepath.Dir(path)); after != before {
		t.Errorf("a read-only open changed the files:\nbefore %s\nafter  %s", before, after)
	}
	missing := filepath.Join(t.TempDir(), "absent", "none.db")
	if _, err := OpenBolt(missing, BoltOptions{ReadOnly: true}); err == nil {
		t.Error("a read-only open of a missing file succeeded")
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a read-only open created %s", filepath.Dir(missing))
	}
}

// dirSnapshot names every file below dir with its size and modification
// time.
func dirSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s:%d:%d ", strings.TrimPrefix(p, dir), fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
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
	raw := int64(0)
	for _, r := range recs {
		raw += int64(encodedLen(r))
	}
	want := storedBytes(t, b, recs)
	if s.Records != 3 || s.Bytes != want || s.FileBytes < want {
		t.Errorf("Stats = %+v, want 3 records, %d bytes", s, want)
	}
	if want >= raw {
		t.Errorf("the records take %d bytes, their encodings %d: not compressed", want, raw)
	}
}
