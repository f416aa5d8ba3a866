package store

import (
	"runtime"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/redistest"
)

// BenchmarkRedisAppend appends batches of 512 calls with 1 KiB bodies to
// a real redis-server on loopback, with a retention so that the expiries
// are part of the work, as the recorder does on a gateway that shares
// Redis. The server runs on the same machine, so its CPU competes with
// the benchmark's; records/s is the round trips' pace, allocs/record the
// client's share.
func BenchmarkRedisAppend(b *testing.B) {
	const batch = 512
	srv := redistest.Start(b)
	s, err := OpenRedis(RedisOptions{Addrs: []string{srv.Addr}, Retention: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	recs := benchRecords(batch)
	base := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(batch * encodedLen(recs[0])))
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	mallocs := mem.Mallocs
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%64 == 0 {
			// Keep the server's memory bounded on long runs.
			b.StopTimer()
			if err := srv.Do("FLUSHALL"); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		for j, r := range recs {
			r.Start = base.Add(time.Duration(i*batch+j) * 25 * time.Microsecond)
		}
		if err := s.Append(recs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	n := float64(b.N * batch)
	runtime.ReadMemStats(&mem)
	b.ReportMetric(float64(mem.Mallocs-mallocs)/n, "allocs/record")
	b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
}
