package sim

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// dateLayout is the layout of send_at_start and send_at_end.
const dateLayout = "2006-01-02"

// wireBase are the fields every archived message has on the wire.
type wireBase struct {
	ID          string   `json:"id"`
	ExtCorpID   string   `json:"ext_corp_id"`
	MsgID       string   `json:"msgid"`
	Action      string   `json:"action"`
	From        string   `json:"from"`
	ToList      []string `json:"tolist"`
	RoomID      string   `json:"room_id"`
	MsgTime     int64    `json:"msg_time"`
	MsgType     string   `json:"msg_type"`
	ContentText string   `json:"content_text"`
	Seq         int64    `json:"seq"`
	SessionID   string   `json:"session_id"`
	SessionType string   `json:"session_type"`
}

// wireMessage is an archived message as session-msgs and search answer it.
type wireMessage struct {
	wireBase
	SenderName     string       `json:"sender_name"`
	SenderAvatar   string       `json:"sender_avatar"`
	ChatMsgContent *wireContent `json:"chat_msg_content"`
	Attachments    any          `json:"attachments"`
}

type wireContent struct {
	ID          string `json:"id"`
	ChatMsgID   string `json:"chat_msg_id"`
	ContentType string `json:"content_type"`
	Content     string `json:"content"`
	FileURL     string `json:"file_url"`
	FileName    string `json:"file_name"`
}

// wireSession is one item of sessions: the session's latest message and
// the other party.
type wireSession struct {
	wireBase
	PeerAvatar    string `json:"peer_avatar"`
	PeerName      string `json:"peer_name"`
	PeerExtID     string `json:"peer_ext_id"`
	PeerType      string `json:"peer_type"`
	GroupChatName string `json:"group_chat_name"`
}

// base is m's common wire fields; id is the row id shown.
func base(corpID, id string, m *Message) wireBase {
	return wireBase{
		ID: id, ExtCorpID: corpID, MsgID: m.MsgID, Action: m.Action, From: m.From,
		ToList: nonNil(m.ToList), RoomID: m.RoomID, MsgTime: m.Time.UnixMilli(), MsgType: m.Type,
		ContentText: m.Text, Seq: m.Seq, SessionID: m.SessionID, SessionType: m.SessionType,
	}
}

// list is the data of session-msgs and search.
type list struct {
	Items []wireMessage `json:"items"`
	Total int           `json:"total"`
}

// syncEndpoint: POST /chat-msg/sync {ext_corp_id}.
func (s *Sim) syncEndpoint(p params) (any, *apiError) {
	v, err := p.need("ext_corp_id")
	if err != nil {
		return nil, err
	}
	c, ok := s.corps[v[0]]
	if !ok {
		return nil, fail(CodeInvalidCorp, "企业ID无效: %s", v[0])
	}
	n := len(c.sync(s))
	s.log.Debug("synced", "corp", v[0], "messages", n)
	return syncStarted("同步任务已启动"), nil
}

// sessions: GET /chat-msg/sessions.
func (s *Sim) sessions(p params) (any, *apiError) {
	v, err := p.need("ext_staff_id", "session_type", "ext_corp_id")
	if err != nil {
		return nil, err
	}
	staff, kind, corpID := v[0], v[1], v[2]
	c, a, err := s.archiveOf(corpID, staff)
	if err != nil {
		return nil, err
	}
	if kind != SessionInternal && kind != SessionExternal && kind != SessionGroup {
		return nil, fail(CodeInvalidSessionType, "会话类型无效: %s", kind)
	}
	page, size, err := p.paging()
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(p.get("name"))

	latest := map[string]*Message{}
	for _, m := range a.msgs {
		if m.SessionType != kind {
			continue
		}
		if l := latest[m.SessionID]; l == nil || newer(m, l) {
			latest[m.SessionID] = m
		}
	}
	var items []wireSession
	for _, m := range latest {
		item := c.session(staff, corpID, m)
		if name != "" && !strings.Contains(strings.ToLower(item.PeerName), strings.ToLower(name)) {
			continue
		}
		items = append(items, item)
	}
	slices.SortFunc(items, func(x, y wireSession) int {
		if x.MsgTime != y.MsgTime {
			return cmp.Compare(y.MsgTime, x.MsgTime)
		}
		return cmp.Compare(y.Seq, x.Seq)
	})
	from, to := pageOf(len(items), page, size)
	out := items[from:to]
	if out == nil {
		out = []wireSession{}
	}
	return map[string]any{"items": out, "total": len(items), "page": page, "page_size": size}, nil
}

