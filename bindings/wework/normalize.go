package wework

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// A callback is one JSON object:
//
//	{"guid": "instance id", "notify_type": 11013, "data": {...} or [...]}
//
// The account of every event is the guid. notify_type picks a row of
// notifyTypes: the event type and the function that fills the type-specific
// fields. A notify type that is not in the table becomes one event of type
// event.TypeUnknown with the body kept in Raw: no callback is dropped.
//
// The message notify types (11010, 11013) carry one message object or a
// list of them. A list becomes one event per item, in order. Each of those
// events keeps in Raw the callback cut down to its own item,
// {"guid", "notify_type", "data": [item]} (other top-level fields kept), so
// that a large sync does not store the whole batch once per message; a list
// of one item keeps the body untouched.

// notifyType is one row of the mapping table.
type notifyType struct {
	// name is the vendor's name for the notify type.
	name string
	// typ is the event type.
	typ string
	// fill adds the type-specific fields from d, the data object (empty
	// when the vendor sent none), to an event whose common fields are set.
	// It may be nil: the event then has the common fields only.
	fill func(env *Envelope, d map[string]any, ev *event.Event)
	// messages marks the notify types whose data is a message or a list of
	// messages: a list becomes one event per item.
	messages bool
}

// notifyTypes maps every notify type the vendor documents. 11002, 11003,
// 11004, 11010 and 11013 are the login and message callbacks; 2131 and 1001
// are the contact and room notices. 11001 and 11005–11009 follow the
// numbering of the WeChat protocol API's 1001 and 1005–1009 (ready, init
// finished, heartbeat error, session timeout, login failed, contacts
// synced), one digit longer, as 11002–11004 and 11010 follow its 1002–1004
// and 1010.
var notifyTypes = map[int64]notifyType{
	11001: {name: "Ready", typ: event.TypeSystemReady},
	11002: {name: "LoginQRCodeChange", typ: event.TypeLoginQRCode, fill: qrcodeChange},
	11003: {name: "UserLogin", typ: event.TypeLogin, fill: userLogin},
	11004: {name: "UserLogout", typ: event.TypeLogout, fill: logout(LogoutLogout)},
	11005: {name: "InitFinish", typ: event.TypeSystemInitFinished},
	11006: {name: "HeartBeatError", typ: event.TypeLogout, fill: logout(LogoutHeartbeatError)},
	11007: {name: "SessionTimeout", typ: event.TypeLogout, fill: logout(LogoutSessionTimeout)},
	11008: {name: "LoginFailed", typ: event.TypeLoginQRCode, fill: loginFailed},
	11009: {name: "ContactSyncFinish", typ: event.TypeSystemContactsSync},
	11010: {name: "NewMsg", typ: event.TypeMessage, fill: message, messages: true},
	11013: {name: "BatchNewMsg", typ: event.TypeMessage, fill: message, messages: true},
	2131:  {name: "FriendChange", typ: event.TypeContactChanged, fill: friendChange},
	1001:  {name: "RoomNameChange", typ: event.TypeRoomRenamed, fill: roomRenamed},
}

// NotifyTypes returns the notify types Normalize maps, sorted. Any other
// notify type becomes an event of type "unknown".
func NotifyTypes() []int64 {
	return slices.Sorted(maps.Keys(notifyTypes))
}

// NotifyTypeName returns the vendor's name of a mapped notify type
// ("BatchNewMsg" for 11013), "" for one Normalize does not map.
func NotifyTypeName(notifyType int64) string {
	return notifyTypes[notifyType].name
}

// Reasons of logout events (data.reason).
const (
	// LogoutLogout: the account logged out (11004).
	LogoutLogout = "logout"
	// LogoutHeartbeatError: the instance lost its connection (11006).
	LogoutHeartbeatError = "heartbeat_error"
	// LogoutSessionTimeout: the session expired (11007).
	LogoutSessionTimeout = "session_timeout"
)

// qrcodeStates maps the QR code status of 11002 onto the login.qrcode
// states:
//
//	0 未扫码          waiting       3 登录失败      failed
//	1 已扫码，等待确认  scanned       4 登录被拒绝     refused
//	2 登录成功         confirmed    10 需要验证码     need_verify
//
// The vendor has no status for an expired QR code: it pushes a new one.
var qrcodeStates = map[int64]string{
	0: "waiting", 1: "scanned", 2: "confirmed", 3: "failed", 4: "refused", 10: "need_verify",
}

// QRCodeState returns the login.qrcode state (data.state) of a QR code
// status, "unknown" for a status outside the vendor's list.
func QRCodeState(status int64) string {
	if s, ok := qrcodeStates[status]; ok {
		return s
	}
	return "unknown"
}

