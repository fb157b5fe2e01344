package quntool

import (
	"fmt"
	"strings"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// replyEndpoint names Reply's argument errors.
const replyEndpoint = Name + ".reply"

// replyBuilder turns the value of one content key into the method and the
// arguments (beyond wxId and conversationId) of the send.
type replyBuilder = bindings.ReplyBuilder

// replyKinds maps each content key ev.reply accepts onto its send:
//
//	text          "hello"                         msg.text, or msg.roomAt with mentions
//	quote         "hello"                         msg.quote, quoting the event's message
//	image         "https://..." | {url}           msg.image (a URL or a file.upload path)
//	file, video, voice, gif                       msg.file, msg.video, msg.voice, msg.gif
//	link          {title, url, desc, image_url}   msg.link
//	person_card   {user_id, nickname, avatar}     msg.personCard
//	mini_program  {id} | {username, appid, ...}   miniProgram.send | msg.miniProgram
//	video_num     {id} | {url, nickname, ...}     videonum.send | msg.videoNum
//
// mentions (or at), a list of user ids (["0"] for everyone), may go with
// text in a group.
var replyKinds = map[string]replyBuilder{
	"text":         replyText,
	"quote":        replyQuote,
	"image":        replyFile("msg.image"),
	"file":         replyFile("msg.file"),
	"video":        replyFile("msg.video"),
	"voice":        replyFile("msg.voice"),
	"gif":          replyFile("msg.gif"),
	"link":         replyLink,
	"person_card":  replyPersonCard,
	"mini_program": replySaved("mini_program", "miniProgram.send", "miniProgramId", "msg.miniProgram", miniProgramFields),
	"video_num":    replySaved("video_num", "videonum.send", "videoNumId", "msg.videoNum", videoNumFields),
}

// mentionKeys go along with text; they are not content of their own.
var mentionKeys = []string{"mentions", "at"}

// Reply maps ev.reply(content) to a send in the event's own conversation
// through the event's own account: wxId is ev.Account, conversationId the
// event's conversation. content holds exactly one of the keys of
// replyKinds (plus mentions with text). An event without a conversation is
// ErrNoConversation; content that does not fit is a *bindings.ArgumentError.
// Reply is a pure function, safe for concurrent use.
func Reply(ev *event.Event, content map[string]any) (bindings.Call, error) {
	if ev == nil {
		return bindings.Call{}, fmt.Errorf("quntool reply: %w", ErrNoConversation)
	}
	if ev.Conversation == nil || ev.Conversation.ID == "" {
		return bindings.Call{}, fmt.Errorf("quntool reply to %s event %s: %w", ev.Type, ev.ID, ErrNoConversation)
	}
	if ev.Account == "" {
		return bindings.Call{}, &bindings.ArgumentError{Endpoint: replyEndpoint, Param: accountParam,
			Reason: fmt.Sprintf("is unknown: event %s names no account to reply through", ev.ID)}
	}
	args := map[string]any{
		accountParam:      ev.Account,
		conversationParam: CanonicalConversationID(ev.Conversation.ID),
	}
	return bindings.BuildReply(Name, ev, content, replyKinds, mentionKeys, args)
}

func replyText(ev *event.Event, v any, content, args map[string]any) (string, error) {
	text, err := nonEmptyString("text", v)
	if err != nil {
		return "", err
	}
	args["content"] = text
	ids, present, err := mentionList(content)
	if err != nil || !present {
		return "msg.text", err
	}
	if ev.Conversation.Kind != event.ConversationGroup && !strings.HasPrefix(ev.Conversation.ID, groupPrefix) {
		return "", argErr("mentions", "only work in a group conversation, not "+ev.Conversation.ID)
	}
	args["atList"] = ids
	return "msg.roomAt", nil
}

func replyQuote(ev *event.Event, v any, content, args map[string]any) (string, error) {
	text, err := nonEmptyString("quote", v)
	if err != nil {
		return "", err
	}
	if ev.Message == nil || ev.Message.ID == "" {
		return "", argErr("quote", fmt.Sprintf("needs a message to quote; %s event %s has none", ev.Type, ev.ID))
	}
	args["content"] = text
	args["serverId"] = ev.Message.ID
	name := ev.Message.Text
	if ev.Message.From != nil {
		who := ev.Message.From.Name
		if who == "" {
			who = ev.Message.From.ID
		}
		name = who + ":\n" + ev.Message.Text
	}
	args["quote"] = name
	return "msg.quote", nil
}

// replyFile sends a URL or a file.upload path with a fileUrl endpoint.
func replyFile(method string) replyBuilder {
	return func(_ *event.Event, v any, _, args map[string]any) (string, error) {
		key := strings.TrimPrefix(method, "msg.")
		if m, ok := v.(map[string]any); ok {
			v = firstPresent(m, "url", "fileUrl", "path")
		}
		u, err := nonEmptyString(key, v)
		if err != nil {
			return "", argErr(key, "must be a URL, a file.upload path or {url}")
		}
		args["fileUrl"] = u
		return method, nil
	}
}

func replyLink(_ *event.Event, v any, _, args map[string]any) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", argErr("link", "must be an object {title, url, desc, image_url}")
	}
	title, url := str(m, "title"), str(m, "url")
	if strings.TrimSpace(title) == "" || strings.TrimSpace(url) == "" {
		return "", argErr("link", "needs a title and a url (the vendor refuses a blank title)")
	}
	args["title"], args["url"] = title, url
	put(args, "desc", str(m, "desc"))
	put(args, "imageUrl", firstNonEmpty(str(m, "image_url"), str(m, "imageUrl")))
	return "msg.link", nil
}

