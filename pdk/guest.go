//go:build wasip1

package pdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	extism "github.com/extism/go-pdk"
)

//go:wasmimport extism:host/user call
func hostCall(uint64) uint64

//go:wasmimport extism:host/user reply
func hostReply(uint64) uint64

//go:wasmimport extism:host/user kv_get
func hostKVGet(uint64) uint64

//go:wasmimport extism:host/user kv_set
func hostKVSet(uint64) uint64

//go:wasmimport extism:host/user kv_delete
func hostKVDelete(uint64) uint64

//go:wasmimport extism:host/user kv_incr
func hostKVIncr(uint64) uint64

//go:wasmimport extism:host/user kv_list
func hostKVList(uint64) uint64

//go:wasmimport extism:host/user log
func hostLog(uint64)

// Handler handles one event. It may act through Reply, Call and the KV
// functions, and may also return declarative actions for the host to
// carry out after it returns. An error fails the event.
type Handler func(ev *Event) ([]Action, error)

// Run is the body of the plugin's `handle` export: it decodes the event,
// calls fn, writes the actions as the output and returns the status the
// export must return (0 ok, 1 failed, with the error set for the host).
func Run(fn Handler) int32 {
	ev, err := ReadEvent()
	if err != nil {
		extism.SetError(err)
		return 1
	}
	actions, err := fn(ev)
	if err != nil {
		extism.SetError(err)
		return 1
	}
	if len(actions) > 0 {
		if err := extism.OutputJSON(Output{Actions: actions}); err != nil {
			extism.SetError(fmt.Errorf("write actions: %w", err))
			return 1
		}
	}
	return 0
}

// ReadEvent decodes the event handed to `handle`.
func ReadEvent() (*Event, error) {
	var ev Event
	if err := json.Unmarshal(extism.Input(), &ev); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	return &ev, nil
}

// Config returns the plugin's setting key (manifest config overridden by
// switchboard.yaml): strings as they are, other values as JSON text.
func Config(key string) (string, bool) { return extism.GetConfig(key) }

// roundTrip sends req as JSON to a host function and decodes its answer.
func roundTrip(fn func(uint64) uint64, req, resp any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	in := extism.AllocateBytes(b)
	defer in.Free()
	out := extism.FindMemory(fn(in.Offset()))
	defer out.Free()
	if err := json.Unmarshal(out.ReadBytes(), resp); err != nil {
		return fmt.Errorf("decode host answer: %w", err)
	}
	return nil
}

func result(r *Result, err error) (json.RawMessage, error) {
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return r.Data, nil
}

// Call makes a binding call, binding "quntool" and method "msg.text" for
// quntool.msg.text, and returns the vendor's data. A failure is an
// *ErrorInfo (use errors.As) with the vendor's code, or
// "permission_denied" when the plugin was not granted the endpoint.
func Call(binding, method string, args map[string]any) (json.RawMessage, error) {
	var r Result
	err := roundTrip(hostCall, CallRequest{Binding: binding, Method: method, Args: args}, &r)
	return result(&r, err)
}

// Reply answers text in the event's own conversation, through the event's
// vendor and account.
func Reply(text string) error {
	var r Result
	_, err := result(&r, roundTrip(hostReply, text, &r))
	return err
}

// ReplyWith answers with a content object ({"image": url}, {"file": url},
// {"link": {...}}), the shapes ev.reply takes in JS.
func ReplyWith(content map[string]any) error {
	var r Result
	_, err := result(&r, roundTrip(hostReply, content, &r))
	return err
}

func kvCall(fn func(uint64) uint64, req KVRequest) (*KVResult, error) {
	var r KVResult
	if err := roundTrip(fn, req, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return &r, nil
}

// ErrNotFound is what Get reports for a missing key.
var ErrNotFound = errors.New("kv: key not found")

// Get decodes the JSON value of key into v; ErrNotFound when it is absent.
func Get(key string, v any) error {
	r, err := kvCall(hostKVGet, KVRequest{Key: key})
	if err != nil {
		return err
	}
	if !r.Found {
		return ErrNotFound
	}
	if err := json.Unmarshal(r.Value, v); err != nil {
		return fmt.Errorf("kv get %q: %w", key, err)
	}
	return nil
}

// Set stores v as JSON under key; ttl > 0 makes it expire.
func Set(key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("kv set %q: %w", key, err)
	}
	req := KVRequest{Key: key, Value: b}
	if ttl > 0 {
		req.TTL = json.RawMessage(fmt.Sprintf("%q", ttl.String()))
	}
	_, err = kvCall(hostKVSet, req)
	return err
}

// Delete removes key; a missing key is not an error.
func Delete(key string) error {
	_, err := kvCall(hostKVDelete, KVRequest{Key: key})
	return err
}

// Incr adds by to the integer at key (missing counts as 0) and returns the
// new value, atomically.
func Incr(key string, by int64) (int64, error) {
	r, err := kvCall(hostKVIncr, KVRequest{Key: key, By: &by})
	if err != nil {
		return 0, err
	}
	return r.N, nil
}

// List returns up to limit keys (0: the host's default) starting with
// prefix, after cursor, and the cursor of the next page ("" on the last).
func List(prefix string, limit int, cursor string) ([]KVItem, string, error) {
	r, err := kvCall(hostKVList, KVRequest{Prefix: prefix, Limit: limit, Cursor: cursor})
	if err != nil {
		return nil, "", err
	}
	return r.Items, r.Cursor, nil
}

// Log writes one line to the host's structured log, tagged with the
// plugin. level is trace, debug, info, warn or error.
func Log(level, msg string, fields map[string]any) {
	b, err := json.Marshal(LogRecord{Level: level, Msg: msg, Fields: fields})
	if err != nil {
		b, _ = json.Marshal(LogRecord{Level: "error", Msg: msg, Fields: map[string]any{"fields_error": err.Error()}})
	}
	in := extism.AllocateBytes(b)
	defer in.Free()
	hostLog(in.Offset())
}