// VerifyPath is the endpoint that takes the verification code of a login
// whose QR code state is need_verify: POST {"guid": ..., "code": ...}.
const VerifyPath = "/login/verify_login_qrcode"

// Message type (msg_type) and content type (content_type) codes the vendor
// documents.
const (
	msgTypeText         = 2
	msgTypeSystem       = 1012
	contentTypeText     = 2
	contentTypeSystem   = 2001
	sendFlagSentByMe    = 1
	privateRoomID       = "0"
	conversationPrivate = "S:"
	conversationGroup   = "R:"
)

// messageKind returns message.kind for a message's msg_type and
// content_type; has* say whether the message carried the field. A message
// is a system message when either code says so (msg_type 1012, content_type
// 2001); otherwise content_type decides (2 is text) and, when there is none,
// msg_type does (2 is text). Any other combination is "unknown": the codes
// stay in data.msg_type and data.content_type.
func messageKind(msgType int64, hasMsgType bool, contentType int64, hasContentType bool) string {
	switch {
	case hasMsgType && msgType == msgTypeSystem, hasContentType && contentType == contentTypeSystem:
		return event.KindSystem
	case hasContentType:
		if contentType == contentTypeText {
			return event.KindText
		}
		return event.KindUnknown
	case hasMsgType && msgType == msgTypeText:
		return event.KindText
	}
	return event.KindUnknown
}

// Normalize turns one callback body into its events. It implements
// event.Normalizer: a pure function, safe for concurrent use. A body that
// is not a JSON object is an error wrapping event.ErrMalformed; anything
// else (unknown notify types, missing fields, numbers sent as strings,
// fields of unexpected types) yields at least one event with Raw set.
//
// Event ids: a message is keyed by guid, notify type, and the message's id
// and seq, so a re-delivery gets the same id and the same message pushed
// under another notify type a different one. Every other event, and a
// message without ids, is keyed by a hash of its Raw.
func Normalize(body []byte) ([]*event.Event, error) {
	env, err := DecodeEnvelope(body)
	if err != nil {
		return nil, fmt.Errorf("wework callback: %w", err)
	}
	row, known := notifyTypes[env.NotifyType]
	known = known && env.Numeric
	var fill func(map[string]any, *event.Event)
	if known {
		fill = func(d map[string]any, ev *event.Event) {
			ev.Type = row.typ
			if row.fill != nil {
				row.fill(env, d, ev)
			}
			if ev.Message == nil {
				return
			}
			if id, seq := str(d, "id"), str(d, "seq"); id != "" || seq != "" {
				ev.ID = event.StableID(event.VendorWework, env.GUID, strconv.FormatInt(env.NotifyType, 10), id+"/"+seq)
			}
		}
	}
	evs, err := env.Events(event.VendorWework, known && row.messages, fill)
	if err != nil {
		return nil, fmt.Errorf("wework callback: %w", err)
	}
	return evs, nil
}

// Envelope is one decoded callback of the vendor's guid based protocol
// APIs: {"guid", "notify_type", "data"}. The vendor's WeChat API pushes
// callbacks in the same envelope, and package wechat reads them with it.
// An Envelope is not modified after DecodeEnvelope returns it and may be
// read from any number of goroutines.
type Envelope struct {
	// Body is the callback as received.
	Body []byte
	// Root is the decoded body, with numbers as json.Number.
	Root map[string]any
	// GUID is the instance: the account of every event of the callback.
	GUID string
	// NotifyType is notify_type, when Numeric.
	NotifyType int64
	// Numeric says notify_type is a number or a numeric string.
	Numeric bool
	// NotifyText is notify_type as sent, whatever its type.
	NotifyText string
}

// DecodeEnvelope decodes a callback body. It fails, with an error wrapping
// event.ErrMalformed, only when the body is not a JSON object.
func DecodeEnvelope(body []byte) (*Envelope, error) {
	root, err := event.DecodeObject(body)
	if err != nil {
		return nil, err
	}
	env := &Envelope{Body: body, Root: root, GUID: event.Str(root, "guid"), NotifyText: event.Str(root, "notify_type")}
	env.NotifyType, env.Numeric = event.Int(root, "notify_type")
	return env, nil
}

