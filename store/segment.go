package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// segmentSize is the size past which Append starts a new segment file.
// Retention deletes whole segments, so it is also the granularity by which
// the disk shrinks.
const segmentSize = 64 << 20

// maxIdleReaders bounds the read handles kept open between reads. A page
// of records usually lies in one or two segments, the newest ones.
const maxIdleReaders = 8

// segments are the append-only files, beside the bbolt file, that hold the
// records' encodings: <dir>/<number>.seg, the number 16 hex digits, so the
// names sort in the order the files were written.
//
// Bytes become part of the store when a bbolt commit references them, so
// bbolt never points at bytes that are not on disk: Append writes and
// syncs a batch here first, then commits its entries. Bytes past the last
// commit (a batch whose commit failed, or was cut by a crash) are
// overwritten by the next write and cut off when the store opens.
//
// The writer (w, size and rotation) belongs to Append, which holds
// Bolt.wmu. Readers are safe for concurrent use: each read runs under
// gate's read lock, from before its bbolt transaction begins until it has
// read the files, and remove takes the write lock before deleting files,
// so no read whose snapshot still references a deleted segment is running
// when its file goes.
type segments struct {
	dir   string
	limit int64 // segmentSize; tests shrink it

	w      *os.File
	size   int64         // committed bytes of the active segment
	active atomic.Uint64 // the segment Append writes; never removed

	gate    sync.RWMutex
	mu      sync.Mutex // guards readers
	readers map[uint64]*segReader
}

// segReader is a cached read handle; refs counts the reads using it.
type segReader struct {
	f    *os.File
	refs int
}

// segmentName is the file name of segment n.
func segmentName(n uint64) string { return fmt.Sprintf("%016x.seg", n) }

// parseSegmentName returns the number of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, ".seg")
	if !ok || len(hex) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	return n, err == nil
}

// openSegments opens the segment directory for a store whose last commit
// ended at tail. It cuts the tail segment back to that end, removes
// segments that hold no committed record (those after the tail, and those
// that keep reports false for) and opens the tail segment for writing, or
// a fresh one after it when its file is gone.
func openSegments(dir string, tail location, keep func(n uint64) bool, readOnly bool) (*segments, error) {
	if readOnly {
		return openSegmentsReadOnly(dir, tail)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create segment directory: %w", err)
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list segments: %w", err)
	}
	s := &segments{dir: dir, limit: segmentSize, readers: map[uint64]*segReader{}}
	removed := false
	for _, fi := range files {
		n, ok := parseSegmentName(fi.Name())
		if !ok || n == tail.seg || n < tail.seg && keep(n) {
			continue
		}
		// Written but never committed, or emptied by retention before a
		// crash kept its file from being deleted.
		if err := os.Remove(filepath.Join(dir, fi.Name())); err != nil {
			return nil, fmt.Errorf("cannot remove segment without records: %w", err)
		}
		removed = true
	}
	f, err := os.OpenFile(s.path(tail.seg), os.O_RDWR, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// A new store, or a tail segment that retention emptied and
		// deleted after a later segment's commit failed.
		if err := s.create(tail.seg + 1); err != nil {
			return nil, err
		}
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("cannot open segment: %w", err)
	}
	if err := s.cut(f, tail.off); err != nil {
		f.Close()
		return nil, err
	}
	if removed {
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	s.w, s.size = f, tail.off
	s.active.Store(tail.seg)
	return s, nil
}

// openSegmentsReadOnly opens the segments to read what is committed up
// to tail, repairing nothing: bytes past tail (a batch a crash kept from
// its commit) are never read, and a segment without records is left for
// the next writer to remove.
func openSegmentsReadOnly(dir string, tail location) (*segments, error) {
	s := &segments{dir: dir, limit: segmentSize, readers: map[uint64]*segReader{}, size: tail.off}
	s.active.Store(tail.seg)
	fi, err := os.Stat(s.path(tail.seg))
	switch {
	case errors.Is(err, os.ErrNotExist) && tail.off == 0:
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("cannot open segment: %w", err)
	case fi.Size() < tail.off:
		return nil, fmt.Errorf("%w: segment %s is %d bytes, its committed records end at %d", ErrCorrupt, s.path(tail.seg), fi.Size(), tail.off)
	}
	return s, nil
}

// cut truncates the tail segment f to end, the end of the last commit,
// dropping the bytes of a batch that a crash kept from being committed.
func (s *segments) cut(f *os.File, end int64) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cannot stat segment: %w", err)
	}
	switch {
	case fi.Size() < end:
		return fmt.Errorf("%w: segment %s is %d bytes, its committed records end at %d", ErrCorrupt, f.Name(), fi.Size(), end)
	case fi.Size() > end:
		if err := f.Truncate(end); err != nil {
			return fmt.Errorf("cannot cut uncommitted bytes off segment %s: %w", f.Name(), err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("cannot sync segment %s: %w", f.Name(), err)
		}
	}
	return nil
}

