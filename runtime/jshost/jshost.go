// Package jshost runs JavaScript plugins (SPEC §6) with goja: it implements
// plugin.Loader for plugin.JS.
//
// Each loaded plugin version owns one goja runtime driven by one event-loop
// goroutine; nothing else ever touches the runtime. The plugin's top-level
// code runs once at Load and registers its handlers with on(); top-level
// state is then shared by every event, as in Node.js. Events of different
// conversations run concurrently by interleaving at await points: a handler
// waiting for a binding call does not hold up the loop.
//
// Lifecycle of a version, in order:
//  1. Load reads and compiles the entry file, creates the runtime and its
//     globals, and runs the top level under the plugin's timeout. Any
//     failure is a *plugin.LoadError and leaves nothing running.
//  2. Wants and Handle serve events, from any number of goroutines.
//     Handle returns when every matching handler has settled, or with an
//     error wrapping plugin.ErrTimeout when the deadline passes first.
//  3. Close stops the loop and every timer.
//
// What a plugin sees: on, the event object with ev.reply, one object per
// vendor of the bindings registry, kv, log, console, config, require
// (resolving only inside a folder plugin's own folder), the timer functions
// and queueMicrotask, and the ECMAScript built-ins. No file system,
// process, or network.
//
// Attribution and deadlines: every piece of JavaScript the loop runs
// belongs to an event, to the initialization, or to background work.
// Promise continuations follow the event that awaited (goja's
// AsyncContextTracker), and timers belong to the event whose code set them
// while it is being handled. An event's deadline interrupts only its own
// code; background work (timers firing outside any event, code resumed
// after its event ended) is bounded by the plugin's timeout per job.
//
// Binding calls run on their own goroutines and settle back on the loop. A
// call made by an event's code runs with that event's context, so it is
// cancelled when the event finishes or is abandoned. A call made outside
// any event (the top level, a timer after its event) runs with the
// version's own context, cancelled by Close, bounded by the plugin's
// timeout.
package jshost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// Defaults for Options.
const (
	// DefaultMaxCallStackSize bounds JavaScript recursion, about Node's depth.
	DefaultMaxCallStackSize = 10_000
	// DefaultStopGrace is how long Close waits for the loop to stop.
	DefaultStopGrace = time.Second
)

// Options configure a Loader. The zero value uses the defaults.
type Options struct {
	// MaxCallStackSize bounds the JavaScript call depth; deeper recursion
	// fails the event (or the load) with a stack overflow.
	MaxCallStackSize int
	// StopGrace bounds how long Close, and a Load that failed, wait for the
	// loop goroutine to exit. Code is interrupted at once, but a single
	// long built-in call (a catastrophic regular expression) only notices
	// when it returns; the loop then exits on its own.
	StopGrace time.Duration
}

// Loader loads JavaScript plugin versions. It holds no state of its own
// besides its options and is safe for concurrent use.
type Loader struct {
	opts Options
}

var _ plugin.Loader = (*Loader)(nil)

// New returns a Loader.
func New(o Options) *Loader {
	if o.MaxCallStackSize <= 0 {
		o.MaxCallStackSize = DefaultMaxCallStackSize
	}
	if o.StopGrace <= 0 {
		o.StopGrace = DefaultStopGrace
	}
	return &Loader{opts: o}
}

// Kind reports plugin.JS.
func (*Loader) Kind() plugin.Kind { return plugin.JS }

// Load compiles env.Spec.Entry, creates the plugin's runtime and globals and
// runs its top level, bounded by env.Spec.Timeout and ctx. It fails with a
// *plugin.LoadError when the source does not compile, the top level throws
// or overruns, or on() was given a bad pattern or handler; nothing is left
// running then. ctx only bounds Load: the version lives until Close.
func (l *Loader) Load(ctx context.Context, env plugin.Env) (plugin.Handler, error) {
	spec := env.Spec
	if spec == nil {
		return nil, &plugin.LoadError{Plugin: "?", Path: "?", Err: errors.New("jshost: env has no spec")}
	}
	fail := func(err error) error { return &plugin.LoadError{Plugin: spec.Name, Path: spec.Entry, Err: err} }
	if spec.Kind != "" && spec.Kind != plugin.JS {
		return nil, fail(fmt.Errorf("jshost: cannot load a %s plugin", spec.Kind))
	}
	src, err := os.ReadFile(spec.Entry)
	if err != nil {
		return nil, fail(fmt.Errorf("read entry: %w", err))
	}
	h, err := newHost(env, l.opts)
	if err != nil {
		return nil, fail(err)
	}
	prg, err := compileModule(h.modName(spec.Entry), src)
	if err != nil {
		return nil, fail(err)
	}
	if err := h.start(ctx, prg); err != nil {
		return nil, fail(err)
	}
	return h, nil
}

// handlerEntry is one on(pattern, fn) registration.
type handlerEntry struct {
	pattern string
	fn      goja.Callable
}

