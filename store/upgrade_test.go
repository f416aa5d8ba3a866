package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/internal/redistest"
)

// v1Records are the calls that testdata/v1-store.db holds: varied fields,
// primary and shadow calls, truncated bodies, a failed call, cohorts and
// decisions. The file was written with these records, in two Appends of
// 5 and 7, by the release before format versions (commit 7b97cd5), the
// last whose segments held every record's encoding uncompressed.
func v1Records() []*Record {
	base := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var recs []*Record
	for i := range 12 {
		r := &Record{
			Chain:   chain.TraceID{0x4b, byte(i / 2), 0xf0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13},
			Span:    chain.SpanID{0x5a, byte(i), 1, 2, 3, 4, 5, 6},
			Route:   []string{"orders", "users", "search"}[i%3],
			Side:    []string{"old", "new"}[i%2],
			Target:  fmt.Sprintf("127.0.0.1:%d", 9001+i%3),
			Shadow:  i%4 == 1,
			Status:  []int{200, 201, 404, 500}[i%4],
			Start:   base.Add(time.Duration(i) * 750 * time.Millisecond),
			Latency: time.Duration(1+i) * 1500 * time.Microsecond,
		}
		if i%2 == 1 {
			r.Parent = chain.SpanID{0x5a, byte(i - 1), 1, 2, 3, 4, 5, 6}
		}
		if i%3 != 2 {
			r.SetTenant(fmt.Appendf(nil, "org-%d", 100+i%4))
		}
		if i%3 == 0 {
			r.Cohort = "beta"
			r.Decision = []string{"bucket", "listed"}[i%2]
		}
		if i == 7 {
			r.Status, r.Error = 0, "timeout"
		}
		r.SetMethod([]byte([]string{"GET", "POST", "PUT"}[i%3]))
		r.SetURI(fmt.Appendf(nil, "/api/%s/%d?expand=items&page=%d", r.Route, 4000+i, i%3))
		r.SetReqHeaders(fmt.Appendf(nil, "Host: shop.example.com\r\nAccept: application/json\r\nX-Org-Id: %d\r\n", 100+i%4))
		r.SetRespHeaders([]byte("Content-Type: application/json\r\nVary: Accept-Encoding\r\n"))
		body := fmt.Appendf(nil, `{"id":%d,"name":"item %d","price":%d.%02d,"tags":["a","b"]}`, 4000+i, i, 10+i, i*7%100)
		limit := 64 << 10
		if i%5 == 4 {
			limit = 20 // a truncated body
		}
		if r.Method[0] != 'G' {
			r.SetReqBody(body, limit)
		}
		if r.Error == "" {
			r.SetRespBody(body, limit)
		}
		recs = append(recs, r)
	}
	return recs
}

