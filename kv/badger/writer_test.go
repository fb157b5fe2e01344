package badgerkv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/switchboard-dev/switchboard/runtime/storage"
)

// onDisk reads a key of bucket ns straight from Badger, past the cache.
func onDisk(t *testing.T, db *badger.DB, ns, key string) (string, bool) {
	t.Helper()
	var val []byte
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(storage.PrefixKV + ns + "/" + key))
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatalf("read %s from badger: %v", key, err)
	}
	return string(val), true
}

func TestFlushPutsEveryWriteInBadgerInOrder(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	b := s.Bucket("p")
	for i := range 500 {
		set(t, b, "k"+strconv.Itoa(i%50), strconv.Itoa(i)) // each key rewritten 10 times
		if _, err := b.Incr("n", 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete("k7"); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		key := "k" + strconv.Itoa(i)
		got, ok := onDisk(t, db, "p", key)
		if i == 7 {
			if ok {
				t.Errorf("deleted %s is still in badger: %s", key, got)
			}
			continue
		}
		if want := strconv.Itoa(450 + i); got != want {
			t.Errorf("%s in badger = %q, want the last write %q", key, got, want)
		}
	}
	if got, _ := onDisk(t, db, "p", "n"); got != "500" {
		t.Errorf("n in badger = %q, want 500", got)
	}
}

// More keys than the cache holds: evicted keys are read back from Badger,
// and every value is the last one written.
func TestKeysBeyondTheCacheReadBack(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	b := s.Bucket("p")
	const n = numStripes * stripeKeys * 2
	for i := range n {
		if _, err := b.Incr("c"+strconv.Itoa(i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		got, err := b.Incr("c"+strconv.Itoa(i), 1)
		if err != nil || got != int64(i)+1 {
			t.Fatalf("c%d = %d, %v; want %d", i, got, err, i+1)
		}
	}
	cachedKeys := 0
	for i := range s.stripes {
		cachedKeys += len(s.stripes[i].cache)
	}
	if cachedKeys >= n {
		t.Errorf("the cache holds %d keys after %d were used, want fewer", cachedKeys, n)
	}
}

// Values larger than the queue's byte bound go through in order: writers
// wait for room instead of growing the queue.
func TestLargeValues(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	b := s.Bucket("p")
	big := func(i int) json.RawMessage {
		return json.RawMessage(`"` + string(bytes.Repeat([]byte{byte('a' + i%26)}, 512<<10)) + `"`)
	}
	const n = 40 // 20 MiB, more than maxQueuedBytes
	for i := range n {
		if err := b.Set(fmt.Sprint("big", i), big(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		got, err := b.Get(fmt.Sprint("big", i))
		if err != nil || !bytes.Equal(got, big(i)) {
			t.Fatalf("big%d: %d bytes, %v", i, len(got), err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, ok := onDisk(t, db, "p", "big39"); !ok || got != string(big(39)) {
		t.Errorf("big39 in badger: %d bytes, found %v", len(got), ok)
	}
}

func TestClosedStoreRefusesWrites(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	b := s.Bucket("p")
	set(t, b, "k", `1`)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Set("k", json.RawMessage(`2`), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Set after Close = %v, want ErrClosed", err)
	}
	if _, err := b.Incr("n", 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Incr after Close = %v, want ErrClosed", err)
	}
	if got, err := b.Get("k"); err != nil || string(got) != "1" {
		t.Errorf("Get after Close = %s, %v; want 1", got, err)
	}
}

// A write Badger refuses stops the writer: Flush reports it and later
// writes fail with it instead of being dropped silently.
func TestWriteFailureIsReported(t *testing.T) {
	t.Parallel()
	db := openDB(t, t.TempDir())
	t.Cleanup(func() { db.Close() })
	s := New(db)
	disk := errors.New("no space left on device")
	s.w.apply = func([]write) error { return disk }
	b := s.Bucket("p")
	if err := b.Set("k", json.RawMessage(`1`), 0); err != nil {
		t.Fatalf("the first write is queued before it fails: %v", err)
	}
	if err := s.Flush(); !errors.Is(err, disk) {
		t.Fatalf("Flush = %v, want the write failure", err)
	}
	if err := b.Set("k", json.RawMessage(`2`), 0); !errors.Is(err, disk) {
		t.Errorf("Set after the failure = %v, want the write failure", err)
	}
	if _, err := b.Incr("n", 1); !errors.Is(err, disk) {
		t.Errorf("Incr after the failure = %v, want the write failure", err)
	}
	if _, _, err := b.List("", 10, ""); !errors.Is(err, disk) {
		t.Errorf("List after the failure = %v, want the write failure", err)
	}
	if err := s.Close(); !errors.Is(err, disk) {
		t.Errorf("Close = %v, want the write failure", err)
	}
}
