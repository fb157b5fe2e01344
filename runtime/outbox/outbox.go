// Package outbox is the durable outbox of sends (SPEC §10): every
// Send-class binding call is stored in the shared Badger database, under
// storage.PrefixOutbox, before it goes out; then it is sent through the
// next Invoker (the rate limiter, which paces it), retried with
// exponential backoff while it fails transiently, and moved to a
// dead-letter list when it fails permanently or MaxAttempts times. A try
// refused only for pacing (the limiter's wait ran out, or the vendor's
// frequency limit answered) is retried without counting as an attempt:
// pacing delays a send, it never dead-letters one. Ops list, retry and drop entries with List, Retry and Drop (or Handler, the
// admin API), on the running process or on a stopped store.
//
// Delivery is at least once. An entry is deleted only after the vendor's
// answer; a crash between the send and that delete (or before the batched
// delete reached the disk) sends the entry once more after the restart.
// Such re-sends are counted (Stats.Resent) and reported to the Observer
// with recovered set, so the process can tell how many duplicates a crash
// may have caused.
//
// A send made while handling an event carries a key (bindings.SendKey:
// plugin, event, its number within the handling), stored with the entry;
// the vendor's answer is kept under the key for SendRecordTTL, written
// with the entry's delete. A send made again under a key the outbox
// knows, by a delivery that may be a repeat, is not stored or sent: it
// gets the first one's answer (a queued answer while that one is pending)
// and is counted (Stats.Repeated, Observer.Repeated). So a handler run
// again for its event, after a crash or as a retry, does not repeat what
// its earlier run sent. A dead-lettered send is not remembered and may be
// tried by the next delivery.
//
// Order: the sends of one conversation (vendor, account, conversation id)
// go out one at a time in the order they were stored, a failing one
// holding back those behind it until it succeeds or is dead-lettered.
// Different conversations go out concurrently, each conversation having a
// goroutine only while it has sends queued.
//
// The caller of Invoke waits for the vendor's answer and gets it, data or
// error (a *DeadError when the send was dead-lettered). When the caller's
// context ends first, Invoke returns a Queued answer with a nil error: the
// send is durable and will still go out, so the caller (a plugin whose
// handler timed out) is told it was accepted rather than that it failed,
// which would invite a second send.
//
// Writes are group-committed: concurrent stores share one transaction and
// one fsync; deletes of sent entries are batched with them and not synced.
// A send made while handling a journaled event (bindings.WithRedelivery)
// is committed without waiting for an fsync: a crash that loses it also
// loses the event's done mark, so the event and its send come again.
//
// Lifecycle: Open (starts the writer; List, Retry, Drop and Stats work from
// here on), then Start to send (it loads the entries a previous run left),
// then Close. Every method is safe for concurrent use.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/limits"
)

// Defaults of Options, the same as config's.
const (
	DefaultMaxAttempts = 5
	DefaultBackoff     = time.Second
	DefaultMaxBackoff  = time.Minute
	// DefaultAttemptTimeout leaves room for the limiter's longest wait
	// (30 s by default) and the vendor's answer.
	DefaultAttemptTimeout = 2 * time.Minute
)

// Observer is told what the outbox does, for metrics and logs. Its methods
// are called from the outbox's goroutines, concurrently, and must not
// block.
type Observer interface {
	// Sent: the vendor accepted e. recovered: e was stored by a previous
	// run and so may have been sent already (a possible duplicate).
	Sent(e Entry, recovered bool)
	// Retrying: e failed transiently with err and is tried again after wait.
	Retrying(e Entry, err error, wait time.Duration)
	// Dead: e was moved to the dead-letter list after err.
	Dead(e Entry, err error)
	// Repeated: a handler delivered an event again made the send c, key
	// key, which an earlier delivery had made (entry id); it was not made
	// again.
	Repeated(c bindings.Call, key, id string)
}

