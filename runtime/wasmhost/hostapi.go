package wasmhost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/kv"
	"github.com/switchboard-dev/switchboard/pdk"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

const entryExport = pdk.EntryExport

// Codes of errors the host reports itself (the others come from
// bindings.Describe).
const (
	codeInvalidArgument = "invalid_argument"
	codePermission      = "permission_denied"
	vendorKV            = "kv"
)

// What ImportError says grants the host functions.
const (
	needsBinding = `a binding permission, e.g. "quntool.msg.*"`
	needsKV      = `the "kv" permission`
)

type callKey struct{}

// callInfo is what host functions need of the guest call they serve: its
// event, and its context with the event's deadline. The guest itself runs
// under a context without cancellation (the deadline stops it by closing
// its instance), so host functions take the deadline from here.
type callInfo struct {
	ev  *event.Event
	ctx context.Context
}

// withCall attaches the call's event and deadline context to ctx.
func withCall(ctx context.Context, ev *event.Event) context.Context {
	return context.WithValue(ctx, callKey{}, &callInfo{ev: ev, ctx: ctx})
}

// callOf returns the call's event and deadline context; outside an event,
// ctx itself.
func callOf(ctx context.Context) (*event.Event, context.Context) {
	if ci, ok := ctx.Value(callKey{}).(*callInfo); ok {
		return ci.ev, ci.ctx
	}
	return nil, ctx
}

// needs maps every host function to what links it ("" for the ones
// always linked).
func (h *handler) needs() map[string]string {
	return map[string]string{
		pdk.FuncCall: needsBinding, pdk.FuncReply: needsBinding,
		pdk.FuncKVGet: needsKV, pdk.FuncKVSet: needsKV, pdk.FuncKVDelete: needsKV,
		pdk.FuncKVIncr: needsKV, pdk.FuncKVList: needsKV,
		pdk.FuncLog: "",
	}
}

// bindingsGranted reports whether the plugin may call at least one
// endpoint of the registry.
func (h *handler) bindingsGranted() bool {
	if h.env.Invoker == nil || h.env.Registry == nil {
		return false
	}
	for _, ep := range h.env.Registry.Endpoints() {
		if h.spec.Grants.Allows(ep.Permission()) {
			return true
		}
	}
	return false
}

// hostFuncs are the host functions linked for this plugin: log always,
// call and reply when it holds a binding permission, the kv functions
// when it holds "kv".
func (h *handler) hostFuncs() []hostFunc {
	fs := []hostFunc{{name: pdk.FuncLog, void: true, fn: h.hostLog}}
	if h.bindingsGranted() {
		fs = append(fs, hostFunc{name: pdk.FuncCall, fn: h.hostCall}, hostFunc{name: pdk.FuncReply, fn: h.hostReply})
	}
	if h.env.KV != nil {
		for _, f := range []struct {
			name string
			op   func(pdk.KVRequest) (pdk.KVResult, error)
		}{{pdk.FuncKVGet, h.kvGet}, {pdk.FuncKVSet, h.kvSet}, {pdk.FuncKVDelete, h.kvDelete},
			{pdk.FuncKVIncr, h.kvIncr}, {pdk.FuncKVList, h.kvList}} {
			fs = append(fs, hostFunc{name: f.name, fn: h.kvFunc(f.op)})
		}
	}
	return fs
}

// decode reads a JSON request strictly, numbers kept as json.Number.
func decode(in []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request is not valid JSON of the expected shape: %w", err)
	}
	if dec.More() {
		return errors.New("trailing data after the JSON request")
	}
	return nil
}

// answer encodes a host function's answer.
func answer(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode answer: %w", err)
	}
	return b, nil
}

func errorInfo(vendor string, err error) *pdk.ErrorInfo {
	d := bindings.Describe(vendor, err)
	return &pdk.ErrorInfo{Vendor: d.Vendor, Code: d.Code, Message: d.Message}
}

func result(vendor string, data json.RawMessage, err error) ([]byte, error) {
	if err != nil {
		return answer(pdk.Result{Error: errorInfo(vendor, err)})
	}
	return answer(pdk.Result{Data: data})
}

func (h *handler) hostCall(ctx context.Context, in []byte) ([]byte, error) {
	var req pdk.CallRequest
	if err := decode(in, &req); err != nil {
		return result("", nil, &bindings.ArgumentError{Endpoint: "call", Param: "request", Reason: err.Error()})
	}
	_, cctx := callOf(ctx)
	data, err := h.invoke(cctx, &req)
	return result(req.Binding, data, err)
}

// invoke carries out a binding call through the plugin's Invoker, which
// checks it against the registry and the plugin's grants.
func (h *handler) invoke(ctx context.Context, req *pdk.CallRequest) (json.RawMessage, error) {
	if req.Binding == "" || req.Method == "" {
		return nil, &bindings.ArgumentError{Endpoint: req.Binding + "." + req.Method, Param: "binding/method",
			Reason: `both are required, e.g. {"binding":"quntool","method":"msg.text"}`}
	}
	if h.env.Invoker == nil {
		return nil, fmt.Errorf("%w: no binding invoker configured", bindings.ErrUnsupported)
	}
	args := req.Args
	if args == nil {
		args = map[string]any{}
	}
	return h.env.Invoker.Invoke(ctx, bindings.Call{Vendor: req.Binding, Method: req.Method, Args: args})
}