// sessionMsgs: GET /chat-msg/session-msgs.
func (s *Sim) sessionMsgs(p params) (any, *apiError) {
	v, err := p.need("ext_staff_id", "receiver_id", "ext_corp_id")
	if err != nil {
		return nil, err
	}
	staff, receiver, corpID := v[0], v[1], v[2]
	c, a, err := s.archiveOf(corpID, staff)
	if err != nil {
		return nil, err
	}
	msgType := strings.TrimSpace(p.get("msg_type"))
	if msgType != "" && !slices.Contains(msgTypes, msgType) {
		return nil, fail(CodeInvalidMsgType, "消息类型无效: %s", msgType)
	}
	start, end, err := dateRange(p.get("send_at_start"), p.get("send_at_end"))
	if err != nil {
		return nil, err
	}
	maxID, hasMax, err := idParam(p, "max_id")
	if err != nil {
		return nil, err
	}
	minID, hasMin, err := idParam(p, "min_id")
	if err != nil {
		return nil, err
	}
	less, err := sorting(p.get("sort_field"), p.get("sort_type"))
	if err != nil {
		return nil, err
	}
	page, size, err := p.paging()
	if err != nil {
		return nil, err
	}
	var found []*Message
	for _, m := range a.msgs {
		id, _ := strconv.ParseInt(m.ID, 10, 64)
		switch {
		case peerOf(staff, m) != receiver:
		case msgType != "" && m.Type != msgType:
		case !start.IsZero() && m.Time.Before(start):
		case !end.IsZero() && !m.Time.Before(end):
		case hasMax && id <= maxID:
		case hasMin && id >= minID:
		default:
			found = append(found, m)
		}
	}
	slices.SortStableFunc(found, less)
	return c.list(corpID, found, page, size), nil
}

// search: GET /chat-msg/search.
func (s *Sim) search(p params) (any, *apiError) {
	v, err := p.need("keyword", "ext_staff_id", "ext_peer_id", "ext_corp_id")
	if err != nil {
		return nil, err
	}
	keyword, staff, peer, corpID := v[0], v[1], v[2], v[3]
	c, a, err := s.archiveOf(corpID, staff)
	if err != nil {
		return nil, err
	}
	page, size, err := p.paging()
	if err != nil {
		return nil, err
	}
	var found []*Message
	for _, m := range a.msgs {
		if peerOf(staff, m) == peer && matches(searchText(m), keyword) {
			found = append(found, m)
		}
	}
	slices.SortStableFunc(found, func(x, y *Message) int {
		if newer(x, y) {
			return -1
		}
		if newer(y, x) {
			return 1
		}
		return 0
	})
	return c.list(corpID, found, page, size), nil
}

