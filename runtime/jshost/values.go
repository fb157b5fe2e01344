package jshost

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/dop251/goja"

	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// builtins are the ECMAScript functions the host uses, captured before any
// plugin code runs so that a plugin replacing JSON.parse or
// Promise.prototype.then cannot change how the host behaves.
type builtins struct {
	json          *goja.Object
	parse         goja.Callable
	stringify     goja.Callable
	promiseCtor   *goja.Object
	promiseProto  *goja.Object
	promiseThen   goja.Callable
	promiseRes    goja.Callable
	objectFreeze  goja.Callable
	errorCtor     *goja.Object
	typeErrorCtor *goja.Object
	rangeCtor     *goja.Object
}

func (h *host) captureBuiltins() error {
	rt := h.rt
	obj := func(v goja.Value, name string) (*goja.Object, error) {
		o, ok := v.(*goja.Object)
		if !ok {
			return nil, fmt.Errorf("built-in %s is missing", name)
		}
		return o, nil
	}
	fn := func(o *goja.Object, prop, name string) (goja.Callable, error) {
		f, ok := goja.AssertFunction(o.Get(prop))
		if !ok {
			return nil, fmt.Errorf("built-in %s is missing", name)
		}
		return f, nil
	}
	var err error
	b := &h.js
	if b.json, err = obj(rt.Get("JSON"), "JSON"); err != nil {
		return err
	}
	if b.parse, err = fn(b.json, "parse", "JSON.parse"); err != nil {
		return err
	}
	if b.stringify, err = fn(b.json, "stringify", "JSON.stringify"); err != nil {
		return err
	}
	if b.promiseCtor, err = obj(rt.Get("Promise"), "Promise"); err != nil {
		return err
	}
	if b.promiseProto, err = obj(b.promiseCtor.Get("prototype"), "Promise.prototype"); err != nil {
		return err
	}
	if b.promiseThen, err = fn(b.promiseProto, "then", "Promise.prototype.then"); err != nil {
		return err
	}
	if b.promiseRes, err = fn(b.promiseCtor, "resolve", "Promise.resolve"); err != nil {
		return err
	}
	object, err := obj(rt.Get("Object"), "Object")
	if err != nil {
		return err
	}
	if b.objectFreeze, err = fn(object, "freeze", "Object.freeze"); err != nil {
		return err
	}
	if b.errorCtor, err = obj(rt.Get("Error"), "Error"); err != nil {
		return err
	}
	if b.typeErrorCtor, err = obj(rt.Get("TypeError"), "TypeError"); err != nil {
		return err
	}
	b.rangeCtor, err = obj(rt.Get("RangeError"), "RangeError")
	return err
}

// then calls the original Promise.prototype.then on p.
func (b *builtins) then(p goja.Value, onFulfilled, onRejected goja.Value) (goja.Value, error) {
	return b.promiseThen(p, onFulfilled, onRejected)
}

// parseJSON turns JSON text into a JavaScript value with JSON.parse
// semantics (key order kept). Loop only.
func (h *host) parseJSON(data []byte) (goja.Value, error) {
	if len(data) == 0 {
		return goja.Undefined(), nil
	}
	return h.js.parse(h.js.json, h.rt.ToValue(string(data)))
}

// errNotJSON marks a value JSON.stringify turns into nothing (undefined, a
// function, a symbol).
var errNotJSON = errors.New("value cannot be represented as JSON")

// stringify turns a JavaScript value into JSON text with JSON.stringify
// semantics. A value with no JSON form is errNotJSON; an exception
// (a cycle, a BigInt, a throwing toJSON) is returned as is. Loop only.
func (h *host) stringify(v goja.Value) (string, error) {
	out, err := h.js.stringify(h.js.json, v)
	if err != nil {
		return "", err
	}
	if out == nil || goja.IsUndefined(out) {
		return "", errNotJSON
	}
	return out.String(), nil
}

// toJS converts plain Go data (as decoded from JSON or built by the
// normalizers and the config loader) into native JavaScript values.
// Objects get their keys in sorted order; json.Number becomes a number. If
// freeze is set every object and array is frozen. Loop only.
func (h *host) toJS(v any, freeze bool) goja.Value {
	rt := h.rt
	switch x := v.(type) {
	case nil:
		return goja.Null()
	case goja.Value:
		return x
	case string:
		return rt.ToValue(x)
	case bool:
		return rt.ToValue(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return rt.ToValue(i)
		}
		f, err := x.Float64()
		if err != nil {
			return rt.ToValue(x.String())
		}
		return rt.ToValue(f)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return goja.Null()
		}
		return rt.ToValue(x)
	case float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return rt.ToValue(x)
	case map[string]any:
		o := rt.NewObject()
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			_ = o.Set(k, h.toJS(x[k], freeze))
		}
		return h.maybeFreeze(o, freeze)
	case []any:
		items := make([]any, len(x))
		for i, e := range x {
			items[i] = h.toJS(e, freeze)
		}
		return h.maybeFreeze(rt.NewArray(items...), freeze)
	case []string:
		items := make([]any, len(x))
		for i, e := range x {
			items[i] = e
		}
		return h.maybeFreeze(rt.NewArray(items...), freeze)
	}
	// Anything else goes through JSON, so the plugin sees plain data.
	data, err := json.Marshal(v)
	if err != nil {
		return rt.ToValue(fmt.Sprint(v))
	}
	var decoded any
	if err := json.Unmarshal(data, &decoded); err != nil {
		return rt.ToValue(string(data))
	}
	return h.toJS(decoded, freeze)
}

