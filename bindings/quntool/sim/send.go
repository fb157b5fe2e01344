package sim

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/gif" // image sizes of uploaded GIFs
	_ "image/jpeg"
	_ "image/png"
	"net/url"
	"path"
	"strings"
	"time"
)

// prepared is what a kind makes of a valid send request.
type prepared struct {
	content string
	data    map[string]any // the kind's fields in the sent callback
	args    map[string]any // added to Sent.Args
}

// sendKind describes one kind of send.
type sendKind struct {
	name     string // Sent.Kind
	callback string // the type of its sent callback
	group    bool   // only to groups
	prepare  func(s *Sim, r *request, rm *room) (prepared, error)
}

var (
	kindText = &sendKind{name: "text", callback: "text_msg", prepare: func(_ *Sim, r *request, _ *room) (prepared, error) {
		content, err := r.f.need("content")
		return prepared{content: content, data: map[string]any{"at_list": []string{}, "content": content}}, err
	}}
	kindRoomAt = &sendKind{name: "roomAt", callback: "text_msg", group: true, prepare: (*Sim).prepareRoomAt}
	kindQuote  = &sendKind{name: "quote", callback: "text_msg", prepare: func(_ *Sim, r *request, _ *room) (prepared, error) {
		content, err := r.f.need("content")
		if err != nil {
			return prepared{}, err
		}
		serverID, err := r.f.need("serverId")
		return prepared{content: content, data: map[string]any{
			"at_list": []string{}, "content": content,
			"quote_server_id": serverID, "quote_content": r.f.str("quote"),
		}}, err
	}}
	kindImage = mediaKind("image", "image_msg", func(f *storedFile, d map[string]any) {
		w, h := imageSize(f)
		d["imgWidth"], d["imgHeight"], d["width"], d["height"] = w, h, w, h
	})
	kindGIF = mediaKind("gif", "emoticon_msg", func(f *storedFile, d map[string]any) {
		w, h := imageSize(f)
		d["local_id"], d["width"], d["height"] = "0", w, h
	})
	kindVideo = mediaKind("video", "video_msg", func(_ *storedFile, d map[string]any) {
		d["videoWidth"], d["videoHeight"] = 0, 0
	})
	kindVoice = mediaKind("voice", "voice_msg", func(f *storedFile, d map[string]any) {
		// AAC at 12 kHz is about 2 KB a second.
		seconds := 1
		if f != nil && len(f.data) > 2048 {
			seconds = min(len(f.data)/2048, 60)
		}
		d["duration"] = seconds
	})
	kindFile = mediaKind("file", "file_msg", func(f *storedFile, d map[string]any) {
		name, size, sum := path.Base(d["file_path"].(string)), 0, ""
		if f != nil {
			name, size = f.name, len(f.data)
			h := md5.Sum(f.data)
			sum = hex.EncodeToString(h[:])
		}
		d["cdn"] = map[string]any{"aes_key": randomHex(32), "file_id": randomHex(96), "file_name": name,
			"ld_size": 0, "md5": sum, "md_size": 0, "size": size}
	})
	kindPersonCard = &sendKind{name: "personCard", callback: "person_card_msg", prepare: func(s *Sim, r *request, _ *room) (prepared, error) {
		id, err := r.f.need("personCardUserId")
		if err != nil {
			return prepared{}, err
		}
		p := s.st.profile(id)
		nick, avatar := r.f.str("nickname"), r.f.str("avatar")
		if nick == "" {
			nick = p.name
		}
		if avatar == "" {
			avatar = p.avatar
		}
		return prepared{content: id, data: map[string]any{"avatar": avatar, "nickname": nick, "user_id": id, "local_id": "0"}}, nil
	}}
	kindLink = &sendKind{name: "link", callback: "link_card_msg", prepare: func(_ *Sim, r *request, _ *room) (prepared, error) {
		title, err := r.f.need("title")
		if err != nil {
			return prepared{}, err
		}
		link, err := r.f.need("url")
		if err != nil {
			return prepared{}, err
		}
		return prepared{content: link, data: map[string]any{
			"desc": r.f.str("desc"), "image_url": r.f.str("imageUrl"), "title": title, "url": link,
		}}, nil
	}}
	kindMiniProgram = &sendKind{name: "miniProgram", callback: "mini_program_msg", prepare: func(_ *Sim, r *request, _ *room) (prepared, error) {
		d := map[string]any{"cdn_type": 0}
		for _, k := range []string{"username", "appid", "title"} {
			v, err := r.f.need(k)
			if err != nil {
				return prepared{}, err
			}
			d[k] = v
		}
		for _, k := range []string{"appname", "appicon", "page_path", "cover_path"} {
			d[k] = r.f.str(k)
		}
		return prepared{content: d["title"].(string), data: d}, nil
	}}
	kindVideoNum = &sendKind{name: "videoNum", callback: "video_num_msg", prepare: func(_ *Sim, r *request, _ *room) (prepared, error) {
		link, err := r.f.need("url")
		if err != nil {
			return prepared{}, err
		}
		feed, _, err := r.f.integer("feed_type")
		if err != nil {
			return prepared{}, err
		}
		if feed == 0 {
			feed = 4
		}
		return prepared{content: link, data: map[string]any{
			"cover_url": r.f.str("cover_url"), "desc": r.f.str("desc"), "feed_type": feed,
			"nickname": r.f.str("nickname"), "thumb_url": r.f.str("thumb_url"), "url": link,
			"extras": r.f.str("extras"), "avatar": r.f.str("avatar"),
		}}, nil
	}}
	kindMiniProgramByID = &sendKind{name: "miniProgram", callback: "mini_program_msg", prepare: func(s *Sim, r *request, _ *room) (prepared, error) {
		id, err := needID(r, "miniProgramId")
		if err != nil {
			return prepared{}, err
		}
		for _, m := range s.st.minis {
			if m.ID == id {
				d := map[string]any{"appicon": m.AppIcon, "appid": m.AppID, "appname": m.AppName, "page_path": m.PagePath,
					"title": m.Title, "username": m.Username, "cover_path": m.CoverPath, "cdn_type": 0}
				return prepared{content: m.Title, data: d, args: d}, nil
			}
		}
		return prepared{}, fail(CodeNotFound, "miniProgramId %d is not in /miniprogram/list", id)
	}}
	kindVideoNumByID = &sendKind{name: "videoNum", callback: "video_num_msg", prepare: func(s *Sim, r *request, _ *room) (prepared, error) {
		id, err := needID(r, "videoNumId")
		if err != nil {
			return prepared{}, err
		}
		for _, v := range s.st.videos {
			if v.ID == id {
				d := map[string]any{"cover_url": v.CoverURL, "desc": v.Desc, "feed_type": v.FeedType, "nickname": v.Nickname,
					"thumb_url": v.ThumbURL, "url": v.URL, "extras": v.Extras, "avatar": v.Avatar}
				return prepared{content: v.URL, data: d, args: d}, nil
			}
		}
		return prepared{}, fail(CodeNotFound, "videoNumId %d is not in /videonum/list", id)
	}}
)