// Events makes the events of the callback for vendor: one per item of
// Items(each), each started by Event. fill maps an item: it gets the
// item's data object and the event to complete. When each is set (data
// holds messages) an item that is not an object is left unmapped, of type
// unknown; otherwise a callback without a data object is filled from an
// empty one. A nil fill leaves every event unmapped. The error, which
// wraps event.ErrMalformed, comes from Items.
func (e *Envelope) Events(vendor string, each bool, fill func(d map[string]any, ev *event.Event)) ([]*event.Event, error) {
	items, err := e.Items(each)
	if err != nil {
		return nil, err
	}
	evs := make([]*event.Event, len(items))
	for i, it := range items {
		evs[i] = e.Event(vendor, it.Raw)
		switch {
		case fill == nil, each && it.Data == nil:
		case it.Data == nil:
			fill(map[string]any{}, evs[i])
		default:
			fill(it.Data, evs[i])
		}
	}
	return evs, nil
}

// Item is one data object of a callback and the Raw of its event.
type Item struct {
	// Data is the object; nil when the vendor sent something else.
	Data map[string]any
	// Raw is what the event keeps in Raw.
	Raw []byte
}

// Items returns what the callback's data holds. With each set and data a
// list of n > 0 elements, there are n items, in order: each element, and
// the callback cut down to it, {..., "data": [element]} with every other
// top-level field kept (a list of one keeps the body untouched). Otherwise
// there is one item: data when it is an object, and the body.
func (e *Envelope) Items(each bool) ([]Item, error) {
	list, isList := e.Root["data"].([]any)
	if !each || !isList || len(list) == 0 {
		d, _ := e.Root["data"].(map[string]any)
		return []Item{{Data: d, Raw: e.Body}}, nil
	}
	items := make([]Item, len(list))
	for i, v := range list {
		items[i].Data, _ = v.(map[string]any)
	}
	if len(list) == 1 {
		items[0].Raw = e.Body
		return items, nil
	}
	var fields map[string]json.RawMessage
	var elems []json.RawMessage
	if err := json.Unmarshal(e.Body, &fields); err != nil {
		return nil, fmt.Errorf("%w: %v", event.ErrMalformed, err)
	}
	if err := json.Unmarshal(fields["data"], &elems); err != nil || len(elems) != len(list) {
		return nil, fmt.Errorf("%w: the data list does not decode alike twice", event.ErrMalformed)
	}
	for i, elem := range elems {
		fields["data"] = json.RawMessage("[" + string(elem) + "]")
		b, err := json.Marshal(fields)
		if err != nil {
			return nil, fmt.Errorf("%w: data item %d: %v", event.ErrMalformed, i, err)
		}
		items[i].Raw = b
	}
	return items, nil
}

// Event returns a new event of the callback for vendor, with raw as its
// Raw and an id hashed from raw, the guid as account, data.notify_type as
// sent (a number when it is one) and type event.TypeUnknown.
func (e *Envelope) Event(vendor string, raw []byte) *event.Event {
	ev := &event.Event{
		ID:      event.HashID(vendor, raw),
		Type:    event.TypeUnknown,
		Vendor:  vendor,
		Account: e.GUID,
		Data:    map[string]any{},
		Raw:     json.RawMessage(raw),
	}
	switch {
	case e.Numeric:
		ev.Data["notify_type"] = e.NotifyType
	case e.NotifyText != "":
		ev.Data["notify_type"] = e.NotifyText
	}
	return ev
}

// message fills a message of 11010 or 11013. The field names are those of
// the callbacks (msg_type, content_type, sender_name). The message records
// of the send endpoints (msg_data) spell them messagetype, contenttype and
// sendername, with the name and the content base64 encoded; those are
// accepted and decoded too.
func message(_ *Envelope, d map[string]any, ev *event.Event) {
	msgType, hasMsgType := num(d, "msg_type", "messagetype")
	contentType, hasContentType := num(d, "content_type", "contenttype")
	_, record := d["contenttype"]
	m := &event.Message{
		ID:   str(d, "id"),
		Kind: messageKind(msgType, hasMsgType, contentType, hasContentType),
	}
	if to := str(d, "receiver"); to != privateRoomID {
		m.To = to
	}
	if flag, ok := num(d, "send_flag"); ok {
		m.Self = flag == sendFlagSentByMe
		ev.Data["send_flag"] = flag
	}
	if sender := str(d, "sender"); sender != "" {
		name := str(d, "sender_name")
		if name == "" {
			name = decodedName(str(d, "sendername"))
		}
		m.From = &event.Party{ID: sender, Name: name}
	}
	content := str(d, "content")
	if record && m.Kind == event.KindText {
		content = recordText(content)
	}
	switch m.Kind {
	case event.KindText, event.KindSystem:
		m.Text = content
	default:
		// Content other than text may be encoded: it is kept as it came.
		m.Text = describeCodes(msgType, hasMsgType, contentType, hasContentType)
		put(ev.Data, "content", content)
	}
	for _, id := range event.Strs(d, "at_list") {
		if id == "0" {
			ev.Data["mention_all"] = true
			continue
		}
		m.Mentions = append(m.Mentions, id)
	}
	ev.Message = m
	ev.Conversation = messageConversation(d, m)
	if t, ok := num(d, "sendtime", "send_time"); ok && t > 0 {
		ev.Time = event.Millis(t)
	}
	if hasMsgType {
		ev.Data["msg_type"] = msgType
	}
	if hasContentType {
		ev.Data["content_type"] = contentType
	}
	put(ev.Data, "seq", str(d, "seq"))
	put(ev.Data, "appinfo", str(d, "appinfo"))
	if ref := str(d, "referid"); ref != "0" {
		put(ev.Data, "refer_id", ref)
	}
	if q := str(d, "quote_content"); q != "" {
		quote := map[string]any{"content": q}
		put(quote, "appinfo", str(d, "quote_appinfo"))
		ev.Data["quote"] = quote
	}
}

