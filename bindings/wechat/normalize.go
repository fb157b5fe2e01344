package wechat

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/bindings/wework"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// A callback is one JSON object, in the envelope of the vendor's WeCom API
// (wework.Envelope):
//
//	{"guid": "instance id", "notify_type": 1010, "data": {...} or [...]}
//
// The account of every event is the guid. notify_type picks a row of
// notifyTypes; for the message notify types (1010, 1011) the WeChat message
// type (msg_type) then picks a row of messageTypes, and for app messages
// (msg_type 49) the appmsg type picks a row of appTypes. Anything not in
// the tables becomes an event of type event.TypeUnknown, or a message of
// kind event.KindUnknown, with the body kept in Raw: no callback is dropped.
//
// 1010 carries one message, 1011 a list of them: a list becomes one event
// per item, in order, each keeping in Raw the callback cut down to its own
// item, {"guid", "notify_type", "data": [item]} (other top-level fields
// kept); a list of one item keeps the body untouched.
//
// Field names. The vendor names its callback fields in snake_case
// (from_user_name, msg_type, new_msg_id...). Normalize also accepts the other
// spellings WeChat protocol services use for the same fields (FromUserName,
// fromUserName, from_username), and string fields wrapped as {"str": ...} or
// {"string": ...}: a name matches a field whatever its case and underscores.
// Message contents are WeChat's own: plain text, or XML (<msg><img .../>,
// <appmsg>, <sysmsg>...), prefixed in rooms with the sender's wxid and ":\n".
//
// Conversation ids are "S:" and the other party's wxid in a private chat,
// "R:" and the room's id (ending in @chatroom) in a room.

// notifyType is one row of the notify type table.
type notifyType struct {
	// name is the vendor's name for the notify type.
	name string
	// typ is the event type; message rows may refine it per message type.
	typ string
	// fill adds the type-specific fields from d, the data object (empty
	// when the vendor sent none), to an event whose common fields are set.
	fill func(env *wework.Envelope, d map[string]any, ev *event.Event)
	// messages marks the notify types whose data is a message or a list of
	// messages: a list becomes one event per item.
	messages bool
}

// notifyTypes maps every notify type the vendor documents.
var notifyTypes = map[int64]notifyType{
	1001: {name: "Ready", typ: event.TypeSystemReady, fill: notice(nil)},
	1002: {name: "LoginQRCodeChange", typ: event.TypeLoginQRCode, fill: qrcodeChange},
	1003: {name: "UserLogin", typ: event.TypeLogin, fill: userLogin},
	1004: {name: "UserLogout", typ: event.TypeLogout, fill: notice(map[string]any{"reason": wework.LogoutLogout})},
	1005: {name: "InitFinish", typ: event.TypeSystemInitFinished, fill: notice(nil)},
	1006: {name: "HeartBeatError", typ: event.TypeLogout, fill: notice(map[string]any{"reason": wework.LogoutHeartbeatError})},
	1007: {name: "SessionTimeout", typ: event.TypeLogout, fill: notice(map[string]any{"reason": wework.LogoutSessionTimeout})},
	1008: {name: "LoginFailed", typ: event.TypeLoginQRCode, fill: notice(map[string]any{"state": "failed"})},
	1009: {name: "ContactSyncFinish", typ: event.TypeSystemContactsSync, fill: contactsSynced},

	1010: {name: "NewMsg", typ: event.TypeMessage, fill: message, messages: true},
	1011: {name: "BatchNewMsg", typ: event.TypeMessage, fill: message, messages: true},

	1039: {name: "ContactInfoChange", typ: event.TypeContactChanged, fill: contactNotice},
	1040: {name: "FriendAdd", typ: event.TypeContactAdded, fill: contactNotice},
	1041: {name: "FriendDel", typ: event.TypeContactRemoved, fill: contactNotice},

	1042: {name: "RoomAdd", typ: event.TypeRoomJoined, fill: roomNotice},
	1043: {name: "RoomQuit", typ: event.TypeRoomLeft, fill: roomNotice},
	1044: {name: "RoomDelMe", typ: event.TypeRoomRemovedMe, fill: roomNotice},
	1045: {name: "RoomDisband", typ: event.TypeRoomDisbanded, fill: roomNotice},
	1046: {name: "RoomMemberAdd", typ: event.TypeRoomMemberAdded, fill: roomNotice},
	1047: {name: "RoomMemberUpdate", typ: event.TypeRoomMemberChanged, fill: roomNotice},
	1048: {name: "RoomMemberDel", typ: event.TypeRoomMemberRemoved, fill: roomNotice},

	1200: {name: "WxNotifyTypeCmdIdModContact", typ: event.TypeContactChanged, fill: contactNotice},
	1201: {name: "WxNotifyTypeCmdIdDelContact", typ: event.TypeContactRemoved, fill: contactNotice},

	// WeCom (OpenIM) contacts and rooms seen from the WeChat account.
	1202: {name: "WxNotifyTypeOpenImContactAdd", typ: event.TypeContactAdded, fill: openIM(contactNotice)},
	1203: {name: "WxNotifyTypeOpenImContactDel", typ: event.TypeContactRemoved, fill: openIM(contactNotice)},
	1204: {name: "WxNotifyTypeOpenImRoomContactChange", typ: event.TypeRoomMemberChanged, fill: openIM(roomNotice)},

	2006: {name: "SyncMsgFailed", typ: event.TypeSystemSyncFailed, fill: notice(map[string]any{"restore_path": RestorePath})},
}

