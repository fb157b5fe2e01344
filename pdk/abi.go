// Package pdk is the Go plugin development kit for Switchboard WASM
// plugins (SPEC §7). It wraps the Extism Go PDK with typed helpers: the
// event the plugin is called with, Reply, Call (the generic binding host
// function), the plugin's key-value namespace, and structured logging.
//
// A plugin is a Go main package built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// that exports `handle`:
//
//	//go:wasmexport handle
//	func handle() int32 { return pdk.Run(onEvent) }
//
// The host functions exist only in a wasip1 build; the ABI types in this
// file (the JSON shapes exchanged with the host) build everywhere, and the
// host itself uses them, so the two sides never drift apart.
//
// Threading: an instance of a plugin runs one event at a time; the host
// keeps several instances for concurrent events. Package-level state of the
// plugin is per instance and may be dropped at any time (an instance that
// failed is thrown away): keep what must last in the KV store.
package pdk

import (
	"encoding/json"
	"fmt"
)

// HostNamespace is the import module of the Switchboard host functions.
const HostNamespace = "extism:host/user"

// EntryExport is the export the host calls once per event.
const EntryExport = "handle"

// Host function names in HostNamespace. Every function takes the offset of
// an Extism memory block holding a JSON request; all but FuncLog return
// the offset of a block holding the JSON response.
const (
	FuncCall     = "call"      // CallRequest -> Result
	FuncReply    = "reply"     // content (a string or an object) -> Result
	FuncKVGet    = "kv_get"    // KVRequest{Key} -> KVResult{Found, Value}
	FuncKVSet    = "kv_set"    // KVRequest{Key, Value, TTL} -> KVResult{}
	FuncKVDelete = "kv_delete" // KVRequest{Key} -> KVResult{}
	FuncKVIncr   = "kv_incr"   // KVRequest{Key, By} -> KVResult{N}
	FuncKVList   = "kv_list"   // KVRequest{Prefix, Limit, Cursor} -> KVResult{Items, Cursor}
	FuncLog      = "log"       // LogRecord -> nothing
)

// Event is the event a plugin is called with (SPEC §3). Data and Raw are
// kept as JSON text: decode them with encoding/json when a plugin needs
// them.
type Event struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"` // message, login, room.joined, ...
	Vendor       string          `json:"vendor"`
	Account      string          `json:"account"`
	Time         int64           `json:"time"`     // ms since the epoch, the vendor's time
	Received     int64           `json:"received"` // ms since the epoch, when it was stored
	Conversation *Conversation   `json:"conversation,omitempty"`
	Message      *Message        `json:"message,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
	Raw          json.RawMessage `json:"raw,omitempty"`
}

// Topic is what event patterns match: the type, and for messages the type
// and the message kind ("message.text").
func (e *Event) Topic() string {
	if e.Type == "message" && e.Message != nil && e.Message.Kind != "" {
		return e.Type + "." + e.Message.Kind
	}
	return e.Type
}

// Conversation is where a message or room event happened: "S:..." private,
// "R:..." group.
type Conversation struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // private or group
}

// Message is the body of a "message" event.
type Message struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"` // text, image, video, voice, file, link, ...
	Text     string   `json:"text"` // the text, or a short description for other kinds
	From     *Party   `json:"from,omitempty"`
	To       string   `json:"to,omitempty"`
	Self     bool     `json:"self"` // sent by the account itself
	Mentions []string `json:"mentions,omitempty"`
	File     *File    `json:"file,omitempty"`
}

// Party is a sender.
type Party struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// File is the attachment of an image, video, voice or file message.
type File struct {
	URL  string `json:"url,omitempty"`
	Name string `json:"name,omitempty"`
	Size int64  `json:"size,omitempty"`
}

// ErrorInfo is how the host reports a failed call: the vendor (or "kv"),
// a code (the vendor's own, or "permission_denied", "invalid_argument",
// "rate_limited", "timeout", "not_number", ...) and a message.
type ErrorInfo struct {
	Vendor  string `json:"vendor"`
	Code    any    `json:"code"`
	Message string `json:"message"`
}

// Error implements error.
func (e *ErrorInfo) Error() string {
	return fmt.Sprintf("%s: %v: %s", e.Vendor, e.Code, e.Message)
}