func needID(r *request, name string) (int64, error) {
	id, ok, err := r.f.integer(name)
	if err == nil && !ok {
		err = fail(CodeBadRequest, "%s is required", name)
	}
	return id, err
}

// mediaKind is a send of a file given by fileUrl; fill adds the kind's
// fields to the callback data, which already has file_path.
func mediaKind(name, callback string, fill func(f *storedFile, d map[string]any)) *sendKind {
	return &sendKind{name: name, callback: callback, prepare: func(s *Sim, r *request, _ *room) (prepared, error) {
		fileURL, err := r.f.need("fileUrl")
		if err != nil {
			return prepared{}, err
		}
		filePath, f, err := s.resolveFile(fileURL, r.now)
		if err != nil {
			return prepared{}, err
		}
		d := map[string]any{"file_path": filePath, "cdn_type": 0}
		fill(f, d)
		return prepared{content: fileURL, data: d}, nil
	}}
}

// resolveFile finds the file a send names: a path /file/upload answered
// (the stored file), or an http(s) URL the vendor would download and keep
// under /gnapi/files/Storage.
func (s *Sim) resolveFile(ref string, now time.Time) (string, *storedFile, error) {
	if strings.HasPrefix(strings.ToLower(ref), "/gnapi/") {
		f := s.st.files[strings.ToLower(ref)]
		if f == nil {
			return "", nil, fail(CodeNotFound, "file %s is not on this server (upload it with /file/upload)", ref)
		}
		return f.path, f, nil
	}
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", nil, fail(CodeBadRequest, "fileUrl %q must be an http(s) URL or a path answered by /file/upload", ref)
	}
	name := path.Base(u.Path)
	if name == "." || name == "/" {
		name = "file"
	}
	sum := md5.Sum([]byte(ref))
	return fmt.Sprintf("/gnapi/files/Storage/%s/%s/%s", now.In(chinaTime).Format("20060102"), hex.EncodeToString(sum[:]), name), nil, nil
}

