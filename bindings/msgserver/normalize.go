package msgserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// messageKinds maps the archive's msg_type to the event's message kind:
// the types the vendor document lists, and video.
var messageKinds = map[string]string{
	"text":     event.KindText,
	"image":    event.KindImage,
	"file":     event.KindFile,
	"voice":    event.KindVoice,
	"video":    event.KindVideo,
	"card":     event.KindPersonCard,
	"location": event.KindLocation,
	"emotion":  event.KindEmoticon,
	"link":     event.KindLink,
	"revoke":   event.KindRevoke,
}

// MessageTypes are the msg_type values the archive documents, sorted.
var MessageTypes = []string{"card", "emotion", "file", "image", "link", "location", "revoke", "text", "video", "voice"}

// NormalizeMessage turns one archived message, as chatMsg.sessionMsgs,
// chatMsg.search or (for a session's latest message) chatMsg.sessions
// answer it, into a "message" event (SPEC §3) of vendor msgserver. staff is
// the staff member whose archive it was read from: the event's account,
// and the sender of the messages marked self. The message itself cannot
// say whose archive it is in (a customer's message to a group names every
// member), so staff is required (ErrNoStaff).
//
// The event's id is built from the corp, the staff member and the
// archive's msgid, so the same message read twice (another page, another
// poll, another process) is the same event. A private conversation is
// "S:{smaller id}_{larger id}" of the staff member and the other party, as
// the other vendors write it, a group "R:{room_id}"; the vendor's own
// session id is in data.session_id. Raw is the message as given.
//
// It fails, wrapping event.ErrMalformed, on anything that is not a JSON
// object with a msgid (or id) and a sender.
func NormalizeMessage(raw json.RawMessage, staff string) (*event.Event, error) {
	if strings.TrimSpace(staff) == "" {
		return nil, fmt.Errorf("msgserver: normalize message: %w", ErrNoStaff)
	}
	m, err := event.DecodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("msgserver: normalize message: %w", err)
	}
	msgID := event.Str(m, "msgid")
	if msgID == "" {
		msgID = event.Str(m, "id")
	}
	from := event.Str(m, "from")
	if msgID == "" || from == "" {
		return nil, fmt.Errorf("msgserver: normalize message: %w: not an archived message (no msgid or no from)", event.ErrMalformed)
	}
	corp := event.Str(m, "ext_corp_id")
	msgType := event.Str(m, "msg_type")
	kind, known := messageKinds[msgType]
	if !known {
		kind = event.KindUnknown
	}
	detail := details(m)
	t, _ := event.Int(m, "msg_time")

	ev := &event.Event{
		ID:      event.StableID(Name, corp, staff, event.TypeMessage, msgID),
		Type:    event.TypeMessage,
		Vendor:  Name,
		Account: staff,
		Time:    event.Millis(t),
		Message: &event.Message{
			ID:   msgID,
			Kind: kind,
			Text: describe(kind, msgType, m, detail),
			From: &event.Party{ID: from, Name: event.Str(m, "sender_name")},
			Self: from == staff,
			File: attachment(kind, m, detail),
		},
		Raw: append(json.RawMessage(nil), bytes.TrimSpace(raw)...),
	}
	ev.Conversation, ev.Message.To = conversation(m, staff, from)
	ev.Data = data(m, detail)
	return ev, nil
}

// details merges what the archive says about a message's content: the
// attachments object, and the JSON inside chat_msg_content.content for
// fields attachments lacks.
func details(m map[string]any) map[string]any {
	out := map[string]any{}
	if c := event.Obj(m, "chat_msg_content"); c != nil {
		if s := event.Str(c, "content"); strings.HasPrefix(strings.TrimSpace(s), "{") {
			if inner, err := event.DecodeObject([]byte(s)); err == nil {
				for k, v := range inner {
					out[k] = v
				}
			}
		}
	}
	for k, v := range event.Obj(m, "attachments") {
		out[k] = v
	}
	return out
}

