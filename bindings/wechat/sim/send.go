package sim

import (
	"context"
	"net/url"
	"path"
	"strconv"
)

// sendKind is one kind of send: its name in Sent.Kind and how its fields
// are checked and summed up in Sent.Content.
type sendKind struct {
	name string
	// check validates the kind's own fields and answers Sent.Content.
	check func(inst *instance, to string, f fields) (string, error)
}

var (
	kindText     = sendKind{"text", textContent}
	kindRoomAt   = sendKind{"room_at", roomAtContent}
	kindImage    = sendKind{"image", urlContent}
	kindVideo    = sendKind{"video", urlContent}
	kindFile     = sendKind{"file", fileContent}
	kindVoice    = sendKind{"voice", voiceContent}
	kindEmoji    = sendKind{"emoji_url", urlContent}
	kindLocation = sendKind{"location", locationContent}
	kindCard     = sendKind{"card", cardContent}
	kindLink     = sendKind{"link_card", linkContent}
)

// sendEndpoint serves a /msg/send_* path: the receiver must be a friend or
// a room the account is in; the send is recorded and answered with its ids.
func sendEndpoint(k sendKind) func(s *Sim, r *request) (any, error) {
	return func(s *Sim, r *request) (any, error) {
		inst := r.inst
		to, err := r.f.need("to_username")
		if err != nil {
			return nil, err
		}
		if isRoomID(to) {
			if rm := inst.rooms[to]; rm == nil || !hasMember(rm, inst.account.WxID) {
				return nil, fail(CodeNotFound, "群聊不存在或你不在群内: %s", to)
			}
		} else if c := inst.contacts[to]; c == nil || (c.Type != ContactFriend && c.Type != ContactMp) {
			return nil, fail(CodeFailed, "对方不是你的好友: %s", to)
		}
		content, err := k.check(inst, to, r.f)
		if err != nil {
			return nil, err
		}
		msgID := s.st.nextSeq()
		sent := Sent{GUID: inst.guid, From: inst.account.WxID, To: to, Kind: k.name, Content: content,
			Args: r.f.plain(), MsgID: msgID, NewMsgID: 7773749793000000000 + msgID, At: r.now}
		s.sent.Add(sent)
		return map[string]any{"msg_id": sent.MsgID, "new_msg_id": sent.NewMsgID, "create_time": r.now.Unix(),
			"to_username": to}, nil
	}
}

func hasMember(rm *room, wxid string) bool {
	_, ok := rm.members[wxid]
	return ok
}

func textContent(_ *instance, _ string, f fields) (string, error) { return f.need("content") }

func roomAtContent(inst *instance, to string, f fields) (string, error) {
	text, err := f.need("content")
	if err != nil {
		return "", err
	}
	ids, err := f.list("at_list")
	if err != nil {
		return "", err
	}
	rm := inst.rooms[to]
	if rm == nil {
		return "", fail(CodeFailed, "群@消息只能发到群聊，%s 不是群聊", to)
	}
	for _, id := range ids {
		switch {
		case id == MentionAll && rm.owner != inst.account.WxID:
			return "", fail(CodeFailed, "只有群主或管理员可以@所有人")
		case id != MentionAll && !hasMember(rm, id):
			return "", fail(CodeNotFound, "%s 不在群 %s 内", id, to)
		}
	}
	return text, nil
}

// urlContent checks a media URL.
func urlContent(_ *instance, _ string, f fields) (string, error) {
	raw, err := f.need("url")
	if err != nil {
		return "", err
	}
	if u, perr := url.Parse(raw); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", invalid("url", "invalid or missing URL scheme: an http:// or https:// URL is required", "value_error.url.scheme")
	}
	for _, opt := range []string{"thumb_url", "file_name"} {
		if _, err := f.opt(opt); err != nil {
			return "", err
		}
	}
	return raw, nil
}

func fileContent(inst *instance, to string, f fields) (string, error) {
	u, err := urlContent(inst, to, f)
	if err != nil {
		return "", err
	}
	if name := f.str("file_name"); name != "" && (name != path.Base(name) || name == "." || name == "..") {
		return "", invalid("file_name", "a file name, not a path", "value_error.str")
	}
	return u, nil
}

func voiceContent(inst *instance, to string, f fields) (string, error) {
	u, err := urlContent(inst, to, f)
	if err != nil {
		return "", err
	}
	if ms, err := f.integer("duration", 1000); err != nil || ms <= 0 || ms > 60_000 {
		if err == nil {
			err = invalid("duration", "a voice message lasts 1 to 60000 ms", "value_error.number")
		}
		return "", err
	}
	return u, nil
}

func locationContent(_ *instance, _ string, f fields) (string, error) {
	lat, err := f.float("latitude")
	if err != nil {
		return "", err
	}
	lng, err := f.float("longitude")
	if err != nil {
		return "", err
	}
	if lat < -90 || lat > 90 || lng < -180 || lng > 180 {
		return "", invalid("latitude", "latitude must lie in [-90, 90] and longitude in [-180, 180]", "value_error.number")
	}
	for _, opt := range []string{"label", "poi_name"} {
		if _, err := f.opt(opt); err != nil {
			return "", err
		}
	}
	return strconv.FormatFloat(lat, 'f', -1, 64) + "," + strconv.FormatFloat(lng, 'f', -1, 64), nil
}

func cardContent(_ *instance, _ string, f fields) (string, error) {
	id, err := f.need("card_username")
	if err != nil {
		return "", err
	}
	for _, opt := range []string{"card_nickname", "card_alias"} {
		if _, err := f.opt(opt); err != nil {
			return "", err
		}
	}
	return id, nil
}

func linkContent(inst *instance, to string, f fields) (string, error) {
	if _, err := f.need("title"); err != nil {
		return "", err
	}
	for _, opt := range []string{"desc"} {
		if _, err := f.opt(opt); err != nil {
			return "", err
		}
	}
	return urlContent(inst, to, f)
}

// Sent lists the accepted sends, oldest first.
func (s *Sim) Sent() []Sent { return s.sent.All() }

// WaitSent waits until at least n sends have been accepted since New or
// Reset and answers them all; when ctx ends first it answers those there
// are and the context's error.
func (s *Sim) WaitSent(ctx context.Context, n int) ([]Sent, error) { return s.sent.Wait(ctx, n) }
