package journal

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Progress is one consumer's delivery state, for at-least-once delivery
// (SPEC §5): a low watermark (every seq below it is done) and the done
// seqs above it. The watermark advances over contiguous done seqs, and the
// marks it passes are dropped, in memory and on disk.
//
// Done is cheap and only touches memory; a background flusher persists
// the marks every Options.FlushInterval with unsynced writes, and Close
// (or FlushProgress) writes the rest. Marks lost in a crash mean those
// events are delivered again, never that one is skipped.
//
// All methods are safe for concurrent use. A Progress stays valid until
// Forget drops its consumer; after that it is inert (Done is ignored).
type Progress struct {
	j    *Journal
	name string

	mu        sync.Mutex
	low       uint64              // watermark: every seq < low is done
	done      map[uint64]struct{} // done seqs >= low
	dirty     map[uint64]struct{} // done seqs not yet written
	onDisk    map[uint64]struct{} // marks written (or being written)
	savedLow  uint64              // watermark last written
	forgotten bool
}

func newProgress(j *Journal, name string, low uint64) *Progress {
	return &Progress{j: j, name: name, low: low, done: map[uint64]struct{}{},
		dirty: map[uint64]struct{}{}, onDisk: map[uint64]struct{}{}}
}

// Name is the consumer's name.
func (p *Progress) Name() string { return p.name }

// Start is the watermark: the first seq not known to be done. A reader
// resumes here, skipping the seqs IsDone reports.
func (p *Progress) Start() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.low
}

// IsDone reports whether seq was marked done.
func (p *Progress) IsDone(seq uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq < p.low {
		return true
	}
	_, ok := p.done[seq]
	return ok
}

// Done marks seq done. Marking a seq twice, or one below the watermark, is
// a no-op.
func (p *Progress) Done(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.forgotten || seq < p.low {
		return
	}
	if _, ok := p.done[seq]; ok {
		return
	}
	p.done[seq] = struct{}{}
	p.dirty[seq] = struct{}{}
	p.advance()
}

// advance moves the watermark over contiguous done seqs. Caller holds mu.
func (p *Progress) advance() {
	for {
		if _, ok := p.done[p.low]; !ok {
			return
		}
		delete(p.done, p.low)
		delete(p.dirty, p.low)
		p.low++
	}
}

// skipTo moves the watermark to seq when it is still at from: the seqs in
// between no longer exist (expired). Caller must not hold mu.
func (p *Progress) skipTo(from, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.forgotten || p.low != from || seq <= from {
		return
	}
	for s := range p.done {
		if s < seq {
			delete(p.done, s)
			delete(p.dirty, s)
		}
	}
	p.low = seq
	p.advance()
}

// delta is what one flush writes for one consumer.
type delta struct {
	p       *Progress
	low     uint64
	setLow  bool
	add     []uint64
	del     []uint64
	checkAt uint64 // watermark to check for expired events, 0 = none
}

// snapshot takes the unwritten changes. Caller must not hold mu.
func (p *Progress) snapshot() delta {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.forgotten {
		return delta{}
	}
	d := delta{p: p, low: p.low, setLow: p.low != p.savedLow}
	for s := range p.dirty {
		if s >= p.low {
			d.add = append(d.add, s)
			p.onDisk[s] = struct{}{}
		}
	}
	clear(p.dirty)
	for s := range p.onDisk {
		if s < p.low {
			d.del = append(d.del, s)
		}
	}
	if len(p.done) > 0 {
		d.checkAt = p.low
	}
	return d
}

// settle records the outcome of writing d.
func (d delta) settle(err error) {
	if err != nil {
		d.restore()
		return
	}
	p := d.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if d.setLow {
		p.savedLow = d.low
	}
	for _, s := range d.del {
		delete(p.onDisk, s)
	}
}

// restore hands d's marks back as unwritten.
func (d delta) restore() {
	p := d.p
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range d.add {
		if _, ok := p.done[s]; ok {
			p.dirty[s] = struct{}{}
		}
	}
}

