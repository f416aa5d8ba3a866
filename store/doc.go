// Package store persists cutover's recorded calls. It decides nothing:
// what to record, when to prune and what to show are its callers' calls.
//
// # Records
//
// A Record is one proxied call, filled on the gateway's hot path through
// its Set helpers, which copy into the record's own buffers and reuse
// their capacity, so a pooled record costs no allocation. Append assigns
// the ID: 8 bytes of the call's start in Unix nanoseconds and an 8-byte
// sequence the file never reuses, both big-endian, so IDs are unique and
// sort by start. Times are nanoseconds in the stored form; the API form
// (MarshalJSON) gives RFC 3339 times in UTC and float milliseconds.
// Records read back are new values that the caller owns; their times are
// in UTC.
//
// # Why bbolt
//
// The embedded store is one go.etcd.io/bbolt file. bbolt is a single file
// with nothing to run beside it; every commit is an ACID transaction
// fsynced before Append returns, so a kill -9 loses nothing that was
// committed; its B+tree gives ordered range reads, which is what the
// indexes below are; it is pure Go (CGO_ENABLED=0 builds keep working);
// and it is etcd's storage engine, well kept and well understood. Its one
// writer at a time suits the recorder, which has one writer goroutine.
//
// Measured with BenchmarkAppend on the project's 2-core machine: records
// with 1 KiB request and response bodies (2,276 bytes encoded), keys
// arriving nearly in start order, batches of 512 in one fsynced
// transaction each, append at 24,000 to 34,000 records/s. One core is the
// limit, not the disk: user plus system time about equals the wall time,
// half of it in bbolt's commit (writing dirty pages, fdatasync) and a
// third in its B+tree inserts. The file grows by about 3,600 bytes per
// record, 1.6 times the encoded record: its four index entries and the
// page slack of a B+tree. Batches of 64 reach about 10,000 records/s,
// since each pays its own fsync. Encoding a record alone takes about
// 50 ns and does not allocate. Larger pages (16 KiB) and skipping the
// freelist sync changed neither figure beyond the run-to-run noise, so
// bbolt's defaults stay.
//
// # Layout
//
// Buckets, all keys big-endian and ordered byte-wise:
//
//	records    ID → encoded record (see codec.go)
//	by_route   len(route) route ID → ""
//	by_tenant  len(tenant) tenant ID → ""       (calls with a tenant only)
//	by_status  class ID status → ""              (class: the hundreds digit)
//	by_chain   trace ID, ID → ""
//	meta       "count", "bytes" → uint64         (records, logical size)
//	counts     'r' route | 't' tenant | 's' class → uint64
//
// Every index key ends in (or, for by_status, holds) the record ID, so
// each route, tenant, class and chain is one contiguous range in start
// order: Records walks one range backwards from its cursor and stops at
// Since, and Chain reads one range forwards. Nothing scans all records
// unless the query has no filter. Route and tenant names are indexed up
// to 255 bytes; Records compares the full values, so longer ones stay
// exact. The counts let Records pick the index with the fewest entries
// when a query has several filters.
//
// Records and by_route/by_status keys arrive in (near) start order, so
// their buckets fill pages to 90% rather than bbolt's default 50%: a
// full page is rarely touched again, and the slack takes the calls that
// finish out of start order. Tenant and chain keys land anywhere in their
// buckets and keep the default.
//
// # Retention
//
// Prune deletes records older than BoltOptions.Retention, then the oldest
// until the logical size (the sum of encoded records, kept in meta by the
// same transactions that change it) is at most MaxBytes, PruneBatch
// records per transaction so appends wait for one batch at most. bbolt
// reuses the freed pages for later appends but never shrinks the file, so
// the file stays near its high-water mark: expect about 1.6 times
// MaxBytes, more when the largest burst outgrew it.
//
// # Concurrency
//
// A Bolt is safe for concurrent use. Appends and prunes take bbolt's
// single writer lock in turn; reads run on a snapshot beside them.
// OpenBolt refuses, after OpenTimeout, a file that another process holds,
// with ErrLocked.
package store