func (h *host) maybeFreeze(o *goja.Object, freeze bool) goja.Value {
	if freeze {
		// Freezing a fresh plain object cannot throw; an interrupt that
		// lands here stays pending and stops the caller's next step.
		_, _ = h.js.objectFreeze(goja.Undefined(), o)
	}
	return o
}

// newError builds a JavaScript error object from ctor with the given name
// (when not empty) and extra properties. Loop only.
func (h *host) newError(ctor *goja.Object, name, msg string, props ...any) *goja.Object {
	o, err := h.rt.New(ctor, h.rt.ToValue(msg))
	if err != nil {
		o = h.rt.NewObject()
		_ = o.Set("message", msg)
	}
	if name != "" {
		_ = o.DefineDataProperty("name", h.rt.ToValue(name), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	for i := 0; i+1 < len(props); i += 2 {
		_ = o.Set(props[i].(string), props[i+1])
	}
	return o
}

// typeError builds a TypeError to throw (panic with) from a host function.
func (h *host) typeError(format string, args ...any) *goja.Object {
	return h.newError(h.js.typeErrorCtor, "", fmt.Sprintf(format, args...))
}

// rangeError builds a RangeError to throw from a host function.
func (h *host) rangeError(format string, args ...any) *goja.Object {
	return h.newError(h.js.rangeCtor, "", fmt.Sprintf(format, args...))
}

// isInterrupt reports whether err is goja's uncatchable interrupt.
func isInterrupt(err error) bool {
	var ie *goja.InterruptedError
	return errors.As(err, &ie)
}

// rethrowIfUncatchable continues unwinding an interrupt or stack overflow
// that surfaced from a nested call into JavaScript. Call it only from code
// the loop runs on behalf of JavaScript.
func rethrowIfUncatchable(err error) {
	var ie *goja.InterruptedError
	var so *goja.StackOverflowError
	if errors.As(err, &ie) {
		panic(ie)
	}
	if errors.As(err, &so) {
		panic(so)
	}
}

// rethrow continues a nested call's failure in the calling JavaScript:
// uncatchable errors keep unwinding, exceptions are thrown again, other
// errors are thrown as an Error with their message.
func (h *host) rethrow(err error) {
	rethrowIfUncatchable(err)
	var ex *goja.Exception
	if errors.As(err, &ex) {
		panic(ex)
	}
	var rf *requireFailure
	if errors.As(err, &rf) {
		panic(rf.v)
	}
	panic(h.newError(h.js.errorCtor, "", err.Error()))
}

// asPromise returns the promise a handler returned, adopting a thenable
// through Promise.resolve; nil when the value is not one. Loop only.
func (h *host) asPromise(v goja.Value) (*goja.Promise, goja.Value) {
	o, ok := v.(*goja.Object)
	if !ok {
		return nil, nil
	}
	if o.Prototype() != h.js.promiseProto {
		if _, thenable := goja.AssertFunction(o.Get("then")); !thenable {
			return nil, nil
		}
		r, err := h.js.promiseRes(h.js.promiseCtor, o)
		if err != nil {
			return nil, nil
		}
		if o, ok = r.(*goja.Object); !ok {
			return nil, nil
		}
	}
	p, ok := o.Export().(*goja.Promise)
	if !ok {
		return nil, nil
	}
	return p, o
}

// handlerError turns what a handler call returned as error into a
// *plugin.HandlerError with the JavaScript message and stack.
func (h *host) handlerError(err error) error {
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		return &plugin.HandlerError{Plugin: h.name,
			Message: fmt.Sprintf("RangeError: maximum call stack size exceeded (%d frames)", h.opts.MaxCallStackSize),
			Stack:   stackLines(so.String())}
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		msg, stack := h.describe(ex.Value())
		if stack == "" {
			stack = stackLines(ex.String())
		}
		return &plugin.HandlerError{Plugin: h.name, Message: msg, Stack: stack}
	}
	return &plugin.HandlerError{Plugin: h.name, Message: err.Error()}
}

// scriptError is an exception thrown by plugin code outside any handler
// (the top level), as the message and the plugin's own frames: the host's
// native frames say nothing to the plugin's author. Other errors are
// returned as they are. Loop only.
func (h *host) scriptError(err error) error {
	var ex *goja.Exception
	if !errors.As(err, &ex) {
		return err
	}
	msg, stack := h.describe(ex.Value())
	if stack == "" {
		stack = stackLines(ex.String())
	}
	var own []string
	for _, line := range strings.Split(stack, "\n") {
		if line != "" && !strings.HasSuffix(strings.TrimSpace(line), "(native)") {
			own = append(own, "    "+strings.TrimSpace(line))
		}
	}
	if len(own) > 0 {
		msg += "\n" + strings.Join(own, "\n")
	}
	return &scriptFailure{msg: msg, err: ex}
}

// scriptFailure is an exception described for people, still wrapping it.
type scriptFailure struct {
	msg string
	err error
}

func (e *scriptFailure) Error() string { return e.msg }
func (e *scriptFailure) Unwrap() error { return e.err }

// rejectionError is a handler whose promise rejected with reason.
func (h *host) rejectionError(reason goja.Value) error {
	msg, stack := h.describe(reason)
	return &plugin.HandlerError{Plugin: h.name, Message: msg, Stack: stack}
}

// stackLines keeps the frame lines ("at ...") of a stack rendering.
func stackLines(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "at ") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// position renders where JavaScript stopped: the first frame of a stack
// that has a source position.
func position(frames []goja.StackFrame) string {
	for i := range frames {
		if frames[i].SrcName() != "<native>" {
			return frames[i].Position().String()
		}
	}
	return ""
}