func replyPersonCard(_ *event.Event, v any, _, args map[string]any) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", argErr("person_card", "must be an object {user_id, nickname, avatar}")
	}
	id := firstNonEmpty(str(m, "user_id"), str(m, "personCardUserId"), str(m, "id"))
	if id == "" {
		return "", argErr("person_card", "needs the user_id of the user whose card is sent")
	}
	args["personCardUserId"] = id
	put(args, "nickName", firstNonEmpty(str(m, "nickname"), str(m, "name")))
	put(args, "avatar", str(m, "avatar"))
	return "msg.personCard", nil
}

// replySaved sends a card saved in Quntool by its id ({id}), or a card
// given field by field, as a received event's data carries it.
func replySaved(key, byID, idParam, byFields string, fields []string) replyBuilder {
	return func(_ *event.Event, v any, _, args map[string]any) (string, error) {
		m, ok := v.(map[string]any)
		if !ok {
			return "", argErr(key, "must be an object: {id} of a saved card, or the card's fields ("+strings.Join(fields, ", ")+")")
		}
		if id := lookup(m, "id"); id != nil {
			n, ok := intArg(id)
			if !ok {
				return "", argErr(key, "id must be a number")
			}
			args[idParam] = n
			return byID, nil
		}
		card := pick(m, fields...)
		if len(card) == 0 {
			return "", argErr(key, "has none of the card's fields ("+strings.Join(fields, ", ")+")")
		}
		for k, v := range card {
			args[k] = v
		}
		return byFields, nil
	}
}

// mentionList reads mentions (or at) from content: a list of ids.
func mentionList(content map[string]any) (ids []string, present bool, err error) {
	for _, k := range mentionKeys {
		v, ok := content[k]
		if !ok || v == nil {
			continue
		}
		switch x := v.(type) {
		case []string:
			ids = append(ids, x...)
		case []any:
			for _, e := range x {
				s := scalar(e)
				if s == "" {
					return nil, true, argErr(k, "must be a list of user ids")
				}
				ids = append(ids, s)
			}
		case string:
			ids = append(ids, x)
		default:
			return nil, true, argErr(k, "must be a list of user ids")
		}
		present = true
	}
	if present && len(ids) == 0 {
		return nil, true, argErr("mentions", `is empty; give user ids, or ["0"] for everyone`)
	}
	return ids, present, nil
}

func nonEmptyString(key string, v any) (string, error) {
	s, ok := v.(string)
	if !ok || strings.TrimSpace(s) == "" {
		return "", argErr(key, "must be a non-empty string")
	}
	return s, nil
}

// intArg reads a number given as a number or a numeric string.
func intArg(v any) (int64, bool) {
	return event.Int(map[string]any{"v": v}, "v")
}

func argErr(param, reason string) error {
	return &bindings.ArgumentError{Endpoint: replyEndpoint, Param: param, Reason: reason}
}
