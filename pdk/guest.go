//go:build wasip1

package pdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unsafe"

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
		b, err := EncodeOutput(actions)
		if err != nil {
			extism.SetError(fmt.Errorf("write actions: %w", err))
			return 1
		}
		extism.Output(b)
	}
	return 0
}

// ReadEvent decodes the event handed to `handle`.
func ReadEvent() (*Event, error) { return ownScanner(readInput()).event() }

// ownScanner scans b, which nothing else holds or changes: its strings
// share b's memory instead of a copy.
func ownScanner(b []byte) *scanner {
	return &scanner{b: b, s: unsafe.String(unsafe.SliceData(b), len(b))}
}

// Config returns the plugin's setting key (manifest config overridden by
// switchboard.yaml): strings as they are, other values as JSON text.
func Config(key string) (string, bool) { return extism.GetConfig(key) }

// reqBuf is the buffer requests are built in: each is copied into a
// kernel block before the next one is built, so one buffer, grown to the
// largest request, serves them all.
var reqBuf = make([]byte, 0, 256)

// roundTrip hands req to a host function and decodes its answer. Requests
// are padded with spaces to whole 8-byte words, which the kernel copies
// fastest. Blocks are not freed one by one: the host frees every block
// when the event ends.
func roundTrip(fn func(uint64) uint64, req []byte) (answerFields, error) {
	return ownScanner(readBlock(fn(writeBlock(padWords(req))))).answer()
}

// resultData is the data of a Call or Reply answer, or its error.
func resultData(fields answerFields, err error) (json.RawMessage, error) {
	if err != nil {
		return nil, err
	}
	if e := answerError(fields); e != nil {
		return nil, e
	}
	return fields.value("data"), nil
}

// Call makes a binding call, binding "quntool" and method "msg.text" for
// quntool.msg.text, and returns the vendor's data. A failure is an
// *ErrorInfo (use errors.As) with the vendor's code, or
// "permission_denied" when the plugin was not granted the endpoint.
func Call(binding, method string, args map[string]any) (json.RawMessage, error) {
	req := append([]byte(`{"binding":`), appendString(nil, binding)...)
	req = append(req, `,"method":`...)
	req = appendString(req, method)
	req = append(req, `,"args":`...)
	req, err := appendObject(req, args)
	if err != nil {
		return nil, fmt.Errorf("%s.%s arguments: %w", binding, method, err)
	}
	return resultData(roundTrip(hostCall, append(req, '}')))
}

// Reply answers text in the event's own conversation, through the event's
// vendor and account.
func Reply(text string) error {
	_, err := resultData(roundTrip(hostReply, appendString(nil, text)))
	return err
}

// ReplyWith answers with a content object ({"image": url}, {"file": url},
// {"link": {...}}), the shapes ev.reply takes in JS.
func ReplyWith(content map[string]any) error {
	req, err := appendObject(nil, content)
	if err != nil {
		return fmt.Errorf("reply content: %w", err)
	}
	_, err = resultData(roundTrip(hostReply, req))
	return err
}

// kvCall sends one KV request and returns the answer's fields.
func kvCall(fn func(uint64) uint64, req []byte) (answerFields, error) {
	fields, err := roundTrip(fn, req)
	if err != nil {
		return nil, err
	}
	if e := answerError(fields); e != nil {
		return nil, e
	}
	return fields, nil
}

func keyRequest(key string) []byte {
	return append(appendString([]byte(`{"key":`), key), '}')
}

// ErrNotFound is what Get reports for a missing key.
var ErrNotFound = errors.New("kv: key not found")

// Get decodes the JSON value of key into v; ErrNotFound when it is absent.
func Get(key string, v any) error {
	fields, err := kvCall(hostKVGet, keyRequest(key))
	if err != nil {
		return err
	}
	if string(fields.value("found")) != "true" {
		return ErrNotFound
	}
	if err := json.Unmarshal(fields.value("value"), v); err != nil {
		return fmt.Errorf("kv get %q: %w", key, err)
	}
	return nil
}