func imageSize(f *storedFile) (int, int) {
	if f == nil {
		return 0, 0
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(f.data))
	if err != nil {
		return 0, 0
	}
	return cfg.Width, cfg.Height
}

// prepareRoomAt checks a group @ message: every id of atList is a member,
// or "0" for everyone.
func (s *Sim) prepareRoomAt(r *request, rm *room) (prepared, error) {
	content, err := r.f.need("content")
	if err != nil {
		return prepared{}, err
	}
	at, err := r.f.needList("atList")
	if err != nil {
		return prepared{}, err
	}
	names := make([]string, len(at))
	for i, id := range at {
		switch {
		case id == "0":
			names[i] = "所有人"
		case rm.member(id) == nil:
			return prepared{}, fail(CodeFailed, "atList: %s is not a member of %s", id, rm.id)
		default:
			names[i] = s.st.name(id)
		}
	}
	return prepared{content: content, data: map[string]any{"at_list": at, "content": renderMentions(content, names)}}, nil
}

// renderMentions is the text WeCom shows for a group @ message: each
// {$@} placeholder becomes the next @name; mentions without a placeholder
// lead the text.
func renderMentions(content string, names []string) string {
	const placeholder = "{$@}"
	var lead []string
	for _, n := range names {
		if strings.Contains(content, placeholder) {
			content = strings.Replace(content, placeholder, "@"+n, 1)
		} else {
			lead = append(lead, "@"+n)
		}
	}
	content = strings.ReplaceAll(content, placeholder, "")
	if len(lead) == 0 {
		return content
	}
	return strings.Join(lead, " ") + " " + content
}

// target is the conversation a send goes to.
type target struct {
	id       string
	receiver string   // the other user, or the room id without "R:"
	contact  *contact // for a private conversation
	room     *room    // for a group
}

// conversation checks that conv is a conversation of a: "S:{smaller}_{larger}"
// with one of a's contacts, or "R:..." of a room a is in. Anything else is
// WeCom's -2003.
func (s *Sim) conversation(a *account, conv string) (target, error) {
	switch {
	case strings.HasPrefix(conv, "S:"):
		x, y, ok := strings.Cut(conv[2:], "_")
		if !ok || x == "" || y == "" || strings.Contains(y, "_") {
			return target{}, fail(CodeInvalidConversation, "conversationId %s is not S:{id}_{id}", conv)
		}
		if want := privateConversation(x, y); want != conv {
			return target{}, fail(CodeInvalidConversation, "conversationId %s must put the smaller id first: %s", conv, want)
		}
		other := y
		switch a.wxid {
		case x:
		case y:
			other = x
		default:
			return target{}, fail(CodeInvalidConversation, "conversationId %s is not a conversation of %s", conv, a.wxid)
		}
		c := a.contacts[other]
		if c == nil {
			return target{}, fail(CodeInvalidConversation, "conversationId %s: %s is not a contact of %s", conv, other, a.wxid)
		}
		return target{id: conv, receiver: other, contact: c}, nil
	case strings.HasPrefix(conv, "R:") && len(conv) > 2:
		rm := s.st.rooms.get(conv)
		if rm == nil || rm.member(a.wxid) == nil {
			return target{}, fail(CodeInvalidConversation, "conversationId %s is not a group %s is in", conv, a.wxid)
		}
		return target{id: conv, receiver: conv[2:], room: rm}, nil
	}
	return target{}, fail(CodeInvalidConversation, `conversationId %q must start with "S:" (private) or "R:" (group)`, conv)
}

func sendEndpoint(k *sendKind) endpoint {
	return func(s *Sim, r *request) (any, error) { return s.send(r, k) }
}

