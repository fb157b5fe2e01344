package journal

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// BenchmarkAppendParallel measures durable single-event appends from many
// goroutines: each one returns only after its event is synced, and group
// commit shares the syncs. Compare with BenchmarkBadgerSyncedPut.
func BenchmarkAppendParallel(b *testing.B) {
	e := newEnv(b, Options{})
	ctx := testCtx(b)
	var n atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.j.Append(ctx, evs(fmt.Sprintf("bench-%d", n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	st := e.j.Stats()
	b.ReportMetric(float64(st.Stored)/float64(max(st.Syncs, 1)), "events/sync")
}

// BenchmarkBadgerSyncedPut is the baseline: one event written and synced
// per operation, the way a journal without group commit would work.
func BenchmarkBadgerSyncedPut(b *testing.B) {
	db := openDB(b, b.TempDir())
	b.Cleanup(func() { db.Close() })
	val := []byte(`{"id":"x","type":"message","vendor":"quntool","raw":{}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set(eventKey(uint64(i)), val) }); err != nil {
			b.Fatal(err)
		}
		if err := db.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}
