package sim

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// noExternalPermission is the vendor's message for -4017, from its logs.
const noExternalPermission = "head rsp code error, error_msg: 对方无外部联系人权限，发送消息失败"

// placeholder marks where a mention goes in a send_room_at content.
const placeholder = "{$@}"

// target is the conversation of a send, checked.
type target struct {
	id       string // "S:..." or "R:..."
	contact  *Contact
	room     *Room
	receiver string // the contact's id, or "0" in a room
	roomID   string // "0" for a private conversation
}

// sendTarget checks the send's instance, conversation and pacing, in the
// vendor's order: the conversation id's form (-2003), the instance's part in
// it (-2003), the contact's permission (-4017), then the interval.
func (s *Sim) sendTarget(r *request) (*instance, *target, error) {
	in, err := s.online(r)
	if err != nil {
		return nil, nil, err
	}
	conv, err := r.need("conversation_id")
	if err != nil {
		return nil, nil, err
	}
	t := &target{id: conv, receiver: "0", roomID: "0"}
	switch {
	case strings.HasPrefix(conv, "S:") && len(conv) > 2:
		t.contact = in.contacts[conv[2:]]
		if t.contact == nil {
			return nil, nil, fail(CodeInvalidConversation, "参数错误: %s is not a conversation of this instance", conv)
		}
		if t.contact.NoExternalPermission {
			return nil, nil, fail(CodeNoExternalPermission, noExternalPermission)
		}
		t.receiver = t.contact.UserID
	case strings.HasPrefix(conv, "R:") && len(conv) > 2:
		t.room = in.rooms[conv[2:]]
		if t.room == nil {
			return nil, nil, fail(CodeInvalidConversation, "参数错误: %s is not a conversation of this instance", conv)
		}
		t.roomID = t.room.ID
	default:
		return nil, nil, fail(CodeInvalidConversation, "参数错误: conversation_id %q must start with S: or R:", conv)
	}
	return in, t, nil
}

// pace refuses a send closer than SendInterval to the instance's last
// accepted one. s.mu must be held.
func (s *Sim) pace(in *instance, now time.Time) error {
	if iv := s.opts.SendInterval; iv > 0 && !in.lastSend.IsZero() && now.Sub(in.lastSend) < iv {
		s.st.violations++
		return fail(CodeFrequency, "Abnormal request frequency: sends of one instance must be %s apart", iv)
	}
	return nil
}

func (s *Sim) sendText(r *request) (any, error) {
	in, t, err := s.sendTarget(r)
	if err != nil {
		return nil, err
	}
	content, err := r.need("content")
	if err != nil {
		return nil, err
	}
	if err := s.pace(in, r.now); err != nil {
		return nil, err
	}
	return s.accept(in, t, "text", content, content, nil, r.now), nil
}

func (s *Sim) sendRoomAt(r *request) (any, error) {
	in, t, err := s.sendTarget(r)
	if err != nil {
		return nil, err
	}
	if t.room == nil {
		return nil, fail(CodeInvalidConversation, "参数错误: send_room_at goes to a group (R:...), not %s", t.id)
	}
	content, err := r.need("content")
	if err != nil {
		return nil, err
	}
	at, err := atList(r.f["at_list"])
	if err != nil {
		return nil, err
	}
	for _, id := range at {
		switch {
		case id == "0" && len(at) > 1:
			return nil, fail(CodeBadRequest, "at_list: 0 (everyone) goes alone")
		case id == "0" && in.user.UserID != t.room.Owner && !slices.Contains(t.room.Admins, in.user.UserID):
			return nil, fail(CodeNoPermission, "only the owner or an admin of %s may mention everyone", t.id)
		case id != "0" && !in.member(t.room, id):
			return nil, fail(CodeBadRequest, "at_list: %s is not a member of %s", id, t.id)
		}
	}
	if n := strings.Count(content, placeholder); n > 0 && n != len(at) {
		return nil, fail(CodeBadRequest, "content has %d %s placeholders for %d mentions", n, placeholder, len(at))
	}
	if err := s.pace(in, r.now); err != nil {
		return nil, err
	}
	return s.accept(in, t, "room_at", content, s.renderMentions(in, content, at), at, r.now), nil
}