// Options configure an Outbox.
type Options struct {
	// Next is where sends go: the limiter-wrapped registry. Required by
	// Start (not by the admin methods on a stopped store).
	Next bindings.Invoker
	// Registry tells an endpoint's class, account and parameters. Required
	// by Invoke.
	Registry *bindings.Registry
	// MaxAttempts is how many failed tries move a send to the dead-letter
	// list (DefaultMaxAttempts when 0).
	MaxAttempts int
	// Backoff is the pause after the first transient failure, doubled for
	// each further one up to MaxBackoff (DefaultBackoff, DefaultMaxBackoff
	// when 0). Up to a tenth more is added at random so retries spread.
	Backoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one try, the limiter's wait included
	// (DefaultAttemptTimeout when 0); a try that runs out is a transient
	// failure.
	AttemptTimeout time.Duration
	// Workers bounds how many sends are with Next at once; 0 means no
	// bound beyond one per conversation (the limiter paces them).
	Workers int
	// Logger receives retries and dead letters (silent when nil).
	Logger hclog.Logger
	// Clock is the time source of backoff (limits.SystemClock when nil).
	Clock limits.Clock
	// Observer is told of every send, retry and dead letter (none when nil).
	Observer Observer
}

// WithConfig returns o with the settings of the outbox section of the
// configuration.
func (o Options) WithConfig(c config.Outbox) Options {
	o.MaxAttempts = c.MaxAttempts
	o.Backoff = time.Duration(c.BackoffMS) * time.Millisecond
	o.MaxBackoff = time.Duration(c.MaxBackoffMS) * time.Millisecond
	return o
}

// Stats are the outbox's counts. Pending and Dead are read from the store;
// the others count since Start and are zero on a stopped store.
type Stats struct {
	Pending int `json:"pending"`
	Dead    int `json:"dead"`
	// InFlight: sends with the vendor (or waiting on the limiter) now.
	InFlight int64 `json:"in_flight"`
	// Sent: sends the vendor accepted; Resent: those of them stored by a
	// previous run (possible duplicates after a crash).
	Sent   uint64 `json:"sent"`
	Resent uint64 `json:"resent"`
	// Retries: transient failures that were retried; DeadLettered: sends
	// moved to the dead-letter list.
	Retries      uint64 `json:"retries"`
	DeadLettered uint64 `json:"dead_lettered"`
	// Repeated: sends not made again because an earlier delivery of the
	// same event to the same plugin had made them (Entry.Key).
	Repeated uint64 `json:"repeated"`
}

// Outbox is the durable outbox. It is an Invoker: Send-class calls are
// stored and sent; every other call passes straight to Next.
type Outbox struct {
	db    *badger.DB
	opts  Options
	log   hclog.Logger
	clock limits.Clock
	obs   Observer
	w     *writer
	seq   atomic.Uint64
	slots chan struct{} // Workers semaphore; nil when unbounded

	adminMu sync.Mutex // serializes Retry, Drop and Start's load

	mu      sync.Mutex
	entries map[string]*entry // pending entries this process knows

	// keys are the keyed sends known in memory: pending, or sent with
	// their answer not yet in the store. keysMu is taken after mu, never
	// across a blocking call (the writer takes it after a commit).
	keysMu  sync.Mutex
	keys    map[string]*keyed
	lanes   map[string]*lane // conversations with queued entries
	started bool
	closed  bool
	ctx     context.Context // the run's context, from Start
	cancel  context.CancelFunc
	lanesWG sync.WaitGroup

	inFlight                                      atomic.Int64
	sent, resent, retries, deadLettered, repeated atomic.Uint64
}

// entry is a pending entry in memory. Its Entry, and the flags, are
// guarded by Outbox.mu, except while in flight, when only its lane's
// goroutine touches Entry.
type entry struct {
	Entry
	notBefore time.Time
	waiter    chan result // buffered; nil when nobody waits (loaded at Start)
	recovered bool
	inFlight  bool
	dropped   bool
}

// keyed is a keyed send in memory: its entry, and the vendor's answer
// once it came.
type keyed struct {
	id     string
	answer json.RawMessage
}

type result struct {
	data json.RawMessage
	err  error
}

// lane is one conversation's queue, in ID order.
type lane struct {
	key     string
	queue   []*entry
	running bool
	wake    chan struct{} // buffered 1: Retry or Drop changed the head
}