// host is one loaded plugin version: the plugin.Handler Load returns.
//
// Threading: Wants, Handle and Close may be called from any goroutine.
// Fields marked "loop only" are touched by the loop goroutine alone;
// handlers is written by the loop during Load and read-only afterwards.
type host struct {
	name       string
	env        plugin.Env
	spec       *plugin.Spec
	log        hclog.Logger
	opts       Options
	timeout    time.Duration
	maxPending int
	root       string // the plugin folder, "" for a single-file plugin
	realRoot   string // root with symlinks resolved

	rt   *goja.Runtime
	loop *loop

	life   context.Context // lives until Close; parent of calls outside events
	cancel context.CancelFunc

	handlers []handlerEntry // written at init only

	closed    atomic.Bool
	closeOnce sync.Once

	// loop only
	initialized bool
	onErr       error
	pending     int
	timers      map[int64]*jsTimer
	nextTimer   int64
	unhandled   map[*goja.Promise]*task
	modules     map[string]*goja.Object
	js          builtins
	help        helpers
	trampoline  goja.Callable
	jobFn       func()
}

var _ plugin.Handler = (*host)(nil)

func newHost(env plugin.Env, opts Options) (*host, error) {
	spec := env.Spec
	h := &host{
		name:       spec.Name,
		env:        env,
		spec:       spec,
		log:        env.Log,
		opts:       opts,
		timeout:    spec.Timeout,
		maxPending: spec.MaxPending,
		timers:     map[int64]*jsTimer{},
		unhandled:  map[*goja.Promise]*task{},
		modules:    map[string]*goja.Object{},
	}
	if h.log == nil {
		h.log = hclog.NewNullLogger()
	}
	if h.timeout <= 0 {
		h.timeout = plugin.DefaultTimeout
	}
	if h.maxPending <= 0 {
		h.maxPending = plugin.DefaultMaxPending
	}
	if spec.Dir != "" {
		root, err := filepath.Abs(spec.Dir)
		if err != nil {
			return nil, fmt.Errorf("plugin folder: %w", err)
		}
		real, err := filepath.EvalSymlinks(root)
		if err != nil {
			return nil, fmt.Errorf("plugin folder: %w", err)
		}
		h.root, h.realRoot = root, real
	}
	h.life, h.cancel = context.WithCancel(context.Background())
	h.rt = goja.New()
	h.rt.SetMaxCallStackSize(opts.MaxCallStackSize)
	h.loop = newLoop(h.rt, h.timeout, h.runJob)
	h.rt.SetPromiseRejectionTracker(h.trackRejection)
	return h, nil
}

// start runs the loop and the plugin's top level, waiting at most the
// plugin's timeout (and ctx). On failure the loop is stopped.
func (h *host) start(ctx context.Context, prg *goja.Program) error {
	go h.loop.run(h.onLoopExit)
	init := newTask(taskInit, h.life, nil)
	res := make(chan error, 1)
	h.loop.post(job{owner: init, fresh: true, fn: func() {
		res <- h.initialize(prg)
		init.finish()
	}})
	limit := h.timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < limit {
		limit = time.Until(dl)
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case err := <-res:
		if err != nil {
			h.shutdown()
		}
		return err
	case <-timer.C:
	case <-ctx.Done():
	}
	if !h.loop.abandon(init) {
		// It finished just as the deadline passed.
		err := <-res
		if err != nil {
			h.shutdown()
		}
		return err
	}
	h.shutdown()
	at := ""
	select {
	case err := <-res:
		var ie *goja.InterruptedError
		if errors.As(err, &ie) {
			if pos := position(ie.Stack()); pos != "" {
				at = " (at " + pos + ")"
			}
		}
	default:
	}
	cause := ctx.Err()
	if cause == nil {
		cause = context.DeadlineExceeded
	}
	return fmt.Errorf("initialize: top level still running after %s%s: %w: %w",
		limit.Round(time.Millisecond), at, plugin.ErrTimeout, cause)
}

// initialize installs the globals and runs the top level. Loop only.
func (h *host) initialize(prg *goja.Program) error {
	if err := h.installGlobals(); err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	err := h.runEntry(prg)
	h.initialized = true
	if err != nil {
		return fmt.Errorf("initialize: %w", h.scriptError(err))
	}
	if h.onErr != nil {
		return fmt.Errorf("initialize: %w", h.onErr)
	}
	if len(h.handlers) == 0 {
		h.log.Warn("plugin registers no handlers with on(); it will receive no events")
	}
	return nil
}

// Wants reports whether a handler was registered for ev and the manifest
// admits its type and account. Lock-free; safe for concurrent use.
func (h *host) Wants(ev *event.Event) bool {
	topic := ev.Topic()
	return h.registered(topic) && h.admits(ev, topic)
}

func (h *host) registered(topic string) bool {
	for i := range h.handlers {
		if event.MatchTopic(h.handlers[i].pattern, topic) {
			return true
		}
	}
	return false
}

func (h *host) admits(ev *event.Event, topic string) bool {
	if !h.spec.WantsAccount(ev.Account) {
		return false
	}
	for _, p := range h.spec.Events {
		if event.MatchTopic(p, topic) {
			return true
		}
	}
	return false
}

