package outbox

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// scan calls fn with every stored entry in state s, in ID order, until fn
// answers false. Entries that cannot be decoded are logged and skipped.
func (o *Outbox) scan(s State, fn func(*Entry) bool) error {
	prefix := stateKey(s, "")
	return o.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Seek(prefix); it.Valid(); it.Next() {
			item := it.Item()
			val, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read %s: %w", item.Key(), err)
			}
			e, err := decodeEntry(item.KeyCopy(nil), val)
			if err != nil {
				// One unreadable record must not stop the others: it
				// stays in the store, for Drop.
				o.log.Error("skipping unreadable outbox entry", "error", err)
				continue
			}
			if !fn(e) {
				return nil
			}
		}
		return nil
	})
}

// List answers up to limit entries in state s (all when limit <= 0),
// oldest first, as stored. A pending entry in flight may already have been
// answered by the vendor.
func (o *Outbox) List(s State, limit int) ([]Entry, error) {
	if s != Pending && s != Dead {
		return nil, fmt.Errorf("list outbox: %w: state %q", ErrBadRequest, s)
	}
	out := []Entry{}
	err := o.scan(s, func(e *Entry) bool {
		out = append(out, *e)
		return limit <= 0 || len(out) < limit
	})
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}

// item finds the stored record of entry id, pending or dead.
func item(txn *badger.Txn, id string) (*badger.Item, error) {
	for _, s := range []State{Pending, Dead} {
		it, err := txn.Get(stateKey(s, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		return it, err
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// get reads the stored entry id, pending or dead.
func (o *Outbox) get(id string) (*Entry, error) {
	var found *Entry
	err := o.db.View(func(txn *badger.Txn) error {
		it, err := item(txn, id)
		if err != nil {
			return err
		}
		val, err := it.ValueCopy(nil)
		if err != nil {
			return err
		}
		found, err = decodeEntry(it.KeyCopy(nil), val)
		return err
	})
	return found, err
}

// exists answers nil when entry id is stored, pending or dead, readable
// or not.
func (o *Outbox) exists(id string) error {
	return o.db.View(func(txn *badger.Txn) error {
		_, err := item(txn, id)
		return err
	})
}

// Retry sends entry id again as soon as its conversation's turn comes: a
// dead entry goes back to pending with its attempts reset (behind the
// sends its conversation has queued meanwhile); a pending one waiting out
// a backoff waits no longer. It answers the entry as it now is.
func (o *Outbox) Retry(id string) (Entry, error) {
	if err := checkID(id); err != nil {
		return Entry{}, err
	}
	o.adminMu.Lock()
	defer o.adminMu.Unlock()
	o.mu.Lock()
	if e, ok := o.entries[id]; ok {
		e.notBefore, e.NextAttempt = time.Time{}, time.Time{}
		snap := e.Entry
		if l := o.lanes[e.Conversation]; l != nil {
			poke(l.wake)
		}
		o.mu.Unlock()
		return snap, nil
	}
	o.mu.Unlock()
	stored, err := o.get(id)
	if err != nil {
		return Entry{}, fmt.Errorf("retry %s: %w", id, err)
	}
	e := &entry{Entry: *stored}
	e.NextAttempt = time.Time{}
	wr := write{sync: true}
	if e.State == Dead {
		e.State, e.Attempts = Pending, 0
		wr.del = [][]byte{stateKey(Dead, id)}
	}
	val, err := encodeEntry(&e.Entry)
	if err != nil {
		return Entry{}, err
	}
	wr.set = [][2][]byte{{stateKey(Pending, id), val}}
	o.mu.Lock()
	if cur, ok := o.entries[id]; ok { // revived concurrently
		snap := cur.Entry
		o.mu.Unlock()
		return snap, nil
	}
	done, err := o.w.enqueue(wr, true)
	if err == nil && o.started && !o.closed {
		o.track(e)
		l := o.laneOf(e.Conversation)
		l.queue = append(l.queue, e)
		o.runLocked(l)
	}
	snap := e.Entry
	o.mu.Unlock()
	if err == nil {
		err = <-done
	}
	if err != nil {
		return Entry{}, fmt.Errorf("retry %s: %w", id, err)
	}
	return snap, nil
}

// Drop deletes entry id, pending or dead. A pending entry already with the
// vendor cannot be called back: its answer is then ignored. A caller
// waiting on a dropped send gets ErrDropped.
func (o *Outbox) Drop(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	o.adminMu.Lock()
	defer o.adminMu.Unlock()
	o.mu.Lock()
	e, known := o.entries[id]
	o.mu.Unlock()
	if !known {
		if err := o.exists(id); err != nil {
			return fmt.Errorf("drop %s: %w", id, err)
		}
	}
	del := write{del: [][]byte{stateKey(Pending, id), stateKey(Dead, id)}, sync: true}
	o.mu.Lock()
	var waiter chan result
	if e != nil && o.entries[id] == e {
		e.dropped = true
		o.untrack(e)
		if !e.inFlight { // else its lane drops it when the vendor answers
			if l := o.lanes[e.Conversation]; l != nil {
				for i, q := range l.queue {
					if q == e {
						l.queue = append(l.queue[:i], l.queue[i+1:]...)
						break
					}
				}
				poke(l.wake)
			}
			waiter, e.waiter = e.waiter, nil
		}
	}
	done, err := o.w.enqueue(del, true)
	o.mu.Unlock()
	if waiter != nil {
		waiter <- result{err: ErrDropped}
	}
	if err == nil {
		err = <-done
	}
	if err != nil {
		return fmt.Errorf("drop %s: %w", id, err)
	}
	return nil
}

// Stats counts the stored entries and, when running, what was done.
func (o *Outbox) Stats() (Stats, error) {
	st := Stats{
		InFlight: o.inFlight.Load(), Sent: o.sent.Load(), Resent: o.resent.Load(), Repeated: o.repeated.Load(),
		Retries: o.retries.Load(), DeadLettered: o.deadLettered.Load(),
	}
	err := o.db.View(func(txn *badger.Txn) error {
		for _, c := range []struct {
			s State
			n *int
		}{{Pending, &st.Pending}, {Dead, &st.Dead}} {
			prefix := stateKey(c.s, "")
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			for it.Seek(prefix); it.Valid(); it.Next() {
				*c.n++
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("outbox stats: %w", err)
	}
	return st, nil
}
