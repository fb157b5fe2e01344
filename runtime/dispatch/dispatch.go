// Package dispatch fans journal events out to plugins (SPEC §5).
//
// Every plugin has a slot. A slot reads the journal from its own progress
// mark, so delivery is at-least-once across crashes: an event is marked
// done for a plugin only after the plugin finished with it (or it did not
// want it). Within a slot, events with the same Event.OrderKey (one
// conversation) are handled strictly in order, one at a time; events with
// different keys run concurrently, up to a bound per slot.
//
// Hot reload swaps a slot's Handler: events not yet started go to the new
// version, events in flight finish on the old one, and the old one is
// closed when its last event returns. Every event is handled by exactly one
// version.
//
// Threading: all methods are safe for concurrent use. A Dispatcher is
// started by New and stopped once by Stop.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// Journal is what the dispatcher reads. runtime/journal implements it.
type Journal interface {
	// Read returns events with Seq >= from, in order, at most max.
	Read(from uint64, max int) ([]*event.Event, error)
	// Wait blocks until an event with Seq > after exists or ctx is done.
	Wait(ctx context.Context, after uint64) error
	// Progress returns the delivery progress of one consumer.
	Progress(consumer string) (Progress, error)
	// Forget drops a consumer's progress.
	Forget(consumer string) error
}

// Progress is one consumer's delivery state.
type Progress interface {
	// Start is the first seq that is not known to be done.
	Start() uint64
	// IsDone reports whether seq was already marked done.
	IsDone(seq uint64) bool
	// Done marks seq done for this consumer.
	Done(seq uint64)
}

// Observer is told about every handled event (metrics, logs). Optional.
type Observer interface {
	Handled(plugin string, ev *event.Event, took time.Duration, err error)
}

// Options configure a Dispatcher.
type Options struct {
	Logger hclog.Logger
	// MaxInFlight bounds the events a slot holds at once (queued and
	// running); the reader waits when it is reached. Default 1024.
	MaxInFlight int
	// ReadBatch is how many events a reader fetches at a time. Default 256.
	ReadBatch int
	Observer  Observer
}

// ErrStopped is returned by methods called after Stop.
var ErrStopped = errors.New("dispatch: stopped")

// Dispatcher owns the slots.
type Dispatcher struct {
	j    Journal
	opts Options
	log  hclog.Logger

	// started is when the Dispatcher was made (Unix ms): an event
	// received before it may have been handled by a previous run.
	started int64

	mu      sync.Mutex
	slots   map[string]*slot
	stopped bool
}

// New returns a Dispatcher with no plugins.
func New(j Journal, opts Options) *Dispatcher {
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 1024
	}
	if opts.ReadBatch <= 0 {
		opts.ReadBatch = 256
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Dispatcher{j: j, opts: opts, log: log.Named("dispatch"), slots: map[string]*slot{}, started: time.Now().UnixMilli()}
}

// Set installs h as the version of plugin name: a new slot starts reading
// from the plugin's progress mark, an existing slot swaps to h and retires
// its previous version once that version's events in flight have returned.
func (d *Dispatcher) Set(name string, spec *plugin.Spec, h plugin.Handler) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return ErrStopped
	}
	if s, ok := d.slots[name]; ok {
		old := s.cur.Swap(newVersion(h, spec))
		old.retire()
		return nil
	}
	progress, err := d.j.Progress(name)
	if err != nil {
		return fmt.Errorf("progress of %s: %w", name, err)
	}
	v := newVersion(h, spec)
	s := &slot{d: d, name: name, progress: progress, queues: map[string]*queue{},
		sem: make(chan struct{}, d.opts.MaxInFlight), log: d.log.With("plugin", name)}
	s.cur.Store(v)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	d.slots[name] = s
	s.readerDone = make(chan struct{})
	go s.read()
	return nil
}

// Remove stops delivering to plugin name, waits (up to ctx) for its events
// in flight, closes its version and forgets its progress.
func (d *Dispatcher) Remove(ctx context.Context, name string) error {
	d.mu.Lock()
	s, ok := d.slots[name]
	delete(d.slots, name)
	d.mu.Unlock()
	if !ok {
		return nil
	}
	err := s.stop(ctx)
	if ferr := d.j.Forget(name); ferr != nil && err == nil {
		err = fmt.Errorf("forget progress of %s: %w", name, ferr)
	}
	return err
}

// Plugins lists the names of the installed plugins.
func (d *Dispatcher) Plugins() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.slots))
	for n := range d.slots {
		out = append(out, n)
	}
	return out
}

// Stop stops every slot: readers stop, events in flight are waited for up
// to ctx (their progress is kept, so what did not finish is delivered
// again on the next start), versions are closed.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.mu.Lock()
	d.stopped = true
	slots := d.slots
	d.slots = map[string]*slot{}
	d.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	for _, s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.stop(ctx); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// version is one Handler with a count of its events in flight.
type version struct {
	h       plugin.Handler
	spec    *plugin.Spec
	mu      sync.Mutex
	active  int
	retired bool
	closed  bool
}

func newVersion(h plugin.Handler, spec *plugin.Spec) *version { return &version{h: h, spec: spec} }

// acquire takes a reference, failing if the version is retired.
func (v *version) acquire() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.retired {
		return false
	}
	v.active++
	return true
}