// Set stores v as JSON under key; ttl > 0 makes it expire.
func Set(key string, v any, ttl time.Duration) error {
	req := appendString([]byte(`{"key":`), key)
	req = append(req, `,"value":`...)
	req, err := appendValue(req, v)
	if err != nil {
		return fmt.Errorf("kv set %q: %w", key, err)
	}
	if ttl > 0 {
		req = append(req, `,"ttl":`...)
		req = appendString(req, ttl.String())
	}
	_, err = kvCall(hostKVSet, append(req, '}'))
	return err
}

// Delete removes key; a missing key is not an error.
func Delete(key string) error {
	_, err := kvCall(hostKVDelete, keyRequest(key))
	return err
}

// Incr adds by to the integer at key (missing counts as 0) and returns the
// new value, atomically.
func Incr(key string, by int64) (int64, error) {
	req := appendString([]byte(`{"key":`), key)
	req = append(req, `,"by":`...)
	req = strconv.AppendInt(req, by, 10)
	fields, err := kvCall(hostKVIncr, append(req, '}'))
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(fields.value("n")), 10, 64)
	if err != nil && len(fields.value("n")) > 0 {
		return 0, fmt.Errorf("kv incr %q: bad answer: %w", key, err)
	}
	return n, nil
}

// List returns up to limit keys (0: the host's default) starting with
// prefix, after cursor, and the cursor of the next page ("" on the last).
func List(prefix string, limit int, cursor string) ([]KVItem, string, error) {
	req := appendString([]byte(`{"prefix":`), prefix)
	req = append(req, `,"limit":`...)
	req = strconv.AppendInt(req, int64(limit), 10)
	req = append(req, `,"cursor":`...)
	req = appendString(req, cursor)
	fields, err := kvCall(hostKVList, append(req, '}'))
	if err != nil {
		return nil, "", err
	}
	var items []KVItem
	if raw, ok := fields.get("items"); ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, "", fmt.Errorf("kv list: bad answer: %w", err)
		}
	}
	var next string
	if raw, ok := fields.get("cursor"); ok {
		if err := json.Unmarshal(raw, &next); err != nil {
			return nil, "", fmt.Errorf("kv list: bad answer: %w", err)
		}
	}
	return items, next, nil
}

// Log writes one line to the host's structured log, tagged with the
// plugin. level is trace, debug, info, warn or error; fields are
// key-value pairs shown with the line. LogKV takes the fields without a
// map, which costs less in a guest.
func Log(level, msg string, fields map[string]any) {
	req := appendLogHead(reqBuf[:0], level, msg)
	if len(fields) > 0 {
		withFields, err := appendObject(append(req, `,"fields":`...), fields)
		if err != nil {
			withFields = appendString(append(req, `,"fields":{"fields_error":`...), err.Error())
			withFields = append(withFields, '}')
		}
		req = withFields
	}
	sendLog(req)
}

// LogKV writes one line like Log, its fields given as alternating keys
// and values the way hclog takes them:
//
//	pdk.LogKV("info", "replied", "n", n, "conversation", conv)
//
// A key that is not a string is written as its fmt text, a value left
// without a key is logged under EXTRA_VALUE_AT_END, and a value JSON
// cannot encode as its fmt text.
func LogKV(level, msg string, keyvals ...any) {
	req := appendLogHead(reqBuf[:0], level, msg)
	if len(keyvals) > 0 {
		req = appendKeyvals(append(req, `,"fields":`...), keyvals)
	}
	sendLog(req)
}

// appendLogHead appends the start of a FuncLog request, up to its message.
func appendLogHead(dst []byte, level, msg string) []byte {
	dst = appendString(append(dst, `{"level":`...), level)
	return appendString(append(dst, `,"msg":`...), msg)
}

// sendLog closes a FuncLog request and hands it to the host.
func sendLog(req []byte) {
	req = padWords(append(req, '}'))
	hostLog(writeBlock(req))
	reqBuf = req[:0]
}