// NotifyTypes returns the notify types Normalize maps, sorted. Any other
// notify type becomes an event of type "unknown".
func NotifyTypes() []int64 { return slices.Sorted(maps.Keys(notifyTypes)) }

// NotifyTypeName returns the vendor's name of a mapped notify type
// ("NewMsg" for 1010), "" for one Normalize does not map.
func NotifyTypeName(notifyType int64) string { return notifyTypes[notifyType].name }

// TypeTalkerChanged is the event type of WeChat's msg_type 51: the chat
// open on the account's phone changed (data.talker). It is a status, not a
// message, so it is not delivered as one.
const TypeTalkerChanged = "system.talker_changed"

// messageType is one row of the message type table.
type messageType struct {
	// name is the vendor's name for the message type.
	name string
	// typ is the event type: event.TypeMessage for messages.
	typ string
	// kind is the message kind; "" for WX_MSG_APP, whose appmsg type
	// decides it (appTypes).
	kind string
	// fill adds the fields of this message type.
	fill func(m *wxMessage, ev *event.Event)
}

// messageTypes maps every WeChat message type the vendor documents. A
// friend request (37) is a friend.request event and a change of talker (51)
// a TypeTalkerChanged event; every other type is a message.
var messageTypes = map[int64]messageType{
	1:     {name: "WX_MSG_TEXT", typ: event.TypeMessage, kind: event.KindText, fill: textMessage},
	3:     {name: "WX_MSG_PICTURE", typ: event.TypeMessage, kind: event.KindImage, fill: imageMessage},
	34:    {name: "WX_MSG_VOICE", typ: event.TypeMessage, kind: event.KindVoice, fill: voiceMessage},
	37:    {name: "WX_MSG_FRIEND", typ: event.TypeFriendRequest, fill: friendRequest},
	42:    {name: "WX_MSG_CARD", typ: event.TypeMessage, kind: event.KindPersonCard, fill: cardMessage},
	43:    {name: "WX_MSG_VIDEO", typ: event.TypeMessage, kind: event.KindVideo, fill: videoMessage},
	47:    {name: "WX_MSG_EMOJI", typ: event.TypeMessage, kind: event.KindEmoticon, fill: emojiMessage},
	48:    {name: "WX_MSG_LOCATION", typ: event.TypeMessage, kind: event.KindLocation, fill: locationMessage},
	49:    {name: "WX_MSG_APP", typ: event.TypeMessage, fill: appMessage},
	51:    {name: "WX_MSG_CHANGE_TALKER", typ: TypeTalkerChanged, fill: talkerChanged},
	10000: {name: "WX_MSG_SYSTEM", typ: event.TypeMessage, kind: event.KindSystem, fill: systemMessage},
	10002: {name: "WX_MSG_REVOKE", typ: event.TypeMessage, kind: event.KindRevoke, fill: revokeMessage},
}

// MessageTypes returns the WeChat message types Normalize maps, sorted.
// Any other type becomes a message of kind "unknown".
func MessageTypes() []int64 { return slices.Sorted(maps.Keys(messageTypes)) }

// MessageTypeName returns the vendor's name of a mapped message type
// ("WX_MSG_TEXT" for 1), "" for one Normalize does not map.
func MessageTypeName(msgType int64) string { return messageTypes[msgType].name }

// appType is one row of the app message table.
type appType struct {
	name string
	kind string
	// fill adds the fields of this app message from its <appmsg>.
	fill func(m *wxMessage, app *xmlNode, ev *event.Event)
}

// appTypes maps the types of app messages (msg_type 49, <appmsg><type>):
// file 6, link 5, mini program 33, Channels (视频号) 51 and quote 57 as the
// vendor lists them, and WeChat's red packet card, 2001. A quote is a text
// message that quotes another: its text is the reply, data.quote the
// quoted message. Any other app type is a message of kind "unknown" with
// data.app_type set.
var appTypes = map[int64]appType{
	5:    {name: "link", kind: event.KindLink, fill: linkApp},
	6:    {name: "file", kind: event.KindFile, fill: fileApp},
	33:   {name: "mini program", kind: event.KindMiniProgram, fill: miniProgramApp},
	51:   {name: "video_num", kind: event.KindVideoNum, fill: videoNumApp},
	57:   {name: "quote", kind: event.KindText, fill: quoteApp},
	2001: {name: "red packet", kind: event.KindRedPacket, fill: redPacketApp},
}

// AppTypes returns the app message types Normalize maps, sorted.
func AppTypes() []int64 { return slices.Sorted(maps.Keys(appTypes)) }

// RestorePath is the endpoint that resumes message sync after a
// SyncMsgFailed (2006) notice; system.sync_failed events carry it in
// data.restore_path.
const RestorePath = "/client/restore_client"

// VerifyPath is the endpoint that completes a login whose QR code state is
// need_verify; login.qrcode events carry it in data.verify.
const VerifyPath = "/login/verify_login_url"