func (s *segments) path(n uint64) string { return filepath.Join(s.dir, segmentName(n)) }

// create starts segment n, empty, and makes it the active one. Its
// directory entry is synced before anything can reference it.
func (s *segments) create(n uint64) error {
	f, err := os.OpenFile(s.path(n), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("cannot create segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return err
	}
	if s.w != nil {
		// The old segment is complete and synced; only its handle goes.
		s.w.Close()
	}
	s.w, s.size = f, 0
	s.active.Store(n)
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot sync segment directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot sync segment directory: %w", err)
	}
	return nil
}

// write writes p after the committed bytes of the active segment, in one
// call, and syncs it; a segment past its limit is first replaced by a new
// one. It returns where p starts. The bytes are not committed until the
// caller's bbolt commit references them and it calls committed.
func (s *segments) write(p []byte) (location, error) {
	if s.size >= s.limit {
		if err := s.create(s.active.Load() + 1); err != nil {
			return location{}, err
		}
	}
	loc := location{seg: s.active.Load(), off: s.size, n: int64(len(p))}
	if _, err := s.w.WriteAt(p, s.size); err != nil {
		return location{}, fmt.Errorf("cannot write segment: %w", err)
	}
	// fdatasync measured no cheaper than fsync, since every write grows
	// the file; Sync is portable.
	if err := s.w.Sync(); err != nil {
		return location{}, fmt.Errorf("cannot sync segment: %w", err)
	}
	return loc, nil
}

// committed records that the bytes up to end of the active segment are
// referenced by a commit.
func (s *segments) committed(end int64) { s.size = end }

// reads is one read operation's access to the segments. It holds the
// handle of the segment last read, and the frame last decompressed, which
// the next records of a page are usually in; done releases the handle and
// the gate.
type reads struct {
	s   *segments
	seg uint64
	r   *segReader

	fb      *frameBuf // the frame last read and its decompressed bytes
	frameAt location  // where it lies; n is 0 before the first
}

// beginReads takes the gate's read lock; call done when the bbolt
// transaction whose entries are being read has ended.
func (s *segments) beginReads() reads {
	s.gate.RLock()
	return reads{s: s}
}

// record returns a new buffer holding the encoding of e's record: the
// bytes at its location, or its part of the frame there.
func (rd *reads) record(e *entry) ([]byte, error) {
	if !e.framed {
		return rd.read(make([]byte, e.loc.n), e.loc)
	}
	if rd.fb == nil {
		rd.fb, _ = framePool.Get().(*frameBuf)
		if rd.fb == nil {
			rd.fb = &frameBuf{}
		}
	}
	fb := rd.fb
	if rd.frameAt != e.loc || rd.frameAt.n == 0 {
		rd.frameAt = location{}
		packed, err := rd.read(append(fb.packed[:0], make([]byte, e.loc.n)...), e.loc)
		if err != nil {
			return nil, err
		}
		fb.packed = packed
		if fb.frame, err = decompress(fb.frame[:0], packed); err != nil {
			return nil, fmt.Errorf("frame at %s offset %d: %w", segmentName(e.loc.seg), e.loc.off, err)
		}
		rd.frameAt = e.loc
	}
	if e.in.off+e.in.n > int64(len(fb.frame)) {
		return nil, fmt.Errorf("%w: record at %d+%d of a frame of %d bytes in %s", ErrCorrupt, e.in.off, e.in.n, len(fb.frame), segmentName(e.loc.seg))
	}
	// A copy: the record keeps its buffer (decodeRecord), and the frame's
	// is reused for the next one.
	return bytes.Clone(fb.frame[e.in.off : e.in.off+e.in.n]), nil
}

