package jshost

import (
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/dop251/goja"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/kv"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// maxSafeInteger is Number.MAX_SAFE_INTEGER.
const maxSafeInteger = 1<<53 - 1

// kvObject is the `kv` global over the plugin's own bucket. Its functions
// are synchronous. Values are JSON: set stores JSON.stringify(value), get
// returns JSON.parse of it. Store failures throw an Error named "KVError"
// with a code ("invalid_key", "not_number", "too_large", ...); without the
// "kv" permission every function throws a "PermissionError" with code
// "permission_denied".
func (h *host) kvObject() *goja.Object {
	o := h.rt.NewObject()
	for _, m := range []struct {
		name string
		fn   func(kv.Bucket, goja.FunctionCall) goja.Value
	}{{"get", h.kvGet}, {"set", h.kvSet}, {"delete", h.kvDelete}, {"incr", h.kvIncr}, {"list", h.kvList}} {
		name, fn := m.name, m.fn
		_ = o.Set(name, func(call goja.FunctionCall) goja.Value {
			if h.env.KV == nil {
				perm := &bindings.PermissionError{Plugin: h.name, Permission: plugin.PermKV}
				panic(h.newError(h.js.errorCtor, "PermissionError", "kv."+name+": "+perm.Error(),
					"code", perm.ErrorCode()))
			}
			return fn(h.env.KV, call)
		})
	}
	return o
}

// kvCode maps a store error onto the code a plugin sees.
func kvCode(err error) string {
	switch {
	case errors.Is(err, kv.ErrInvalidKey):
		return "invalid_key"
	case errors.Is(err, kv.ErrNotNumber):
		return "not_number"
	case errors.Is(err, kv.ErrInvalidJSON):
		return "invalid_json"
	case errors.Is(err, kv.ErrTooLarge):
		return "too_large"
	}
	return "kv_error"
}

// throwKV throws a store error as a KVError.
func (h *host) throwKV(op string, err error) {
	panic(h.newError(h.js.errorCtor, "KVError", "kv."+op+": "+err.Error(), "code", kvCode(err)))
}

// key reads a key argument: a string, checked like the store does.
func (h *host) key(op string, v goja.Value) string {
	if !isString(v) {
		panic(h.typeError("kv.%s: the key must be a string, got %s", op, h.inspect(v)))
	}
	k := v.String()
	if err := kv.CheckKey(k); err != nil {
		h.throwKV(op, err)
	}
	return k
}

func (h *host) kvGet(b kv.Bucket, call goja.FunctionCall) goja.Value {
	key := h.key("get", call.Argument(0))
	raw, err := b.Get(key)
	if errors.Is(err, kv.ErrNotFound) {
		return goja.Undefined()
	}
	if err != nil {
		h.throwKV("get", err)
	}
	return h.kvValue(raw)
}

// kvValue parses a stored value.
func (h *host) kvValue(raw json.RawMessage) goja.Value {
	v, err := h.parseJSON(raw)
	if err != nil {
		rethrowIfUncatchable(err)
		h.throwKV("get", kv.ErrInvalidJSON)
	}
	return v
}

func (h *host) kvSet(b kv.Bucket, call goja.FunctionCall) goja.Value {
	key := h.key("set", call.Argument(0))
	text, err := h.stringify(call.Argument(1))
	if errors.Is(err, errNotJSON) {
		panic(h.typeError("kv.set: the value must be JSON-serializable, got %s", h.inspect(call.Argument(1))))
	}
	if err != nil {
		h.rethrow(err)
	}
	ttl := h.ttl(call.Argument(2))
	if err := b.Set(key, json.RawMessage(text), ttl); err != nil {
		h.throwKV("set", err)
	}
	return goja.Undefined()
}

// ttl reads set's options: {ttl} in seconds (a number) or as a Go duration
// string ("10m", "1h30m"). Absent or 0 means no expiry.
func (h *host) ttl(opts goja.Value) time.Duration {
	if opts == nil || goja.IsUndefined(opts) || goja.IsNull(opts) {
		return 0
	}
	o, ok := opts.(*goja.Object)
	if !ok {
		panic(h.typeError("kv.set: options must be an object such as {ttl: 60}, got %s", h.inspect(opts)))
	}
	v := o.Get("ttl")
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return 0
	}
	if isString(v) {
		d, err := time.ParseDuration(v.String())
		if err != nil {
			panic(h.typeError("kv.set: ttl %q is not a duration such as \"90s\", \"10m\" or \"1h\"", v.String()))
		}
		if d < 0 {
			panic(h.rangeError("kv.set: ttl must not be negative, got %q", v.String()))
		}
		return d
	}
	if _, isObj := v.(*goja.Object); isObj {
		panic(h.typeError("kv.set: ttl must be a number of seconds or a duration string, got %s", h.inspect(v)))
	}
	f, ok := v.Export().(float64)
	if i, isInt := v.Export().(int64); isInt {
		f, ok = float64(i), true
	}
	if !ok {
		panic(h.typeError("kv.set: ttl must be a number of seconds or a duration string, got %s", h.inspect(v)))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > float64(math.MaxInt64)/float64(time.Second) {
		panic(h.rangeError("kv.set: ttl must be a finite, non-negative number of seconds, got %s", h.inspect(v)))
	}
	return time.Duration(f * float64(time.Second))
}

func (h *host) kvDelete(b kv.Bucket, call goja.FunctionCall) goja.Value {
	key := h.key("delete", call.Argument(0))
	if err := b.Delete(key); err != nil {
		h.throwKV("delete", err)
	}
	return goja.Undefined()
}

func (h *host) kvIncr(b kv.Bucket, call goja.FunctionCall) goja.Value {
	key := h.key("incr", call.Argument(0))
	by := int64(1)
	if v := call.Argument(1); !goja.IsUndefined(v) {
		by = h.safeInt("kv.incr: by", v)
	}
	n, err := b.Incr(key, by)
	if err != nil {
		h.throwKV("incr", err)
	}
	return h.rt.ToValue(n)
}

// safeInt reads a number that must be a safe integer.
func (h *host) safeInt(what string, v goja.Value) int64 {
	if _, isObj := v.(*goja.Object); isObj || isString(v) {
		panic(h.typeError("%s must be an integer, got %s", what, h.inspect(v)))
	}
	switch x := v.Export().(type) {
	case int64:
		if x >= -maxSafeInteger && x <= maxSafeInteger {
			return x
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= maxSafeInteger {
			return int64(x)
		}
	default:
		panic(h.typeError("%s must be an integer, got %s", what, h.inspect(v)))
	}
	panic(h.rangeError("%s must be a safe integer, got %s", what, h.inspect(v)))
}

// kvList is list(prefix, {limit, cursor}) -> {items: [{key, value,
// expires_at}], cursor}; cursor is null on the last page and expires_at
// (unix seconds) null for keys that do not expire.
func (h *host) kvList(b kv.Bucket, call goja.FunctionCall) goja.Value {
	prefix := ""
	if v := call.Argument(0); !goja.IsUndefined(v) && !goja.IsNull(v) {
		if !isString(v) {
			panic(h.typeError("kv.list: the prefix must be a string, got %s", h.inspect(v)))
		}
		prefix = v.String()
	}
	limit, cursor := 0, ""
	if opts := call.Argument(1); !goja.IsUndefined(opts) && !goja.IsNull(opts) {
		o, ok := opts.(*goja.Object)
		if !ok {
			panic(h.typeError("kv.list: options must be an object such as {limit: 100, cursor}, got %s", h.inspect(opts)))
		}
		if v := o.Get("limit"); v != nil && !goja.IsUndefined(v) && !goja.IsNull(v) {
			n := h.safeInt("kv.list: limit", v)
			if n < 1 || n > kv.MaxListLimit {
				panic(h.rangeError("kv.list: limit must be 1..%d, got %d", kv.MaxListLimit, n))
			}
			limit = int(n)
		}
		if v := o.Get("cursor"); v != nil && !goja.IsUndefined(v) && !goja.IsNull(v) {
			if !isString(v) {
				panic(h.typeError("kv.list: cursor must be the string a previous list returned, got %s", h.inspect(v)))
			}
			cursor = v.String()
		}
	}
	items, next, err := b.List(prefix, limit, cursor)
	if err != nil {
		h.throwKV("list", err)
	}
	arr := make([]any, len(items))
	for i, it := range items {
		item := h.rt.NewObject()
		_ = item.Set("key", it.Key)
		_ = item.Set("value", h.kvValue(it.Value))
		if it.ExpiresAt > 0 {
			_ = item.Set("expires_at", it.ExpiresAt)
		} else {
			_ = item.Set("expires_at", goja.Null())
		}
		arr[i] = item
	}
	out := h.rt.NewObject()
	_ = out.Set("items", h.rt.NewArray(arr...))
	if next != "" {
		_ = out.Set("cursor", next)
	} else {
		_ = out.Set("cursor", goja.Null())
	}
	return out
}