// contactKinds names the contact types of the vendor (data.contact.kind).
var contactKinds = map[int64]string{0: "stranger", 1: "system", 2: "friend", 3: "mp", 4: "chatroom"}

const (
	roomSuffix          = "@chatroom"
	openIMRoomSuffix    = "@im.chatroom"
	conversationPrivate = "S:"
	conversationGroup   = "R:"
	// mentionAll is the id WeChat puts in atuserlist for "@all".
	mentionAll = "notify@all"
)

// Normalize turns one callback body into its events. It implements
// event.Normalizer: a pure function, safe for concurrent use. A body that
// is not a JSON object is an error wrapping event.ErrMalformed; anything
// else (unknown notify or message types, missing fields, numbers sent as
// strings, contents that are not the XML they should be) yields at least
// one event with Raw set.
//
// Event ids: a message, friend request or talker change is keyed by guid,
// notify type and the message's new_msg_id and msg_id, so a re-delivery
// gets the same id and the same message under the other notify type a
// different one. Every other event, and a message without ids, is keyed by
// a hash of its Raw.
func Normalize(body []byte) ([]*event.Event, error) {
	env, err := wework.DecodeEnvelope(body)
	if err != nil {
		return nil, fmt.Errorf("wechat callback: %w", err)
	}
	row, known := notifyTypes[env.NotifyType]
	known = known && env.Numeric
	var fill func(map[string]any, *event.Event)
	if known {
		fill = func(d map[string]any, ev *event.Event) {
			ev.Type = row.typ
			if t, ok := number(d, "create_time", "timestamp"); ok && t > 0 {
				ev.Time = event.Millis(t)
			}
			row.fill(env, d, ev)
		}
	}
	evs, err := env.Events(event.VendorWechat, known && row.messages, fill)
	if err != nil {
		return nil, fmt.Errorf("wechat callback: %w", err)
	}
	return evs, nil
}

// qrcodeChange fills login.qrcode from 1002: data.status is the vendor's
// code and data.state its meaning. The WeChat API publishes no list of QR
// code statuses of its own; its callbacks use those of the same vendor's
// WeCom API (wework.QRCodeState). A callback without a status announces a
// new QR code, waiting to be scanned. Once scanned, data.nickname and
// data.avatar say who scanned it. When the state is need_verify,
// data.verify names the endpoint that completes the login.
func qrcodeChange(env *wework.Envelope, d map[string]any, ev *event.Event) {
	state := "waiting"
	if status, ok := number(d, "status"); ok {
		ev.Data["status"] = status
		state = wework.QRCodeState(status)
	}
	ev.Data["state"] = state
	put(ev.Data, "qrcode", text(d, "qrcode_content", "qrcode", "qrcode_url", "url"))
	put(ev.Data, "uuid", text(d, "uuid", "key"))
	put(ev.Data, "nickname", text(d, "nick_name", "nickname"))
	put(ev.Data, "avatar", text(d, "head_img_url", "avatar"))
	if t, ok := number(d, "expired_time", "expire_time", "expire"); ok {
		ev.Data["expires"] = event.Millis(t)
	}
	if state == "need_verify" {
		ev.Data["verify"] = map[string]any{"path": VerifyPath, "guid": env.GUID}
	}
}

// accountFields are the fields of the logged-in account that 1003 carries:
// the event's name for each and the vendor's names for it.
var accountFields = []struct {
	key   string
	names []string
}{
	{"user_id", []string{"user_name", "username", "wxid"}},
	{"name", []string{"nick_name", "nickname"}},
	{"alias", []string{"alias"}},
	{"mobile", []string{"bind_mobile", "mobile"}},
	{"avatar", []string{"head_img_url", "small_head_img_url", "big_head_img_url", "avatar"}},
	{"signature", []string{"signature"}},
}

// userLogin fills login from 1003: the account that logged in.
func userLogin(_ *wework.Envelope, d map[string]any, ev *event.Event) {
	for _, f := range accountFields {
		put(ev.Data, f.key, text(d, f.names...))
	}
	if sex, ok := number(d, "sex"); ok {
		ev.Data["sex"] = sex
	}
}

// notice returns the fill of a notice that carries nothing but the
// vendor's own code and message (data.vendor_code, data.vendor_message):
// the ready, init, logout, login failure and sync failure notices. fixed
// is what the event's data says of the notice type: the reason of a
// logout, the state of a failed login, the endpoint that restores message
// sync (2006: sync resumes only once the instance is restored).
func notice(fixed map[string]any) func(*wework.Envelope, map[string]any, *event.Event) {
	return func(_ *wework.Envelope, d map[string]any, ev *event.Event) {
		maps.Copy(ev.Data, fixed)
		if code, ok := number(d, "code", "err_code", "error_code"); ok {
			ev.Data["vendor_code"] = code
		}
		put(ev.Data, "vendor_message", text(d, "message", "msg", "err_msg", "error_message", "reason"))
	}
}

// contactsSynced fills system.contacts_synced from 1009.
func contactsSynced(_ *wework.Envelope, d map[string]any, ev *event.Event) {
	if n, ok := number(d, "contact_count", "count", "total"); ok {
		ev.Data["count"] = n
	}
}

