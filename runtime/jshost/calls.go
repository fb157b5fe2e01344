package jshost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/dop251/goja"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// Codes of binding errors the host raises itself (the others come from
// bindings.Describe).
const (
	codeTooManyPending  = "too_many_pending"
	codeInvalidArgument = "invalid_argument"
	codeBadResponse     = "bad_response"
)

// errNoInvoker is a binding call made by a plugin loaded without an Invoker.
var errNoInvoker = fmt.Errorf("%w: no binding invoker configured", bindings.ErrUnsupported)

// installBindings creates one global object per vendor of the registry,
// with one function per endpoint at the endpoint's dotted name
// (quntool.msg.text, quntool.group.member.add). Loop only.
func (h *host) installBindings() error {
	reg := h.env.Registry
	if reg == nil {
		return nil
	}
	roots := map[string]*goja.Object{}
	for _, vendor := range reg.Vendors() {
		if h.rt.GlobalObject().Get(vendor) != nil {
			return fmt.Errorf("binding %q would hide the global of the same name", vendor)
		}
		o := h.rt.NewObject()
		if err := h.rt.Set(vendor, o); err != nil {
			return fmt.Errorf("binding %q: %w", vendor, err)
		}
		roots[vendor] = o
	}
	for _, ep := range reg.Endpoints() {
		o := roots[ep.Vendor]
		segs := strings.Split(ep.Name, ".")
		for _, seg := range segs[:len(segs)-1] {
			next, ok := o.Get(seg).(*goja.Object)
			if !ok {
				next = h.rt.NewObject()
				_ = o.Set(seg, next)
			} else if _, isFunc := goja.AssertFunction(next); isFunc {
				return fmt.Errorf("binding %s: %s is both an endpoint and a namespace", ep.Permission(), seg)
			}
			o = next
		}
		last := segs[len(segs)-1]
		if o.Get(last) != nil {
			return fmt.Errorf("binding %s: name already taken", ep.Permission())
		}
		_ = o.Set(last, h.bindingFunc(ep))
	}
	return nil
}

// bindingFunc is the JavaScript function of one endpoint: it takes one
// args object (or positional arguments in Params order) and returns a
// Promise of the vendor's data.
func (h *host) bindingFunc(ep *bindings.Endpoint) func(goja.FunctionCall) goja.Value {
	vendor, method := ep.Vendor, ep.Name
	return func(call goja.FunctionCall) goja.Value {
		var args goja.Value
		if ep.Positional {
			o := h.rt.NewObject()
			for i, p := range ep.Params {
				if a := call.Argument(i); !goja.IsUndefined(a) {
					_ = o.Set(p.Name, a)
				}
			}
			args = o
		} else {
			args = call.Argument(0)
			if goja.IsUndefined(args) || goja.IsNull(args) {
				args = h.rt.NewObject()
			} else if !isPlainArgs(args) {
				return h.rejected(bindings.ErrorInfo{Vendor: vendor, Code: codeInvalidArgument,
					Message: fmt.Sprintf("%s.%s takes one object of arguments", vendor, method)})
			}
		}
		text, err := h.stringify(args)
		if err != nil {
			rethrowIfUncatchable(err)
			return h.rejected(bindings.ErrorInfo{Vendor: vendor, Code: codeInvalidArgument,
				Message: fmt.Sprintf("%s.%s: arguments are not JSON: %s", vendor, method, h.errText(err))})
		}
		return h.startCall(vendor, vendor+"."+method, func(ctx context.Context) (json.RawMessage, error) {
			m, err := decodeArgs(text)
			if err != nil {
				return nil, &bindings.ArgumentError{Endpoint: vendor + "." + method, Param: "arguments", Reason: err.Error()}
			}
			return h.invoke(ctx, bindings.Call{Vendor: vendor, Method: method, Args: m})
		})
	}
}

// isPlainArgs reports whether v can be an args object: an object that is
// not an array or a function.
func isPlainArgs(v goja.Value) bool {
	o, ok := v.(*goja.Object)
	if !ok {
		return false
	}
	if _, isFunc := goja.AssertFunction(o); isFunc {
		return false
	}
	return o.ClassName() != "Array"
}

