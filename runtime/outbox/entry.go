package outbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

// State is where an entry is: waiting to go out, or given up on.
type State string

// Entry states.
const (
	Pending State = "pending" // stored, not yet answered successfully: sent (again) until it is
	Dead    State = "dead"    // failed permanently or MaxAttempts times: kept for ops to retry or drop
)

// ParseState reads a state name as the CLI and the admin API take it; ""
// is Pending.
func ParseState(s string) (State, error) {
	switch State(strings.ToLower(strings.TrimSpace(s))) {
	case "", Pending:
		return Pending, nil
	case Dead:
		return Dead, nil
	}
	return "", fmt.Errorf("%w: state %q: want pending or dead", ErrBadRequest, s)
}

// Entry is one stored send, as List shows it. It is a plain value: changing
// it changes nothing in the outbox.
type Entry struct {
	ID    string `json:"id"`
	State State  `json:"state"`
	// Plugin, Vendor, Method and Args are the call (bindings.Call).
	Plugin string         `json:"plugin"`
	Vendor string         `json:"vendor"`
	Method string         `json:"method"`
	Args   map[string]any `json:"args"`
	// Conversation is the ordering key: vendor, account and conversation.
	// Entries of one Conversation go out one after the other, in ID order.
	Conversation string `json:"conversation"`
	// Attempts counts the failed tries so far.
	Attempts int `json:"attempts"`
	// Created is when the send was stored.
	Created time.Time `json:"created"`
	// NextAttempt is when a pending entry that failed is tried again
	// (zero: as soon as its turn comes).
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// LastError is the last failure, as plugins see errors.
	LastError *bindings.ErrorInfo `json:"last_error,omitempty"`
	// Key names the send within the handling of an event (see
	// bindings.SendKey): "plugin/journal seq#n". Empty for sends made
	// outside an event.
	Key string `json:"key,omitempty"`
}

// Call is the entry's binding call.
func (e *Entry) Call() bindings.Call {
	return bindings.Call{Plugin: e.Plugin, Vendor: e.Vendor, Method: e.Method, Args: e.Args}
}

// Key layout below storage.PrefixOutbox: "o/p/<id>" pending, "o/d/<id>"
// dead, "o/k/<send key>" the vendor's answer to a keyed send. IDs are
// fixed-width hex of a counter that only grows, so key order is the order
// the sends were stored in.
const (
	pendingPrefix = storage.PrefixOutbox + "p/"
	deadPrefix    = storage.PrefixOutbox + "d/"
	sendPrefix    = storage.PrefixOutbox + "k/"
	idLen         = 16
)

// SendRecordTTL is how long the outbox remembers the answer to a keyed
// send, so that a handler delivered the same event again (after a crash,
// or a retry) does not make it again. Redeliveries come at the next
// start, or within the handler's retries.
const SendRecordTTL = 24 * time.Hour

func sendKey(key string) []byte { return []byte(sendPrefix + key) }

func stateKey(s State, id string) []byte {
	if s == Dead {
		return []byte(deadPrefix + id)
	}
	return []byte(pendingPrefix + id)
}

func formatID(n uint64) string {
	s := strconv.FormatUint(n, 16)
	return strings.Repeat("0", idLen-len(s)) + s
}

// checkID refuses anything that is not an entry id, so user input never
// becomes an arbitrary key.
func checkID(id string) error {
	if len(id) != idLen {
		return fmt.Errorf("%w: id %q: want %d hex digits", ErrBadRequest, id, idLen)
	}
	if _, err := strconv.ParseUint(id, 16, 64); err != nil || strings.ToLower(id) != id {
		return fmt.Errorf("%w: id %q: want %d lower-case hex digits", ErrBadRequest, id, idLen)
	}
	return nil
}

// storedEntry is an Entry as stored: its ID and State are its key's, and
// a zero Attempts is left out (fewer bytes per send).
type storedEntry struct {
	*Entry
	ID       string `json:"id,omitempty"`
	State    State  `json:"state,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
}

func encodeEntry(e *Entry) ([]byte, error) {
	b, err := json.Marshal(storedEntry{Entry: e, Attempts: e.Attempts})
	if err != nil {
		return nil, fmt.Errorf("encode outbox entry %s: %w", e.ID, err)
	}
	return b, nil
}

// decodeEntry reads a stored entry; numbers in Args stay json.Number so
// they go out exactly as they came in.
func decodeEntry(key, val []byte) (*Entry, error) {
	var e Entry
	d := json.NewDecoder(bytes.NewReader(val))
	d.UseNumber()
	if err := d.Decode(&e); err != nil {
		return nil, fmt.Errorf("decode outbox entry %s: %w", key, err)
	}
	switch {
	case bytes.HasPrefix(key, []byte(deadPrefix)):
		e.State, e.ID = Dead, string(key[len(deadPrefix):])
	case bytes.HasPrefix(key, []byte(pendingPrefix)):
		e.State, e.ID = Pending, string(key[len(pendingPrefix):])
	default:
		return nil, fmt.Errorf("decode outbox entry: key %q is not an outbox key", key)
	}
	return &e, nil
}

// conversationParams are the parameters that name a send's conversation,
// per vendor: quntool conversationId, wework conversation_id, wechat
// to_username.
var conversationParams = []string{"conversationId", "conversation_id", "to_username"}

// conversationKey is the ordering key of a send: its vendor, account and
// conversation. A send with no conversation parameter is ordered with the
// rest of its account.
func conversationKey(ep *bindings.Endpoint, args map[string]any) string {
	conv := ""
	for _, name := range conversationParams {
		if _, ok := ep.Param(name); !ok {
			continue
		}
		if v, ok := bindings.Arg(args, name); ok {
			conv = fmt.Sprint(v)
			break
		}
	}
	return ep.Vendor + "/" + ep.Account(args) + "/" + conv
}

// Errors callers act on.
var (
	// ErrNotFound: no entry with that id (in the state asked for).
	ErrNotFound = errors.New("outbox entry not found")
	// ErrClosed: the outbox was closed.
	ErrClosed = errors.New("outbox closed")
	// ErrDropped: the entry was dropped by ops before it was sent.
	ErrDropped = errors.New("outbox entry dropped")
	// ErrBadRequest: an id or a state that cannot be.
	ErrBadRequest = errors.New("bad outbox request")
)

// DeadError is the answer a waiting caller gets when its send went to the
// dead-letter list. It unwraps to the vendor's error, so
// bindings.Describe still shows the vendor's code.
type DeadError struct {
	ID       string
	Attempts int
	Err      error
}

func (e *DeadError) Error() string {
	return fmt.Sprintf("send %s dead-lettered after %d attempt(s): %v", e.ID, e.Attempts, e.Err)
}

// Unwrap returns the last failure.
func (e *DeadError) Unwrap() error { return e.Err }

// Queued is the answer a caller gets when its context ends before the
// vendor answered: the send is stored and will go out (SPEC §10). Its JSON
// is {"queued": true, "outbox_id": "..."}.
type Queued struct {
	Queued bool   `json:"queued"`
	ID     string `json:"outbox_id"`
}

// IsQueued reports whether data is a Queued answer, and its entry id.
func IsQueued(data json.RawMessage) (string, bool) {
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte(`{"queued":true`)) {
		return "", false
	}
	var q Queued
	if json.Unmarshal(data, &q) != nil || !q.Queued || q.ID == "" {
		return "", false
	}
	return q.ID, true
}

func queuedAnswer(id string) json.RawMessage {
	return json.RawMessage(`{"queued":true,"outbox_id":"` + id + `"}`)
}