func (d delta) empty() bool { return !d.setLow && len(d.add) == 0 && len(d.del) == 0 }

func watermarkKey(name string) []byte { return appendKey(prefixWatermark, []byte(name)) }

// markPrefix is the prefix of one consumer's marks: the name is length
// prefixed, so no name's marks are a prefix of another's.
func markPrefix(name string) []byte {
	return appendKey(prefixMark, []byte{byte(len(name))}, []byte(name))
}

func markKey(name string, seq uint64) []byte { return appendKey(markPrefix(name), be64(seq)) }

func checkConsumer(name string) error {
	if name == "" || len(name) > MaxConsumerBytes {
		return fmt.Errorf("%w: consumer name %q must be 1 to %d bytes", ErrInvalidArgument, name, MaxConsumerBytes)
	}
	return nil
}

// Consumer returns the progress of consumer name, creating it if it is
// new. A new consumer starts after the current head, so it is not handed
// history; its watermark is written and synced before Consumer returns.
// Every call for one name returns the same *Progress until Forget.
func (j *Journal) Consumer(name string) (*Progress, error) {
	if err := checkConsumer(name); err != nil {
		return nil, err
	}
	j.flushMu.Lock() // not while Forget deletes this name's keys
	defer j.flushMu.Unlock()
	j.pmu.Lock()
	defer j.pmu.Unlock()
	if j.isClosed() {
		return nil, ErrClosed
	}
	if p, ok := j.consumers[name]; ok {
		return p, nil
	}
	low := j.Head() + 1
	if err := j.db.Update(func(txn *badger.Txn) error { return txn.Set(watermarkKey(name), be64(low)) }); err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", name, err)
	}
	if err := j.sync(); err != nil {
		return nil, fmt.Errorf("create consumer %s: sync: %w", name, err)
	}
	p := newProgress(j, name, low)
	p.savedLow = low
	j.consumers[name] = p
	j.log.Debug("new consumer", "consumer", name, "start", low)
	return p, nil
}

// Forget drops a consumer's progress, in memory and on disk (synced), so a
// consumer added later under the same name starts afresh. Progress handles
// already given out become inert. Forgetting an unknown name is not an
// error.
func (j *Journal) Forget(name string) error {
	if err := checkConsumer(name); err != nil {
		return err
	}
	j.flushMu.Lock()
	defer j.flushMu.Unlock()
	j.pmu.Lock()
	p := j.consumers[name]
	delete(j.consumers, name)
	j.pmu.Unlock()
	if p != nil {
		p.mu.Lock()
		p.forgotten = true
		p.mu.Unlock()
	}
	keys := [][]byte{watermarkKey(name)}
	err := j.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: markPrefix(name)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget consumer %s: %w", name, err)
	}
	wb := j.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return fmt.Errorf("forget consumer %s: %w", name, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("forget consumer %s: %w", name, err)
	}
	if err := j.sync(); err != nil {
		return fmt.Errorf("forget consumer %s: sync: %w", name, err)
	}
	return nil
}

