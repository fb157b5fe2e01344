package wechat

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// Errors callers act on.
var (
	// ErrNoConversation: Reply was asked to answer an event that happened in
	// no conversation (a login, a logout...), so there is nowhere to send.
	ErrNoConversation = errors.New("event has no conversation to reply in")
)

// replyEndpoint names Reply's argument errors.
const replyEndpoint = Name + ".reply"

// replyBuilder turns the value of one content key into the method and the
// arguments (beyond guid and to_username) of the send.
type replyBuilder = bindings.ReplyBuilder

// replyKinds maps each content key ev.reply accepts onto its send:
//
//	text          "hello"                              msg.sendText, or msg.sendRoomAt with mentions
//	image         "https://..." | {url}                msg.sendImage
//	video         "https://..." | {url, thumb_url}     msg.sendVideo
//	file          "https://..." | {url, name}          msg.sendFile
//	voice         "https://..." | {url, duration}      msg.sendVoice
//	emoticon      "https://..." | {url}                msg.sendEmojiUrl
//	link          {title, url, desc, thumb_url}        msg.sendLinkCard
//	person_card   {user_id, nickname, alias}           msg.sendCard
//	location      {latitude, longitude, address, title} msg.sendLocation
//
// mentions (or at), a list of wxids (["notify@all"] for everyone), may go
// with text in a room.
var replyKinds = map[string]replyBuilder{
	"text":        replyText,
	"image":       replyMedia("image", "msg.sendImage"),
	"video":       replyMedia("video", "msg.sendVideo", "thumb_url"),
	"file":        replyMedia("file", "msg.sendFile", "name"),
	"voice":       replyMedia("voice", "msg.sendVoice", "duration"),
	"emoticon":    replyMedia("emoticon", "msg.sendEmojiUrl"),
	"link":        replyLink,
	"person_card": replyCard,
	"location":    replyLocation,
}

// mentionKeys go along with text; they are not content of their own.
var mentionKeys = []string{"mentions", "at"}

// Reply maps ev.reply(content) to a send in the event's own conversation
// through the event's own instance: guid is ev.Account, to_username the
// other party's wxid or the room's id. content holds exactly one of the
// keys of replyKinds (plus mentions with text). An event without a
// conversation is ErrNoConversation; content that does not fit is a
// *bindings.ArgumentError. Reply is a pure function, safe for concurrent
// use.
func Reply(ev *event.Event, content map[string]any) (bindings.Call, error) {
	if ev == nil {
		return bindings.Call{}, fmt.Errorf("wechat reply: %w", ErrNoConversation)
	}
	if ev.Conversation == nil || ev.Conversation.ID == "" {
		return bindings.Call{}, fmt.Errorf("wechat reply to %s event %s: %w", ev.Type, ev.ID, ErrNoConversation)
	}
	to := strings.TrimPrefix(strings.TrimPrefix(ev.Conversation.ID, conversationPrivate), conversationGroup)
	if strings.TrimSpace(to) == "" {
		return bindings.Call{}, replyErr("conversation", fmt.Sprintf("%q names nobody to send to", ev.Conversation.ID))
	}
	if ev.Account == "" {
		return bindings.Call{}, &bindings.ArgumentError{Endpoint: replyEndpoint, Param: accountParam,
			Reason: fmt.Sprintf("is unknown: event %s names no instance to reply through", ev.ID)}
	}
	args := map[string]any{accountParam: ev.Account, toParam: to}
	return bindings.BuildReply(Name, ev, content, replyKinds, mentionKeys, args)
}

func replyText(ev *event.Event, v any, content, args map[string]any) (string, error) {
	text, err := nonEmpty("text", v)
	if err != nil {
		return "", err
	}
	args["content"] = text
	var ids []string
	present := false
	for _, k := range mentionKeys {
		raw, ok := content[k]
		if !ok || raw == nil {
			continue
		}
		present = true
		list, ok := idList(raw)
		if !ok {
			return "", replyErr(k, "must be a list of wxids")
		}
		ids = append(ids, list...)
	}
	if !present {
		return "msg.sendText", nil
	}
	if len(ids) == 0 {
		return "", replyErr("mentions", `is empty; give wxids, or ["`+mentionAll+`"] for everyone`)
	}
	if !isRoom(args[toParam].(string)) && ev.Conversation.Kind != event.ConversationGroup {
		return "", replyErr("mentions", "only work in a room, not in "+ev.Conversation.ID)
	}
	args["at_list"] = ids
	return "msg.sendRoomAt", nil
}

