package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cutover/cutover/chain"
)

// segmentFiles returns the numbers of the segment files of the store at
// path, in order.
func segmentFiles(t *testing.T, path string) []uint64 {
	t.Helper()
	files, err := os.ReadDir(path + ".segments")
	if err != nil {
		t.Fatal(err)
	}
	var segs []uint64
	for _, f := range files {
		n, ok := parseSegmentName(f.Name())
		if !ok {
			t.Fatalf("stray file %s among the segments", f.Name())
		}
		segs = append(segs, n)
	}
	return segs
}

// bodyRecord is a call with a 1 KiB response body, started at epoch plus
// i seconds, whose URI names i.
func bodyRecord(i int) *Record {
	r := &Record{
		Chain:  chain.TraceID{0: 7, 15: byte(i)},
		Route:  "r",
		Status: 200,
		Start:  queryEpoch.Add(time.Duration(i) * time.Second),
	}
	r.SetURI(fmt.Appendf(nil, "/call/%d", i))
	r.SetRespBody([]byte(strings.Repeat("b", 1024)), 1<<20)
	return r
}

// assertStored checks that every record of want reads back whole, by Get
// and by Records.
func assertStored(t *testing.T, b *Bolt, want []*Record) {
	t.Helper()
	for _, r := range want {
		got, err := b.Get(r.ID)
		if err != nil {
			t.Fatalf("Get %s: %v", r.URI, err)
		}
		// Printed, empty and nil byte fields look alike, as they should.
		if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", r); g != w {
			t.Fatalf("Get %s:\n got %s\nwant %s", r.URI, g, w)
		}
	}
	page, err := b.Records(Query{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != len(want) {
		t.Fatalf("Records returned %d calls, want %d", len(page.Records), len(want))
	}
}

// bodyBatches appends batches of 3 records (about 3.2 KB) numbered from
// first, and returns them.
func bodyBatches(t *testing.T, b *Bolt, first, batches int) []*Record {
	t.Helper()
	var recs []*Record
	for i := range batches {
		batch := []*Record{bodyRecord(first + 3*i), bodyRecord(first + 3*i + 1), bodyRecord(first + 3*i + 2)}
		mustAppend(t, b, batch...)
		recs = append(recs, batch...)
	}
	return recs
}

func TestSegmentRotation(t *testing.T) {
	b, path := openTest(t, BoltOptions{})
	b.seg.limit = 1 // a segment for every batch
	recs := bodyBatches(t, b, 0, 5)
	if got := segmentFiles(t, path); !slices.Equal(got, []uint64{1, 2, 3, 4, 5}) {
		t.Fatalf("segments %v, want one per batch, numbered from 1", got)
	}
	assertStored(t, b, recs)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.seg.limit = 1
	assertStored(t, b, recs)
	// The active segment is full, so the next batch starts segment 6 and
	// nothing written before moves.
	recs = append(recs, bodyBatches(t, b, 15, 1)...)
	if got := segmentFiles(t, path); !slices.Equal(got, []uint64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("segments after reopen %v", got)
	}
	assertStored(t, b, recs)
}

func TestCrashTailIsCut(t *testing.T) {
	b, path := openTest(t, BoltOptions{})
	recs := bodyBatches(t, b, 0, 2)
	st, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// What kill -9 can leave: a batch written and synced into the active
	// segment whose commit never happened, and a segment that was
	// started for it.
	dir := path + ".segments"
	active := filepath.Join(dir, segmentName(1))
	committed := fileSize(t, active)
	f, err := os.OpenFile(active, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(strings.Repeat("garbage", 1000))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, segmentName(2)), []byte("uncommitted"), 0o600); err != nil {
		t.Fatal(err)
	}

	b, err = OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := fileSize(t, active); got != committed {
		t.Errorf("active segment is %d bytes after reopening, want the committed %d", got, committed)
	}
	if got := segmentFiles(t, path); !slices.Equal(got, []uint64{1}) {
		t.Errorf("segments %v, want the uncommitted one removed", got)
	}
	if after, err := b.Stats(); err != nil || after != st {
		t.Errorf("stats after the crash = %+v, %v; before it %+v", after, err, st)
	}
	// New records go where the cut tail was, and everything reads back.
	recs = append(recs, bodyBatches(t, b, 6, 2)...)
	assertStored(t, b, recs)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestOpenRefusesShortSegment(t *testing.T) {
	b, path := openTest(t, BoltOptions{})
	bodyBatches(t, b, 0, 1)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(path+".segments", segmentName(1))
	if err := os.Truncate(seg, fileSize(t, seg)-1); err != nil {
		t.Fatal(err)
	}
	_, err := OpenBolt(path, BoltOptions{})
	if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "store: cannot open ") {
		t.Errorf("OpenBolt with committed bytes missing: %v, want ErrCorrupt", err)
	}
}

func TestOpenRefusesInlineRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cutover.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucket(bucketRecords)
		if err != nil {
			return err
		}
		return bk.Put(make([]byte, 16), appendRecord(nil, fullRecord(1)))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenBolt(path, BoltOptions{})
	if err == nil || !strings.Contains(err.Error(), "format from before segment files") {
		t.Errorf("OpenBolt of a store with records inline: %v", err)
	}
}

func TestPruneDeletesSegments(t *testing.T) {
	b, path := openTest(t, BoltOptions{Retention: time.Hour})
	b.seg.limit = 1
	recs := bodyBatches(t, b, 0, 6) // segments 1 to 6, seconds 0 to 17
	before, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// An hour after second 7, the records of seconds 0 to 6 are too old:
	// segments 1 and 2 (seconds 0 to 5) hold nothing else, segment 3
	// still holds seconds 7 and 8.
	removed, err := b.Prune(queryEpoch.Add(time.Hour + 7*time.Second))
	if err != nil || removed != 7 {
		t.Fatalf("Prune = %d, %v; want 7", removed, err)
	}
	if got := segmentFiles(t, path); !slices.Equal(got, []uint64{3, 4, 5, 6}) {
		t.Errorf("segments %v after pruning, want 3 to 6", got)
	}
	after, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.FileBytes >= before.FileBytes {
		t.Errorf("FileBytes %d after pruning, %d before: the disk did not shrink", after.FileBytes, before.FileBytes)
	}
	assertStored(t, b, recs[7:])

	// Pruning everything keeps the active segment, which the next
	// Append writes.
	if removed, err := b.Prune(queryEpoch.Add(2 * time.Hour)); err != nil || removed != len(recs)-7 {
		t.Fatalf("Prune = %d, %v; want %d", removed, err, len(recs)-7)
	}
	if got := segmentFiles(t, path); !slices.Equal(got, []uint64{6}) {
		t.Errorf("segments %v after pruning everything, want the active 6", got)
	}
	more := bodyBatches(t, b, 100, 1)
	assertStored(t, b, more)
}

func TestOpenRemovesStraySegments(t *testing.T) {
	b, path := openTest(t, BoltOptions{Retention: time.Hour})
	b.seg.limit = 1
	bodyBatches(t, b, 0, 3)
	if _, err := b.Prune(queryEpoch.Add(time.Hour + 3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash between deleting segment 1's key and its file leaves the
	// file behind; OpenBolt removes it.
	stray := filepath.Join(path+".segments", segmentName(1))
	if err := os.WriteFile(stray, []byte("emptied by retention"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := segmentFiles(t, path); !slices.Equal(got, []uint64{2, 3}) {
		t.Errorf("segments %v, want the one without records removed", got)
	}
}