func (s *Sim) sendImage(r *request) (any, error) {
	in, t, err := s.sendTarget(r)
	if err != nil {
		return nil, err
	}
	path, err := r.need("image_path")
	if err != nil {
		return nil, err
	}
	if err := s.pace(in, r.now); err != nil {
		return nil, err
	}
	return s.accept(in, t, "image", path, "", nil, r.now), nil
}

// atList reads at_list: user ids as strings or numbers, 0 for everyone.
func atList(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, fail(CodeBadRequest, "at_list is required: user ids, or [0] for everyone")
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		var id string
		switch x := e.(type) {
		case string:
			id = strings.TrimSpace(x)
		case json.Number:
			id = x.String()
		}
		if id == "" {
			return nil, fail(CodeBadRequest, "at_list entry %d is not a user id", i)
		}
		out = append(out, id)
	}
	return out, nil
}

// renderMentions is the text the room sees: each {$@} replaced by the
// mention, in order, or the mentions first when there is no placeholder.
func (s *Sim) renderMentions(in *instance, content string, at []string) string {
	names := make([]string, len(at))
	for i, id := range at {
		names[i] = "@" + in.name(id)
		if id == "0" {
			names[i] = "@所有人"
		}
	}
	if !strings.Contains(content, placeholder) {
		return strings.Join(names, " ") + " " + content
	}
	for _, n := range names {
		content = strings.Replace(content, placeholder, n, 1)
	}
	return content
}

// accept records a send and answers the vendor's msg_data record; a text
// send (shown non-empty) is followed by its 11013 sync, send_flag 1.
// s.mu must be held.
func (s *Sim) accept(in *instance, t *target, kind, content, shown string, at []string, now time.Time) map[string]any {
	in.lastSend = now
	seq, id := s.st.nextSeq(), s.st.nextMsgID()
	s.sent.Add(Sent{GUID: in.guid, ConversationID: t.id, Kind: kind, Content: content,
		AtList: at, MsgID: id, Seq: seq, At: now})
	in.addSession(t.id)
	appinfo := base64.StdEncoding.EncodeToString(randomBytes(24))
	if shown != "" {
		atList := at
		if atList == nil {
			atList = []string{}
		}
		msg := s.message(in, in.user.UserID, in.user.Name, t.receiver, t.roomID, shown, atList, 1)
		msg["seq"], msg["id"], msg["appinfo"] = seq, id, appinfo
		s.queue(in, NotifyBatchSync, []any{msg})
	}
	contentType := 2
	if kind == "image" {
		contentType = 14
	}
	return map[string]any{
		"msg_data": map[string]any{
			"id":            id,
			"seq":           seq,
			"messagetype":   0,
			"sender":        in.user.UserID,
			"receiver":      t.receiver,
			"roomid":        t.roomID,
			"contenttype":   contentType,
			"content":       base64.StdEncoding.EncodeToString(textRecord(content)),
			"sendtime":      now.Unix(),
			"flag":          0,
			"devinfo":       strconv.Itoa(131075),
			"appinfo":       appinfo,
			"sendername":    base64.StdEncoding.EncodeToString([]byte(in.user.Name)),
			"extra_content": "",
			"asid":          "0",
		},
		"is_svr_fail": false,
	}
}

// textRecord is the protobuf record the vendor answers as a sent
// message's content: {1: {1: 0, 2: {1: text}}}.
func textRecord(text string) []byte {
	inner := field(1, []byte(text))
	body := append([]byte{0x08, 0x00}, field(2, inner)...)
	return field(1, body)
}

// field is a length-delimited protobuf field.
func field(num int, b []byte) []byte {
	out := binary.AppendUvarint(nil, uint64(num<<3|2))
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

// Sent lists the accepted sends, oldest first.
func (s *Sim) Sent() []Sent { return s.sent.All() }

// Violations counts the sends refused for coming too soon after the
// instance's previous one.
func (s *Sim) Violations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.violations
}

// WaitSent waits until at least n sends were accepted and answers them all;
// when ctx ends first it answers those there are and the context's error.
func (s *Sim) WaitSent(ctx context.Context, n int) ([]Sent, error) { return s.sent.Wait(ctx, n) }