func (v *version) release() {
	v.mu.Lock()
	v.active--
	closeNow := v.retired && v.active == 0 && !v.closed
	if closeNow {
		v.closed = true
	}
	v.mu.Unlock()
	if closeNow {
		_ = v.h.Close()
	}
}

// retire stops new acquisitions and closes the version once idle.
func (v *version) retire() {
	v.mu.Lock()
	v.retired = true
	closeNow := v.active == 0 && !v.closed
	if closeNow {
		v.closed = true
	}
	v.mu.Unlock()
	if closeNow {
		_ = v.h.Close()
	}
}

type slot struct {
	d          *Dispatcher
	name       string
	progress   Progress
	cur        atomic.Pointer[version]
	log        hclog.Logger
	ctx        context.Context
	cancel     context.CancelFunc
	readerDone chan struct{}
	sem        chan struct{} // one token per event held

	mu     sync.Mutex
	queues map[string]*queue
	work   sync.WaitGroup
}

type queue struct {
	events []*event.Event
}

// read follows the journal from the slot's progress mark.
func (s *slot) read() {
	defer close(s.readerDone)
	next := s.progress.Start()
	for {
		evs, err := s.d.j.Read(next, s.d.opts.ReadBatch)
		if err != nil {
			s.log.Error("reading the journal failed; retrying", "from", next, "error", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if len(evs) == 0 {
			if err := s.d.j.Wait(s.ctx, next-1); err != nil {
				return
			}
			continue
		}
		for _, ev := range evs {
			next = ev.Seq + 1
			if s.progress.IsDone(ev.Seq) {
				continue
			}
			if v := s.cur.Load(); !v.h.Wants(ev) {
				s.progress.Done(ev.Seq)
				continue
			}
			select {
			case s.sem <- struct{}{}:
			case <-s.ctx.Done():
				return
			}
			s.enqueue(ev)
		}
	}
}

func (s *slot) enqueue(ev *event.Event) {
	key := ev.OrderKey()
	s.mu.Lock()
	q, running := s.queues[key]
	if !running {
		q = &queue{}
		s.queues[key] = q
	}
	q.events = append(q.events, ev)
	s.mu.Unlock()
	if !running {
		s.work.Add(1)
		go s.drain(key, q)
	}
}

// drain handles one key's events in order until its queue is empty.
func (s *slot) drain(key string, q *queue) {
	defer s.work.Done()
	for {
		s.mu.Lock()
		if len(q.events) == 0 || s.ctx.Err() != nil {
			delete(s.queues, key)
			n := len(q.events)
			q.events = nil
			s.mu.Unlock()
			for i := 0; i < n; i++ { // events left behind by a stop stay undone
				<-s.sem
			}
			return
		}
		ev := q.events[0]
		q.events = q.events[1:]
		s.mu.Unlock()
		s.handle(ev)
		<-s.sem
	}
}

// handle runs ev on the current version, with the manifest's retries.
func (s *slot) handle(ev *event.Event) {
	var v *version
	for {
		v = s.cur.Load()
		if v.acquire() {
			break
		}
		// Retired between Load and acquire: the slot already points to
		// the successor, unless the slot is stopping.
		if s.ctx.Err() != nil {
			return
		}
	}
	defer v.release()
	if !v.h.Wants(ev) {
		s.progress.Done(ev.Seq)
		return
	}
	var err error
	for attempt := 0; ; attempt++ {
		start := time.Now()
		// The event is marked done only after Handle: a crash before that
		// delivers it again (see bindings.WithRedelivery). Every attempt
		// and every delivery of the event to this plugin has the same
		// name (plugin and journal seq, shorter than the event's id), so
		// the outbox does not repeat the sends an earlier one made: a
		// retry, or an event received before this run started.
		again := attempt > 0 || ev.Received < s.d.started
		ctx, cancel := context.WithTimeout(bindings.WithRedelivery(context.Background(), s.name+"/"+strconv.FormatUint(ev.Seq, 10), again), v.spec.Timeout)
		err = v.h.Handle(ctx, ev)
		cancel()
		took := time.Since(start)
		if o := s.d.opts.Observer; o != nil {
			o.Handled(s.name, ev, took, err)
		}
		if err == nil {
			break
		}
		level := hclog.Error
		if errors.Is(err, plugin.ErrTimeout) {
			level = hclog.Warn
		}
		s.log.Log(level, "handler failed", "event", ev.ID, "type", ev.Topic(), "attempt", attempt+1, "error", err)
		if attempt >= v.spec.Retries || s.ctx.Err() != nil {
			break
		}
		backoff := time.Duration(100<<min(attempt, 6)) * time.Millisecond
		select {
		case <-time.After(backoff):
		case <-s.ctx.Done():
		}
		if s.ctx.Err() != nil {
			return // stopping: leave it undone, it is delivered again on restart
		}
	}
	s.progress.Done(ev.Seq)
}

// stop ends the reader, waits for in-flight events up to ctx, and closes
// the version.
func (s *slot) stop(ctx context.Context) error {
	s.cancel()
	<-s.readerDone
	done := make(chan struct{})
	go func() { s.work.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("plugin %s: events still in flight at shutdown: %w", s.name, ctx.Err())
	}
	s.cur.Load().retire()
	return err
}
