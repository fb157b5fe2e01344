// Package journal is the durable event journal (SPEC §4, §5): every
// accepted callback is appended here before the vendor is acknowledged, and
// plugins are fed from here with at-least-once delivery.
//
// The journal lives in the runtime's shared Badger database under
// storage.PrefixJournal (events, the dedupe index, consumer progress) and
// storage.PrefixRejected (callbacks refused as malformed).
//
// Appends are group-committed: one committer goroutine takes every Append
// and Reject that is waiting, writes them in one Badger transaction (the
// dedupe checks inside it), calls DB.Sync once, and then answers all of
// them. Concurrent callbacks therefore share one fsync, and an Append that
// returned without error is on disk.
//
// Each event gets a sequence number (Event.Seq): 1, 2, 3, ... without gaps,
// continuing after a restart. Events and dedupe keys expire after
// Options.Retention through Badger's own TTLs.
//
// Readers follow the journal with Head, Read and Wait. Each consumer (a
// plugin) records its progress through a Progress: a low watermark below
// which everything is done, plus the done sequence numbers above it, since
// events of different conversations finish out of order.
//
// Lifecycle: Open once over an open database, use from any number of
// goroutines, Close once before closing the database. Close does not close
// the database.
package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

// Errors callers act on.
var (
	// ErrClosed is returned by every method called after Close, and by
	// Wait when Close is called while it waits.
	ErrClosed = errors.New("journal: closed")
	// ErrInvalidEvent is returned by Append for a nil event, an event
	// without an ID, an ID longer than MaxIDBytes, or an event that does not
	// encode as JSON. Nothing of that Append is stored.
	ErrInvalidEvent = errors.New("journal: invalid event")
	// ErrTooLarge is returned when one Append (or one rejected body) does
	// not fit in a single Badger transaction. Split the events.
	ErrTooLarge = errors.New("journal: too large for one transaction")
	// ErrInvalidArgument is returned for a bad parameter (a non-positive
	// Read max, a bad consumer name).
	ErrInvalidArgument = errors.New("journal: invalid argument")
)

// Limits and defaults.
const (
	// MaxIDBytes bounds Event.ID, the dedupe key.
	MaxIDBytes = 1024
	// MaxConsumerBytes bounds a consumer name.
	MaxConsumerBytes = 255

	DefaultRetention     = 7 * 24 * time.Hour
	DefaultMaxBatch      = 1024
	DefaultRingSize      = 4096
	DefaultFlushInterval = 250 * time.Millisecond
)

// Options tune a Journal. The zero value gives the defaults.
type Options struct {
	// Logger receives the journal's own messages (default: discarded).
	Logger hclog.Logger
	// Retention is how long events, dedupe keys and rejected callbacks are
	// kept (Badger TTL). Default 7 days; negative keeps them forever.
	Retention time.Duration
	// MaxBatch is the most events one group commit collects before it
	// writes; a single larger Append is still written whole. Default 1024.
	MaxBatch int
	// RingSize is how many recent events are kept in memory for Read.
	// Default 4096.
	RingSize int
	// FlushInterval is how often consumer progress is written (unsynced).
	// Default 250 ms.
	FlushInterval time.Duration
	// BeforeProgress, when set, is called before marks are written, after
	// they were taken: whatever consumers wrote elsewhere while handling
	// the events being marked must reach the database first (the KV
	// store's writes), so that a crash never keeps a mark without them.
	// An error keeps the marks for the next flush.
	BeforeProgress func() error

	// sync makes the appended data durable; nil means db.Sync. Tests
	// replace it to count or delay syncs.
	sync func() error
}

// Stats are running totals since Open, for metrics.
type Stats struct {
	Requests   uint64 // Append and Reject calls the committer answered
	Stored     uint64 // new events stored
	Duplicates uint64 // events refused as already stored
	Batches    uint64 // group commits
	Commits    uint64 // Badger transactions of group commits (a batch too big for one takes several)
	Syncs      uint64 // DB syncs made by group commits
}