// Open returns the outbox kept in db. It starts the writer but sends
// nothing until Start. The database stays the caller's: Close does not
// close it.
func Open(db *badger.DB, o Options) (*Outbox, error) {
	if db == nil {
		return nil, errors.New("open outbox: no database")
	}
	if o.MaxAttempts < 0 || o.Backoff < 0 || o.MaxBackoff < 0 || o.Workers < 0 || o.AttemptTimeout < 0 {
		return nil, fmt.Errorf("open outbox: negative setting (max attempts %d, backoff %s, max backoff %s, attempt timeout %s, workers %d)",
			o.MaxAttempts, o.Backoff, o.MaxBackoff, o.AttemptTimeout, o.Workers)
	}
	if o.AttemptTimeout == 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Backoff == 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.Backoff {
		return nil, fmt.Errorf("open outbox: max backoff %s is below backoff %s", o.MaxBackoff, o.Backoff)
	}
	ob := &Outbox{
		db: db, opts: o, log: o.Logger, clock: o.Clock, obs: o.Observer,
		entries: map[string]*entry{}, keys: map[string]*keyed{}, lanes: map[string]*lane{},
	}
	if ob.log == nil {
		ob.log = hclog.NewNullLogger()
	}
	ob.log = ob.log.Named("outbox")
	if ob.clock == nil {
		ob.clock = limits.SystemClock
	}
	if ob.obs == nil {
		ob.obs = nopObserver{}
	}
	if o.Workers > 0 {
		ob.slots = make(chan struct{}, o.Workers)
	}
	last, err := ob.lastID()
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	ob.seq.Store(max(last, uint64(time.Now().UnixNano())))
	ob.w = newWriter(db, ob.log)
	return ob, nil
}

// lastID finds the highest id stored, so new ids sort after it.
func (o *Outbox) lastID() (uint64, error) {
	var last uint64
	err := o.db.View(func(txn *badger.Txn) error {
		for _, prefix := range []string{pendingPrefix, deadPrefix} {
			it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: []byte(prefix)})
			it.Seek([]byte(prefix + "\xff"))
			if it.Valid() {
				id := string(it.Item().Key()[len(prefix):])
				if checkID(id) == nil {
					var n uint64
					_, _ = fmt.Sscanf(id, "%x", &n)
					last = max(last, n)
				}
			}
			it.Close()
		}
		return nil
	})
	return last, err
}

// Start loads the entries a previous run left pending and starts sending,
// until ctx ends or Close. Calls stored before Start wait for it.
func (o *Outbox) Start(ctx context.Context) error {
	if o.opts.Next == nil {
		return errors.New("start outbox: no Next invoker")
	}
	o.adminMu.Lock() // no Retry or Drop between the load and the lanes
	defer o.adminMu.Unlock()
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrClosed
	}
	if o.started {
		o.mu.Unlock()
		return errors.New("start outbox: already started")
	}
	o.mu.Unlock()
	var loaded []*Entry
	err := o.scan(Pending, func(e *Entry) bool { loaded = append(loaded, e); return true })
	if err != nil {
		return fmt.Errorf("start outbox: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	for _, le := range loaded {
		if _, known := o.entries[le.ID]; known {
			continue
		}
		e := &entry{Entry: *le, notBefore: le.NextAttempt, recovered: true}
		o.track(e)
		o.laneOf(e.Conversation).queue = append(o.laneOf(e.Conversation).queue, e)
	}
	o.ctx, o.cancel = context.WithCancel(ctx)
	o.started = true
	for _, l := range o.lanes {
		sort.Slice(l.queue, func(i, j int) bool { return l.queue[i].ID < l.queue[j].ID })
		o.runLocked(l)
	}
	if len(loaded) > 0 {
		o.log.Info("resuming stored sends", "pending", len(loaded))
	}
	return nil
}

