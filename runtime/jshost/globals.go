package jshost

import (
	"fmt"
	"math"
	"runtime/debug"
	"time"

	"github.com/dop251/goja"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// installGlobals gives the runtime everything a plugin sees. Loop only,
// before any plugin code.
func (h *host) installGlobals() error {
	if err := h.captureBuiltins(); err != nil {
		return err
	}
	if err := h.loadHelpers(); err != nil {
		return err
	}
	rt := h.rt
	set := func(name string, v any) error {
		if err := rt.Set(name, v); err != nil {
			return fmt.Errorf("global %s: %w", name, err)
		}
		return nil
	}
	qm, err := h.help.makeQM(goja.Undefined(), rt.ToValue(func(c goja.FunctionCall) goja.Value {
		h.reportUncaught("queueMicrotask callback", c.Argument(0))
		return goja.Undefined()
	}))
	if err != nil {
		return fmt.Errorf("queueMicrotask: %w", err)
	}
	for _, g := range []struct {
		name string
		v    any
	}{
		{"on", h.jsOn},
		{"setTimeout", func(c goja.FunctionCall) goja.Value { return h.setTimer(c, false) }},
		{"setInterval", func(c goja.FunctionCall) goja.Value { return h.setTimer(c, true) }},
		{"clearTimeout", h.clearTimer},
		{"clearInterval", h.clearTimer},
		{"queueMicrotask", qm},
		{"config", h.toJS(configOrEmpty(h.spec.Config), true)},
		{"kv", h.kvObject()},
		{"log", h.logObject()},
		{"console", h.consoleObject()},
	} {
		if err := set(g.name, g.v); err != nil {
			return err
		}
	}
	return h.installBindings()
}

func configOrEmpty(c map[string]any) map[string]any {
	if c == nil {
		return map[string]any{}
	}
	return c
}

// runJob runs fn inside a call into the runtime, so that everything it
// does behaves as JavaScript-initiated: exceptions thrown by property
// reads come back as errors, interrupts unwind it, and the microtasks it
// queues run when it returns. Loop only.
func (h *host) runJob(fn func()) {
	defer h.recoverJob()
	if h.trampoline == nil {
		f, _ := goja.AssertFunction(h.rt.ToValue(func(goja.FunctionCall) goja.Value {
			h.jobFn()
			return goja.Undefined()
		}))
		h.trampoline = f
	}
	h.jobFn = fn
	_, err := h.trampoline(goja.Undefined())
	h.jobFn = nil
	if err != nil && !isInterrupt(err) {
		h.log.Error("plugin host job failed", "error", err)
	}
	h.reportUnhandled()
}

// recoverJob turns a Go panic that escaped the runtime into a stopped
// plugin: the runtime may be inconsistent, so it serves nothing more.
func (h *host) recoverJob() {
	if x := recover(); x != nil {
		h.log.Error("internal error in the plugin host; the plugin version is stopped",
			"panic", fmt.Sprint(x), "stack", string(debug.Stack()))
		h.closed.Store(true)
		h.cancel()
		h.loop.stop()
	}
}

// jsOn is on(pattern, fn): it registers a handler while the plugin
// initializes. A bad pattern or handler throws a TypeError and fails the
// load even if the plugin catches it.
func (h *host) jsOn(call goja.FunctionCall) goja.Value {
	if h.initialized {
		panic(h.newError(h.js.errorCtor, "", "on() can only be called while the plugin initializes (at the top level)"))
	}
	fail := func(format string, args ...any) {
		e := h.typeError(format, args...)
		if h.onErr == nil {
			h.onErr = fmt.Errorf("on(): "+format, args...)
			if pos := position(h.rt.CaptureCallStack(4, nil)); pos != "" {
				h.onErr = fmt.Errorf("%w at %s", h.onErr, pos)
			}
		}
		panic(e)
	}
	pv := call.Argument(0)
	if !isString(pv) {
		fail("the pattern must be a string such as 'message.text', 'room.*' or '*', got %s", h.inspect(pv))
	}
	pattern := pv.String()
	if !event.ValidPattern(pattern) {
		fail("invalid event pattern %q: use dotted names with '*' only as the last segment ('message.text', 'room.*', '*')", pattern)
	}
	fn, ok := goja.AssertFunction(call.Argument(1))
	if !ok {
		fail("the handler for %q must be a function", pattern)
	}
	h.handlers = append(h.handlers, handlerEntry{pattern: pattern, fn: fn})
	return goja.Undefined()
}

// jsTimer is one setTimeout/setInterval.
type jsTimer struct {
	fn    goja.Callable
	args  []goja.Value
	every time.Duration // > 0 for an interval
	t     *time.Timer
	owner *task
}

// maxTimerDelay is the largest delay timers accept (as in Node.js, a larger
// or invalid delay means 1 ms).
const maxTimerDelay = math.MaxInt32

func timerDelay(v goja.Value) time.Duration {
	ms := 1.0
	if !goja.IsUndefined(v) {
		ms = v.ToFloat()
	}
	if !(ms >= 1 && ms <= maxTimerDelay) {
		ms = 1
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// setTimer is setTimeout/setInterval(fn, delay, ...args). The callback
// runs as part of the event whose code set the timer while that event is
// being handled, and as background work (bounded by the plugin's timeout)
// after. Loop only.
func (h *host) setTimer(call goja.FunctionCall, repeat bool) goja.Value {
	fn, ok := goja.AssertFunction(call.Argument(0))
	if !ok {
		name := "setTimeout"
		if repeat {
			name = "setInterval"
		}
		panic(h.typeError("%s: the callback must be a function", name))
	}
	d := timerDelay(call.Argument(1))
	tm := &jsTimer{fn: fn, owner: h.loop.current()}
	if len(call.Arguments) > 2 {
		tm.args = append([]goja.Value(nil), call.Arguments[2:]...)
	}
	if repeat {
		tm.every = d
	}
	h.nextTimer++
	id := h.nextTimer
	h.timers[id] = tm
	tm.t = time.AfterFunc(d, func() {
		h.loop.post(job{owner: tm.owner, fn: func() { h.fireTimer(id) }})
	})
	return h.rt.ToValue(id)
}

// clearTimer is clearTimeout/clearInterval(id). Loop only.
func (h *host) clearTimer(call goja.FunctionCall) goja.Value {
	v := call.Argument(0)
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return goja.Undefined()
	}
	id := v.ToInteger()
	if tm, ok := h.timers[id]; ok {
		tm.t.Stop()
		delete(h.timers, id)
	}
	return goja.Undefined()
}

// fireTimer runs a timer's callback. Loop only.
func (h *host) fireTimer(id int64) {
	tm, ok := h.timers[id]
	if !ok {
		return // cleared after it fired
	}
	if tm.every == 0 {
		delete(h.timers, id)
	}
	_, err := tm.fn(goja.Undefined(), tm.args...)
	if err != nil {
		if isInterrupt(err) {
			if tm.every > 0 {
				delete(h.timers, id)
			}
			h.log.Warn("timer callback interrupted", "reason", err.Error())
			panic(err)
		}
		h.reportUncaught("timer callback", errValue(err))
	}
	if _, still := h.timers[id]; still && tm.every > 0 {
		tm.t.Reset(tm.every)
	}
}

// stopTimers stops every timer. Loop only (or after the loop exited).
func (h *host) stopTimers() {
	for id, tm := range h.timers {
		tm.t.Stop()
		delete(h.timers, id)
	}
}

// errValue is the thrown JavaScript value inside a call error.
func errValue(err error) goja.Value {
	if ex, ok := err.(*goja.Exception); ok {
		return ex.Value()
	}
	return nil
}

// reportUncaught logs an exception nothing caught (in a timer or a
// microtask). Loop only.
func (h *host) reportUncaught(where string, v goja.Value) {
	msg, stack := h.describe(v)
	args := []any{"where", where, "error", msg}
	if stack != "" {
		args = append(args, "stack", stack)
	}
	if id := h.loop.current().eventID(); id != "" {
		args = append(args, "event", id)
	}
	h.log.Error("uncaught exception", args...)
}

// trackRejection follows promises rejected without a handler. Loop only.
func (h *host) trackRejection(p *goja.Promise, op goja.PromiseRejectionOperation) {
	switch op {
	case goja.PromiseRejectionReject:
		h.unhandled[p] = h.loop.current()
	case goja.PromiseRejectionHandle:
		delete(h.unhandled, p)
	}
}

// reportUnhandled logs the rejections still unhandled at the end of a job
// and forgets them. Loop only.
func (h *host) reportUnhandled() {
	if len(h.unhandled) == 0 {
		return
	}
	for p, t := range h.unhandled {
		msg, stack := h.describe(p.Result())
		args := []any{"error", msg}
		if stack != "" {
			args = append(args, "stack", stack)
		}
		if id := t.eventID(); id != "" {
			args = append(args, "event", id)
		}
		h.log.Warn("unhandled promise rejection", args...)
	}
	clear(h.unhandled)
}