// decodeArgs decodes JSON arguments with numbers kept as json.Number.
func decodeArgs(text string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode arguments: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

func (h *host) invoke(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
	if h.env.Invoker == nil {
		return nil, errNoInvoker
	}
	return h.env.Invoker.Invoke(ctx, c)
}

// replyFunc is ev.reply for the event of t: a string is {text: s}, an
// object is the content as bindings.Registry.Reply takes it.
func (h *host) replyFunc(t *task) goja.Value {
	ev := t.ev
	return h.rt.ToValue(func(call goja.FunctionCall) goja.Value {
		arg := call.Argument(0)
		var content func() (map[string]any, error)
		switch {
		case isString(arg):
			text := arg.String()
			content = func() (map[string]any, error) { return map[string]any{"text": text}, nil }
		case isPlainArgs(arg):
			s, err := h.stringify(arg)
			if err != nil {
				rethrowIfUncatchable(err)
				return h.rejected(bindings.ErrorInfo{Vendor: ev.Vendor, Code: codeInvalidArgument,
					Message: "ev.reply: content is not JSON: " + h.errText(err)})
			}
			content = func() (map[string]any, error) { return decodeArgs(s) }
		default:
			return h.rejected(bindings.ErrorInfo{Vendor: ev.Vendor, Code: codeInvalidArgument,
				Message: "ev.reply takes a string or a content object ({image}, {file}, {link}, ...)"})
		}
		return h.startCall(ev.Vendor, "ev.reply", func(ctx context.Context) (json.RawMessage, error) {
			m, err := content()
			if err != nil {
				return nil, &bindings.ArgumentError{Endpoint: ev.Vendor + ".reply", Param: "content", Reason: err.Error()}
			}
			if h.env.Registry == nil {
				return nil, fmt.Errorf("%w: no bindings registry", bindings.ErrUnsupported)
			}
			c, err := h.env.Registry.Reply(ev, m)
			if err != nil {
				return nil, err
			}
			return h.invoke(ctx, c)
		})
	})
}

func isString(v goja.Value) bool {
	_, ok := v.(goja.String)
	return ok
}

// startCall runs do off the loop and returns a Promise settled with its
// outcome back on the loop. label names the call in logs. The call runs with the context of the event
// whose code makes it; outside any event (timers, the top level) with the
// plugin's own context bounded by its timeout. Beyond Spec.MaxPending
// pending calls the promise rejects at once with code "too_many_pending":
// pending calls are counted per event (a handler firing calls in a loop
// without awaiting them), and together for the code that runs outside any
// event, so many events each awaiting a call in parallel are not refused.
// Loop only.
func (h *host) startCall(vendor, label string, do func(ctx context.Context) (json.RawMessage, error)) goja.Value {
	owner := h.loop.current()
	counter := &h.pending
	if owner != nil && owner.kind == taskEvent {
		counter = &owner.pending
	}
	if *counter >= h.maxPending {
		return h.rejected(bindings.ErrorInfo{Vendor: vendor, Code: codeTooManyPending,
			Message: fmt.Sprintf("%v: %d calls already pending", plugin.ErrTooManyPending, *counter)})
	}
	p, resolve, reject := h.rt.NewPromise()
	ctx, cancel := h.life, context.CancelFunc(func() {})
	if owner != nil && owner.kind == taskEvent {
		// Numbered here, on the loop, in the order the handler makes its
		// calls: the goroutines below may reach the outbox in any order.
		ctx = bindings.NumberCall(owner.ctx)
	} else {
		ctx, cancel = context.WithTimeout(h.life, h.timeout)
	}
	*counter++
	go func() {
		data, err := h.run(ctx, vendor, do)
		cancel()
		h.loop.post(job{owner: owner, fn: func() {
			*counter--
			if err != nil && owner != nil && owner.kind == taskEvent && owner.state.Load() == stateFinished && errors.Is(err, context.Canceled) {
				h.log.Warn("binding call cancelled: its event finished first; await the call in the handler",
					"event", owner.ev.ID, "call", label)
			}
			h.settleCall(vendor, data, err, resolve, reject)
		}})
	}()
	return h.rt.ToValue(p)
}

// run carries out a call on its own goroutine. A panic in the invoker
// chain fails the call instead of the process.
func (h *host) run(ctx context.Context, vendor string, do func(context.Context) (json.RawMessage, error)) (data json.RawMessage, err error) {
	defer func() {
		if x := recover(); x != nil {
			h.log.Error("binding call panicked", "vendor", vendor, "panic", fmt.Sprint(x), "stack", string(debug.Stack()))
			data, err = nil, fmt.Errorf("%w: internal error in the %s binding", bindings.ErrUnsupported, vendor)
		}
	}()
	return do(ctx)
}

// settleCall resolves or rejects a binding call's promise. Loop only.
func (h *host) settleCall(vendor string, data json.RawMessage, err error, resolve, reject func(any) error) {
	if err != nil {
		_ = reject(h.bindingError(bindings.Describe(vendor, err)))
		return
	}
	var v goja.Value = goja.Undefined()
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 {
		parsed, perr := h.parseJSON(trimmed)
		if perr != nil {
			if isInterrupt(perr) {
				return
			}
			_ = reject(h.bindingError(bindings.ErrorInfo{Vendor: vendor, Code: codeBadResponse,
				Message: "the binding answered data that is not JSON"}))
			return
		}
		v = parsed
	}
	_ = resolve(v)
}

// bindingError is the JavaScript Error a binding call rejects with: name
// "BindingError" and the vendor, code and message of info. Loop only.
func (h *host) bindingError(info bindings.ErrorInfo) *goja.Object {
	return h.newError(h.js.errorCtor, "BindingError", info.Message,
		"vendor", info.Vendor, "code", info.Code)
}

// rejected is a promise already rejected with a BindingError. Loop only.
func (h *host) rejected(info bindings.ErrorInfo) goja.Value {
	p, _, reject := h.rt.NewPromise()
	_ = reject(h.bindingError(info))
	return h.rt.ToValue(p)
}

// errText is the message of an exception from a nested call.
func (h *host) errText(err error) string {
	if errors.Is(err, errNotJSON) {
		return err.Error()
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		msg, _ := h.describe(ex.Value())
		return msg
	}
	return err.Error()
}