func (h *handler) hostReply(ctx context.Context, in []byte) ([]byte, error) {
	ev, cctx := callOf(ctx)
	if ev == nil {
		return nil, errors.New("reply called outside an event")
	}
	data, err := h.reply(cctx, ev, in)
	return result(ev.Vendor, data, err)
}

// reply answers in ev's conversation: content is a JSON string (text) or
// a content object, as ev.reply takes them in JS.
func (h *handler) reply(ctx context.Context, ev *event.Event, content json.RawMessage) (json.RawMessage, error) {
	var m map[string]any
	var text string
	switch {
	case json.Unmarshal(content, &text) == nil:
		m = map[string]any{"text": text}
	case decode(content, &m) == nil && m != nil:
	default:
		return nil, &bindings.ArgumentError{Endpoint: ev.Vendor + ".reply", Param: "content",
			Reason: "a reply is a string or a content object ({image}, {file}, {link}, ...)"}
	}
	if h.env.Registry == nil {
		return nil, fmt.Errorf("%w: no bindings registry", bindings.ErrUnsupported)
	}
	c, err := h.env.Registry.Reply(ev, m)
	if err != nil {
		return nil, err
	}
	if h.env.Invoker == nil {
		return nil, fmt.Errorf("%w: no binding invoker configured", bindings.ErrUnsupported)
	}
	return h.env.Invoker.Invoke(ctx, c)
}

// kvError marks store failures so they are shown with the store's codes.
type kvError struct {
	op  string
	err error
}

func (e *kvError) Error() string { return "kv." + e.op + ": " + e.err.Error() }
func (e *kvError) Unwrap() error { return e.err }

// ErrorCode is the code the guest sees.
func (e *kvError) ErrorCode() any {
	switch {
	case errors.Is(e.err, kv.ErrInvalidKey):
		return "invalid_key"
	case errors.Is(e.err, kv.ErrNotNumber):
		return "not_number"
	case errors.Is(e.err, kv.ErrInvalidJSON):
		return "invalid_json"
	case errors.Is(e.err, kv.ErrTooLarge):
		return "too_large"
	case errors.As(e.err, new(*bindings.PermissionError)):
		return codePermission
	case errors.As(e.err, new(*bindings.ArgumentError)):
		return codeInvalidArgument
	}
	return "kv_error"
}

// kvFunc wraps one store operation as a host function.
func (h *handler) kvFunc(op func(pdk.KVRequest) (pdk.KVResult, error)) func(context.Context, []byte) ([]byte, error) {
	return func(_ context.Context, in []byte) ([]byte, error) {
		var req pdk.KVRequest
		var res pdk.KVResult
		err := decode(in, &req)
		if err != nil {
			err = &kvError{op: "request", err: &bindings.ArgumentError{Endpoint: "kv", Param: "request", Reason: err.Error()}}
		} else {
			res, err = op(req)
		}
		if err != nil {
			return answer(pdk.KVResult{Error: errorInfo(vendorKV, err)})
		}
		return answer(res)
	}
}

// bucket is the plugin's namespace, or a permission error without "kv".
func (h *handler) bucket(op string) (kv.Bucket, error) {
	if h.env.KV == nil {
		return nil, &kvError{op: op, err: &bindings.PermissionError{Plugin: h.name, Permission: plugin.PermKV}}
	}
	return h.env.KV, nil
}

func (h *handler) kvGet(req pdk.KVRequest) (pdk.KVResult, error) {
	b, err := h.bucket("get")
	if err != nil {
		return pdk.KVResult{}, err
	}
	v, err := b.Get(req.Key)
	if errors.Is(err, kv.ErrNotFound) {
		return pdk.KVResult{}, nil
	}
	if err != nil {
		return pdk.KVResult{}, &kvError{op: "get", err: err}
	}
	return pdk.KVResult{Found: true, Value: v}, nil
}

func (h *handler) kvSet(req pdk.KVRequest) (pdk.KVResult, error) {
	b, err := h.bucket("set")
	if err != nil {
		return pdk.KVResult{}, err
	}
	ttl, err := parseTTL(req.TTL)
	if err != nil {
		return pdk.KVResult{}, &kvError{op: "set", err: err}
	}
	if len(req.Value) == 0 {
		return pdk.KVResult{}, &kvError{op: "set", err: &bindings.ArgumentError{Endpoint: "kv.set", Param: "value", Reason: "required"}}
	}
	if err := b.Set(req.Key, req.Value, ttl); err != nil {
		return pdk.KVResult{}, &kvError{op: "set", err: err}
	}
	return pdk.KVResult{}, nil
}

