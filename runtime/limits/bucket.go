package limits

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
)

// inFlight marks a slot whose call has not answered yet.
const inFlight = math.MaxInt64

// errEvicted: the bucket was dropped as idle while the caller held a
// pointer to it; look it up again.
var errEvicted = errors.New("limits: bucket evicted")

// bucket is one key of one rule: at most rule.Max calls in any
// rule.Window, counted from each call's answer. Its slots form a ring in
// grant order: grant n reuses the slot of grant n-Max, which must have
// answered at least Window ago.
//
// Waiters queue per plugin; grants go round-robin across the plugins with
// waiters and first-in first-out within one plugin, so every caller gets
// its turn in order and two busy plugins get equal shares.
//
// All fields are guarded by mu; timers re-enter through dispatch.
type bucket struct {
	rule  *Rule
	key   string
	clock Clock

	mu       sync.Mutex
	ring     []int64 // per grant seq%Max: unix ns when the slot is free again, or inFlight
	next     uint64  // seq of the next grant
	inflight int
	lastFree int64 // latest free-again time in ring
	queues   map[string]*list.List
	order    []string // plugins with waiters, in round-robin order
	turn     int      // index into order of the plugin served next
	waiting  int
	paused   int64 // unix ns until which nothing is granted
	streak   int   // throttle answers in a row
	timerAt  int64
	timerGen uint64
	stop     func() bool
	evicted  bool
}

// waiter is one caller queued on a bucket.
type waiter struct {
	plugin   string
	deadline int64
	elem     *list.Element
	ch       chan struct{} // closed once granted or failed
	granted  bool
	seq      uint64
	failWait time.Duration // failed by a pause: how long until it ends
}

func newBucket(rule *Rule, key string, clock Clock) *bucket {
	return &bucket{rule: rule, key: key, clock: clock, queues: map[string]*list.List{}}
}

// readyAt reports whether a grant is possible at now; if not, when it will
// be (0 when that depends on a call in flight answering).
func (b *bucket) readyAt(now int64) (bool, int64) {
	if now < b.paused {
		return false, b.paused
	}
	if len(b.ring) < b.rule.Max {
		return true, 0
	}
	free := b.ring[b.next%uint64(b.rule.Max)]
	switch {
	case free == inFlight:
		return false, 0
	case free <= now:
		return true, 0
	}
	return false, free
}

// grant hands out the next slot. Called with mu held and readyAt true.
func (b *bucket) grant() uint64 {
	seq := b.next
	if len(b.ring) < b.rule.Max {
		b.ring = append(b.ring, inFlight)
	} else {
		b.ring[seq%uint64(b.rule.Max)] = inFlight
	}
	b.next++
	b.inflight++
	return seq
}

// lowerBound is the least time a new waiter of plugin would wait at now:
// until the next slot frees, plus a window for every Max grants its own
// plugin has queued before it.
func (b *bucket) lowerBound(now int64, plugin string) time.Duration {
	var d time.Duration
	ok, at := b.readyAt(now)
	switch {
	case at > now:
		d = time.Duration(at - now)
	case !ok:
		d = b.rule.Window // in flight: free at its answer plus Window
	}
	if q := b.queues[plugin]; q != nil {
		d += time.Duration(q.Len()/b.rule.Max) * b.rule.Window
	}
	return d
}