// Close stops sending (a send with the vendor is abandoned and stays
// stored, to go out again after a restart), commits what is queued for the
// store, and answers callers still waiting with Queued: their sends are
// stored and go out after the restart. It does not close the database.
func (o *Outbox) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	if o.cancel != nil {
		o.cancel()
	}
	for _, l := range o.lanes {
		poke(l.wake)
	}
	o.mu.Unlock()
	o.lanesWG.Wait()
	o.w.close()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.entries {
		if e.waiter != nil {
			e.waiter <- result{data: queuedAnswer(e.ID)}
			e.waiter = nil
		}
	}
	return nil
}

// Invoke stores a Send-class call and waits for the vendor's answer (see
// the package comment for what the caller gets when ctx ends first). Calls
// of other classes, and calls of unknown endpoints, go straight to Next.
// Arguments are checked before storing, so a call the vendor would refuse
// for its shape is never stored. The outbox keeps c.Args until the send is
// done: the caller must not change the map after the call.
func (o *Outbox) Invoke(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
	if o.opts.Registry == nil || o.opts.Next == nil {
		return nil, errors.New("outbox: no registry or next invoker")
	}
	ep, err := o.opts.Registry.Lookup(c.Vendor, c.Method)
	if err != nil || ep.Class != bindings.Send {
		return o.opts.Next.Invoke(ctx, c)
	}
	if err := ep.Check(c.Args); err != nil {
		return nil, err
	}
	key, again := bindings.SendKey(ctx)
	if again {
		answer, id, err := o.earlier(key)
		if err != nil {
			return nil, fmt.Errorf("look up send %s (%s): %w", c, key, err)
		}
		if answer != nil {
			o.repeated.Add(1)
			o.log.Debug("send made by an earlier delivery, not repeated", "key", key, "id", id, "call", c.String())
			o.obs.Repeated(c, key, id)
			return answer, nil
		}
	}
	e := &entry{
		Entry: Entry{
			ID: formatID(o.seq.Add(1)), State: Pending,
			Plugin: c.Plugin, Vendor: c.Vendor, Method: c.Method, Args: c.Args,
			Conversation: conversationKey(ep, c.Args), Created: o.clock.Now().UTC(), Key: key,
		},
		waiter: make(chan result, 1),
	}
	val, err := encodeEntry(&e.Entry)
	if err != nil {
		return nil, err
	}
	// Stored before it goes out: committed, and synced unless the call
	// comes from handling a journaled event, whose redelivery after a
	// crash makes the send again (bindings.WithRedelivery). Committed
	// writes survive a crash of the process either way.
	if err := o.w.submit(write{set: [][2][]byte{{stateKey(Pending, e.ID), val}}, sync: !bindings.Redelivered(ctx)}, true); err != nil {
		return nil, fmt.Errorf("store send %s: %w", c, err)
	}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return queuedAnswer(e.ID), nil // stored: the next run sends it
	}
	waiter := e.waiter
	o.track(e)
	l := o.laneOf(e.Conversation)
	l.queue = append(l.queue, e)
	o.runLocked(l)
	o.mu.Unlock()
	select {
	case r := <-waiter:
		return r.data, r.err
	case <-ctx.Done():
		return queuedAnswer(e.ID), nil
	}
}

// earlier returns the answer to the send key made before (nil: none) and
// its entry's id: a queued answer while the entry is pending, the
// vendor's answer once it was sent. A pending entry is known in memory
// from the moment it is stored (or, from a previous run, loaded at Start);
// the answer is in the store from the batch that deleted the entry.
func (o *Outbox) earlier(key string) (json.RawMessage, string, error) {
	o.keysMu.Lock()
	k := o.keys[key]
	var answer json.RawMessage
	if k != nil {
		answer = k.answer
		if answer == nil {
			answer = queuedAnswer(k.id)
		}
	}
	o.keysMu.Unlock()
	if k != nil {
		return answer, k.id, nil
	}
	err := o.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(sendKey(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		answer, err = item.ValueCopy(nil)
		return err
	})
	return answer, "", err
}

// track and untrack add e to, and remove it from, the pending entries in
// memory. o.mu is held.
func (o *Outbox) track(e *entry) {
	o.entries[e.ID] = e
	if e.Key != "" {
		o.keysMu.Lock()
		o.keys[e.Key] = &keyed{id: e.ID}
		o.keysMu.Unlock()
	}
}