// openIM marks a notice about WeCom contacts or rooms (data.openim).
func openIM(fill func(*wework.Envelope, map[string]any, *event.Event)) func(*wework.Envelope, map[string]any, *event.Event) {
	return func(env *wework.Envelope, d map[string]any, ev *event.Event) {
		fill(env, d, ev)
		ev.Data["openim"] = true
	}
}

// contactNotice fills the contact events (1039–1041, 1200–1203):
// data.contact is the contact, and the conversation is the one with it.
func contactNotice(_ *wework.Envelope, d map[string]any, ev *event.Event) {
	contact := contactOf(d)
	if contact == nil {
		return
	}
	ev.Data["contact"] = contact
	ev.Conversation = conversationWith(contact["id"].(string))
}

// contactOf reads a contact: its wxid, names, avatar and kind. nil when the
// object names no contact.
func contactOf(d map[string]any) map[string]any {
	id := text(d, "user_name", "username", "wxid", "user_id")
	if id == "" {
		return nil
	}
	c := map[string]any{"id": id}
	put(c, "name", text(d, "nick_name", "nickname", "name"))
	put(c, "remark", text(d, "remark"))
	put(c, "alias", text(d, "alias"))
	put(c, "avatar", text(d, "small_head_img_url", "big_head_img_url", "head_img_url", "avatar"))
	put(c, "signature", text(d, "signature"))
	put(c, "corp_name", text(d, "corp_name"))
	put(c, "province", text(d, "province"))
	put(c, "city", text(d, "city"))
	if sex, ok := number(d, "sex"); ok {
		c["sex"] = sex
	}
	if t, ok := number(d, "contact_type"); ok {
		c["kind"] = contactKinds[t]
	} else if isRoom(id) {
		c["kind"] = contactKinds[4]
	}
	if c["kind"] == "" {
		delete(c, "kind")
	}
	return c
}

// roomNotice fills the room events (1042–1048, 1204): the room's
// conversation, its name, the members concerned and who acted.
func roomNotice(_ *wework.Envelope, d map[string]any, ev *event.Event) {
	room := text(d, "room_id", "chatroom_id", "chat_room_id", "room_user_name", "room_wxid", "chatroom")
	if room == "" {
		if id := text(d, "user_name", "username"); isRoom(id) {
			room = id
		}
	}
	if room != "" {
		ev.Conversation = conversation(conversationGroup, room)
		ev.Data["room_id"] = ev.Conversation.ID
	}
	put(ev.Data, "room_name", text(d, "room_name", "chatroom_name", "nick_name", "name", "topic"))
	var members []any
	for _, key := range []string{"member_list", "members", "add_member_list", "del_member_list"} {
		list, _ := get(d, key).([]any)
		for _, e := range list {
			if p := partyOf(e); p != nil {
				members = append(members, p)
			}
		}
	}
	if members != nil {
		ev.Data["members"] = members
	}
	if op := text(d, "inviter", "operator", "op_user_name", "op_user_id"); op != "" {
		operator := map[string]any{"id": op}
		put(operator, "name", text(d, "inviter_name", "operator_name", "op_nick_name"))
		ev.Data["operator"] = operator
	}
	if n, ok := number(d, "member_count"); ok {
		ev.Data["member_count"] = n
	}
}