// parseTTL reads a ttl: seconds (a number) or a Go duration string.
func parseTTL(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	bad := func(reason string) error {
		return &bindings.ArgumentError{Endpoint: "kv.set", Param: "ttl", Reason: reason}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, bad(fmt.Sprintf("%q is not a non-negative duration such as \"90s\" or \"10m\"", s))
		}
		return d, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, bad("must be a number of seconds or a duration string")
	}
	if f < 0 || math.IsNaN(f) || f > float64(math.MaxInt64)/float64(time.Second) {
		return 0, bad(fmt.Sprintf("must be a non-negative number of seconds, got %v", f))
	}
	return time.Duration(f * float64(time.Second)), nil
}

func (h *handler) kvDelete(req pdk.KVRequest) (pdk.KVResult, error) {
	b, err := h.bucket("delete")
	if err != nil {
		return pdk.KVResult{}, err
	}
	if err := b.Delete(req.Key); err != nil {
		return pdk.KVResult{}, &kvError{op: "delete", err: err}
	}
	return pdk.KVResult{}, nil
}

func (h *handler) kvIncr(req pdk.KVRequest) (pdk.KVResult, error) {
	b, err := h.bucket("incr")
	if err != nil {
		return pdk.KVResult{}, err
	}
	by := int64(1)
	if req.By != nil {
		by = *req.By
	}
	n, err := b.Incr(req.Key, by)
	if err != nil {
		return pdk.KVResult{}, &kvError{op: "incr", err: err}
	}
	return pdk.KVResult{N: n}, nil
}

func (h *handler) kvList(req pdk.KVRequest) (pdk.KVResult, error) {
	b, err := h.bucket("list")
	if err != nil {
		return pdk.KVResult{}, err
	}
	if req.Limit < 0 || req.Limit > kv.MaxListLimit {
		return pdk.KVResult{}, &kvError{op: "list", err: &bindings.ArgumentError{Endpoint: "kv.list", Param: "limit",
			Reason: fmt.Sprintf("must be 1..%d, got %d", kv.MaxListLimit, req.Limit)}}
	}
	items, next, err := b.List(req.Prefix, req.Limit, req.Cursor)
	if err != nil {
		return pdk.KVResult{}, &kvError{op: "list", err: err}
	}
	out := make([]pdk.KVItem, len(items))
	for i, it := range items {
		out[i] = pdk.KVItem{Key: it.Key, Value: it.Value, ExpiresAt: it.ExpiresAt}
	}
	return pdk.KVResult{Items: out, Cursor: next}, nil
}

// logLevels maps LogRecord levels.
var logLevels = map[string]hclog.Level{
	"": hclog.Info, "trace": hclog.Trace, "debug": hclog.Debug, "info": hclog.Info,
	"warn": hclog.Warn, "warning": hclog.Warn, "error": hclog.Error,
}

// leadingLevel reads the level of a log record that starts with it, as
// the PDKs write it ({"level":"info",...}); ok is false for any other
// shape, which is then decoded in full.
func leadingLevel(in []byte) (hclog.Level, bool) {
	rest, ok := bytes.CutPrefix(in, []byte(`{"level":"`))
	if !ok {
		return 0, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 || end > len("warning") {
		return 0, false
	}
	level, ok := logLevels[string(rest[:end])]
	return level, ok
}

// maxLogMsg bounds one guest log message.
const maxLogMsg = 16 << 10

func (h *handler) hostLog(_ context.Context, in []byte) ([]byte, error) {
	if level, ok := leadingLevel(in); ok && level < h.log.GetLevel() {
		return nil, nil // below the plugin's log level: not worth decoding
	}
	var rec pdk.LogRecord
	if err := decode(in, &rec); err != nil {
		h.log.Warn("guest log call with a bad record", "error", err)
		return nil, nil
	}
	h.logRecord(&rec)
	return nil, nil
}

// logRecord writes a guest's log line; an unknown level logs at info with
// the level kept as a field.
func (h *handler) logRecord(rec *pdk.LogRecord) {
	level, ok := logLevels[strings.ToLower(rec.Level)]
	args := make([]any, 0, 2*len(rec.Fields)+2)
	if !ok {
		level = hclog.Info
		args = append(args, "level", rec.Level)
	}
	if level < h.log.GetLevel() {
		return
	}
	msg := rec.Msg
	if len(msg) > maxLogMsg {
		msg = msg[:maxLogMsg] + "..."
	}
	keys := make([]string, 0, len(rec.Fields))
	for k := range rec.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, k, rec.Fields[k])
	}
	h.log.Log(level, msg, args...)
}

// act carries out one declarative action of the output.
func (h *handler) act(ctx context.Context, ev *event.Event, a *pdk.Action) error {
	var err error
	switch a.Kind() {
	case "reply":
		_, err = h.reply(ctx, ev, a.Reply)
	case "call":
		_, err = h.invoke(ctx, a.Call)
	case "kv_set":
		_, err = h.kvSet(*a.KVSet)
	case "kv_delete":
		_, err = h.kvDelete(*a.KVDelete)
	case "kv_incr":
		_, err = h.kvIncr(*a.KVIncr)
	case "log":
		h.logRecord(a.Log)
	}
	return err
}