// describe is the message's text: the text itself, or a short description
// of anything else.
func describe(kind, msgType string, m, d map[string]any) string {
	text := event.Str(m, "content_text")
	if kind == event.KindText {
		if text == "" {
			text = event.Str(d, "content")
		}
		return text
	}
	join := func(parts ...string) string {
		var out []string
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return strings.Join(out, " ")
	}
	seconds := func(key string) string {
		if n, ok := event.Int(d, key); ok && n > 0 {
			return fmt.Sprintf("%ds", n)
		}
		return ""
	}
	c := event.Obj(m, "chat_msg_content")
	fileName := firstOf(event.Str(d, "filename"), event.Str(c, "file_name"))
	switch kind {
	case event.KindImage:
		return "[image]"
	case event.KindFile:
		return join("[file]", fileName)
	case event.KindVoice:
		return join("[voice]", seconds("play_length"))
	case event.KindVideo:
		return join("[video]", seconds("play_length"))
	case event.KindPersonCard:
		card := event.Str(d, "userid")
		if corp := event.Str(d, "corpname"); corp != "" {
			card = join(card, "("+corp+")")
		}
		return join("[card]", card)
	case event.KindLocation:
		return join("[location]", event.Str(d, "title"), event.Str(d, "address"))
	case event.KindEmoticon:
		return "[emoticon]"
	case event.KindLink:
		return join("[link]", event.Str(d, "title"), event.Str(d, "link_url"))
	case event.KindRevoke:
		return join("[revoke]", event.Str(d, "pre_msgid"))
	}
	if text != "" {
		return text
	}
	return join("[" + firstOf(msgType, "unknown") + "]")
}

// attachment is the file of a media message, when the archive gives any
// of its url, name or size.
func attachment(kind string, m, d map[string]any) *event.File {
	switch kind {
	case event.KindImage, event.KindFile, event.KindVoice, event.KindVideo, event.KindEmoticon:
	default:
		return nil
	}
	c := event.Obj(m, "chat_msg_content")
	f := &event.File{URL: event.Str(c, "file_url"), Name: firstOf(event.Str(c, "file_name"), event.Str(d, "filename"))}
	for _, key := range []string{"filesize", "voice_size", "imagesize"} {
		if n, ok := event.Int(d, key); ok && n > 0 {
			f.Size = n
			break
		}
	}
	if *f == (event.File{}) {
		return nil
	}
	return f
}

// conversation derives the event's conversation and message.to: a group
// by its room, a private session by the staff member and the other party.
func conversation(m map[string]any, staff, from string) (*event.Conversation, string) {
	room := event.Str(m, "room_id")
	session := event.Str(m, "session_id")
	if room != "" || event.Str(m, "session_type") == SessionGroup {
		id := firstOf(room, session)
		if id == "" {
			return nil, ""
		}
		return &event.Conversation{ID: "R:" + id, Kind: event.ConversationGroup}, id
	}
	to := event.Strs(m, "tolist")
	peer := event.Str(m, "peer_ext_id")
	if peer == "" {
		if from != staff {
			peer = from
		} else if len(to) > 0 {
			peer = to[0]
		}
	}
	recipient := ""
	if len(to) > 0 {
		recipient = to[0]
	}
	switch {
	case peer != "" && peer != staff:
		a, b := staff, peer
		if b < a {
			a, b = b, a
		}
		return &event.Conversation{ID: "S:" + a + "_" + b, Kind: event.ConversationPrivate}, recipient
	case session != "":
		return &event.Conversation{ID: "S:" + session, Kind: event.ConversationPrivate}, recipient
	}
	return nil, recipient
}

// data keeps the archive's own fields that have no place in the event's
// common shape.
func data(m, detail map[string]any) map[string]any {
	out := map[string]any{}
	for key, name := range map[string]string{
		"ext_corp_id":     "corp_id",
		"id":              "archive_id",
		"session_id":      "session_id",
		"session_type":    "session_type",
		"action":          "action",
		"msg_type":        "msg_type",
		"room_id":         "room_id",
		"group_chat_name": "room_name",
		"sender_avatar":   "sender_avatar",
	} {
		if s := event.Str(m, key); s != "" {
			out[name] = s
		}
	}
	if seq, ok := event.Int(m, "seq"); ok {
		out["seq"] = seq
	}
	if peer := event.Str(m, "peer_ext_id"); peer != "" {
		p := map[string]any{"id": peer}
		for key, name := range map[string]string{"peer_name": "name", "peer_avatar": "avatar", "peer_type": "type"} {
			if s := event.Str(m, key); s != "" {
				p[name] = s
			}
		}
		out["peer"] = p
	}
	if len(detail) > 0 {
		out["content"] = detail
	}
	return out
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