// describeCodes is the text of a message of a kind Normalize does not
// know: the codes that say what it is.
func describeCodes(msgType int64, hasMsgType bool, contentType int64, hasContentType bool) string {
	switch {
	case hasContentType:
		return fmt.Sprintf("[content_type %d]", contentType)
	case hasMsgType:
		return fmt.Sprintf("[msg_type %d]", msgType)
	}
	return "[message]"
}

// messageConversation is the conversation of a message: "R:" and the roomid
// in a room; in a private chat (roomid "0" or absent) "S:" and the other
// party, the receiver of a message the account sent and the sender of one
// it received. These are the ids the send endpoints take.
func messageConversation(d map[string]any, m *event.Message) *event.Conversation {
	if room := str(d, "roomid", "room_id"); room != "" && room != privateRoomID {
		return conversation(conversationGroup, room)
	}
	other := ""
	if m.From != nil {
		other = m.From.ID
	}
	if m.Self {
		other = m.To
	}
	if other == "" {
		return nil
	}
	return conversation(conversationPrivate, other)
}

// conversation builds a conversation from a bare id and the prefix it
// takes; an id that already carries "S:" or "R:" is kept as it is.
func conversation(prefix, id string) *event.Conversation {
	if !strings.HasPrefix(id, conversationPrivate) && !strings.HasPrefix(id, conversationGroup) {
		id = prefix + id
	}
	return &event.Conversation{ID: id, Kind: event.ConversationKind(id)}
}

// qrcodeChange fills login.qrcode from 11002: data.status is the vendor's
// code and data.state its meaning; a callback without a status announces a
// new QR code, waiting to be scanned. When the state is need_verify,
// data.verify says how to finish the login: the endpoint that takes the
// code the user reads on the phone, and the fields it needs.
func qrcodeChange(env *Envelope, d map[string]any, ev *event.Event) {
	state := "waiting"
	if status, ok := num(d, "status"); ok {
		ev.Data["status"] = status
		state = QRCodeState(status)
	}
	ev.Data["state"] = state
	put(ev.Data, "qrcode", str(d, "qrcode_content", "qrcode", "qrcode_url"))
	key := str(d, "qrcode_key", "key")
	put(ev.Data, "qrcode_key", key)
	put(ev.Data, "nickname", str(d, "nickname", "nick_name"))
	if state == "need_verify" {
		verify := map[string]any{"path": VerifyPath, "guid": env.GUID}
		put(verify, "qrcode_key", key)
		ev.Data["verify"] = verify
	}
}

// loginFailed fills login.qrcode from 11008: the login ended in failure.
func loginFailed(_ *Envelope, d map[string]any, ev *event.Event) {
	ev.Data["state"] = "failed"
	vendorReason(d, ev)
}

// loginFields are the account fields of 11003 copied to the login event:
// the event's name for each, and the vendor's spellings of it.
var loginFields = []struct {
	key   string
	names []string
}{
	{"user_id", []string{"user_id", "userid", "vid"}},
	{"name", []string{"nickname", "nick_name", "name", "username", "real_name"}},
	{"acctid", []string{"acctid"}},
	{"corp_id", []string{"corp_id", "corpid"}},
	{"corp_name", []string{"corp_name", "corp_full_name"}},
	{"avatar", []string{"avatar", "head_img_url"}},
	{"mobile", []string{"mobile"}},
	{"email", []string{"email"}},
	{"position", []string{"position", "job_name"}},
}

