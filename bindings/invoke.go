package bindings

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// Call is one binding call as a plugin makes it: ev.reply, a JS binding
// method, or the WASM host function all come down to a Call.
type Call struct {
	Plugin string         // the calling plugin; "" for the host itself
	Vendor string         // "quntool"
	Method string         // the endpoint's dotted Name: "msg.text"
	Args   map[string]any // the vendor's own field names
}

// String names the call for logs and errors: "quntool.msg.text".
func (c Call) String() string { return c.Vendor + "." + c.Method }

// Invoker carries out Calls. The layers of the host (permissions, rate
// limits, outbox, the registry's client) are Invokers wrapping each other.
// Implementations are safe for concurrent use.
type Invoker interface {
	Invoke(ctx context.Context, c Call) (json.RawMessage, error)
}

// InvokerFunc adapts a function to Invoker.
type InvokerFunc func(ctx context.Context, c Call) (json.RawMessage, error)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx context.Context, c Call) (json.RawMessage, error) { return f(ctx, c) }

// Invoke makes the Registry the innermost Invoker: it looks the endpoint
// up, checks the arguments against the descriptor, and hands the call to
// the vendor's Client.
func (r *Registry) Invoke(ctx context.Context, c Call) (json.RawMessage, error) {
	ep, err := r.Lookup(c.Vendor, c.Method)
	if err != nil {
		return nil, err
	}
	if err := ep.Check(c.Args); err != nil {
		return nil, err
	}
	v := r.vendors[c.Vendor]
	if v.Client == nil {
		return nil, fmt.Errorf("%w: %s has no client configured", ErrUnsupported, c.Vendor)
	}
	return v.Client.Do(ctx, ep, c.Args)
}

// Check validates args against the endpoint's parameters: every required
// parameter present and not empty, every documented parameter of a
// compatible JSON type. Undocumented extra fields pass through untouched.
func (e *Endpoint) Check(args map[string]any) error {
	for _, p := range e.Params {
		v, ok := Arg(args, p.Name)
		if !ok || v == nil {
			if p.Required {
				return &ArgumentError{Endpoint: e.Permission(), Param: p.Name, Reason: "is required"}
			}
			continue
		}
		if s, isStr := v.(string); isStr && p.Required && strings.TrimSpace(s) == "" && p.Type == String {
			return &ArgumentError{Endpoint: e.Permission(), Param: p.Name, Reason: "must not be empty"}
		}
		if !typeOK(p.Type, v) {
			return &ArgumentError{Endpoint: e.Permission(), Param: p.Name, Reason: fmt.Sprintf("must be %s, got %s", p.Type, jsonType(v))}
		}
	}
	return nil
}

func typeOK(t Type, v any) bool {
	switch t {
	case String:
		switch v.(type) {
		case string, json.Number, float64, int64, int:
			return true // vendors accept numeric ids either way
		}
		return false
	case Int:
		switch x := v.(type) {
		case json.Number, float64, int64, int:
			return true
		case string:
			_, err := json.Number(x).Int64()
			return err == nil
		}
		return false
	case Bool:
		_, ok := v.(bool)
		return ok
	case Strings, Ints, Array:
		switch v.(type) {
		case []any, []string, []int64, []int:
			return true
		}
		return false
	case Object:
		_, ok := v.(map[string]any)
		return ok
	}
	return true
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number, float64, int64, int:
		return "number"
	case bool:
		return "boolean"
	case []any, []string, []int64, []int:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// deliveryKey is the context key of a delivery.
type deliveryKey struct{}

// delivery is one plugin's handling of one journaled event, and the
// number of sends made under it so far.
type delivery struct {
	name  string
	again bool
	sends atomic.Uint64
}

// WithRedelivery marks ctx as the context of calls made while handling a
// journaled event: one the journal delivers again, after a crash, until
// the plugin is recorded as done with it, and recorded only after what the
// plugin stored while handling it. The outbox relies on it: such a call's
// send needs no fsync of its own before it goes out, since a crash that
// loses the stored send also loses the record and so runs the handler,
// and the send, again.
//
// name is the same for every delivery of one event to one plugin (the
// dispatcher passes the plugin's name and the event's journal seq), so the sends of
// a handler run again are recognized (SendKey); "" leaves them unnamed.
// again tells that the event may have been handled by the plugin before
// (an earlier attempt, or a run before a crash): only then are its sends
// looked up.
func WithRedelivery(ctx context.Context, name string, again bool) context.Context {
	return context.WithValue(ctx, deliveryKey{}, &delivery{name: name, again: again})
}

// Redelivered reports whether ctx carries WithRedelivery's mark.
func Redelivered(ctx context.Context) bool {
	_, ok := ctx.Value(deliveryKey{}).(*delivery)
	return ok
}

// SendKey numbers a send made under ctx and returns its key: the
// delivery's name, "#" and the send's number (1 for the first), and
// whether the delivery may be a repeat (WithRedelivery's again). A handler
// run again for the same event makes the same sends with the same keys,
// as long as it makes them in the same order. It returns "" outside a
// named delivery. Safe for concurrent use: concurrent sends are numbered
// in the order they call it.
func SendKey(ctx context.Context) (key string, again bool) {
	d, ok := ctx.Value(deliveryKey{}).(*delivery)
	if !ok || d.name == "" {
		return "", false
	}
	n, numbered := ctx.Value(numberKey{}).(uint64)
	if !numbered {
		n = d.sends.Add(1)
	}
	return d.name + "#" + strconv.FormatUint(n, 10), d.again
}

// numberKey is the context key of a number NumberCall reserved.
type numberKey struct{}

// NumberCall reserves the next number of ctx's delivery for one call
// about to be made from ctx on another goroutine, and returns the context
// to make it with: SendKey on that context answers the reserved number.
// A host whose handlers start calls that run concurrently (JS promises)
// numbers them so in the order the handler made them, which a handler run
// again repeats, rather than in the order their goroutines reach the
// outbox. Outside a named delivery it returns ctx.
func NumberCall(ctx context.Context) context.Context {
	d, ok := ctx.Value(deliveryKey{}).(*delivery)
	if !ok || d.name == "" {
		return ctx
	}
	return context.WithValue(ctx, numberKey{}, d.sends.Add(1))
}