// partyOf reads a room member: a wxid, or an object with one and a name.
func partyOf(v any) map[string]any {
	if s := scalar(v); s != "" {
		return map[string]any{"id": s}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	id := text(m, "user_name", "username", "wxid", "member_wxid", "user_id")
	if id == "" {
		return nil
	}
	p := map[string]any{"id": id}
	put(p, "name", text(m, "display_name", "nick_name", "nickname", "name"))
	return p
}

// wxMessage is one WeChat message being normalized.
type wxMessage struct {
	env *wework.Envelope
	d   map[string]any
	// msgType is the WeChat message type.
	msgType int64
	// from and to are the vendor's from_user_name and to_user_name.
	from, to string
	// sender is who wrote the message: from, or in a room the wxid that
	// prefixes the content.
	sender string
	// content is the message content without the sender prefix.
	content string
	// xml is content parsed as XML; nil when it is not XML.
	xml *xmlNode
	// room is the room's id when the message is in one.
	room string
	self bool
}

// message fills the events of 1010 and 1011 from one WeChat message:
// a message, a friend request or a change of talker, by message type.
func message(env *wework.Envelope, d map[string]any, ev *event.Event) {
	m := &wxMessage{env: env, d: d}
	msgType, hasType := number(d, "msg_type", "type")
	m.msgType = msgType
	m.from = text(d, "from_user_name", "from_username", "from_user", "from")
	m.to = text(d, "to_user_name", "to_username", "to_user", "to")
	m.sender, m.content = m.from, text(d, "content")
	sentToRoom := false
	switch {
	case isRoom(m.from):
		m.room = m.from
		m.sender, m.content = splitSender(m.content)
	case isRoom(m.to):
		// Only the account itself writes from its own wxid into a room.
		m.room, sentToRoom = m.to, true
	}
	m.self = m.isSelf(sentToRoom)
	m.xml = parseXML(m.content)

	newID, msgID := text(d, "new_msg_id", "newmsgid"), text(d, "msg_id", "msgid")
	if newID != "" || msgID != "" {
		ev.ID = event.StableID(event.VendorWechat, env.GUID, strconv.FormatInt(env.NotifyType, 10), newID+"/"+msgID)
	}
	if hasType {
		ev.Data["msg_type"] = msgType
	}
	if newID != "" {
		put(ev.Data, "msg_id", msgID)
	}
	row, known := messageTypes[msgType]
	if !known || !hasType {
		row = messageType{typ: event.TypeMessage, kind: event.KindUnknown, fill: unknownMessage}
	}
	ev.Type = row.typ
	if row.typ == event.TypeMessage {
		ev.Message = &event.Message{ID: firstOf(newID, msgID), Kind: row.kind, To: m.to, Self: m.self}
		if m.sender != "" {
			ev.Message.From = &event.Party{ID: m.sender, Name: pushName(text(d, "push_content"))}
		}
		ev.Message.Mentions = m.mentions(ev)
		ev.Conversation = m.conversation()
		put(ev.Data, "push_content", text(d, "push_content"))
	}
	row.fill(m, ev)
}

// isSelf reports whether the account sent the message: as the vendor
// flags it (is_self), when the sender is the account's wxid where the
// callback names it (wxid, self_wxid), or when the account wrote into a
// room from its own wxid. Without any of those a private message counts as
// received.
func (m *wxMessage) isSelf(sentToRoom bool) bool {
	switch v := get(m.d, "is_self", "self", "is_sender").(type) {
	case bool:
		return v
	case json.Number, string:
		if n, ok := number(map[string]any{"v": v}, "v"); ok {
			return n == 1
		}
	}
	own := firstOf(text(m.env.Root, "wxid", "self_wxid"), text(m.d, "self_wxid"))
	if own != "" {
		return m.sender == own
	}
	return sentToRoom
}

// conversation is "R:" and the room for a message in a room; otherwise "S:"
// and the other party: the receiver of what the account sent, the sender
// of what it received.
func (m *wxMessage) conversation() *event.Conversation {
	if m.room != "" {
		return conversation(conversationGroup, m.room)
	}
	other := m.from
	if m.self {
		other = m.to
	}
	if other == "" {
		return nil
	}
	return conversation(conversationPrivate, other)
}

// mentions reads the wxids a message @s from msg_source's <atuserlist>;
// "@all" is data.mention_all instead.
func (m *wxMessage) mentions(ev *event.Event) []string {
	src := parseXML(text(m.d, "msg_source", "msgsource"))
	var out []string
	for id := range strings.SplitSeq(src.text("atuserlist"), ",") {
		switch id = strings.TrimSpace(id); id {
		case "":
		case mentionAll:
			ev.Data["mention_all"] = true
		default:
			out = append(out, id)
		}
	}
	return out
}

// describe is the short text of a non-text message: a tag and the parts
// that are not blank.
func describe(tag string, parts ...string) string {
	words := []string{tag}
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			words = append(words, p)
		}
	}
	return strings.Join(words, " ")
}

func textMessage(m *wxMessage, ev *event.Event) {
	ev.Message.Text = m.content
}

func unknownMessage(m *wxMessage, ev *event.Event) {
	ev.Message.Text = fmt.Sprintf("[message type %d]", m.msgType)
	put(ev.Data, "content", m.content)
}

// attrField copies the XML attribute (or child element) in into the field
// out, as a number when num is set and the value is one.
type attrField struct {
	out, in string
	num     bool
}

// fields reads the attrFields of an XML element into a map.
func fields(n *xmlNode, fs ...attrField) map[string]any {
	out := map[string]any{}
	for _, f := range fs {
		v := n.attrOrText(f.in)
		if v == "" {
			continue
		}
		if f.num {
			if i, err := strconv.ParseInt(v, 10, 64); err == nil {
				out[f.out] = i
				continue
			}
			// NaN and infinities have no JSON form: they stay strings.
			if x, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
				out[f.out] = x
				continue
			}
		}
		out[f.out] = v
	}
	return out
}

// sizeFile is the attachment of a media message whose size is the
// attribute key of n; nil when it has none.
func sizeFile(n *xmlNode, key string) *event.File {
	size, err := strconv.ParseInt(n.attrOrText(key), 10, 64)
	if err != nil || size <= 0 {
		return nil
	}
	return &event.File{Size: size}
}

// media fills a message whose content describes a file in the element
// of that name: the text is tag, the file's size is the element's sizeAttr
// (and its URL the field urlField of data[key], when set), and the fields
// fs of the element go to data[key], with what a download needs.
func media(element, tag, key, sizeAttr, urlField string, fs ...attrField) func(*wxMessage, *event.Event) {
	return func(m *wxMessage, ev *event.Event) {
		n := m.xml.find(element)
		ev.Message.Text = tag
		info := fields(n, fs...)
		ev.Data[key] = info
		f := sizeFile(n, sizeAttr)
		if u, _ := info[urlField].(string); u != "" {
			if f == nil {
				f = &event.File{}
			}
			f.URL = u
		}
		ev.Message.File = f
	}
}