// userLogin fills login from 11003: the account that logged in.
func userLogin(_ *Envelope, d map[string]any, ev *event.Event) {
	for _, f := range loginFields {
		if v := str(d, f.names...); v != "0" {
			put(ev.Data, f.key, v)
		}
	}
	if sex, ok := num(d, "sex", "gender"); ok {
		ev.Data["sex"] = sex
	}
}

// logout fills a logout event with its reason and the vendor's own code and
// message, when it gives them.
func logout(reason string) func(*Envelope, map[string]any, *event.Event) {
	return func(_ *Envelope, d map[string]any, ev *event.Event) {
		ev.Data["reason"] = reason
		vendorReason(d, ev)
	}
}

func vendorReason(d map[string]any, ev *event.Event) {
	if code, ok := num(d, "error_code", "err_code", "code"); ok {
		ev.Data["vendor_code"] = code
	}
	put(ev.Data, "vendor_message", str(d, "error_message", "err_msg", "message", "msg", "reason"))
}

// friendChange fills contact.changed from 2131. The notice says that the
// contact list changed since data.seq (sync the contacts from there); when
// it names the contact, data.contact has its id and name.
func friendChange(_ *Envelope, d map[string]any, ev *event.Event) {
	put(ev.Data, "seq", str(d, "seq"))
	id := str(d, "user_id", "userid", "vid")
	if id == "" {
		return
	}
	contact := map[string]any{"id": id}
	put(contact, "name", str(d, "nickname", "name", "username", "remark"))
	ev.Data["contact"] = contact
}

// roomRenamed fills room.renamed from 1001: the room's conversation, its
// new name and who renamed it.
func roomRenamed(_ *Envelope, d map[string]any, ev *event.Event) {
	if room := str(d, "roomid", "room_id"); room != "" && room != privateRoomID {
		ev.Conversation = conversation(conversationGroup, room)
		ev.Data["room_id"] = ev.Conversation.ID
	}
	put(ev.Data, "room_name", str(d, "room_name", "roomname", "name", "new_name"))
	if op := str(d, "op_user_id", "operator", "sender"); op != "" {
		operator := map[string]any{"id": op}
		put(operator, "name", str(d, "op_user_name", "operator_name", "sender_name"))
		ev.Data["operator"] = operator
	}
}

// decodedName decodes a base64 sendername; a name that is not base64 of
// UTF-8 text is kept as it is.
func decodedName(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || !isText(b) {
		return s
	}
	return string(b)
}

// recordText decodes the content of a text message record: base64 of a
// protobuf message whose first text field is the text. Content that is not
// of that form is kept as it is.
func recordText(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return s
	}
	if text, ok := protobufText(b, 0); ok {
		return text
	}
	return s
}

// maxProtobufDepth bounds the nesting protobufText walks into.
const maxProtobufDepth = 8

// protobufText returns the first length-delimited field, depth first, of
// the protobuf message b that is text; ok is false when b is not a
// well-formed message up to that field or holds no text.
func protobufText(b []byte, depth int) (string, bool) {
	if depth > maxProtobufDepth {
		return "", false
	}
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 || key>>3 == 0 {
			return "", false
		}
		b = b[n:]
		switch key & 7 {
		case 0: // varint
			if _, n = binary.Uvarint(b); n <= 0 {
				return "", false
			}
			b = b[n:]
		case 1: // 64-bit
			if len(b) < 8 {
				return "", false
			}
			b = b[8:]
		case 5: // 32-bit
			if len(b) < 4 {
				return "", false
			}
			b = b[4:]
		case 2: // length-delimited: text, or a nested message
			size, n := binary.Uvarint(b)
			if n <= 0 || size > uint64(len(b)-n) {
				return "", false
			}
			field := b[n : n+int(size)]
			b = b[n+int(size):]
			if isText(field) {
				return string(field), true
			}
			if text, ok := protobufText(field, depth+1); ok {
				return text, true
			}
		default:
			return "", false
		}
	}
	return "", false
}

// isText reports whether b is non-empty UTF-8 without control characters
// other than line breaks and tabs.
func isText(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

// str reads the first of keys that holds a non-empty value, as a string
// whatever its JSON type.
func str(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s := event.Str(m, k); s != "" {
			return s
		}
	}
	return ""
}

// num reads the first of keys that holds an integer, sent as a number or
// as a numeric string.
func num(m map[string]any, keys ...string) (int64, bool) {
	for _, k := range keys {
		if n, ok := event.Int(m, k); ok {
			return n, true
		}
	}
	return 0, false
}

// put sets a string field when the value is not empty.
func put(m map[string]any, key, val string) {
	if val != "" {
		m[key] = val
	}
}
