package shadow

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	bolt "go.etcd.io/bbolt"

	"github.com/cutover/cutover/store"
)

// TestLegacyStatisticsConverted: an embedded store written before
// statistics became tallies holds a route's totals as JSON; the mirror
// converts them once, and the route's report goes on from them.
func TestLegacyStatisticsConverted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cutover.db")
	state, err := os.ReadFile("../diff/testdata/legacy/state.json")
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("diff_state"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte("orders"), state); err != nil {
			return err
		}
		return b.Put([]byte("broken"), []byte("{"))
	})
	if err != nil || db.Close() != nil {
		t.Fatal(err)
	}

	newSide := serve(t, "new", func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{"a":2}`) })
	for run := range 2 {
		st, err := store.OpenBolt(path, store.BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := NewMirror(Options{})
		r := m.Route("orders", settings(newSide, newSide), 1, 8)
		if err := m.SetStore(st, nil); err != nil {
			t.Fatal(err)
		}
		rep, err := m.Report(r, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		// The legacy totals once, not again on the second open.
		if rep.Compared != 300 || rep.NoisePairs != 100 {
			t.Errorf("open %d: compared %d, noise pairs %d; want the 300 and 100 converted", run+1, rep.Compared, rep.NoisePairs)
		}
		if err := m.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
