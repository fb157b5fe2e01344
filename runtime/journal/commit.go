package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// request is one Append or Reject waiting for the committer. The caller
// fills the inputs; the committer fills the results and closes done.
type request struct {
	evs  []*event.Event
	vals [][]byte // evs encoded
	rej  []byte   // a rejected callback's key, when this is a Reject
	rejV []byte   // and its value

	fresh     []bool
	seqs      []uint64
	committed bool
	err       error
	done      chan struct{}
}

// size is what the request counts against Options.MaxBatch.
func (r *request) size() int {
	if r.rej != nil {
		return 1
	}
	return len(r.evs)
}

// Append stores events durably, deduplicated by Event.ID, and reports per
// event whether it was new (true) or already stored (false), including a
// repeat of an ID earlier in the same call. New events get their Seq; an
// event whose Received is zero is stamped with the current time. Append
// returns only after the events are synced to disk.
//
// Append takes the events over: the caller must not modify them after the
// call, and they are shared with readers. ctx bounds the wait, not the
// write: once queued, the events are written even if ctx ends first, and a
// retry then reports them as duplicates.
func (j *Journal) Append(ctx context.Context, evs []*event.Event) ([]bool, error) {
	if len(evs) == 0 {
		return []bool{}, nil
	}
	r := &request{evs: evs, vals: make([][]byte, len(evs)), done: make(chan struct{})}
	now := time.Now().UnixMilli()
	for i, ev := range evs {
		switch {
		case ev == nil:
			return nil, fmt.Errorf("%w: event %d is nil", ErrInvalidEvent, i)
		case ev.ID == "":
			return nil, fmt.Errorf("%w: event %d (%s %s) has no id", ErrInvalidEvent, i, ev.Vendor, ev.Type)
		case len(ev.ID) > MaxIDBytes:
			return nil, fmt.Errorf("%w: event %d id is %d bytes, at most %d", ErrInvalidEvent, i, len(ev.ID), MaxIDBytes)
		}
		if ev.Received == 0 {
			ev.Received = now
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("%w: encode event %q: %v", ErrInvalidEvent, ev.ID, err)
		}
		r.vals[i] = b
	}
	if err := j.submit(ctx, r); err != nil {
		return nil, err
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for journal append: %w", ctx.Err())
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.fresh, nil
}

// submit queues r for the committer.
func (j *Journal) submit(ctx context.Context, r *request) error {
	j.sendMu.RLock()
	defer j.sendMu.RUnlock()
	if j.closed {
		return ErrClosed
	}
	select {
	case j.reqs <- r:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue journal append: %w", ctx.Err())
	}
}

// commitLoop is the committer: it takes the first waiting request, adds
// whatever else is already queued (up to MaxBatch events), and commits them
// together. While one batch syncs, the next one queues up.
func (j *Journal) commitLoop() {
	defer close(j.committerDone)
	for first := range j.reqs {
		batch := append(j.batch[:0], first)
		n := first.size()
	drain:
		for n < j.opts.MaxBatch {
			select {
			case r, ok := <-j.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				n += r.size()
			default:
				break drain
			}
		}
		j.commit(batch)
		clear(batch)
		j.batch = batch[:0]
	}
}

// commit writes one batch: as few transactions as fit it (normally one),
// then one sync, then the answers.
func (j *Journal) commit(batch []*request) {
	j.stats.batches.Add(1)
	for pending := batch; len(pending) > 0; {
		pending = pending[j.commitGroup(pending):]
	}
	var committed bool
	for _, r := range batch {
		committed = committed || r.committed
	}
	if committed {
		j.unsynced = true
	}
	// A batch of duplicates only is answered after a sync too when an
	// earlier batch's sync failed: a duplicate is acknowledged only once
	// its original is durable.
	if j.unsynced {
		j.stats.syncs.Add(1)
		if err := j.sync(); err != nil {
			err = fmt.Errorf("sync journal: %w", err)
			j.log.Error("journal sync failed; appends are not acknowledged", "error", err)
			for _, r := range batch {
				if r.err == nil {
					r.err = err
				}
			}
		} else {
			j.unsynced = false
		}
	}
	// Committed events are in Badger whether or not the sync worked, so
	// they are published either way: a retried callback is a duplicate of
	// them and must not be lost to the readers.
	var evs []*event.Event
	for _, r := range batch {
		if !r.committed || r.rej != nil {
			continue
		}
		for i, ev := range r.evs {
			if r.fresh[i] {
				ev.Seq = r.seqs[i]
				evs = append(evs, ev)
			}
		}
	}
	if len(evs) > 0 {
		j.publish(evs, j.last)
	}
	for _, r := range batch {
		if r.committed && r.rej == nil {
			for _, f := range r.fresh {
				if f {
					j.stats.stored.Add(1)
				} else {
					j.stats.duplicates.Add(1)
				}
			}
		}
		j.stats.requests.Add(1)
		close(r.done)
	}
}

// commitGroup writes the longest prefix of reqs that fits in one
// transaction and reports how many requests it settled (committed or
// failed). A request that does not fit even alone fails with ErrTooLarge;
// a request that fails to stage fails alone, the ones before it are
// committed without it.
//
// The head record rides along: each transaction records the head as it
// was before it, so it costs no write of its own. It only has to outlive
// the events (whose retention may expire them all); until the next
// transaction, the newest event key gives the head (loadHead).
func (j *Journal) commitGroup(reqs []*request) int {
	txn := j.db.NewTransaction(true)
	defer txn.Discard()
	head := j.last
	if j.headStored != head {
		if err := txn.Set(keyHead, be64(head)); err != nil {
			j.log.Warn("could not record the journal head", "head", head, "error", err)
		}
	}
	next := j.last
	for i, r := range reqs {
		last, err := j.stage(txn, r, next)
		if err == nil {
			next = last
			continue
		}
		txn.Discard()
		if i > 0 {
			// Everything before r fitted: commit it alone; r starts the
			// next transaction.
			return j.commitGroup(reqs[:i])
		}
		if errors.Is(err, badger.ErrTxnTooBig) {
			err = fmt.Errorf("%w: %d events", ErrTooLarge, len(r.evs))
		}
		r.err = err
		return 1
	}
	if err := txn.Commit(); err != nil {
		err = fmt.Errorf("commit journal batch: %w", err)
		j.log.Error("journal commit failed", "requests", len(reqs), "error", err)
		for _, r := range reqs {
			r.err = err
		}
		return len(reqs)
	}
	j.stats.commits.Add(1)
	j.headStored = head
	j.last = next
	for _, r := range reqs {
		r.committed = true
	}
	return len(reqs)
}

// stage adds one request's writes to txn, numbering new events after
// next, and returns the last number used. The dedupe lookup sees the
// transaction's own pending writes, so a repeat inside the batch is a
// duplicate too.
func (j *Journal) stage(txn *badger.Txn, r *request, next uint64) (uint64, error) {
	if r.rej != nil {
		if err := txn.SetEntry(j.entry(r.rej, r.rejV)); err != nil {
			return next, fmt.Errorf("store rejected callback: %w", err)
		}
		return next, nil
	}
	r.fresh = make([]bool, len(r.evs))
	r.seqs = make([]uint64, len(r.evs))
	for i, ev := range r.evs {
		dk := dedupeKey(ev.ID)
		_, err := txn.Get(dk)
		switch {
		case err == nil:
			continue
		case !errors.Is(err, badger.ErrKeyNotFound):
			return next, fmt.Errorf("look up event %q: %w", ev.ID, err)
		}
		seq := next + 1
		if err := txn.SetEntry(j.entry(dk, be64(seq))); err != nil {
			return next, fmt.Errorf("index event %q: %w", ev.ID, err)
		}
		if err := txn.SetEntry(j.entry(eventKey(seq), r.vals[i])); err != nil {
			return next, fmt.Errorf("store event %q: %w", ev.ID, err)
		}
		next = seq
		r.fresh[i], r.seqs[i] = true, seq
	}
	return next, nil
}

// entry is a Badger entry carrying the retention TTL.
func (j *Journal) entry(key, val []byte) *badger.Entry {
	e := badger.NewEntry(key, val)
	if j.opts.Retention > 0 {
		e = e.WithTTL(j.opts.Retention)
	}
	return e
}