// Journal is the durable event log. All methods are safe for concurrent
// use. Events handed to Append and returned by Read are shared and must be
// treated as read-only.
type Journal struct {
	db   *badger.DB
	opts Options
	log  hclog.Logger
	sync func() error

	// Submission: Append and Reject send requests to the committer while
	// holding sendMu for reading; Close takes it for writing to stop them.
	sendMu sync.RWMutex
	closed bool
	reqs   chan *request

	// Committer state, touched only by the committer goroutine.
	last uint64 // highest committed seq
	// headStored is the head the store records (committer only).
	headStored uint64
	unsynced   bool // something was committed since the last good sync
	batch      []*request

	// Published state: head, the ring and the change signal.
	head    atomic.Uint64
	mu      sync.RWMutex
	ring    ring
	changed chan struct{}

	// Consumers.
	pmu       sync.Mutex
	consumers map[string]*Progress
	flushMu   sync.Mutex // serializes flushes, Consumer creation and Forget; taken before pmu

	rejSeq atomic.Uint32
	stats  struct{ requests, stored, duplicates, batches, commits, syncs atomic.Uint64 }

	quit          chan struct{} // closed by Close
	committerDone chan struct{}
	flusherDone   chan struct{}
	closeOnce     sync.Once
	closeErr      error
}

// Key layout under storage.PrefixJournal.
var (
	keyHead         = []byte(storage.PrefixJournal + "h")  // highest committed seq
	prefixEvent     = []byte(storage.PrefixJournal + "e/") // + seq (8 bytes BE) -> event JSON
	prefixDedupe    = []byte(storage.PrefixJournal + "d/") // + event ID -> seq
	prefixWatermark = []byte(storage.PrefixJournal + "w/") // + consumer -> watermark
	prefixMark      = []byte(storage.PrefixJournal + "m/") // + len(consumer) + consumer + seq -> ""
	prefixRejected  = []byte(storage.PrefixRejected)       // + unix ns + counter -> Rejected JSON
)

func appendKey(prefix []byte, parts ...[]byte) []byte {
	n := len(prefix)
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	k = append(k, prefix...)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func eventKey(seq uint64) []byte { return appendKey(prefixEvent, be64(seq)) }

func dedupeKey(id string) []byte { return appendKey(prefixDedupe, []byte(id)) }

// seqOf decodes the 8-byte sequence number at the end of key.
func seqOf(key []byte) (uint64, bool) {
	if len(key) < 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[len(key)-8:]), true
}

// Open starts a journal over db, restoring the sequence counter and every
// consumer's progress. It starts the committer and the progress flusher;
// Close stops them.
func Open(db *badger.DB, opts Options) (*Journal, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: nil database", ErrInvalidArgument)
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.RingSize <= 0 {
		opts.RingSize = DefaultRingSize
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	j := &Journal{
		db:            db,
		opts:          opts,
		log:           opts.Logger.Named("journal"),
		sync:          opts.sync,
		reqs:          make(chan *request, opts.MaxBatch),
		ring:          ring{buf: make([]*event.Event, opts.RingSize)},
		changed:       make(chan struct{}),
		consumers:     map[string]*Progress{},
		quit:          make(chan struct{}),
		committerDone: make(chan struct{}),
		flusherDone:   make(chan struct{}),
	}
	if j.sync == nil {
		j.sync = db.Sync
	}
	head, err := j.loadHead()
	if err != nil {
		return nil, err
	}
	j.last = head
	j.head.Store(head)
	if err := j.loadConsumers(); err != nil {
		return nil, err
	}
	go j.commitLoop()
	go j.flushLoop()
	j.log.Debug("journal open", "head", head, "consumers", len(j.consumers))
	return j, nil
}

// loadHead is the highest seq ever assigned: the stored head, or the last
// event key if that is higher (a crash between an event batch and the head
// update).
func (j *Journal) loadHead() (uint64, error) {
	var head uint64
	err := j.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keyHead)
		switch {
		case err == nil:
			if err := item.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("head record has %d bytes, want 8", len(v))
				}
				head = binary.BigEndian.Uint64(v)
				return nil
			}); err != nil {
				return err
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: prefixEvent})
		defer it.Close()
		it.Seek(appendKey(prefixEvent, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}))
		if it.Valid() {
			if seq, ok := seqOf(it.Item().Key()); ok && seq > head {
				head = seq
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read journal head: %w", err)
	}
	return head, nil
}

// Head is the highest sequence number whose event is durable and readable;
// 0 for an empty journal.
func (j *Journal) Head() uint64 { return j.head.Load() }

// Stats returns running totals since Open.
func (j *Journal) Stats() Stats {
	return Stats{
		Requests:   j.stats.requests.Load(),
		Stored:     j.stats.stored.Load(),
		Duplicates: j.stats.duplicates.Load(),
		Batches:    j.stats.batches.Load(),
		Commits:    j.stats.commits.Load(),
		Syncs:      j.stats.syncs.Load(),
	}
}