// searchText is what full-text search looks in: the text, a file's name,
// a link's title and description, a location's title and address.
func searchText(m *Message) string {
	parts := []string{m.Text, m.FileName}
	for _, k := range []string{"filename", "title", "description", "address"} {
		if s, ok := m.Attachments[k].(string); ok {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "\n")
}

// list answers one page of found.
func (c *corp) list(corpID string, found []*Message, page, size int) list {
	from, to := pageOf(len(found), page, size)
	out := list{Items: make([]wireMessage, 0, to-from), Total: len(found)}
	for _, m := range found[from:to] {
		out.Items = append(out.Items, c.wire(corpID, m))
	}
	return out
}

// wire is a message as the vendor shows it.
func (c *corp) wire(corpID string, m *Message) wireMessage {
	content := map[string]any{"content": m.Text}
	var attachments any
	if m.Type != "text" {
		content = m.Attachments
		if m.Attachments != nil {
			attachments = m.Attachments
		}
	}
	inner, _ := json.Marshal(content)
	if content == nil {
		inner = []byte("{}")
	}
	name, avatar := m.SenderName, m.SenderAvatar
	if p, ok := c.people[m.From]; ok {
		name, avatar = firstOf(name, p.Name), firstOf(avatar, p.Avatar)
	}
	return wireMessage{
		wireBase:   base(corpID, m.ID, m),
		SenderName: name, SenderAvatar: avatar,
		ChatMsgContent: &wireContent{ID: "content" + m.ID, ChatMsgID: m.ID, ContentType: m.Type,
			Content: string(inner), FileURL: m.FileURL, FileName: m.FileName},
		Attachments: attachments,
	}
}

// session is a sessions item for the session whose latest message is m.
func (c *corp) session(staff, corpID string, m *Message) wireSession {
	peer := peerOf(staff, m)
	p := c.people[peer]
	item := wireSession{
		wireBase:   base(corpID, c.sessions[m.SessionID], m),
		PeerAvatar: p.Avatar, PeerName: firstOf(p.Name, peer), PeerExtID: peer, PeerType: p.Type,
	}
	switch {
	case m.SessionType == SessionGroup:
		item.GroupChatName, item.PeerType = item.PeerName, ""
	case item.PeerType != "":
	case c.staff[peer] != nil:
		item.PeerType = PeerWeCom
	default:
		item.PeerType = PeerWeChat
	}
	return item
}

// dateRange reads send_at_start and send_at_end as UTC days, both
// included: the answer is [start, end) in time, zero where not given.
func dateRange(startText, endText string) (start, end time.Time, err *apiError) {
	parse := func(name, v string) (time.Time, *apiError) {
		if v = strings.TrimSpace(v); v == "" {
			return time.Time{}, nil
		}
		t, perr := time.ParseInLocation(dateLayout, v, time.UTC)
		if perr != nil {
			return time.Time{}, fail(CodeInvalidTime, "时间格式错误: %s=%s，应为 YYYY-MM-DD", name, v)
		}
		return t, nil
	}
	if start, err = parse("send_at_start", startText); err != nil {
		return
	}
	if end, err = parse("send_at_end", endText); err != nil {
		return
	}
	if !end.IsZero() {
		end = end.AddDate(0, 0, 1)
	}
	if !start.IsZero() && !end.IsZero() && !start.Before(end) {
		return time.Time{}, time.Time{}, fail(CodeInvalidTime, "时间格式错误: send_at_start 晚于 send_at_end")
	}
	return start, end, nil
}

// idParam reads max_id or min_id: an archive row id.
func idParam(p params, name string) (int64, bool, *apiError) {
	v := strings.TrimSpace(p.get(name))
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, fail(CodeBadRequest, "参数错误: %s=%s", name, v)
	}
	return n, true, nil
}

// sorting reads sort_field (msg_time, seq or id; msg_time by default) and
// sort_type (asc or desc; desc by default).
func sorting(field, order string) (func(x, y *Message) int, *apiError) {
	var key func(m *Message) int64
	switch strings.TrimSpace(field) {
	case "", "msg_time":
		key = func(m *Message) int64 { return m.Time.UnixMilli() }
	case "seq":
		key = func(m *Message) int64 { return m.Seq }
	case "id":
		key = func(m *Message) int64 { n, _ := strconv.ParseInt(m.ID, 10, 64); return n }
	default:
		return nil, fail(CodeBadRequest, "参数错误: sort_field=%s", field)
	}
	sign := -1
	switch strings.TrimSpace(order) {
	case "", "desc":
	case "asc":
		sign = 1
	default:
		return nil, fail(CodeBadRequest, "参数错误: sort_type=%s", order)
	}
	return func(x, y *Message) int {
		if c := cmp.Compare(key(x), key(y)); c != 0 {
			return sign * c
		}
		return sign * cmp.Compare(x.Seq, y.Seq)
	}, nil
}

// newer orders messages by time, then by seq.
func newer(a, b *Message) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.After(b.Time)
	}
	return a.Seq > b.Seq
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
