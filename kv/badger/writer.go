package badgerkv

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// Bounds of the write queue: a writer that gets this far ahead of the
// disk waits for it.
const (
	maxQueuedWrites = 4096
	maxQueuedBytes  = 8 << 20
)

// write is one queued change of a key: a set (entry) or a delete.
type write struct {
	key       []byte
	val       []byte
	expiresAt uint64
	del       bool
}

func (w write) size() int { return len(w.key) + len(w.val) }

// writer applies the Store's writes to Badger in the order they were
// queued, many per transaction, on a goroutine that runs only while
// writes are waiting. Callers never wait for Badger's commit, only for
// room in the queue; Flush waits until what was queued before it is
// committed. A commit that fails makes the writer fail for good: every
// later write and Flush returns the error.
//
// Every method is safe for concurrent use.
type writer struct {
	db *badger.DB
	// apply commits a batch: commit, or a failing stand-in in tests.
	apply func([]write) error

	mu        sync.Mutex
	cond      *sync.Cond // signalled when a batch is committed or fails
	queue     []write
	bytes     int
	queued    uint64        // sequence of the last queued write
	committed atomic.Uint64 // sequence of the last committed write
	running   bool          // the goroutine is draining the queue
	closed    bool
	err       error
}

func newWriter(db *badger.DB) *writer {
	w := &writer{db: db}
	w.apply = w.commit
	w.cond = sync.NewCond(&w.mu)
	return w
}

// enqueue queues one write and returns its sequence number. It waits
// while the queue is full.
func (w *writer) enqueue(op write) (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.err == nil && !w.closed && (len(w.queue) >= maxQueuedWrites || (w.bytes > 0 && w.bytes+op.size() > maxQueuedBytes)) {
		w.cond.Wait()
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, ErrClosed
	}
	w.queue = append(w.queue, op)
	w.bytes += op.size()
	w.queued++
	if !w.running {
		w.running = true
		go w.drain()
	}
	return w.queued, nil
}

// drain commits the queue batch by batch until it is empty.
func (w *writer) drain() {
	w.mu.Lock()
	for len(w.queue) > 0 && w.err == nil {
		batch, last := w.queue, w.queued
		w.queue, w.bytes = nil, 0
		w.mu.Unlock()
		err := w.apply(batch)
		w.mu.Lock()
		if err != nil {
			w.err = fmt.Errorf("kv: write to the store failed, later writes are refused: %w", err)
		} else {
			w.committed.Store(last)
		}
		w.cond.Broadcast()
	}
	w.running = false
	w.cond.Broadcast()
	w.mu.Unlock()
}

// commit writes one batch; WriteBatch splits it into as many transactions
// as it needs, in order.
func (w *writer) commit(batch []write) error {
	wb := w.db.NewWriteBatch()
	defer wb.Cancel()
	for _, op := range batch {
		var err error
		if op.del {
			err = wb.Delete(op.key)
		} else {
			e := badger.NewEntry(op.key, op.val)
			e.ExpiresAt = op.expiresAt
			err = wb.SetEntry(e)
		}
		if err != nil {
			return err
		}
	}
	return wb.Flush()
}

// isCommitted reports whether the write of sequence seq is in Badger.
func (w *writer) isCommitted(seq uint64) bool { return seq <= w.committed.Load() }

// flush waits until every write queued before the call is committed.
func (w *writer) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	target := w.queued
	for w.err == nil && w.committed.Load() < target {
		w.cond.Wait()
	}
	return w.err
}

// close flushes and refuses later writes.
func (w *writer) close() error {
	err := w.flush()
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	return err
}