// copyStore copies the store file src and its segments into a new
// directory and returns the copy's path, so a test never changes
// testdata.
func copyStore(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src+".segments", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return copyFile(p, filepath.Join(dst+".segments", d.Name()))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFile(src, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

// recordDiff names each field in which got differs from want, the ID
// aside; "" when none does. Empty and nil byte fields are equal.
func recordDiff(got, want *Record) string {
	var d []string
	field := func(name string, same bool, g, w any) {
		if !same {
			d = append(d, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	byteField := func(name string, g, w []byte) {
		field(name, bytes.Equal(g, w), fmt.Sprintf("%q", g), fmt.Sprintf("%q", w))
	}
	field("Chain", got.Chain == want.Chain, got.Chain, want.Chain)
	field("Span", got.Span == want.Span, got.Span, want.Span)
	field("Parent", got.Parent == want.Parent, got.Parent, want.Parent)
	field("Route", got.Route == want.Route, got.Route, want.Route)
	byteField("Tenant", got.Tenant, want.Tenant)
	field("Side", got.Side == want.Side, got.Side, want.Side)
	field("Target", got.Target == want.Target, got.Target, want.Target)
	field("Shadow", got.Shadow == want.Shadow, got.Shadow, want.Shadow)
	field("Cohort", got.Cohort == want.Cohort, got.Cohort, want.Cohort)
	field("Decision", got.Decision == want.Decision, got.Decision, want.Decision)
	byteField("Method", got.Method, want.Method)
	byteField("URI", got.URI, want.URI)
	byteField("ReqHeaders", got.ReqHeaders, want.ReqHeaders)
	byteField("RespHeaders", got.RespHeaders, want.RespHeaders)
	byteField("ReqBody", got.ReqBody, want.ReqBody)
	byteField("RespBody", got.RespBody, want.RespBody)
	field("ReqTruncated", got.ReqTruncated == want.ReqTruncated, got.ReqTruncated, want.ReqTruncated)
	field("RespTruncated", got.RespTruncated == want.RespTruncated, got.RespTruncated, want.RespTruncated)
	field("Status", got.Status == want.Status, got.Status, want.Status)
	field("Start", got.Start.Equal(want.Start), got.Start, want.Start)
	field("Latency", got.Latency == want.Latency, got.Latency, want.Latency)
	field("Error", got.Error == want.Error, got.Error, want.Error)
	return strings.Join(d, "; ")
}

// assertStoreHolds checks that s holds exactly want, compared field by
// field, through a listing, Get and Chain.
func assertStoreHolds(t *testing.T, s contractRecords, want []*Record) {
	t.Helper()
	page, err := s.Records(Query{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != len(want) {
		t.Fatalf("Records: %d records, want %d", len(page.Records), len(want))
	}
	got := page.Records
	slices.Reverse(got) // newest first; want is oldest first
	for i, w := range want {
		if d := recordDiff(got[i], w); d != "" {
			t.Errorf("record %d: %s", i, d)
		}
		g, err := s.Get(got[i].ID)
		if err != nil {
			t.Fatalf("Get(%s): %v", got[i].ID, err)
		}
		if d := recordDiff(g, w); d != "" {
			t.Errorf("Get record %d: %s", i, d)
		}
	}
	chainOf := want[len(want)-1].Chain
	calls, err := s.Chain(chainOf)
	if err != nil {
		t.Fatalf("Chain: %v", err)
	}
	n := 0
	for _, w := range want {
		if w.Chain == chainOf {
			if n < len(calls) {
				if d := recordDiff(calls[n], w); d != "" {
					t.Errorf("Chain call %d: %s", n, d)
				}
			}
			n++
		}
	}
	if len(calls) != n {
		t.Errorf("Chain: %d calls, want %d", len(calls), n)
	}
}

// TestOpenV1Store opens a store written by the release before format
// versions, read-only and then read-write, and reads every record back
// field by field.
func TestOpenV1Store(t *testing.T) {
	path := copyStore(t, "testdata/v1-store.db")
	want := v1Records()

	before := dirSnapshot(t, filepath.Dir(path))
	ro, err := OpenBolt(path, BoltOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	assertStoreHolds(t, ro, want)
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if after := dirSnapshot(t, filepath.Dir(path)); after != before {
		t.Errorf("a read-only open changed the files:\nbefore %s\nafter  %s", before, after)
	}

	rw, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertStoreHolds(t, rw, want)
	// New records go beside the old ones.
	more := v1Records()
	for _, r := range more {
		r.Start = r.Start.Add(time.Hour)
	}
	mustAppend(t, rw, more...)
	page, err := rw.Records(Query{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	framed := 0
	err = rw.db.View(func(tx *bolt.Tx) error {
		for _, r := range page.Records {
			var e entry
			if _, err := getEntry(openBuckets(tx), r.ID[:], &e); err != nil {
				return err
			}
			if e.framed {
				framed++
			}
		}
		return nil
	})
	if err != nil || framed != len(more) {
		t.Errorf("%d of %d records are in compressed frames, %v; want the %d new ones", framed, len(page.Records), err, len(more))
	}
	want = append(want, more...)
	assertStoreHolds(t, rw, want)
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	rw, err = OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	assertStoreHolds(t, rw, want)
}

// boltFormat returns the format version stamped in the file at path.
func boltFormat(t *testing.T, path string) uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v uint64
	err = db.View(func(tx *bolt.Tx) error {
		v = getUint(tx.Bucket(bucketMeta), metaFormat)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOpenV1StoreStampsFormat: the test data has no format version; a
// read-only open leaves it so, a read-write open stamps this release's.
func TestOpenV1StoreStampsFormat(t *testing.T) {
	path := copyStore(t, "testdata/v1-store.db")
	if v := boltFormat(t, path); v != 0 {
		t.Fatalf("the test data has format %d stamped, want none", v)
	}
	ro, err := OpenBolt(path, BoltOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ro.Close()
	if v := boltFormat(t, path); v != 0 {
		t.Errorf("a read-only open stamped format %d", v)
	}
	rw, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rw.Close()
	if v := boltFormat(t, path); v != formatVersion {
		t.Errorf("a read-write open stamped format %d, want %d", v, formatVersion)
	}
}

// TestOpenRefusesNewerFormat: a file stamped by a later release is
// refused, read-write and read-only, with an error that names the file
// and both versions, and is left as it was.
func TestOpenRefusesNewerFormat(t *testing.T) {
	b, path := openTest(t, BoltOptions{})
	mustAppend(t, b, fullRecord(1))
	err := b.db.Update(func(tx *bolt.Tx) error { return putUint(tx.Bucket(bucketMeta), metaFormat, formatVersion+1) })
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	before := dirSnapshot(t, filepath.Dir(path))
	for _, readOnly := range []bool{false, true} {
		s, err := OpenBolt(path, BoltOptions{ReadOnly: readOnly})
		if err == nil {
			s.Close()
			t.Fatalf("read-only %t: a store of format %d opened", readOnly, formatVersion+1)
		}
		want := fmt.Sprintf("the file has store format %d, this release reads formats up to %d", formatVersion+1, formatVersion)
		if !errors.Is(err, ErrNewerFormat) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("read-only %t: %v; want ErrNewerFormat naming the file and saying %s", readOnly, err, want)
		}
	}
	if after := dirSnapshot(t, filepath.Dir(path)); after != before {
		t.Errorf("a refused open changed the files:\nbefore %s\nafter  %s", before, after)
	}
}

// TestRedisReadsUncompressedRecords: records that the release before
// format versions wrote, their encodings as they are, read back beside
// compressed ones. They are written here the way that release wrote them.
func TestRedisReadsUncompressedRecords(t *testing.T) {
	srv := redistest.Start(t)
	r, err := OpenRedis(RedisOptions{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	// A store of that release holds no format key.
	if err := r.c.Del(ctx, r.key(rkFormat)).Err(); err != nil {
		t.Fatal(err)
	}
	r.formatOK.Store(false)
	old := v1Records()
	storeAppend(t, r, old...)
	for _, rec := range old {
		key := hexKey(r, rkRecord, rec.ID[:])
		if err := r.c.Set(ctx, key, appendRecord(nil, rec), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := r.c.Get(ctx, r.key(rkFormat)).Result(); err != nil || v != strconv.Itoa(formatVersion) {
		t.Errorf("format key = %q, %v; want %d", v, err, formatVersion)
	}
	more := v1Records()
	for _, rec := range more {
		rec.Start = rec.Start.Add(time.Hour)
	}
	storeAppend(t, r, more...)
	v, err := r.c.Get(ctx, hexKey(r, rkRecord, more[0].ID[:])).Bytes()
	if err != nil || len(v) == 0 || v[0] != packedRecord {
		t.Errorf("a new record is stored as % x…, %v; want it compressed", v[:min(len(v), 4)], err)
	}
	assertStoreHolds(t, r, append(old, more...))
}

// TestRedisRefusesNewerFormat: a Redis whose format key a later release
// stamped is refused, at OpenRedis and by the record methods of a store
// opened before (NewRedis, as a gateway does), with an error that names
// the prefix and both versions; nothing is written.
func TestRedisRefusesNewerFormat(t *testing.T) {
	srv := redistest.Start(t)
	lazy, err := NewRedis(RedisOptions{Addrs: []string{srv.Addr}, Prefix: "shop:"})
	if err != nil {
		t.Fatal(err)
	}
	defer lazy.Close()
	ctx := context.Background()
	if err := lazy.c.Set(ctx, "shop:format", formatVersion+1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`Redis key prefix "shop:" has store format %d, this release reads formats up to %d`, formatVersion+1, formatVersion)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrNewerFormat) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want ErrNewerFormat saying %s", what, err, want)
		}
	}
	_, err = OpenRedis(RedisOptions{Addrs: []string{srv.Addr}, Prefix: "shop:"})
	check("OpenRedis", err)
	check("Append", lazy.Append([]*Record{fullRecord(1)}))
	_, err = lazy.Records(Query{})
	check("Records", err)
	_, err = lazy.Get(ID{1})
	check("Get", err)
	_, err = lazy.Chain(chain.TraceID{1})
	check("Chain", err)
	if keys := redisKeys(t, lazy); !slices.Equal(keys, []string{rkFormat}) {
		t.Errorf("keys after the refusals: %q, want only %q", keys, rkFormat)
	}
	if v, _ := lazy.c.Get(ctx, "shop:format").Result(); v != strconv.Itoa(formatVersion+1) {
		t.Errorf("the format key became %q", v)
	}
}

// TestHugeRecordsReadBack: a record too large for a frame to be read
// back within maxDecoded is stored as it is, in both stores, and reads
// back whole.
func TestHugeRecordsReadBack(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a record of 64 MiB")
	}
	body := bytes.Repeat([]byte("x"), maxDecoded/2+1)
	eachDriver(t, 0, func(t *testing.T, s any) {
		st := s.(contractRecords)
		small, huge := fullRecord(1), fullRecord(2)
		huge.SetReqBody(body, len(body))
		huge.SetRespBody(body, len(body))
		storeAppend(t, st, small, huge)
		for _, w := range []*Record{small, huge} {
			got, err := st.Get(w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := recordDiff(got, w); d != "" {
				t.Errorf("record of %d bytes: %s", encodedLen(w), d[:min(len(d), 200)])
			}
		}
	})
}
