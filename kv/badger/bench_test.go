package badgerkv

import (
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// syncLoad keeps the database busy the way the runtime does while events
// flow: another writer committing small batches and syncing after each,
// as the journal does. It stops when the benchmark ends.
func syncLoad(b *testing.B, db *badger.DB) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			err := db.Update(func(txn *badger.Txn) error {
				for j := range 16 {
					if err := txn.Set([]byte("j/"+strconv.Itoa(i)+"/"+strconv.Itoa(j)), make([]byte, 600)); err != nil {
						return err
					}
				}
				return nil
			})
			if err == nil {
				err = db.Sync()
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	}()
	b.Cleanup(func() { close(stop); wg.Wait() })
}

// BenchmarkIncrUnderSyncs is kv.incr as a handler sees it, on a database another
// writer is committing to and syncing: through the Store (the write takes
// effect in the cache and reaches Badger from the writer), and, as the
// baseline, one Badger transaction per increment, the way the Store worked
// before its writer (read, write, wait for the commit).
func BenchmarkIncrUnderSyncs(b *testing.B) {
	keys := make([]string, 1600) // the e2e benchmark's conversations
	for i := range keys {
		keys[i] = "seen:S:" + strconv.Itoa(i)
	}
	b.Run("store", func(b *testing.B) {
		s, db := newStore(b)
		syncLoad(b, db)
		bucket := s.Bucket("p")
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if _, err := bucket.Incr(keys[i%len(keys)], 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("badger-txn-per-incr", func(b *testing.B) {
		_, db := newStore(b)
		syncLoad(b, db)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			k := []byte("k/p/" + keys[i%len(keys)])
			err := db.Update(func(txn *badger.Txn) error {
				var n int64
				item, err := txn.Get(k)
				switch {
				case err == nil:
					if err := item.Value(func(v []byte) error { n, err = parseInt(v); return err }); err != nil {
						return err
					}
				case !errors.Is(err, badger.ErrKeyNotFound):
					return err
				}
				return txn.Set(k, strconv.AppendInt(nil, n+1, 10))
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