// The media messages: <msg><img .../></msg>, <msg><voicemsg .../></msg>,
// <msg><videomsg .../></msg> and <msg><emoji .../></msg>. Voice lengths are
// in milliseconds, video lengths (playlength) in seconds.
var (
	imageMessage = media("img", "[image]", "image", "length", "",
		attrField{"md5", "md5", false}, attrField{"aes_key", "aeskey", false},
		attrField{"cdn_url", "cdnmidimgurl", false}, attrField{"hd_url", "cdnbigimgurl", false},
		attrField{"hd_size", "hdlength", true}, attrField{"thumb_url", "cdnthumburl", false},
		attrField{"thumb_width", "cdnthumbwidth", true}, attrField{"thumb_height", "cdnthumbheight", true})
	voiceMessage = media("voicemsg", "[voice]", "voice", "length", "",
		attrField{"duration_ms", "voicelength", true}, attrField{"aes_key", "aeskey", false},
		attrField{"url", "voiceurl", false}, attrField{"buf_id", "bufid", false},
		attrField{"format", "voiceformat", true})
	videoMessage = media("videomsg", "[video]", "video", "length", "",
		attrField{"duration", "playlength", true}, attrField{"md5", "md5", false},
		attrField{"aes_key", "aeskey", false}, attrField{"cdn_url", "cdnvideourl", false},
		attrField{"thumb_url", "cdnthumburl", false}, attrField{"thumb_aes_key", "cdnthumbaeskey", false})
	emojiMessage = media("emoji", "[emoticon]", "emoticon", "len", "url",
		attrField{"md5", "md5", false}, attrField{"url", "cdnurl", false},
		attrField{"width", "width", true}, attrField{"height", "height", true},
		attrField{"aes_key", "aeskey", false}, attrField{"product_id", "productid", false})
)

// locationMessage: <msg><location x(latitude) y(longitude) scale
// label(address) poiname .../></msg>.
func locationMessage(m *wxMessage, ev *event.Event) {
	l := m.xml.find("location")
	loc := fields(l,
		attrField{"latitude", "x", true}, attrField{"longitude", "y", true},
		attrField{"scale", "scale", true}, attrField{"address", "label", false},
		attrField{"title", "poiname", false}, attrField{"poi_id", "poiid", false})
	ev.Data["location"] = loc
	ev.Message.Text = describe("[location]", l.attr("poiname"), l.attr("label"))
}

// cardMessage: <msg username nickname alias bigheadimgurl province city
// sex .../>, a person card.
func cardMessage(m *wxMessage, ev *event.Event) {
	card := fields(m.xml,
		attrField{"user_id", "username", false}, attrField{"nickname", "nickname", false},
		attrField{"alias", "alias", false}, attrField{"avatar", "bigheadimgurl", false},
		attrField{"province", "province", false}, attrField{"city", "city", false},
		attrField{"sex", "sex", true})
	if card["avatar"] == nil {
		put(card, "avatar", m.xml.attr("smallheadimgurl"))
	}
	ev.Data["person_card"] = card
	ev.Message.Text = describe("[person card]", m.xml.attr("nickname"))
}

// systemMessage: a grey line in the chat, plain text or a <sysmsg>.
func systemMessage(m *wxMessage, ev *event.Event) {
	if !m.isSysmsg() {
		ev.Message.Text = m.content
		return
	}
	sysmsg(m, ev)
}

// revokeMessage: <sysmsg type="revokemsg"><revokemsg><session> <msgid>
// <newmsgid> <replacemsg>...; data.revoked names the revoked message. A
// <sysmsg> of another type (a pat...) is a system message.
func revokeMessage(m *wxMessage, ev *event.Event) {
	r := m.xml.find("revokemsg")
	switch {
	case r != nil && m.isSysmsg():
		ev.Message.Text = r.text("replacemsg")
		revoked := fields(r, attrField{"msg_id", "newmsgid", false}, attrField{"session", "session", false})
		if revoked["msg_id"] == nil {
			put(revoked, "msg_id", r.text("msgid"))
		}
		ev.Data["revoked"] = revoked
	case m.isSysmsg():
		ev.Message.Kind = event.KindSystem
		sysmsg(m, ev)
	default:
		ev.Message.Text = m.content
	}
}

// isSysmsg reports whether the content is a <sysmsg>.
func (m *wxMessage) isSysmsg() bool {
	return m.xml != nil && strings.EqualFold(m.xml.name, "sysmsg")
}

// sysmsg reads a <sysmsg type=...>: its type, and its text from the
// template WeChat shows.
func sysmsg(m *wxMessage, ev *event.Event) {
	put(ev.Data, "sysmsg_type", m.xml.attr("type"))
	ev.Message.Text = firstOf(m.xml.text("pat/template"), m.xml.text("sysmsgtemplate/content_template/template"), "[system message]")
}

// appMessage: <msg><appmsg><title> <des> <type> <url>...</appmsg></msg>;
// the type picks the row of appTypes.
func appMessage(m *wxMessage, ev *event.Event) {
	app := m.xml.find("appmsg")
	if app == nil && m.xml != nil && strings.EqualFold(m.xml.name, "appmsg") {
		app = m.xml
	}
	appType, err := strconv.ParseInt(app.text("type"), 10, 64)
	if err == nil {
		ev.Data["app_type"] = appType
	}
	row, ok := appTypes[appType]
	if err != nil || !ok {
		ev.Message.Kind = event.KindUnknown
		ev.Data["app"] = fields(app, attrField{"title", "title", false}, attrField{"desc", "des", false}, attrField{"url", "url", false})
		ev.Message.Text = describe("[app message]", app.text("title"))
		return
	}
	ev.Message.Kind = row.kind
	row.fill(m, app, ev)
}