// Wait blocks until an event with Seq > after is readable, ctx is done
// (ctx.Err()) or the journal is closed (ErrClosed).
func (j *Journal) Wait(ctx context.Context, after uint64) error {
	for {
		if j.head.Load() > after {
			return nil
		}
		j.mu.RLock()
		ch := j.changed
		j.mu.RUnlock()
		// Published under mu before the channel is replaced: re-check so a
		// publish between the first check and taking ch is not missed.
		if j.head.Load() > after {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-j.quit:
			return ErrClosed
		}
	}
}

// Read returns up to max events with Seq >= from, in order. Events that
// expired (Retention) are skipped, so sequence numbers may jump. Recent
// events come from memory, older ones from Badger. from 0 reads from the
// start. The events are shared: do not modify them. Events read back from
// Badger are decoded from their JSON, so their Data holds JSON types
// (float64 numbers), whatever types the normalizer used.
func (j *Journal) Read(from uint64, max int) ([]*event.Event, error) {
	if max <= 0 {
		return nil, fmt.Errorf("%w: read max %d, want > 0", ErrInvalidArgument, max)
	}
	if j.isClosed() {
		return nil, ErrClosed
	}
	if from == 0 {
		from = 1
	}
	head := j.head.Load()
	if from > head {
		return nil, nil
	}
	out := make([]*event.Event, 0, min(uint64(max), head-from+1))
	for len(out) < max && from <= head {
		j.mu.RLock()
		first := j.ring.first()
		if first != 0 && from >= first {
			for s := from; s <= head && len(out) < max; s++ {
				out = append(out, j.ring.get(s))
			}
			j.mu.RUnlock()
			break
		}
		j.mu.RUnlock()
		until := head
		if first != 0 {
			until = first - 1
		}
		var err error
		out, err = j.readDisk(out, from, until, max)
		if err != nil {
			return nil, err
		}
		// Unless out is full, the stored range up to until is exhausted;
		// the ring (which may have moved on meanwhile) is looked at again.
		from = until + 1
	}
	return out, nil
}

// readDisk appends the stored events with from <= seq <= until to out,
// until out holds max.
func (j *Journal) readDisk(out []*event.Event, from, until uint64, max int) ([]*event.Event, error) {
	err := j.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{
			PrefetchValues: true,
			PrefetchSize:   min(max-len(out), 100),
			Prefix:         prefixEvent,
		})
		defer it.Close()
		for it.Seek(eventKey(from)); it.Valid() && len(out) < max; it.Next() {
			item := it.Item()
			seq, ok := seqOf(item.Key())
			if !ok || seq > until {
				break
			}
			ev := new(event.Event)
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, ev) }); err != nil {
				return fmt.Errorf("decode event %d: %w", seq, err)
			}
			ev.Seq = seq
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("read journal from %d: %w", from, err)
	}
	return out, nil
}

// publish makes committed events readable: ring, head, wake-up.
func (j *Journal) publish(evs []*event.Event, head uint64) {
	j.mu.Lock()
	for _, ev := range evs {
		j.ring.push(ev)
	}
	j.head.Store(head)
	close(j.changed)
	j.changed = make(chan struct{})
	j.mu.Unlock()
}

func (j *Journal) isClosed() bool {
	select {
	case <-j.quit:
		return true
	default:
		return false
	}
}

// Close stops accepting appends, writes what is already queued, flushes
// every consumer's progress, syncs, and stops the goroutines. Waiters get
// ErrClosed. It does not close the database. Calling it again returns the
// first result.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() {
		j.sendMu.Lock()
		j.closed = true
		close(j.reqs)
		j.sendMu.Unlock()
		<-j.committerDone
		close(j.quit)
		<-j.flusherDone
		var errs []error
		if err := j.FlushProgress(); err != nil {
			errs = append(errs, err)
		}
		if err := j.sync(); err != nil {
			errs = append(errs, fmt.Errorf("sync journal on close: %w", err))
		}
		j.closeErr = errors.Join(errs...)
		j.log.Debug("journal closed", "head", j.Head())
	})
	return j.closeErr
}

// ring holds the most recent events in memory. Sequence numbers are
// contiguous, so the event with seq s sits at s % len(buf).
type ring struct {
	buf  []*event.Event
	n    int
	last uint64
}

func (r *ring) push(ev *event.Event) {
	r.buf[ev.Seq%uint64(len(r.buf))] = ev
	r.last = ev.Seq
	if r.n < len(r.buf) {
		r.n++
	}
}

// first is the oldest seq held, 0 when empty.
func (r *ring) first() uint64 {
	if r.n == 0 {
		return 0
	}
	return r.last - uint64(r.n) + 1
}

func (r *ring) get(seq uint64) *event.Event { return r.buf[seq%uint64(len(r.buf))] }