// acquire waits for a slot until deadline (unix ns of the limiter's clock)
// or until ctx ends, and answers the slot's seq for release.
func (b *bucket) acquire(ctx context.Context, plugin string, deadline int64) (uint64, error) {
	b.mu.Lock()
	if b.evicted {
		b.mu.Unlock()
		return 0, errEvicted
	}
	now := b.clock.Now().UnixNano()
	if b.waiting == 0 {
		if ok, _ := b.readyAt(now); ok {
			seq := b.grant()
			b.mu.Unlock()
			return seq, nil
		}
	}
	if lb := b.lowerBound(now, plugin); now+int64(lb) > deadline {
		b.mu.Unlock()
		return 0, &bindings.RateLimitedError{Key: b.key, Wait: lb}
	}
	w := &waiter{plugin: plugin, deadline: deadline, ch: make(chan struct{})}
	b.enqueue(w)
	b.dispatch(now)
	b.mu.Unlock()

	expired := make(chan struct{})
	stop := b.clock.AfterFunc(time.Duration(deadline-now), func() { close(expired) })
	defer stop()
	var ctxErr error
	select {
	case <-w.ch:
	case <-expired:
	case <-ctx.Done():
		ctxErr = ctx.Err()
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	now = b.clock.Now().UnixNano()
	switch {
	case w.granted && ctxErr == nil:
		return w.seq, nil
	case w.granted:
		b.release(w.seq, now, false) // granted as the context ended: not used
	case w.failWait > 0:
		return 0, &bindings.RateLimitedError{Key: b.key, Wait: w.failWait}
	default:
		b.remove(w)
	}
	limited := &bindings.RateLimitedError{Key: b.key, Wait: b.lowerBound(now, plugin)}
	switch {
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return 0, fmt.Errorf("%w: %w", limited, ctxErr)
	case ctxErr != nil:
		return 0, fmt.Errorf("wait for %s: %w", b.key, ctxErr)
	}
	return 0, limited
}

// enqueue appends w to its plugin's queue.
func (b *bucket) enqueue(w *waiter) {
	q := b.queues[w.plugin]
	if q == nil {
		q = list.New()
		b.queues[w.plugin] = q
		b.order = append(b.order, w.plugin)
	}
	w.elem = q.PushBack(w)
	b.waiting++
}

// remove takes a waiter that gave up out of its queue.
func (b *bucket) remove(w *waiter) {
	q := b.queues[w.plugin]
	if q == nil || w.elem == nil {
		return
	}
	q.Remove(w.elem)
	w.elem = nil
	b.waiting--
	if q.Len() == 0 {
		b.dropPlugin(w.plugin)
	}
}

// dropPlugin removes a plugin with an empty queue from the rotation,
// keeping the turn on the plugin that was next.
func (b *bucket) dropPlugin(plugin string) {
	delete(b.queues, plugin)
	for i, p := range b.order {
		if p != plugin {
			continue
		}
		b.order = append(b.order[:i], b.order[i+1:]...)
		if i < b.turn {
			b.turn--
		}
		break
	}
	if len(b.order) == 0 || b.turn >= len(b.order) {
		b.turn = 0
	}
}

// pop takes the waiter whose turn it is.
func (b *bucket) pop() *waiter {
	plugin := b.order[b.turn]
	q := b.queues[plugin]
	w := q.Remove(q.Front()).(*waiter)
	w.elem = nil
	b.waiting--
	if q.Len() == 0 {
		b.dropPlugin(plugin)
	} else {
		b.turn = (b.turn + 1) % len(b.order)
	}
	return w
}

// dispatch grants slots to waiters for as long as there are both, and
// arms the timer for the next time a slot frees. Called with mu held.
func (b *bucket) dispatch(now int64) {
	for b.waiting > 0 {
		ok, at := b.readyAt(now)
		if !ok {
			if at > 0 {
				b.arm(at, now)
			}
			return
		}
		w := b.pop()
		w.seq, w.granted = b.grant(), true
		close(w.ch)
	}
}

// arm makes sure dispatch runs at at.
func (b *bucket) arm(at, now int64) {
	if b.stop != nil {
		if b.timerAt == at {
			return
		}
		b.stop()
	}
	b.timerGen++
	gen := b.timerGen
	b.timerAt = at
	b.stop = b.clock.AfterFunc(time.Duration(at-now), func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.timerGen != gen {
			return
		}
		b.stop, b.timerAt = nil, 0
		b.dispatch(b.clock.Now().UnixNano())
	})
}

// release ends the call holding slot seq at now. A call that never reached
// the vendor (used false) frees its slot at once. Called with mu held.
func (b *bucket) release(seq uint64, now int64, used bool) {
	i := seq % uint64(b.rule.Max)
	if used {
		free := now + int64(b.rule.Window)
		b.ring[i] = free
		if free > b.lastFree {
			b.lastFree = free
		}
	} else {
		b.ring[i] = 0
	}
	b.inflight--
	b.dispatch(now)
}

// done releases slot seq after the call's answer and applies the
// vendor's verdict: a throttle answer pauses the bucket (answering the
// pause, 0 if the rule has no backoff), a success ends a throttle streak.
func (b *bucket) done(seq uint64, now time.Time, used, throttled, ok bool) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	ns := now.UnixNano()
	var pause time.Duration
	switch {
	case throttled:
		pause = b.rule.pause(b.streak)
		if pause > 0 {
			b.streak++
			if until := ns + int64(pause); until > b.paused {
				b.paused = until
			}
			b.failBefore(b.paused, ns)
		}
	case ok:
		b.streak = 0
	}
	b.release(seq, ns, used)
	return pause
}

// failBefore fails every waiter whose deadline comes before until: it
// could not get a slot in time anyway.
func (b *bucket) failBefore(until, now int64) {
	for _, plugin := range append([]string(nil), b.order...) {
		q := b.queues[plugin]
		for e := q.Front(); e != nil; {
			w := e.Value.(*waiter)
			e = e.Next()
			if w.deadline < until {
				b.remove(w)
				w.failWait = time.Duration(until - now)
				close(w.ch)
			}
		}
	}
}

// idle reports, with mu held, whether the bucket holds nothing worth
// keeping at now: no waiter, no call in flight, no slot still counting,
// no pause, no throttle streak.
func (b *bucket) idle(now int64) bool {
	return b.waiting == 0 && b.inflight == 0 && b.lastFree <= now && b.paused <= now && b.streak == 0
}

// evictIfIdle marks an idle bucket evicted and reports whether it did.
func (b *bucket) evictIfIdle(now int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.idle(now) {
		return false
	}
	b.evicted = true
	if b.stop != nil {
		b.stop()
		b.stop = nil
	}
	return true
}

// state is a snapshot for Limiter.Keys.
func (b *bucket) state(now int64) KeyState {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := KeyState{Key: b.key, Rule: b.rule.Name, Waiting: b.waiting, InFlight: b.inflight, Streak: b.streak}
	if b.paused > now {
		s.PausedFor = time.Duration(b.paused - now)
	}
	return s
}