// idList reads a list of ids: a string, or an array of strings or numbers.
func idList(v any) ([]string, bool) {
	switch x := v.(type) {
	case string:
		return []string{x}, strings.TrimSpace(x) != ""
	case []string:
		return x, true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s := scalar(e)
			if strings.TrimSpace(s) == "" {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// replyMedia sends a URL, given bare or as {url, extras...}; extras are
// copied from the object when present (name goes as file_name).
func replyMedia(key, method string, extras ...string) replyBuilder {
	return func(_ *event.Event, v any, _, args map[string]any) (string, error) {
		m, isObj := v.(map[string]any)
		if isObj {
			v = get(m, "url")
		}
		u, err := nonEmpty(key, v)
		if err != nil {
			return "", replyErr(key, "must be a URL or {url}")
		}
		args["url"] = u
		for _, x := range extras {
			val := get(m, x)
			if val == nil {
				continue
			}
			if x == "name" {
				args["file_name"] = scalar(val)
				continue
			}
			args[x] = val
		}
		if method == "msg.sendFile" && args["file_name"] == nil {
			if base := path.Base(strings.SplitN(u, "?", 2)[0]); base != "." && base != "/" {
				args["file_name"] = base
			}
		}
		return method, nil
	}
}

func replyLink(_ *event.Event, v any, _, args map[string]any) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", replyErr("link", "must be an object {title, url, desc, thumb_url}")
	}
	title, u := text(m, "title"), text(m, "url")
	if strings.TrimSpace(title) == "" || strings.TrimSpace(u) == "" {
		return "", replyErr("link", "needs a title and a url")
	}
	args["title"], args["url"] = title, u
	put(args, "desc", text(m, "desc", "description"))
	put(args, "thumb_url", text(m, "thumb_url", "image_url"))
	return "msg.sendLinkCard", nil
}

func replyCard(_ *event.Event, v any, _, args map[string]any) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", replyErr("person_card", "must be an object {user_id, nickname, alias}")
	}
	id := text(m, "user_id", "id", "card_username")
	if id == "" {
		return "", replyErr("person_card", "needs the user_id (wxid) of the person whose card is sent")
	}
	args["card_username"] = id
	put(args, "card_nickname", text(m, "nickname", "name"))
	put(args, "card_alias", text(m, "alias"))
	return "msg.sendCard", nil
}

func replyLocation(_ *event.Event, v any, _, args map[string]any) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", replyErr("location", "must be an object {latitude, longitude, address, title}")
	}
	for _, k := range []string{"latitude", "longitude"} {
		deg, ok := degrees(get(m, k))
		if !ok {
			return "", replyErr("location", k+" must be a number of degrees")
		}
		args[k] = deg
	}
	put(args, "label", text(m, "address", "label"))
	put(args, "poi_name", text(m, "title", "poi_name"))
	return "msg.sendLocation", nil
}

// degrees reads a coordinate given as a number or as decimal text.
func degrees(v any) (float64, bool) {
	var f float64
	var err error
	switch x := v.(type) {
	case float64:
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case json.Number:
		f, err = x.Float64()
	case string:
		f, err = strconv.ParseFloat(strings.TrimSpace(x), 64)
	default:
		return 0, false
	}
	return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) <= 180
}

func nonEmpty(key string, v any) (string, error) {
	s, ok := v.(string)
	if !ok || strings.TrimSpace(s) == "" {
		return "", replyErr(key, "must be a non-empty string")
	}
	return s, nil
}

func replyErr(param, reason string) error {
	return &bindings.ArgumentError{Endpoint: replyEndpoint, Param: param, Reason: reason}
}