// CallRequest is one binding call: {"binding":"quntool","method":"msg.text",
// "args":{...}}, the endpoint's dotted name as in JS (quntool.msg.text).
type CallRequest struct {
	Binding string         `json:"binding"`
	Method  string         `json:"method"`
	Args    map[string]any `json:"args,omitempty"`
}

// Result answers FuncCall and FuncReply: the vendor's data, or an error.
type Result struct {
	Data  json.RawMessage `json:"data,omitempty"`
	Error *ErrorInfo      `json:"error,omitempty"`
}

// KVRequest is the request of every FuncKV* function; each reads the fields
// it needs.
type KVRequest struct {
	Key   string          `json:"key,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
	// TTL makes a set value expire: seconds (a number) or a Go duration
	// string ("90s", "10m"); absent or 0 keeps it forever.
	TTL    json.RawMessage `json:"ttl,omitempty"`
	By     *int64          `json:"by,omitempty"` // incr step, default 1
	Prefix string          `json:"prefix,omitempty"`
	Limit  int             `json:"limit,omitempty"` // list page size, default and cap 1000
	Cursor string          `json:"cursor,omitempty"`
}

// KVItem is one key of a list page.
type KVItem struct {
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
	ExpiresAt int64           `json:"expires_at,omitempty"` // unix seconds, 0: never
}

// KVResult answers the FuncKV* functions.
type KVResult struct {
	Found  bool            `json:"found,omitempty"`  // get
	Value  json.RawMessage `json:"value,omitempty"`  // get
	N      int64           `json:"n,omitempty"`      // incr: the new value
	Items  []KVItem        `json:"items,omitempty"`  // list
	Cursor string          `json:"cursor,omitempty"` // list: next page, "" on the last
	Error  *ErrorInfo      `json:"error,omitempty"`
}

// LogRecord is one FuncLog line. Level is trace, debug, info, warn or
// error (default info).
type LogRecord struct {
	Level  string         `json:"level,omitempty"`
	Msg    string         `json:"msg"`
	Fields map[string]any `json:"fields,omitempty"`
}

// Output is what `handle` may return instead of (or besides) calling host
// functions: declarative actions the host carries out in order, after the
// guest returned, with the same permissions as the host functions.
type Output struct {
	Actions []Action `json:"actions"`
}

// Action is one declarative action; exactly one field is set.
//
//	{"reply": "text"} or {"reply": {"image": "https://..."}}: answer in the
//	  event's conversation, like FuncReply.
//	{"call": {"binding", "method", "args"}}: a binding call, like FuncCall.
//	{"kv_set": {"key", "value", "ttl"}}, {"kv_delete": {"key"}},
//	{"kv_incr": {"key", "by"}}: like the FuncKV* functions.
//	{"log": {"level", "msg", "fields"}}: like FuncLog.
type Action struct {
	Reply    json.RawMessage `json:"reply,omitempty"`
	Call     *CallRequest    `json:"call,omitempty"`
	KVSet    *KVRequest      `json:"kv_set,omitempty"`
	KVDelete *KVRequest      `json:"kv_delete,omitempty"`
	KVIncr   *KVRequest      `json:"kv_incr,omitempty"`
	Log      *LogRecord      `json:"log,omitempty"`
}

// Kind names the action's one field ("reply", "call", ...), or "" when
// none or several are set.
func (a *Action) Kind() string {
	kind, n := "", 0
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"reply", len(a.Reply) > 0}, {"call", a.Call != nil}, {"kv_set", a.KVSet != nil},
		{"kv_delete", a.KVDelete != nil}, {"kv_incr", a.KVIncr != nil}, {"log", a.Log != nil},
	} {
		if f.set {
			kind, n = f.name, n+1
		}
	}
	if n != 1 {
		return ""
	}
	return kind
}

// ReplyText is the action answering with text.
func ReplyText(text string) Action {
	b, _ := json.Marshal(text)
	return Action{Reply: b}
}

// ReplyContent is the action answering with a content object, the same
// shapes ev.reply takes in JS ({"image": url}, {"file": url, "name": ...}).
func ReplyContent(content map[string]any) (Action, error) {
	b, err := json.Marshal(content)
	if err != nil {
		return Action{}, fmt.Errorf("reply content: %w", err)
	}
	return Action{Reply: b}, nil
}