func (o *Outbox) untrack(e *entry) {
	delete(o.entries, e.ID)
	o.forgetKey(e.Key, e.ID)
}

// forgetKey drops key from memory if it still names entry id.
func (o *Outbox) forgetKey(key, id string) {
	if key == "" {
		return
	}
	o.keysMu.Lock()
	if k := o.keys[key]; k != nil && k.id == id {
		delete(o.keys, key)
	}
	o.keysMu.Unlock()
}

// answered keeps the answer to e's key in memory until wr, which stores
// it, is committed: from then on the store has it. o.mu is held.
func (o *Outbox) answered(e *entry, answer json.RawMessage, wr *write) {
	key, id := e.Key, e.ID
	o.keysMu.Lock()
	o.keys[key] = &keyed{id: id, answer: answer}
	o.keysMu.Unlock()
	wr.keep = [][2][]byte{{sendKey(key), answer}}
	wr.after = func() { o.forgetKey(key, id) }
}

// laneOf finds or makes the lane of key. o.mu is held.
func (o *Outbox) laneOf(key string) *lane {
	l := o.lanes[key]
	if l == nil {
		l = &lane{key: key, wake: make(chan struct{}, 1)}
		o.lanes[key] = l
	}
	return l
}

// runLocked starts l's goroutine if the outbox runs and l has none. o.mu
// is held.
func (o *Outbox) runLocked(l *lane) {
	if l.running || !o.started || o.closed || len(l.queue) == 0 {
		return
	}
	l.running = true
	o.lanesWG.Add(1)
	go o.run(l)
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// run sends l's entries one at a time until its queue is empty or the
// outbox stops.
func (o *Outbox) run(l *lane) {
	defer o.lanesWG.Done()
	for {
		o.mu.Lock()
		if len(l.queue) == 0 || o.closed || o.ctx.Err() != nil {
			l.running = false
			if len(l.queue) == 0 {
				delete(o.lanes, l.key)
			}
			o.mu.Unlock()
			return
		}
		e := l.queue[0]
		if wait := e.notBefore.Sub(o.clock.Now()); wait > 0 {
			o.mu.Unlock()
			o.sleep(l, wait)
			continue
		}
		e.inFlight = true
		call := e.Call()
		o.mu.Unlock()

		if o.slots != nil {
			select {
			case o.slots <- struct{}{}:
			case <-o.ctx.Done():
				o.abandon(l, e)
				continue
			}
		}
		o.inFlight.Add(1)
		actx, cancel := context.WithTimeout(o.ctx, o.opts.AttemptTimeout)
		data, err := o.opts.Next.Invoke(actx, call)
		cancel()
		o.inFlight.Add(-1)
		if o.slots != nil {
			<-o.slots
		}
		if err != nil && o.ctx.Err() != nil {
			o.abandon(l, e) // stopping: not the vendor's failure
			continue
		}
		o.settle(l, e, data, err)
	}
}

// sleep waits d, or until the lane is poked or the outbox stops.
func (o *Outbox) sleep(l *lane, d time.Duration) {
	timer := make(chan struct{}, 1)
	stop := o.clock.AfterFunc(d, func() { poke(timer) })
	defer stop()
	select {
	case <-timer:
	case <-l.wake:
	case <-o.ctx.Done():
	}
}

// abandon leaves e stored, unsent, because the outbox is stopping.
func (o *Outbox) abandon(l *lane, e *entry) {
	o.mu.Lock()
	e.inFlight = false
	o.mu.Unlock()
	poke(l.wake)
}

// paced reports whether a send failed for pacing alone: the limiter gave
// up waiting for a slot, or the vendor answered with its frequency limit.
// Such a try is not counted as an attempt: pacing delays a send, it never
// dead-letters one.
func paced(err error) bool {
	var rl *bindings.RateLimitedError
	return errors.As(err, &rl) || errors.Is(err, bindings.ErrVendorThrottled)
}

// backoff is the pause after the n-th failed attempt (n >= 1; 0 for a
// pacing failure) with err.
func (o *Outbox) backoff(n int, err error) time.Duration {
	d := o.opts.Backoff
	for i := 1; i < n && d < o.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.opts.MaxBackoff)
	var rl *bindings.RateLimitedError
	if errors.As(err, &rl) && rl.Wait > d {
		d = rl.Wait
	}
	return d + rand.N(d/10+1)
}