func linkApp(_ *wxMessage, app *xmlNode, ev *event.Event) {
	ev.Data["link"] = fields(app,
		attrField{"title", "title", false}, attrField{"desc", "des", false},
		attrField{"url", "url", false}, attrField{"thumb_url", "thumburl", false},
		attrField{"source", "sourcedisplayname", false})
	ev.Message.Text = describe("[link]", app.text("title"))
}

func fileApp(_ *wxMessage, app *xmlNode, ev *event.Event) {
	attach := app.find("appattach")
	f := sizeFile(attach, "totallen")
	if f == nil {
		f = &event.File{}
	}
	f.Name = app.text("title")
	ev.Message.File = f
	ev.Data["file"] = fields(attach,
		attrField{"ext", "fileext", false}, attrField{"attach_id", "attachid", false},
		attrField{"cdn_url", "cdnattachurl", false}, attrField{"aes_key", "aeskey", false})
	put(ev.Data["file"].(map[string]any), "md5", app.text("md5"))
	ev.Message.Text = describe("[file]", f.Name)
}

func miniProgramApp(_ *wxMessage, app *xmlNode, ev *event.Event) {
	mp := fields(app.find("weappinfo"),
		attrField{"appid", "appid", false}, attrField{"username", "username", false},
		attrField{"page_path", "pagepath", false}, attrField{"icon_url", "weappiconurl", false})
	put(mp, "title", app.text("title"))
	put(mp, "source", app.text("sourcedisplayname"))
	ev.Data["mini_program"] = mp
	ev.Message.Text = describe("[mini program]", app.text("title"))
}

// videoNumApp: a Channels (视频号) card, <finderFeed>.
func videoNumApp(_ *wxMessage, app *xmlNode, ev *event.Event) {
	feed := app.find("finderFeed")
	card := fields(feed,
		attrField{"object_id", "objectId", false}, attrField{"object_nonce_id", "objectNonceId", false},
		attrField{"username", "username", false}, attrField{"nickname", "nickname", false},
		attrField{"avatar", "avatar", false}, attrField{"desc", "desc", false})
	media := feed.find("mediaList/media")
	put(card, "cover_url", firstOf(media.text("coverUrl"), media.text("thumbUrl")))
	put(card, "url", media.text("url"))
	ev.Data["video_num"] = card
	ev.Message.Text = describe("[video_num]", feed.text("nickname"), feed.text("desc"))
}

// quoteApp: a reply that quotes another message (<refermsg>). In a room
// <fromusr> is the room and <chatusr> the member who wrote the quoted
// message; in a private chat <fromusr> is its writer.
func quoteApp(_ *wxMessage, app *xmlNode, ev *event.Event) {
	ref := app.find("refermsg")
	ev.Message.Text = app.text("title")
	quote := fields(ref,
		attrField{"msg_type", "type", true}, attrField{"msg_id", "svrid", false},
		attrField{"name", "displayname", false}, attrField{"content", "content", false})
	put(quote, "from", firstOf(ref.text("chatusr"), ref.text("fromusr")))
	ev.Data["quote"] = quote
}

func redPacketApp(_ *wxMessage, app *xmlNode, ev *event.Event) {
	pay := app.find("wcpayinfo")
	title := firstOf(pay.text("sendertitle"), app.text("title"))
	rp := fields(pay, attrField{"scene_id", "sceneid", false}, attrField{"paymsg_id", "paymsgid", false})
	put(rp, "title", title)
	put(rp, "desc", app.text("des"))
	ev.Data["red_packet"] = rp
	ev.Message.Text = describe("[red packet]", title)
}

// friendRequest fills friend.request from a message of type 37:
// <msg fromusername encryptusername fromnickname content ticket scene .../>.
// encrypt_user_name (v3), ticket (v4) and scene are what accepting the
// request takes.
func friendRequest(m *wxMessage, ev *event.Event) {
	x := m.xml
	contact := fields(x,
		attrField{"id", "fromusername", false}, attrField{"name", "fromnickname", false},
		attrField{"alias", "alias", false}, attrField{"avatar", "bigheadimgurl", false},
		attrField{"sex", "sex", true}, attrField{"province", "province", false},
		attrField{"city", "city", false}, attrField{"signature", "sign", false})
	if contact["avatar"] == nil {
		put(contact, "avatar", x.attr("smallheadimgurl"))
	}
	if len(contact) > 0 {
		ev.Data["contact"] = contact
	}
	for k, v := range fields(x,
		attrField{"message", "content", false}, attrField{"encrypt_user_name", "encryptusername", false},
		attrField{"ticket", "ticket", false}, attrField{"scene", "scene", true},
		attrField{"room_id", "chatroomusername", false}) {
		ev.Data[k] = v
	}
	if x == nil {
		put(ev.Data, "message", m.content)
	}
}

// talkerChanged fills TypeTalkerChanged from a message of type 51:
// <msg><op id=...><username>wxid</username></op></msg>.
func talkerChanged(m *wxMessage, ev *event.Event) {
	op := m.xml.find("op")
	put(ev.Data, "talker", firstOf(op.text("username"), m.to))
	put(ev.Data, "op", op.attr("id"))
}

