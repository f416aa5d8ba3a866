package store

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/redistest"
)

// The contract suite: the tests named TestContract* run every case on each
// driver, the embedded store and Redis (a real redis-server on a free
// loopback port), so that the gateway may use either behind the same
// interfaces. Each test asserts the store interface it needs of s.

// eachDriver runs fn once per driver on a fresh, empty store whose
// retention is retention (0: unlimited).
func eachDriver(t *testing.T, retention time.Duration, fn func(t *testing.T, s any)) {
	t.Run("embedded", func(t *testing.T) {
		b, err := OpenBolt(filepath.Join(t.TempDir(), "cutover.db"), BoltOptions{Retention: retention})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		fn(t, b)
	})
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		r, err := OpenRedis(RedisOptions{Addrs: []string{srv.Addr}, Retention: retention})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		fn(t, r)
	})
}
