package wework

import (
	"fmt"
	"slices"
	"strings"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// replyEndpoint names Reply's argument errors.
const replyEndpoint = Name + ".reply"

// Reply content keys: what ev.reply({...}) may hold.
//
//	text   "hello"                  msg.sendText, or msg.sendRoomAt with at
//	at     ["user id", ...] | [0]   mentions with text, in a group only ("all" or 0: everyone)
//	image  "path or URL" | {url}    msg.sendImage
var replyKeys = []string{"at", "image", "mentions", "text"}

// Reply maps ev.reply(content) to a send in the event's own conversation
// through the event's own instance: guid is ev.Account, conversation_id the
// event's conversation. {text} sends msg.sendText; {text, at: [...]} (or
// mentions) in a group sends msg.sendRoomAt with at as at_list; {image}
// sends msg.sendImage. An event without a conversation is
// ErrNoConversation; content that does not fit is a *bindings.ArgumentError
// (matching bindings.ErrInvalidConversation when the event's conversation id
// lacks "S:"/"R:"). Reply is a pure function, safe for concurrent use.
func Reply(ev *event.Event, content map[string]any) (bindings.Call, error) {
	switch {
	case ev == nil:
		return bindings.Call{}, fmt.Errorf("wework reply: %w", ErrNoConversation)
	case ev.Conversation == nil || ev.Conversation.ID == "":
		return bindings.Call{}, fmt.Errorf("wework reply to %s event %s: %w", ev.Type, ev.ID, ErrNoConversation)
	case ev.Account == "":
		return bindings.Call{}, replyErr(accountParam, fmt.Sprintf("is unknown: event %s names no instance to reply through", ev.ID))
	case !ValidConversationID(ev.Conversation.ID):
		return bindings.Call{}, &bindings.ArgumentError{Endpoint: replyEndpoint, Param: conversationParam,
			Reason: fmt.Sprintf(`%q must start with "S:" or "R:"`, ev.Conversation.ID), Err: bindings.ErrInvalidConversation}
	}
	for k := range content {
		if !slices.Contains(replyKeys, k) {
			return bindings.Call{}, replyErr(k, "is not something wework can reply with; use text (with at) or image")
		}
	}
	args := map[string]any{accountParam: ev.Account, conversationParam: ev.Conversation.ID}
	text, hasText := content["text"]
	image, hasImage := content["image"]
	at, hasAt := mentions(content)
	switch {
	case hasText && hasImage:
		return bindings.Call{}, replyErr("content", "has text and image; a reply sends one thing")
	case hasImage && hasAt:
		return bindings.Call{}, replyErr("at", "goes with text, not with an image")
	case hasImage:
		path, err := imagePath(image)
		if err != nil {
			return bindings.Call{}, err
		}
		args["image_path"] = path
		return call("/msg/send_image", args), nil
	case !hasText:
		return bindings.Call{}, replyErr("content", "is empty; give text (with at for mentions) or image")
	}
	s, ok := text.(string)
	if !ok || strings.TrimSpace(s) == "" {
		return bindings.Call{}, replyErr("text", "must be a non-empty string")
	}
	args["content"] = s
	if !hasAt {
		return call("/msg/send_text", args), nil
	}
	if !strings.HasPrefix(ev.Conversation.ID, GroupPrefix) {
		return bindings.Call{}, replyErr("at", "mentions only work in a group conversation, not "+ev.Conversation.ID)
	}
	list, err := AtList(at)
	if err != nil {
		return bindings.Call{}, replyErr("at", err.Error())
	}
	args[atListParam] = list
	return call("/msg/send_room_at", args), nil
}

// mentions reads at (or mentions) from content; a bare string is one id.
func mentions(content map[string]any) (any, bool) {
	for _, k := range []string{"at", "mentions"} {
		if v, ok := content[k]; ok && v != nil {
			if s, isString := v.(string); isString {
				return []any{s}, true
			}
			return v, true
		}
	}
	return nil, false
}

func imagePath(v any) (string, error) {
	if m, ok := v.(map[string]any); ok {
		v = m["url"]
		if v == nil {
			v = m["path"]
		}
	}
	s, ok := v.(string)
	if !ok || strings.TrimSpace(s) == "" {
		return "", replyErr("image", "must be a path or URL the vendor's server can read, or {url}")
	}
	return s, nil
}

func call(path string, args map[string]any) bindings.Call {
	return bindings.Call{Vendor: Name, Method: EndpointName(path), Args: args}
}

func replyErr(param, reason string) error {
	return &bindings.ArgumentError{Endpoint: replyEndpoint, Param: param, Reason: reason}
}
