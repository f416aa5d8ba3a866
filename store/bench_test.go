package store

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/chain"
)

// benchRecords returns n records shaped like a typical JSON API call, with
// 1 KiB request and response bodies and starts in order.
func benchRecords(n int) []*Record {
	body := make([]byte, 1024)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	recs := make([]*Record, n)
	start := time.Now()
	for i := range recs {
		r := &Record{
			Chain:  chain.NewTraceID(),
			Span:   chain.NewSpanID(),
			Route:  "orders",
			Side:   "old",
			Target: "127.0.0.1:9001",
			Status: 200,
			Start:  start.Add(time.Duration(i) * time.Microsecond),
		}
		r.SetTenant(fmt.Appendf(nil, "%d", 1000+i%50))
		r.SetMethod([]byte("GET"))
		r.SetURI(fmt.Appendf(nil, "/api/orders/%d", i))
		r.SetReqHeaders([]byte("Host: shop.example.com\r\nAccept: application/json\r\nX-Org-Id: 1001\r\n"))
		r.SetRespHeaders([]byte("Content-Type: application/json\r\nContent-Length: 1024\r\n"))
		r.SetReqBody(body, 64<<10)
		r.SetRespBody(body, 64<<10)
		recs[i] = r
	}
	return recs
}

// BenchmarkAppend appends calls with 1 KiB bodies in batches, one durable
// Append per batch, as the recorder does. records/s and cpu-µs/record (the
// process's user plus system time, so the work of bbolt, the kernel and the
// garbage collector counts too) are the figures quoted in the package doc.
// The json cases append jsonRecords, whose bodies vary like real ones, and
// report the bytes on disk per record (disk-B/record).
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct {
		name  string
		batch int
		recs  func(n int) []*Record
	}{
		{"batch=64", 64, benchRecords},
		{"batch=512", 512, benchRecords},
		{"batch=4096", 4096, benchRecords},
		{"json/batch=512", 512, func(n int) []*Record { return jsonRecords(n, 1) }},
	} {
		batch := c.batch
		b.Run(c.name, func(b *testing.B) {
			s, path := openTest(b, BoltOptions{})
			recs := c.recs(batch)
			base := time.Now()
			b.ReportAllocs()
			b.SetBytes(int64(batch * encodedLen(recs[0])))
			var mem runtime.MemStats
			runtime.ReadMemStats(&mem)
			mallocs := mem.Mallocs
			cpu, user := cpuTime(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Starts advance 25µs a call (40,000 calls/s), less a
				// latency of up to 50ms: calls finish, and so arrive,
				// nearly but not exactly in start order.
				for j, r := range recs {
					r.Start = base.Add(time.Duration(i*batch+j)*25*time.Microsecond - time.Duration(rand.Int64N(int64(50*time.Millisecond))))
				}
				if err := s.Append(recs); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			n := float64(b.N * batch)
			cpu2, user2 := cpuTime(b)
			b.ReportMetric(float64(cpu2-cpu)/float64(time.Microsecond)/n, "cpu-µs/record")
			b.ReportMetric(float64(user2-user)/float64(time.Microsecond)/n, "user-µs/record")
			runtime.ReadMemStats(&mem)
			b.ReportMetric(float64(mem.Mallocs-mallocs)/n, "allocs/record")
			b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
			st, err := s.Stats()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.FileBytes)/float64(st.Records), "file-B/record")
			fi, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(fi.Size())/float64(st.Records), "bbolt-B/record")
			b.ReportMetric(float64(diskBytes(b, path))/float64(st.Records), "disk-B/record")
		})
	}
}

// cpuTime returns the user plus system time the process has used, and
// the user time alone: the system time is mostly the kernel writing and
// syncing files.
func cpuTime(b *testing.B) (total, user time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Utime.Nano())
}

// BenchmarkEncode is the encoding of one record alone.
func BenchmarkEncode(b *testing.B) {
	r := benchRecords(1)[0]
	buf := make([]byte, 0, encodedLen(r))
	b.ReportAllocs()
	b.SetBytes(int64(encodedLen(r)))
	for i := 0; i < b.N; i++ {
		buf = appendRecord(buf[:0], r)
	}
}

// BenchmarkRecordsPage reads one page of 50 calls of one tenant among
// 50, through the tenant index: the calls lie far apart, so with
// compressed frames each one costs the decoding of its frame. The json
// case holds jsonRecords.
func BenchmarkRecordsPage(b *testing.B) {
	for _, c := range []struct {
		name string
		recs []*Record
	}{
		{"alphabet", benchRecords(5000)},
		{"json", jsonRecords(5000, 1)},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, _ := openTest(b, BoltOptions{})
			for i := 0; i < len(c.recs); i += 500 {
				if err := s.Append(c.recs[i : i+500]); err != nil {
					b.Fatal(err)
				}
			}
			tenant := string(c.recs[0].Tenant)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				page, err := s.Records(Query{Tenant: tenant, Limit: 50})
				if err != nil || len(page.Records) != 50 {
					b.Fatal(len(page.Records), err)
				}
			}
		})
	}
}

// BenchmarkGet reads single calls by ID, picked at random among 5000 JSON
// calls: each read decodes the frame its call is in.
func BenchmarkGet(b *testing.B) {
	s, _ := openTest(b, BoltOptions{})
	recs := jsonRecords(5000, 1)
	for i := 0; i < len(recs); i += 500 {
		if err := s.Append(recs[i : i+500]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := recs[rand.IntN(len(recs))]
		got, err := s.Get(r.ID)
		if err != nil || got.Chain != r.Chain {
			b.Fatal(err)
		}
	}
}