// Handle runs every handler registered for ev and waits until all have
// settled, ctx is done or the plugin's timeout passes. A thrown exception
// or rejected promise is a *plugin.HandlerError (several are joined); a
// deadline is an error wrapping plugin.ErrTimeout, after which the event's
// running code is interrupted or, if it waits, abandoned, and its pending
// binding calls are cancelled. After Close it returns plugin.ErrClosed.
// Safe for concurrent use; the dispatcher never runs two events of one
// conversation at once, and their code never overlaps on the loop anyway.
func (h *host) Handle(ctx context.Context, ev *event.Event) error {
	if h.closed.Load() {
		return plugin.ErrClosed
	}
	topic := ev.Topic()
	if !h.registered(topic) || !h.admits(ev, topic) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	t := newTask(taskEvent, ctx, ev)
	if !h.loop.post(job{owner: t, fresh: true, fn: func() { h.dispatch(t, topic) }}) {
		return plugin.ErrClosed
	}
	select {
	case <-t.done:
		return h.outcome(ctx, t)
	case <-ctx.Done():
		if !h.loop.abandon(t) {
			<-t.done
			return h.outcome(ctx, t)
		}
		return h.timeoutError(ctx, t, nil)
	case <-h.loop.done:
		return plugin.ErrClosed
	}
}

// outcome is the result of a finished task. A failure once the deadline
// has passed (typically a binding call cancelled by it) is reported as the
// timeout it is, still carrying the handler's error.
func (h *host) outcome(ctx context.Context, t *task) error {
	err := t.result()
	if err != nil && ctx.Err() != nil {
		return h.timeoutError(ctx, t, err)
	}
	return err
}

func (h *host) timeoutError(ctx context.Context, t *task, cause error) error {
	err := fmt.Errorf("plugin %s: event %s (%s): %w (limit %s: %v)",
		h.name, t.ev.ID, t.ev.Topic(), plugin.ErrTimeout, h.timeout, context.Cause(ctx))
	if cause != nil {
		return errors.Join(err, cause)
	}
	return err
}

// result is the outcome of a finished task. Call after done is closed.
func (t *task) result() error {
	switch len(t.errs) {
	case 0:
		return nil
	case 1:
		return t.errs[0]
	}
	return errors.Join(t.errs...)
}

// dispatch calls the event's handlers. Loop only.
func (h *host) dispatch(t *task, topic string) {
	obj := h.newEventObject(t)
	t.remaining = 1 // held until every handler has been called
	for i := range h.handlers {
		hd := &h.handlers[i]
		if !event.MatchTopic(hd.pattern, topic) {
			continue
		}
		if !t.active() {
			return
		}
		t.remaining++
		ret, err := hd.fn(goja.Undefined(), obj)
		if err != nil {
			if isInterrupt(err) {
				return
			}
			h.settle(t, h.handlerError(err))
			continue
		}
		// Reading "then" of a returned object may run (and throw in) plugin code.
		if ex := h.rt.Try(func() { h.awaitResult(t, ret) }); ex != nil {
			h.settle(t, h.handlerError(ex))
		}
	}
	h.settle(t, nil)
}

// settle records one handler as settled. Loop only.
func (h *host) settle(t *task, err error) {
	if err != nil {
		t.errs = append(t.errs, err)
	}
	t.remaining--
	if t.remaining == 0 {
		t.finish()
	}
}

// awaitResult settles a handler when its return value settles. Loop only.
func (h *host) awaitResult(t *task, ret goja.Value) {
	p, pv := h.asPromise(ret)
	if p == nil {
		h.settle(t, nil)
		return
	}
	switch p.State() {
	case goja.PromiseStateFulfilled:
		h.settle(t, nil)
	case goja.PromiseStateRejected:
		delete(h.unhandled, p)
		h.settle(t, h.rejectionError(p.Result()))
	default:
		onFulfilled := h.rt.ToValue(func(goja.FunctionCall) goja.Value {
			h.settle(t, nil)
			return goja.Undefined()
		})
		onRejected := h.rt.ToValue(func(c goja.FunctionCall) goja.Value {
			h.settle(t, h.rejectionError(c.Argument(0)))
			return goja.Undefined()
		})
		if _, err := h.js.then(pv, onFulfilled, onRejected); err != nil && !isInterrupt(err) {
			h.settle(t, h.handlerError(err))
		}
	}
}

// Close stops the loop and every timer, cancels pending binding calls and
// makes further Handle calls fail with plugin.ErrClosed. It waits up to
// Options.StopGrace for the loop to exit. Idempotent; safe for concurrent
// use.
func (h *host) Close() error {
	h.closeOnce.Do(func() {
		h.closed.Store(true)
		h.shutdown()
	})
	return nil
}

// shutdown stops the loop and waits for it within the grace period.
func (h *host) shutdown() {
	h.cancel()
	h.loop.stop()
	if !h.loop.wait(h.opts.StopGrace) {
		h.log.Warn("plugin code still running after close; it stops when its current built-in call returns",
			"grace", h.opts.StopGrace)
	}
}

// onLoopExit runs on the loop goroutine after its last job.
func (h *host) onLoopExit() {
	h.loop.watchdog.Stop()
	h.stopTimers()
}