// settle records the outcome of one try of e, the head of l. The store
// writes are queued under o.mu, so they are ordered with Drop's and
// Retry's.
func (o *Outbox) settle(l *lane, e *entry, data json.RawMessage, err error) {
	o.mu.Lock()
	e.inFlight = false
	failed := err != nil && !e.dropped
	pacing := failed && paced(err)
	if failed {
		if !pacing {
			e.Attempts++
		}
		info := bindings.Describe(e.Vendor, err)
		e.LastError = &info
	}
	if pacing || (failed && bindings.Transient(err) && e.Attempts < o.opts.MaxAttempts) {
		wait := o.backoff(e.Attempts, err)
		e.notBefore = o.clock.Now().Add(wait)
		e.NextAttempt = e.notBefore.UTC()
		snap := e.Entry
		o.put(write{}, Pending, &snap)
		o.mu.Unlock()
		o.retries.Add(1)
		o.log.Warn("send failed, will retry", "id", snap.ID, "call", snap.Call().String(), "plugin", snap.Plugin,
			"attempt", snap.Attempts, "wait", wait, "error", err)
		o.obs.Retrying(snap, err, wait)
		return
	}
	// e leaves the lane: sent, dropped, or dead.
	l.queue[0] = nil
	l.queue = l.queue[1:]
	delete(o.entries, e.ID)
	waiter := e.waiter
	e.waiter = nil
	e.NextAttempt = time.Time{}
	snap := e.Entry
	switch {
	case e.dropped: // Drop deleted it, and forgot its key
	case err == nil:
		// The answer is stored with the delete, in the same batch: a
		// crash that loses it keeps the entry pending, which an event
		// delivered again finds too.
		wr := write{del: [][]byte{stateKey(Pending, snap.ID)}}
		if snap.Key != "" {
			o.answered(e, data, &wr)
		}
		_, _ = o.w.enqueue(wr, false)
	default:
		// Not remembered: an event delivered again tries the send again.
		o.forgetKey(e.Key, e.ID)
		snap.State = Dead
		o.put(write{del: [][]byte{stateKey(Pending, snap.ID)}}, Dead, &snap)
	}
	o.mu.Unlock()

	switch {
	case err == nil: // sent, even if dropped meanwhile
		o.sent.Add(1)
		if e.recovered {
			o.resent.Add(1)
		}
		o.obs.Sent(snap, e.recovered)
	case !failed:
		data, err = nil, ErrDropped
	default:
		o.deadLettered.Add(1)
		o.log.Error("send dead-lettered", "id", snap.ID, "call", snap.Call().String(), "plugin", snap.Plugin,
			"attempts", snap.Attempts, "error", err)
		o.obs.Dead(snap, err)
		err = &DeadError{ID: snap.ID, Attempts: snap.Attempts, Err: err}
	}
	if waiter != nil {
		waiter <- result{data: data, err: err}
	}
}

// put queues wr plus the store of e in state s, without waiting: losing
// it in a crash means one more try, never a lost send.
func (o *Outbox) put(wr write, s State, e *Entry) {
	val, err := encodeEntry(e)
	if err != nil {
		o.log.Error("cannot store outbox entry", "id", e.ID, "error", err)
		return
	}
	wr.set = append(wr.set, [2][]byte{stateKey(s, e.ID), val})
	_, _ = o.w.enqueue(wr, false)
}

type nopObserver struct{}

func (nopObserver) Sent(Entry, bool)                       {}
func (nopObserver) Retrying(Entry, error, time.Duration)   {}
func (nopObserver) Repeated(bindings.Call, string, string) {}
func (nopObserver) Dead(Entry, error)                      {}
