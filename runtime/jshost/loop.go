package jshost

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// A task is one unit of work the loop owns: an event being handled, the
// plugin's initialization, or background work (timers and the settlement
// of binding calls whose event is over). Every piece of JavaScript the loop
// runs is attributed to a task, so a deadline interrupts only its own task.
type taskKind uint8

const (
	taskEvent taskKind = iota
	taskInit
	taskBackground
)

// Task states. A task starts running and ends exactly once, either
// finished (all its handlers settled) or abandoned (its deadline passed).
const (
	stateRunning int32 = iota
	stateFinished
	stateAbandoned
)

// task is the loop's record of one event (or of init, or of background
// work). ctx, ev and kind are immutable; state is atomic; remaining and errs
// belong to the loop goroutine.
type task struct {
	kind  taskKind
	ev    *event.Event
	ctx   context.Context
	state atomic.Int32
	done  chan struct{} // closed when the task finishes (not when abandoned)

	remaining int     // handlers not yet settled (loop only)
	pending   int     // binding calls made for it and not yet settled (loop only)
	errs      []error // handler failures (loop only)
}

func newTask(kind taskKind, ctx context.Context, ev *event.Event) *task {
	return &task{kind: kind, ev: ev, ctx: ctx, done: make(chan struct{})}
}

// active reports whether the task still runs: JavaScript resumed on its
// behalf is attributed to it and its deadline applies.
func (t *task) active() bool { return t.state.Load() == stateRunning }

// finish marks the task finished and releases its waiter. It reports false
// if the task was abandoned first.
func (t *task) finish() bool {
	if !t.state.CompareAndSwap(stateRunning, stateFinished) {
		return false
	}
	close(t.done)
	return true
}

// eventID is the id of the task's event, "" for init and background work.
func (t *task) eventID() string {
	if t == nil || t.ev == nil {
		return ""
	}
	return t.ev.ID
}

// A job is a function the loop runs on behalf of a task.
type job struct {
	owner *task
	// fresh jobs start a task's work (calling the handlers of an event):
	// they are dropped when the task is no longer active. Other jobs
	// (settlements, timers) run anyway, as background work once their
	// owner is over.
	fresh bool
	fn    func()
}

// loop runs every job of one plugin version on one goroutine, the only
// goroutine that ever touches the goja runtime. post is safe from any
// goroutine; everything else documented "loop only" runs on the loop.
//
// Attribution: cur is the task whose JavaScript runs right now. It is the
// job's owner while the job runs, and it follows promise continuations
// through goja's AsyncContextTracker, so code resumed after an await runs
// as the task that awaited. Deadlines interrupt the runtime only when cur
// is their own task, and an interrupt meant for one task is cleared before
// another task's code runs.
type loop struct {
	rt      *goja.Runtime
	timeout time.Duration // bound on background jobs

	qmu     sync.Mutex
	queue   []job
	stopped bool
	wake    chan struct{}
	done    chan struct{} // closed when the loop goroutine has exited

	mu           sync.Mutex
	cur          *task // guarded by mu; written only by the loop goroutine
	base         *task // the running job's owner (loop only)
	interruptFor *task // the task an Interrupt is pending for (mu)
	seq          uint64
	watchSeq     uint64
	watchdog     *time.Timer
	closing      bool // mu: Close interrupted the runtime; keep it interrupted

	bg *task // owner of background jobs; never ends

	runJob func(func()) // runs a job's function inside the runtime (loop only)
}

func newLoop(rt *goja.Runtime, timeout time.Duration, runJob func(func())) *loop {
	l := &loop{
		rt:      rt,
		timeout: timeout,
		runJob:  runJob,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		bg:      newTask(taskBackground, context.Background(), nil),
	}
	l.watchdog = time.AfterFunc(time.Hour, l.watchdogFired)
	l.watchdog.Stop()
	rt.SetAsyncContextTracker(tracker{l})
	return l
}

// post queues a job. It reports false once the loop is stopped; the job is
// then dropped. Safe for concurrent use.
func (l *loop) post(j job) bool {
	l.qmu.Lock()
	if l.stopped {
		l.qmu.Unlock()
		return false
	}
	l.queue = append(l.queue, j)
	l.qmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return true
}