// splitSender splits a room message's content into the sender's wxid and
// the content proper ("wxid_abc:\nhello"). Content without that prefix
// has no sender.
func splitSender(content string) (sender, rest string) {
	id, rest, ok := strings.Cut(content, ":\n")
	if !ok || id == "" || strings.ContainsAny(id, " <\n") {
		return "", content
	}
	return id, rest
}

// pushName reads the sender's name from a push_content ("NAME : text");
// "" when it has no such form.
func pushName(push string) string {
	name, _, ok := strings.Cut(push, " : ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(name)
}

// isRoom reports whether a wxid is a room's (WeChat rooms end in
// @chatroom, WeCom rooms in @im.chatroom).
func isRoom(id string) bool {
	return strings.HasSuffix(id, roomSuffix) || strings.HasSuffix(id, openIMRoomSuffix)
}

// conversation builds a conversation from a bare id and the prefix it
// takes; an id that already carries "S:" or "R:" is kept.
func conversation(prefix, id string) *event.Conversation {
	if !strings.HasPrefix(id, conversationPrivate) && !strings.HasPrefix(id, conversationGroup) {
		id = prefix + id
	}
	return &event.Conversation{ID: id, Kind: event.ConversationKind(id)}
}

// conversationWith is the conversation with a contact: a room's or a
// person's.
func conversationWith(id string) *event.Conversation {
	if isRoom(id) {
		return conversation(conversationGroup, id)
	}
	return conversation(conversationPrivate, id)
}

// get returns the value of the first of names present and not null in m.
// A name matches a field spelt the same, else one equal to it once case
// and underscores are ignored (from_user_name, FromUserName,
// fromUserName). A string wrapped as {"str": ...} or {"string": ...} is
// unwrapped.
func get(m map[string]any, names ...string) any {
	for _, n := range names {
		if v, ok := m[n]; ok && v != nil {
			return unwrap(v)
		}
	}
	keys := slices.Sorted(maps.Keys(m))
	for _, n := range names {
		want := foldName(n)
		for _, k := range keys {
			if foldName(k) == want && m[k] != nil {
				return unwrap(m[k])
			}
		}
	}
	return nil
}

func foldName(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }

func unwrap(v any) any {
	if o, ok := v.(map[string]any); ok && len(o) == 1 {
		for k, inner := range o {
			if strings.EqualFold(k, "str") || strings.EqualFold(k, "string") {
				return inner
			}
		}
	}
	return v
}

// text reads the first of names as a string whatever its JSON type.
func text(m map[string]any, names ...string) string {
	return scalar(get(m, names...))
}

// number reads the first of names as an integer, sent as a number or as a
// numeric string.
func number(m map[string]any, names ...string) (int64, bool) {
	v := get(m, names...)
	if v == nil {
		return 0, false
	}
	return event.Int(map[string]any{"v": v}, "v")
}

func scalar(v any) string { return event.Str(map[string]any{"v": v}, "v") }

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// put sets a string field when the value is not empty.
func put(m map[string]any, key, val string) {
	if val != "" {
		m[key] = val
	}
}

// xmlNode is an element of a message's XML content. Methods on a nil
// *xmlNode return nothing, so that paths into content of an unexpected
// shape read as absent fields.
type xmlNode struct {
	name     string
	attrs    map[string]string
	children []*xmlNode
	chars    strings.Builder
}

// maxXMLDepth bounds the nesting parseXML builds.
const maxXMLDepth = 64

// parseXML parses the root element of s; nil when s is not XML. Content cut
// short keeps what was read before the cut.
func parseXML(s string) *xmlNode {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "<") {
		return nil
	}
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	var root *xmlNode
	var stack []*xmlNode
	for {
		tok, err := dec.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) && root == nil {
				return nil
			}
			return root
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxXMLDepth || (root != nil && len(stack) == 0) {
				return root
			}
			n := &xmlNode{name: t.Name.Local, attrs: make(map[string]string, len(t.Attr))}
			for _, a := range t.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].chars.Write(t)
			}
		}
	}
}

// find returns the element at a slash-separated path of child names
// (matched without regard to case) below n.
func (n *xmlNode) find(path string) *xmlNode {
	for name := range strings.SplitSeq(path, "/") {
		if n == nil {
			return nil
		}
		var next *xmlNode
		for _, c := range n.children {
			if strings.EqualFold(c.name, name) {
				next = c
				break
			}
		}
		n = next
	}
	return n
}

// text is the trimmed character data of the element at path below n.
func (n *xmlNode) text(path string) string {
	if e := n.find(path); e != nil {
		return strings.TrimSpace(e.chars.String())
	}
	return ""
}

// attr is an attribute of n, matched without regard to case.
func (n *xmlNode) attr(name string) string {
	if n == nil {
		return ""
	}
	if v, ok := n.attrs[name]; ok {
		return strings.TrimSpace(v)
	}
	for k, v := range n.attrs {
		if strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// attrOrText reads a field that WeChat writes as an attribute in some
// messages and as a child element in others.
func (n *xmlNode) attrOrText(name string) string {
	if v := n.attr(name); v != "" {
		return v
	}
	return n.text(name)
}
