// Package store persists what cutover keeps: recorded calls, comparison
// samples, the diff statistics of each route and the state of each
// rollout. It decides nothing: what to record, when to prune and what to
// show are its callers' calls.
//
// # Two drivers, one contract
//
// Bolt, the embedded store and the default, is a bbolt file and its
// segment files, for one gateway. Redis is the shared store, for every
// replica that names the same Redis and key prefix. Both implement the
// same methods, and the contract suite (contract_*_test.go, eachDriver and
// eachSharedDriver) runs the same assertions on each:
//
//   - records: Append, Records, Chain, Get, Prune;
//   - samples: PutSamples, Sample;
//   - rollout state and history: PutRollout, Rollouts, RolloutEvents, and
//     RolloutRev with PutRolloutIf, which writes only at the revision read
//     and, given a fencing token, only while that token is current;
//   - leases: Lease and Release, one owner per route at a time, with a
//     fencing token that grows at every new holder;
//   - notifications: Notify and Watch;
//   - tallies: AddTallies and Tallies (tally.go), counters that add up,
//     lists of the newest items, and an expiry.
//
// On Redis these are shared by the replicas: a lease elects the one that
// decides a rollout, and notifications cross processes. On the embedded
// store the gateway that holds the file's lock is the only replica:
// leases and notifications live in its memory, and its one owner always
// gets the lease; revisions and tallies are kept in the file. So the
// shadow mirror and the rollout controller run one code path, for one
// replica or many.
//
// # How statistics flow
//
// A shadow worker adds each compared pair to its route's diff.Aggregator,
// in memory. Every shadow.FlushInterval (2 s) the mirror takes what the
// aggregator counted since the last flush (a diff.Delta: named counts)
// and adds it, in one AddTallies, to the route's tally of since-start
// totals and to one tally per 10-second window bucket, which expires once
// no report can read it. A report adds the latest counts, reads the
// tallies back and rebuilds one aggregator from them
// (diff.NewAggregatorFrom). The rollout controller does the same with
// each step's counts, every decision round. On Redis the tallies sum the
// counts of every replica; on the embedded store they are the gateway's
// own, and survive its restarts. Embedded files written before tallies
// hold each route's statistics as JSON in the bucket diff_state: the
// gateway converts them into tallies once, when it opens the file
// (MigrateDiffStates); a rollout state of that time keeps its step
// counts inside it, which the controller moves into the step's tally.
//
// # Records
//
// A Record is one proxied call, filled on the gateway's hot path through
// its Set helpers, which copy into the record's own buffers and reuse
// their capacity, so a pooled record costs no allocation. Append assigns
// the ID: 8 bytes of the call's start in Unix nanoseconds and an 8-byte
// sequence the store never reuses, both big-endian, so IDs are unique and
// sort by start. Times are nanoseconds in the stored form; the API form
// (MarshalJSON) gives RFC 3339 times in UTC and float milliseconds.
// Records read back are new values that the caller owns; their times are
// in UTC.
//
// # Files
//
// The embedded store at path is a go.etcd.io/bbolt file and a directory
// path + ".segments" of append-only segment files. The segments hold the
// records' encodings (codec.go), about 2.3 KB for a call with 1 KiB
// bodies, compressed with zstd in frames of about 512 KiB of a batch's
// records (compress.go): about 330 bytes a call when its bodies are JSON
// that varies from call to call, far less when calls repeat. Append
// writes a batch to the active segment in one write, and starts a new
// segment once the active one passes 64 MiB. bbolt holds, per record, an
// entry of about 50 bytes (entry.go): where the encoding lies (the frame,
// and the record's place in it), and the route, tenant, status and chain
// that filtering, counting and retention need. Only returning a record
// reads its segment, with pread on a cached handle, and decompresses its
// frame; a read keeps the last frame it decompressed, which the next
// records of a page are usually in.
//
// The file carries a format version (format.go): a store written before
// compression, its records' encodings as they are, opens and reads, and
// takes compressed records beside its old ones; a store of a later
// release's format is refused with ErrNewerFormat.
//
// bbolt is a single file with nothing to run beside it, its commits are
// ACID and fsynced, its B+tree gives ordered range reads, and it is pure
// Go and well kept. It is slow, though, with large values: a 2.3 KB value
// fills most of a page, so every record cost a page of node spill, page
// allocation and write (3.6 KB on disk per record), and one key per
// record in each index cost a B+tree insert with its cursor and key
// allocations. Keeping the bytes in segments and only small entries in
// bbolt, and indexing by blocks (below), cut the CPU per record about
// ninefold at the recorder's batch of 512.
//
// # Indexes
//
// The indexes hold blocks, not one key per record (index.go): for each
// second, the sorted IDs of each route's, tenant's and status class's
// calls, and the sorted (trace ID, record ID) pairs of all its calls for
// chains. A second's entries wait in memory until a call that started two
// seconds later is appended; then the Append that closed the second
// writes its blocks, a few large sorted values instead of thousands of
// scattered inserts. A call that arrives for a closed second gets a small
// block of its own, a late part. On open, the calls of the seconds not yet
// closed are found again in the records bucket (pending.go), so a crash
// loses no index entry.
//
// Reads take the open seconds from memory and the closed ones from the
// blocks, newest first. Route and tenant blocks are contiguous per name,
// so a rare tenant's calls are found without reading anyone else's;
// Records compares the full route and tenant of each entry, so names
// longer than the 255 bytes an index key holds stay exact. Chain reads
// one chain block per stored second and binary-searches it. Per-route,
// per-tenant and per-class counts let Records walk the index with the
// fewest entries when a query has several filters.
//
// # Layout
//
// Buckets, keys big-endian and ordered byte-wise:
//
//	records    ID → entry (entry.go)
//	by_route   len(route) route second part → sorted IDs
//	by_tenant  len(tenant) tenant second part → sorted IDs
//	by_status  class second part → sorted IDs    (class: the hundreds digit)
//	by_chain   second part → sorted (trace ID, ID) pairs
//	blocks     second part → the keys of that second's blocks
//	segments   segment → newest ID in it
//	meta       "format" → uint64                (format.go; none: 1)
//	           "count", "bytes" → uint64        (records, logical size)
//	           "tail" → segment, end of the last committed batch
//	           "front" → the newest second whose blocks are written
//	counts     'r' route | 't' tenant | 's' class → uint64
//	samples    SampleID → a comparison sample (samples.go)
//	rollouts, rollout_events, rollout_revs
//	           route → state; route → seq → event; route → revision (rollouts.go)
//	tallies, tally_expiry
//	           the tallies and their expiries (bolt_tally.go)
//
// A block's part is 0 when its second closed, or the first sequence
// number of the Append that wrote a late call.
//
// # Durability
//
// Append returns once its batch is durable: the batch is written to the
// active segment and synced first, then one bbolt transaction adds its
// entries, index blocks and the new tail, and bbolt fsyncs its commit. So
// bbolt never references bytes that are not on disk, and a kill -9 loses
// nothing Append returned. It can leave bytes past the tail (a batch
// written but never committed) and a segment started for it: OpenBolt cuts
// the active segment back to the tail and removes segments that hold no
// committed record.
//
// # Retention
//
// Prune deletes records older than BoltOptions.Retention, then the oldest
// until the logical size (the records' bytes in the segments, each
// framed record charged its share of its frame, kept in meta by the same
// transactions that change it) is at most MaxBytes, PruneBatch
// records per transaction so appends wait for one batch at most. It then
// deletes the index blocks of the seconds before the oldest remaining
// record (blocks of that second name some deleted records until it goes
// whole; readers skip IDs whose entry is gone), and every segment, other
// than the active one, whose newest record is older than the oldest
// remaining one: records arrive nearly in start order and go oldest first,
// so segments go in the order they were written. The disk shrinks with
// the records: the segments hold MaxBytes plus the deleted part of the
// oldest one, under 64 MiB, and the bbolt file takes about 220 bytes a
// record; it reuses its freed pages but never shrinks.
//
// # Measurements
//
// BenchmarkAppend on the project's 2-core machine: records with 1 KiB
// request and response bodies, starts 25 µs apart less up to 50 ms of
// latency; medians of 7 runs alternating the two versions. cpu is the
// process's user plus system time per record, user its user part. The
// system time, the kernel writing and syncing files, varies between runs
// and sessions (batch 512: 2.5 to 3.8 µs in all) and grows with the size
// of a write here, so batches of 4096 are no cheaper than 512.
//
//	             before: values in bbolt         after: segments + blocks
//	batch  64   13,000 rec/s  73 µs (37 user)   66,000 rec/s  9.3 µs (3.4 user)
//	batch 512   36,000 rec/s  27 µs (16 user)  240,000 rec/s  2.9 µs (1.5 user)
//	batch 4096  71,000 rec/s  14 µs (9 user)   200,000 rec/s  4.2 µs (1.5 user)
//
// Allocations per record fell from 31 to 5 (batch 512) and the disk per
// record from 3,600 bytes to 2,420: the encoding (2,276) in a segment and
// its entry and index blocks in bbolt. Moving the values out alone, with
// one bbolt key per record in each index, still cost 24 µs a record at
// batch 512: 1.5 to 2.5 µs per in-order index and 10 µs for the random
// inserts of the chain index. Small batches pay their two fsyncs; at 512
// what remains is the segment write, one bbolt insert (the entry) and
// sorting a second's blocks. In make bench (GOMAXPROCS=1), recording 100%
// of 1 KiB calls now costs 1.16 times the pass-through CPU per request, at
// 34,000 records/s and none dropped; it cost 2.6 times, at 18,000.
//
// Compression (compress.go) was measured with TestDiskPerRecord (50,000
// jsonRecords, 1 KiB JSON bodies whose IDs, names, amounts and times vary
// between calls, in batches of 512 and in start order) and BenchmarkAppend
// (its json case, whose calls arrive up to 50 ms out of start order, and
// batch=512, benchRecords' repeated bodies), BenchmarkGet and
// BenchmarkRecordsPage/json (50 calls of one tenant among 50):
//
//	                              before            after (512 KiB frames)
//	disk per call, in order       2,385 bytes       422 (bbolt 90)
//	disk per call, json bench     2,496             485 (bbolt 194)
//	cpu per call, json bench      5.7 µs            12.5 µs
//	cpu per call, batch=512       5.7 µs            7.0 µs
//	allocations per call (512)    5.7               5.6 to 5.8
//	read by ID (BenchmarkGet)     0.005 ms          0.52 ms
//	page of one tenant's calls    0.10 ms           6.0 ms
//
// zstd's fastest level costs about 7 µs for the 2.3 KB of a varied JSON
// call on this machine, and little for calls that repeat, as make bench's
// one body does; the recorder encodes off the request path, in batches.
// Its default and better levels saved 1 and 23 bytes a call for 25% and
// 70% more CPU. Frames of 64, 128 and 192 KiB took 422, 381 and 360 bytes
// a call for the compressed data and 0.1, 0.19 and 0.46 ms a read by ID;
// 512 KiB frames were chosen to keep a call within 500 bytes on disk with
// its index when calls arrive out of order (see frameTarget); a read of calls far apart
// decodes one frame each. Compressing each record on its own took 1,014
// bytes a call. Calls that arrive out of start order make the records
// bucket's pages split before they fill, which costs bbolt some 45 bytes
// a call more.
//
// bbolt settings, measured the same way: 16 KiB pages instead of 4 KiB cut
// allocations by a fifth and user time by up to 0.4 µs a record, so new
// files use them. NoFreelistSync and a fill percent of 0.5 or 1.0 instead
// of 0.9 changed nothing beyond the noise; the freelist stays synced
// (skipping it costs a scan of the file on every open), and buckets whose
// keys arrive in order keep 0.9, which leaves their pages dense. Reading a
// page of 100 calls takes 0.2 ms, 0.07 ms more than before: one pread per
// call.
//
// # Concurrency
//
// A Bolt is safe for concurrent use. Appends run one at a time; they and
// prunes take bbolt's single writer lock in turn; reads run on a snapshot
// beside them and never wait for a commit. A read that sees a second close
// between its snapshot and its look at the open seconds retries. Segment
// files are deleted only after the reads that could still reference them
// end. OpenBolt refuses, after OpenTimeout, a file that another process
// holds, with ErrLocked.
package store