// FlushProgress writes every consumer's unwritten progress now (unsynced;
// Close syncs). The flusher calls it periodically.
func (j *Journal) FlushProgress() error {
	j.flushMu.Lock()
	defer j.flushMu.Unlock()
	j.pmu.Lock()
	ps := make([]*Progress, 0, len(j.consumers))
	for _, p := range j.consumers {
		ps = append(ps, p)
	}
	j.pmu.Unlock()

	var ds []delta
	for _, p := range ps {
		d := p.snapshot()
		if d.p == nil {
			continue
		}
		if d.checkAt != 0 {
			// Marks wait above a watermark: if its event expired, nothing
			// will ever mark it, so jump to the oldest event still stored.
			if next, err := j.firstStored(d.checkAt); err != nil {
				j.log.Warn("could not check for expired events", "consumer", p.name, "error", err)
			} else if next > d.checkAt {
				j.log.Info("consumer skips expired events", "consumer", p.name, "from", d.checkAt, "to", next)
				d.restore()
				p.skipTo(d.checkAt, next)
				d = p.snapshot()
			}
		}
		if !d.empty() {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return nil
	}
	var err error
	if j.opts.BeforeProgress != nil {
		if err = j.opts.BeforeProgress(); err != nil {
			err = fmt.Errorf("before writing marks: %w", err)
		}
	}
	if err == nil {
		err = j.writeDeltas(ds)
	}
	for _, d := range ds {
		d.settle(err)
	}
	if err != nil {
		return fmt.Errorf("flush consumer progress: %w", err)
	}
	return nil
}

func (j *Journal) writeDeltas(ds []delta) error {
	wb := j.db.NewWriteBatch()
	defer wb.Cancel()
	for _, d := range ds {
		// The watermark goes first: if a crash cuts the batch, marks
		// deleted without their watermark would mean skipped events.
		if d.setLow {
			if err := wb.Set(watermarkKey(d.p.name), be64(d.low)); err != nil {
				return err
			}
		}
	}
	for _, d := range ds {
		for _, s := range d.add {
			if err := wb.Set(markKey(d.p.name, s), nil); err != nil {
				return err
			}
		}
		for _, s := range d.del {
			if err := wb.Delete(markKey(d.p.name, s)); err != nil {
				return err
			}
		}
	}
	return wb.Flush()
}

// firstStored is the lowest stored seq >= from, or Head()+1 when there is
// none up to the head.
func (j *Journal) firstStored(from uint64) (uint64, error) {
	head := j.Head()
	if from > head {
		return from, nil
	}
	next := head + 1
	err := j.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixEvent})
		defer it.Close()
		it.Seek(eventKey(from))
		if it.Valid() {
			if seq, ok := seqOf(it.Item().Key()); ok && seq < next {
				next = seq
			}
		}
		return nil
	})
	return next, err
}

// flushLoop persists progress every FlushInterval until Close.
func (j *Journal) flushLoop() {
	defer close(j.flusherDone)
	t := time.NewTicker(j.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-j.quit:
			return
		case <-t.C:
			if err := j.FlushProgress(); err != nil {
				j.log.Error("consumer progress not written; retrying", "error", err)
			}
		}
	}
}

// loadConsumers restores every consumer's watermark and marks, and drops
// marks that are below their watermark or belong to no consumer.
func (j *Journal) loadConsumers() error {
	var stale [][]byte
	err := j.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, Prefix: prefixWatermark})
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			name := string(item.Key()[len(prefixWatermark):])
			var low uint64
			if err := item.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("watermark of %s has %d bytes, want 8", name, len(v))
				}
				low = binary.BigEndian.Uint64(v)
				return nil
			}); err != nil {
				it.Close()
				return err
			}
			p := newProgress(j, name, low)
			p.savedLow = low
			j.consumers[name] = p
		}
		it.Close()

		it = txn.NewIterator(badger.IteratorOptions{Prefix: prefixMark})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			rest := k[len(prefixMark):]
			if len(rest) < 1 || len(rest) != 1+int(rest[0])+8 {
				stale = append(stale, it.Item().KeyCopy(nil))
				continue
			}
			name := string(rest[1 : 1+int(rest[0])])
			seq, _ := seqOf(rest)
			p, ok := j.consumers[name]
			if !ok || seq < p.low {
				stale = append(stale, it.Item().KeyCopy(nil))
				continue
			}
			p.done[seq] = struct{}{}
			p.onDisk[seq] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load consumer progress: %w", err)
	}
	for _, p := range j.consumers {
		p.advance()
	}
	if len(stale) == 0 {
		return nil
	}
	wb := j.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range stale {
		if err := wb.Delete(k); err != nil {
			return fmt.Errorf("drop stale progress marks: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("drop stale progress marks: %w", err)
	}
	return nil
}