// send carries out a send of kind k: it checks the account, the
// conversation and the fields, applies the vendor's limits, records the
// send and posts its sent callback.
func (s *Sim) send(r *request, k *sendKind) (any, error) {
	a, conv, err := s.accountField(r, online, "conversationId")
	if err != nil {
		return nil, err
	}
	t, err := s.conversation(a, conv)
	if err != nil {
		return nil, err
	}
	if k.group && t.room == nil {
		return nil, fail(CodeFailed, "%s sends only to groups (R:...), not %s", k.name, conv)
	}
	p, err := k.prepare(s, r, t.room)
	if err != nil {
		return nil, err
	}
	if err := s.admit(a, r.now); err != nil {
		return nil, err
	}

	st := s.st
	msgID := newUUID()
	serverID := fmt.Sprint(st.nextSeq())
	args := r.f.plain()
	for k, v := range p.args {
		args[k] = v
	}
	s.sent.Add(Sent{Account: a.wxid, ConversationID: conv, Kind: k.name, Content: p.content,
		Args: args, MsgID: msgID, ServerID: serverID, At: r.now})
	st.lastSend[a.wxid] = r.now
	st.corpSends[a.corp] = append(st.corpSends[a.corp], r.now)
	st.lastChat[chatKey(a.wxid, conv)] = chatMark{at: r.now, text: p.content}
	s.log.Info("send accepted", "account", a.wxid, "conversation", conv, "kind", k.name, "msg_id", msgID)

	data := map[string]any{
		"content_type":    0,
		"conversation_id": conv,
		"is_pc":           1,
		"receiver":        t.receiver,
		"send_time":       r.now.Unix(), // a number in sent messages
		"sender":          a.wxid,
		"server_id":       serverID,
		"sendUserId":      a.userID,
		"sendUserName":    s.username(a.userID),
		"isOpenApi":       true,
		"error_code":      0,
		"error_message":   "",
	}
	for k, v := range p.data {
		data[k] = v
	}
	s.accountCallback(a, k.callback, data, msgID)
	if t.contact != nil && t.contact.deleted {
		// The contact deleted the account: WeCom shows a gray notice
		// instead of delivering.
		s.accountCallback(a, "chat_gray_msg", map[string]any{
			"appinfo":         randomHex(24) + "_need_verify",
			"content":         s.st.name(t.receiver) + "开启了联系人验证，你还不是他（她）的联系人。请先发送联系人验证请求，对方验证通过后，才能聊天。",
			"content_type":    1011,
			"conversation_id": conv,
			"is_pc":           0,
			"receiver":        t.receiver,
			"send_time":       fmt.Sprint(r.now.Unix()),
			"sender":          a.wxid,
			"sender_name":     "",
			"server_id":       fmt.Sprint(st.nextSeq()),
		}, "")
	}
	return map[string]any{"msgId": msgID}, nil
}

func (s *Sim) username(userID string) string {
	if u := s.st.users.get(userID); u != nil {
		return u.username
	}
	return userID
}

// admit applies the vendor's limits to a send of a at now: at least
// SendInterval after the account's previous accepted send, and fewer than
// HourlyCorpCap accepted sends of its company in the last hour. A send
// over either is a violation, answered -1000999 and not delivered.
func (s *Sim) admit(a *account, now time.Time) error {
	st := s.st
	if iv := s.opts.SendInterval; iv > 0 {
		if last, ok := st.lastSend[a.wxid]; ok && now.Sub(last) < iv {
			st.violations++
			s.log.Warn("send refused: too frequent", "account", a.wxid, "since_last", now.Sub(last), "interval", iv)
			return fail(CodeFrequency, "Abnormal request frequency")
		}
	}
	if limit := s.opts.HourlyCorpCap; limit > 0 {
		window := st.corpSends[a.corp]
		cut := now.Add(-time.Hour)
		i := 0
		for i < len(window) && !window[i].After(cut) {
			i++
		}
		window = window[i:]
		st.corpSends[a.corp] = window
		if len(window) >= limit {
			st.violations++
			s.log.Warn("send refused: hourly company cap", "account", a.wxid, "corp", a.corp, "cap", limit)
			return fail(CodeFrequency, "Abnormal request frequency")
		}
	}
	return nil
}

// Sent lists the accepted sends, oldest first.
func (s *Sim) Sent() []Sent { return s.sent.All() }

// Violations counts the sends refused with -1000999: too close to the
// account's previous send, or over the company's hourly cap.
func (s *Sim) Violations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.violations
}

// WaitSent blocks until at least n sends were accepted and answers them
// all; when ctx ends first it answers those there are and the context's
// error.
func (s *Sim) WaitSent(ctx context.Context, n int) ([]Sent, error) { return s.sent.Wait(ctx, n) }