// run is the loop goroutine. onExit runs on it after the last job.
func (l *loop) run(onExit func()) {
	defer close(l.done)
	defer onExit()
	var batch []job
	for {
		l.qmu.Lock()
		for len(l.queue) == 0 && !l.stopped {
			l.qmu.Unlock()
			<-l.wake
			l.qmu.Lock()
		}
		if l.stopped {
			l.queue = nil
			l.qmu.Unlock()
			return
		}
		batch, l.queue = l.queue, batch[:0]
		l.qmu.Unlock()
		for i := range batch {
			if l.isStopped() {
				return
			}
			l.exec(batch[i])
			batch[i] = job{}
		}
	}
}

func (l *loop) isStopped() bool {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return l.stopped
}

// exec runs one job as its owner, or as background work when the owner is
// over; background work runs under the watchdog.
func (l *loop) exec(j job) {
	owner := j.owner
	if owner == nil || !owner.active() {
		if j.fresh {
			return
		}
		owner = l.bg
	}
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return
	}
	l.seq++
	seq := l.seq
	l.base = owner
	l.setCurLocked(owner)
	if owner == l.bg {
		l.watchSeq = seq
		l.watchdog.Reset(l.timeout)
	}
	l.mu.Unlock()

	l.runJob(j.fn)

	if owner == l.bg {
		l.watchdog.Stop()
	}
	l.mu.Lock()
	l.base = nil
	l.setCurLocked(nil)
	l.mu.Unlock()
}

// setCurLocked switches attribution to t, clearing an interrupt that was
// meant for another task and has not landed. l.mu is held.
func (l *loop) setCurLocked(t *task) {
	if l.interruptFor != nil && l.interruptFor != t && !l.closing {
		l.rt.ClearInterrupt()
		l.interruptFor = nil
	}
	l.cur = t
}

// current is the task whose code runs now. Loop only.
func (l *loop) current() *task { return l.cur }

// abandon ends t because its deadline passed. If t's code is running it
// is interrupted; otherwise its remaining work will run as background
// work. It reports false if t had already finished.
func (l *loop) abandon(t *task) bool {
	if !t.state.CompareAndSwap(stateRunning, stateAbandoned) {
		return false
	}
	l.mu.Lock()
	if l.cur == t {
		l.rt.Interrupt(plugin.ErrTimeout)
		l.interruptFor = t
	}
	l.mu.Unlock()
	return true
}

// watchdogFired interrupts background work that overran its budget.
func (l *loop) watchdogFired() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seq == l.watchSeq && l.cur == l.bg && l.base == l.bg {
		l.rt.Interrupt(plugin.ErrTimeout)
		l.interruptFor = l.bg
	}
}

// stop makes the loop exit after the job it is running, which is
// interrupted. Queued jobs are dropped. Safe for concurrent use; idempotent.
func (l *loop) stop() {
	l.mu.Lock()
	if !l.closing {
		l.closing = true
		if l.cur != nil {
			l.rt.Interrupt(plugin.ErrClosed)
		}
	}
	l.mu.Unlock()
	l.qmu.Lock()
	l.stopped = true
	l.queue = nil
	l.qmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// wait waits up to grace for the loop goroutine to exit and reports
// whether it did. A job stuck in one long built-in call (a catastrophic
// regular expression) ignores interrupts until the call returns.
func (l *loop) wait(grace time.Duration) bool {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-l.done:
		return true
	case <-t.C:
		return false
	}
}

// tracker attributes promise continuations to the task that awaited.
type tracker struct{ l *loop }

// Grab is called (on the loop) when a promise reaction is registered.
func (tr tracker) Grab() any { return tr.l.cur }

// Resumed is called (on the loop) before a promise reaction runs. A
// continuation of an event that is over runs as the job's owner.
func (tr tracker) Resumed(obj any) {
	l := tr.l
	t, _ := obj.(*task)
	if t == nil || t == l.bg || !t.active() {
		t = l.base
	}
	l.mu.Lock()
	l.setCurLocked(t)
	l.mu.Unlock()
}

// Exited is called (on the loop) after a promise reaction ran.
func (tr tracker) Exited() {
	l := tr.l
	l.mu.Lock()
	l.setCurLocked(l.base)
	l.mu.Unlock()
}
