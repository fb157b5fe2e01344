package outbox

import (
	"errors"
	"fmt"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"
)

// maxBatch bounds the operations one commit takes.
const maxBatch = 4096

// write is one change of the outbox's keys: sets and deletes applied in
// one transaction with the other writes of its batch.
type write struct {
	set  [][2][]byte // key, value
	keep [][2][]byte // key, value, stored for SendRecordTTL
	del  [][]byte
	sync bool // the caller needs it on disk before it goes on
	// done receives the commit's result; nil for writes nobody waits on
	// (deletes of sent entries, attempt counts), whose loss in a crash
	// only means one more send.
	done chan error
	// after, when set, runs on the writer's goroutine once the write is
	// committed (or failed); it must not block.
	after func()
}

// writer is the outbox's only writer of the database: one goroutine that
// takes every write waiting and commits them together, with one fsync for
// the batch if any write needs it. Writes commit in the order submitted.
type writer struct {
	db  *badger.DB
	log hclog.Logger
	// sync makes committed writes durable: db.Sync, or a counting
	// stand-in in tests.
	sync func() error

	mu     sync.RWMutex // held for reading while submitting; for writing by close
	closed bool
	ch     chan write
	exited chan struct{}
}

func newWriter(db *badger.DB, log hclog.Logger) *writer {
	w := &writer{db: db, log: log, sync: db.Sync, ch: make(chan write, maxBatch), exited: make(chan struct{})}
	go w.run()
	return w
}

// submit queues wr and, when wait, waits for its commit.
func (w *writer) submit(wr write, wait bool) error {
	done, err := w.enqueue(wr, wait)
	if err != nil || done == nil {
		return err
	}
	return <-done
}

// enqueue queues wr without waiting; when wait, the answer receives the
// commit's result. It blocks only while the queue is full, so callers may
// hold their own locks (which the writer never takes) to order writes.
func (w *writer) enqueue(wr write, wait bool) (<-chan error, error) {
	if wait {
		wr.done = make(chan error, 1)
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return nil, ErrClosed
	}
	w.ch <- wr
	return wr.done, nil
}

// close commits what is queued and stops the goroutine.
func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
	w.mu.Unlock()
	<-w.exited
}

func (w *writer) run() {
	defer close(w.exited)
	batch := make([]write, 0, 64)
	for wr := range w.ch {
		batch = append(batch[:0], wr)
	gather:
		for len(batch) < maxBatch {
			select {
			case more, ok := <-w.ch:
				if !ok {
					break gather
				}
				batch = append(batch, more)
			default:
				break gather
			}
		}
		err := w.commit(batch)
		if err != nil {
			w.log.Error("outbox write failed", "writes", len(batch), "error", err)
		}
		for i := range batch {
			if batch[i].done != nil {
				batch[i].done <- err
			}
			if batch[i].after != nil {
				batch[i].after()
			}
			batch[i] = write{}
		}
	}
}

func (w *writer) commit(batch []write) error {
	txn := w.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	apply := func(f func() error) error {
		err := f()
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err := txn.Commit(); err != nil {
				return fmt.Errorf("commit outbox batch: %w", err)
			}
			txn = w.db.NewTransaction(true)
			err = f()
		}
		return err
	}
	needSync := false
	for i := range batch {
		wr := &batch[i]
		needSync = needSync || wr.sync
		for _, d := range wr.del {
			if err := apply(func() error { return txn.Delete(d) }); err != nil {
				return fmt.Errorf("delete %s: %w", d, err)
			}
		}
		for _, kv := range wr.set {
			if err := apply(func() error { return txn.Set(kv[0], kv[1]) }); err != nil {
				return fmt.Errorf("store %s: %w", kv[0], err)
			}
		}
		for _, kv := range wr.keep {
			if err := apply(func() error { return txn.SetEntry(badger.NewEntry(kv[0], kv[1]).WithTTL(SendRecordTTL)) }); err != nil {
				return fmt.Errorf("store %s: %w", kv[0], err)
			}
		}
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("commit outbox batch: %w", err)
	}
	if needSync {
		if err := w.sync(); err != nil {
			return fmt.Errorf("sync outbox batch: %w", err)
		}
	}
	return nil
}