// read fills buf, len(buf) == loc.n, with the bytes at loc.
func (rd *reads) read(buf []byte, loc location) ([]byte, error) {
	if rd.r == nil || rd.seg != loc.seg {
		rd.release()
		r, err := rd.s.acquire(loc.seg)
		if err != nil {
			return nil, err
		}
		rd.r, rd.seg = r, loc.seg
	}
	if _, err := rd.r.f.ReadAt(buf, loc.off); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: segment %s ends before %d", ErrCorrupt, segmentName(loc.seg), loc.end())
		}
		return nil, fmt.Errorf("cannot read segment: %w", err)
	}
	return buf, nil
}

func (rd *reads) release() {
	if rd.r != nil {
		rd.s.release(rd.r)
		rd.r = nil
	}
}

func (rd *reads) done() {
	rd.release()
	rd.s.gate.RUnlock()
	if fb := rd.fb; fb != nil && cap(fb.frame) <= maxPooledFrame && cap(fb.packed) <= maxPooledFrame {
		framePool.Put(fb)
	}
	rd.fb, rd.frameAt = nil, location{}
}

// acquire returns a read handle of segment n, opening it when none is
// cached.
func (s *segments) acquire(n uint64) (*segReader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.readers[n]
	if r == nil {
		f, err := os.Open(s.path(n))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: segment %s is missing", ErrCorrupt, segmentName(n))
		}
		if err != nil {
			return nil, fmt.Errorf("cannot open segment: %w", err)
		}
		r = &segReader{f: f}
		s.readers[n] = r
	}
	r.refs++
	return r, nil
}

// release returns a handle. With more than maxIdleReaders open, the
// unused handle of the oldest segment is closed: reads favour new records.
func (s *segments) release(r *segReader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.refs--
	if len(s.readers) <= maxIdleReaders {
		return
	}
	var oldest uint64
	var idle *segReader
	for n, c := range s.readers {
		if c.refs == 0 && (idle == nil || n < oldest) {
			oldest, idle = n, c
		}
	}
	if idle != nil {
		delete(s.readers, oldest)
		idle.f.Close()
	}
}

// remove deletes segments whose records are all gone from bbolt in a
// committed transaction. It waits, under the gate, for the reads that
// began before that commit, then closes the segments' handles and removes
// the files, which nothing can reference any more.
func (s *segments) remove(segs []uint64) error {
	s.gate.Lock()
	s.mu.Lock()
	for _, n := range segs {
		if r := s.readers[n]; r != nil {
			r.f.Close()
			delete(s.readers, n)
		}
	}
	s.mu.Unlock()
	s.gate.Unlock()
	var errs []error
	for _, n := range segs {
		if n == s.active.Load() {
			continue
		}
		if err := os.Remove(s.path(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cannot remove segments: %w", err)
	}
	return nil
}

// bytes returns the segment files' total size.
func (s *segments) bytes() (int64, error) {
	files, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("cannot list segments: %w", err)
	}
	var total int64
	for _, f := range files {
		if _, ok := parseSegmentName(f.Name()); !ok {
			continue
		}
		fi, err := f.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // removed by retention meanwhile
		}
		if err != nil {
			return 0, fmt.Errorf("cannot stat segment: %w", err)
		}
		total += fi.Size()
	}
	return total, nil
}

// close closes the writer and every read handle; reads that are running
// finish first.
func (s *segments) close() error {
	s.gate.Lock()
	defer s.gate.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, r := range s.readers {
		r.f.Close()
		delete(s.readers, n)
	}
	if s.w == nil {
		return nil
	}
	err := s.w.Close()
	s.w = nil
	if err != nil {
		return fmt.Errorf("cannot close segment: %w", err)
	}
	return nil
}
