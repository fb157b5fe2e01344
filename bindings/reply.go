package bindings

import (
	"maps"
	"slices"
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// ReplyBuilder turns the value v of one content key of an ev.reply into
// the method of the send and its arguments (beyond the account and the
// conversation, already in args).
type ReplyBuilder func(ev *event.Event, v any, content, args map[string]any) (method string, err error)

// BuildReply is the call of vendor that sends content in reply to ev: it
// finds content's one key among kinds (ReplyContentKey, extras going along
// with it) and has that kind's builder complete args, which hold the
// account and the conversation.
func BuildReply(vendor string, ev *event.Event, content map[string]any, kinds map[string]ReplyBuilder, extras []string, args map[string]any) (Call, error) {
	key, err := ReplyContentKey(vendor, content, kinds, extras)
	if err != nil {
		return Call{}, err
	}
	method, err := kinds[key](ev, content[key], content, args)
	if err != nil {
		return Call{}, err
	}
	return Call{Vendor: vendor, Method: method, Args: args}, nil
}

// ReplyContentKey finds the one content key of an ev.reply content object
// for vendor: every key but those in extras (mentions that go along with
// text) must be one of kinds, and exactly one such key must be given.
// Errors are *ArgumentError naming vendor+".reply".
func ReplyContentKey[V any](vendor string, content map[string]any, kinds map[string]V, extras []string) (string, error) {
	fail := func(param, reason string) error {
		return &ArgumentError{Endpoint: vendor + ".reply", Param: param, Reason: reason}
	}
	known := func() string { return strings.Join(slices.Sorted(maps.Keys(kinds)), ", ") }
	var keys []string
	for k := range content {
		if slices.Contains(extras, k) {
			continue
		}
		if _, ok := kinds[k]; !ok {
			return "", fail(k, "is not something "+vendor+" can reply with; use one of "+known())
		}
		keys = append(keys, k)
	}
	switch len(keys) {
	case 1:
		return keys[0], nil
	case 0:
		return "", fail("content", "is empty; give one of "+known())
	}
	slices.Sort(keys)
	return "", fail("content", "has "+strings.Join(keys, " and ")+"; a reply sends one thing")
}
