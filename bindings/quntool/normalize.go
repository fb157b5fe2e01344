package quntool

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// A Quntool callback is one JSON object:
//
//	{"msgId": "callback id", "source": "container hostname", "userId": "Quntool account",
//	 "wxid": "WeCom account", "timestamp": 1686708147954, "type": "text_msg",
//	 "data": {...}, "sendMsgId": "msgId of the openAPI send, or null"}
//
// Every callback becomes exactly one event. The event type, the message kind
// and the type-specific fields come from callbackTypes; a type not in the
// table becomes event.TypeUnknown with its body kept in Raw.

// handler maps one Quntool callback type.
type handler struct {
	// typ is the event type.
	typ string
	// kind is the message kind; set exactly when typ is event.TypeMessage.
	kind string
	// fill adds the type-specific fields to an event whose common fields
	// (and, for messages, the common message fields) are already set. It may
	// refine ev.Type (a member removal that removes the account itself is
	// room.removed_me).
	fill func(c *callback, ev *event.Event)
	// foreignCorp marks payloads whose corp_id belongs to someone other
	// than the account (a person card's), so it is not copied to data.corp_id.
	foreignCorp bool
}

// callbackTypes is the mapping of every callback type Quntool documents. The
// "received" and "sent" variants of a message type share one row: the sent
// variant is recognised by its sender being the account itself.
var callbackTypes = map[string]handler{
	// Login and session.
	"qrcode_status_msg": {typ: event.TypeLoginQRCode, fill: qrcodeStatus},
	"safe_validate":     {typ: event.TypeLoginVerify, fill: safeValidate},
	"user_login":        {typ: event.TypeLogin, fill: userLogin},
	"user_offline":      {typ: event.TypeLogout, fill: userOffline},

	// Messages.
	"text_msg":         {typ: event.TypeMessage, kind: event.KindText, fill: textMessage},
	"image_msg":        {typ: event.TypeMessage, kind: event.KindImage, fill: mediaMessage("[image]", "imgWidth", "imgHeight")},
	"video_msg":        {typ: event.TypeMessage, kind: event.KindVideo, fill: mediaMessage("[video]", "videoWidth", "videoHeight")},
	"voice_msg":        {typ: event.TypeMessage, kind: event.KindVoice, fill: mediaMessage("[voice]", "", "")},
	"file_msg":         {typ: event.TypeMessage, kind: event.KindFile, fill: fileMessage},
	"location_msg":     {typ: event.TypeMessage, kind: event.KindLocation, fill: cardMessage("location", "[location]", locationFields, "title", "address")},
	"link_card_msg":    {typ: event.TypeMessage, kind: event.KindLink, fill: cardMessage("link", "[link]", linkFields, "title")},
	"emoticon_msg":     {typ: event.TypeMessage, kind: event.KindEmoticon, fill: emoticonMessage},
	"red_packet_msg":   {typ: event.TypeMessage, kind: event.KindRedPacket, fill: cardMessage("red_packet", "[red packet]", redPacketFields, "desc")},
	"person_card_msg":  {typ: event.TypeMessage, kind: event.KindPersonCard, fill: personCardMessage, foreignCorp: true},
	"mini_program_msg": {typ: event.TypeMessage, kind: event.KindMiniProgram, fill: cardMessage("mini_program", "[mini program]", miniProgramFields, "title")},
	"video_num_msg":    {typ: event.TypeMessage, kind: event.KindVideoNum, fill: cardMessage("video_num", "[video_num]", videoNumFields, "nickname", "desc")},
	// Grey system lines in a chat ("X has contact verification on...").
	"chat_gray_msg": {typ: event.TypeMessage, kind: event.KindSystem, fill: grayMessage},

	// Contacts and rooms.
	"notify_type_contact_add":      {typ: event.TypeContactAdded, fill: contactAdded},
	"notify_type_room_create":      {typ: event.TypeRoomCreated, fill: roomMembers},
	"notify_type_room_add_member":  {typ: event.TypeRoomMemberAdded, fill: roomMembers},
	"notify_type_room_del_member":  {typ: event.TypeRoomMemberRemoved, fill: roomMembers},
	"notify_type_room_member_quit": {typ: event.TypeRoomMemberQuit, fill: roomMemberQuit},
	"room_name_changed":            {typ: event.TypeRoomRenamed, fill: roomRenamed},

	// Mass messages waiting for the account's confirmation.
	"batch_msg_confirm": {typ: event.TypeBatchConfirm, fill: batchConfirm},
}

// CallbackTypes returns the Quntool callback type strings Normalize maps,
// sorted. Anything else becomes an event of type "unknown".
func CallbackTypes() []string {
	out := make([]string, 0, len(callbackTypes))
	for t := range callbackTypes {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// QR code login states (data.state of login.qrcode events).
const (
	QRWaiting    = "waiting"
	QRScanned    = "scanned"
	QRConfirmed  = "confirmed"
	QRFailed     = "failed"
	QRRefused    = "refused"
	QRNeedVerify = "need_verify"
	// QRUnknown is the state of a status code outside the vendor's enum;
	// data.status still carries the code.
	QRUnknown = "unknown"
)

// qrcodeStates maps Quntool's QrcodeStatus enum onto the event's states:
//
//	0 QRCODE_LOGIN_NEVER      waiting      6 QRCODE_LOGIN_SUCC_WX    confirmed
//	1 QRCODE_LOGIN_ING        scanned      7 QRCODE_LOGIN_FAIL_WX    failed
//	2 QRCODE_LOGIN_SUCC       confirmed    8 QRCODE_LOGIN_REFUSE_WX  refused
//	3 QRCODE_LOGIN_FAIL       failed       9 QRCODE_WX_AUTH_OK       confirmed
//	4 QRCODE_LOGIN_REFUSE     refused     10 QRCODE_REQUIRE_VERIFY   need_verify
//	5 QRCODE_LOGIN_ING_WX     scanned
//
// The enum has no code for an expired QR code, so Quntool events never carry
// the state "expired"; a QR code is valid for data.keep_sec seconds.
var qrcodeStates = map[int64]string{
	0: QRWaiting, 1: QRScanned, 2: QRConfirmed, 3: QRFailed, 4: QRRefused,
	5: QRScanned, 6: QRConfirmed, 7: QRFailed, 8: QRRefused, 9: QRConfirmed,
	10: QRNeedVerify,
}

// QRCodeState returns the login.qrcode state for a Quntool QrcodeStatus
// code, QRUnknown for a code outside the enum.
func QRCodeState(status int64) string {
	if s, ok := qrcodeStates[status]; ok {
		return s
	}
	return QRUnknown
}

// callback is one decoded callback.
type callback struct {
	root    map[string]any
	data    map[string]any // the "data" object; empty when null or not an object
	typ     string
	account string
}

// Normalize turns one Quntool callback body into its event. It implements
// event.Normalizer: a pure function, safe for concurrent use. A body that
// is not a JSON object is an error wrapping event.ErrMalformed; anything
// else, including unknown types, missing fields and fields of unexpected
// types, yields an event with Raw set to the body untouched.
func Normalize(body []byte) ([]*event.Event, error) {
	root, err := event.DecodeObject(body)
	if err != nil {
		return nil, fmt.Errorf("quntool callback: %w", err)
	}
	c := &callback{root: root, data: event.Obj(root, "data"), typ: str(root, "type")}
	if c.data == nil {
		c.data = map[string]any{}
	}
	c.account = firstNonEmpty(str(root, "wxid"), str(c.data, "vid"), str(root, "source"))

	h, known := callbackTypes[c.typ]
	ev := &event.Event{
		Type:    event.TypeUnknown,
		Vendor:  Name,
		Account: c.account,
		Time:    c.time(),
		Data:    c.commonData(),
		Raw:     json.RawMessage(body),
	}
	if known {
		ev.Type = h.typ
		if !h.foreignCorp {
			if corp := firstCorp(c.data, "corp_id", "corpid"); corp != "" {
				ev.Data["corp_id"] = corp
			}
		}
		if h.typ == event.TypeMessage {
			c.message(ev, h.kind)
		}
		h.fill(c, ev)
	} else {
		ev.Data["vendor_type"] = c.typ
		if id := firstNonEmpty(str(c.data, "conversation_id"), str(c.data, "room_conversation_id")); id != "" {
			ev.Conversation = conversation(id)
		}
	}
	ev.ID = c.id(body)
	return []*event.Event{ev}, nil
}

// id builds the dedupe key from the vendor's own ids: the callback's msgId
// and the message's server_id, qualified by account and callback type (the
// vendor reuses one msgId across callbacks of different types). Without
// either vendor id the key is a hash of the body.
func (c *callback) id(body []byte) string {
	msgID, serverID := str(c.root, "msgId"), str(c.data, "server_id")
	if msgID == "" && serverID == "" {
		return event.HashID(Name, body)
	}
	return event.StableID(Name, c.account, c.typ, msgID, serverID)
}

// time is the vendor's time of the event in ms: the message's send_time
// (seconds, as a string or a number) when there is one, else the callback's
// timestamp (ms).
func (c *callback) time() int64 {
	if t, ok := event.Int(c.data, "send_time"); ok && t > 0 {
		return event.Millis(t)
	}
	if t, ok := event.Int(c.root, "timestamp"); ok && t > 0 {
		return event.Millis(t)
	}
	return 0
}

// commonData holds the envelope fields every event carries: the callback id,
// the container (the hostname parameter of the container.* endpoints), the
// Quntool account and, for openAPI sends, the msgId the send answered.
func (c *callback) commonData() map[string]any {
	d := map[string]any{}
	put(d, "callback_id", str(c.root, "msgId"))
	put(d, "hostname", str(c.root, "source"))
	put(d, "quntool_user_id", str(c.root, "userId"))
	put(d, "send_msg_id", str(c.root, "sendMsgId"))
	return d
}

// message fills what every message callback shares: conversation, sender,
// receiver, mentions and, on the sent variant, the outcome of the send.
func (c *callback) message(ev *event.Event, kind string) {
	d := c.data
	if id := str(d, "conversation_id"); id != "" {
		ev.Conversation = conversation(id)
	}
	m := &event.Message{ID: str(d, "server_id"), Kind: kind, To: str(d, "receiver")}
	sender := str(d, "sender")
	if sender != "" {
		m.From = &event.Party{ID: sender, Name: str(d, "sender_name")}
	}
	if sender != "" {
		m.Self = sender == c.account
	} else {
		_, hasSendUser := d["sendUserId"]
		m.Self = hasSendUser
	}
	if ids := mentions(d["at_list"]); len(ids) > 0 {
		m.Mentions = ids
	}
	ev.Message = m

	putNum(ev.Data, "content_type", d["content_type"])
	putNum(ev.Data, "is_pc", d["is_pc"])
	if v, ok := d["error_code"]; ok {
		putNum(ev.Data, "error_code", v)
		put(ev.Data, "error_message", str(d, "error_message"))
	}
	put(ev.Data, "send_user_id", str(d, "sendUserId"))
	put(ev.Data, "send_user_name", str(d, "sendUserName"))
	if b, ok := d["isOpenApi"].(bool); ok {
		ev.Data["open_api"] = b
	}
}

func textMessage(c *callback, ev *event.Event) {
	ev.Message.Text = str(c.data, "content")
}

// mediaMessage fills an image, video or voice message: a file on the
// Quntool host, described by tag, with the dimensions read from the named
// fields (the original's, before the thumbnail's) and the duration.
func mediaMessage(tag, widthKey, heightKey string) func(c *callback, ev *event.Event) {
	return func(c *callback, ev *event.Event) {
		ev.Message.Text = tag
		ev.Message.File = c.file()
		putNum(ev.Data, "duration", c.data["duration"])
		if widthKey != "" {
			putNum(ev.Data, "width", firstPresent(c.data, widthKey, "width"))
			putNum(ev.Data, "height", firstPresent(c.data, heightKey, "height"))
		}
	}
}

func fileMessage(c *callback, ev *event.Event) {
	ev.Message.File = c.file()
	ev.Message.Text = describe("[file]", fileName(ev.Message.File))
}

func emoticonMessage(c *callback, ev *event.Event) {
	d := c.data
	emo := pick(d, "url", "name", "width", "height")
	put(emo, "md5", str(event.Obj(d, "cdn"), "md5"))
	ev.Data["emoticon"] = emo
	if u := str(d, "url"); u != "" {
		ev.Message.File = &event.File{URL: u}
	}
	ev.Message.Text = "[emoticon]"
}

func personCardMessage(c *callback, ev *event.Event) {
	d := c.data
	card := pick(d, "user_id", "nickname", "avatar", "corp_name")
	if corp := firstCorp(d, "corp_id"); corp != "" {
		card["corp_id"] = corp
	}
	// In a person card "source" is where the card's user comes from ("微信").
	put(card, "source", str(d, "source"))
	ev.Data["person_card"] = card
	ev.Message.Text = describe("[person card]", str(d, "nickname"))
}

// cardMessage fills a message whose body is a card of fields: they are
// copied to data[key], and the text is tag followed by the textFields.
func cardMessage(key, tag string, fields []string, textFields ...string) func(c *callback, ev *event.Event) {
	return func(c *callback, ev *event.Event) {
		ev.Data[key] = pick(c.data, fields...)
		parts := make([]string, len(textFields))
		for i, f := range textFields {
			parts[i] = str(c.data, f)
		}
		ev.Message.Text = describe(tag, parts...)
	}
}

// Fields of the cards of location, link and red packet messages.
var (
	locationFields  = []string{"title", "address", "latitude", "longitude", "zoom"}
	linkFields      = []string{"title", "desc", "url", "image_url"}
	redPacketFields = []string{"desc", "money", "packet_id", "remark"}
)

// miniProgramFields are the fields of a mini program card, exactly the
// parameters msg.miniProgram takes, so a card can be forwarded as it is.
var miniProgramFields = []string{"username", "appid", "appname", "appicon", "title", "page_path", "cover_path"}

// videoNumFields are the fields of a Channels (视频号) card, exactly the
// parameters msg.videoNum takes.
var videoNumFields = []string{"cover_url", "desc", "feed_type", "nickname", "thumb_url", "url", "extras", "avatar"}

func grayMessage(c *callback, ev *event.Event) {
	ev.Message.Text = str(c.data, "content")
	// appinfo tells grey lines apart ("..._need_verify": the contact turned
	// contact verification on, i.e. removed the account).
	put(ev.Data, "appinfo", str(c.data, "appinfo"))
}

func qrcodeStatus(c *callback, ev *event.Event) {
	d := c.data
	if status, ok := event.Int(d, "status"); ok {
		ev.Data["status"] = status
		ev.Data["state"] = QRCodeState(status)
	} else {
		ev.Data["state"] = QRUnknown
	}
	// qrcode_key and hostname are what container.verify needs when the
	// state is need_verify.
	put(ev.Data, "qrcode_key", str(d, "qrcode_key"))
	put(ev.Data, "vid", str(d, "vid"))
	put(ev.Data, "nickname", str(d, "nick_name"))
	putNum(ev.Data, "keep_sec", d["keep_sec"])
}

func safeValidate(c *callback, ev *event.Event) {
	// The new-device security QR code: a path on the Quntool host, valid
	// for five minutes.
	put(ev.Data, "qrcode", str(c.data, "Qrcode"))
	put(ev.Data, "username", str(c.data, "UserName"))
}

func userLogin(c *callback, ev *event.Event) {
	for k, v := range pick(c.data, "user_id", "username", "nickname", "acctid", "account", "avatar",
		"mobile", "email", "position", "job_name", "sex", "pid") {
		ev.Data[k] = v
	}
}

func userOffline(_ *callback, ev *event.Event) {
	// Sent when the account is logged out, logs in elsewhere or exits
	// abnormally; the vendor does not say which.
	ev.Data["reason"] = "offline"
}

func contactAdded(c *callback, ev *event.Event) {
	d := c.data
	if id := str(d, "conversation_id"); id != "" {
		ev.Conversation = conversation(id)
	}
	contact := map[string]any{}
	put(contact, "id", str(d, "user_id"))
	put(contact, "name", str(d, "username"))
	for k, v := range pick(d, "nickname", "realname", "remark", "avatar", "mobile", "position", "sex", "unionid", "acctid") {
		contact[k] = v
	}
	// For a WeChat user corp_id is WeChat's own corp, not the contact's company.
	if corp := firstCorp(d, "corp_id"); corp != "" {
		contact["corp_id"] = corp
	}
	ev.Data["contact"] = contact
}

// roomMembers fills room.created, room.member_added and room.member_removed.
// A removal that lists the account itself is room.removed_me; an addition
// of the account by someone else is room.joined.
func roomMembers(c *callback, ev *event.Event) {
	c.room(ev)
	members := parties(c.data["member_list"])
	ev.Data["members"] = partyMaps(members)
	op := str(c.data, "op_user_id")
	switch {
	case ev.Type == event.TypeRoomMemberRemoved && hasParty(members, c.account):
		ev.Type = event.TypeRoomRemovedMe
	case ev.Type == event.TypeRoomMemberAdded && hasParty(members, c.account) && op != c.account:
		ev.Type = event.TypeRoomJoined
	}
}

// roomMemberQuit fills room.member_quit: the operator is the member who
// left. When that is the account itself the event is room.left.
func roomMemberQuit(c *callback, ev *event.Event) {
	c.room(ev)
	op := str(c.data, "op_user_id")
	ev.Data["members"] = partyMaps([]event.Party{{ID: op, Name: str(c.data, "op_user_name")}})
	if op != "" && op == c.account {
		ev.Type = event.TypeRoomLeft
	}
}

func roomRenamed(c *callback, ev *event.Event) {
	c.room(ev)
}

// room fills what every room notice shares: the room conversation, its name
// and the operator.
func (c *callback) room(ev *event.Event) {
	d := c.data
	if id := str(d, "room_conversation_id"); id != "" {
		ev.Conversation = conversation(id)
		ev.Data["room_id"] = ev.Conversation.ID
	}
	put(ev.Data, "room_name", str(d, "room_name"))
	if op := str(d, "op_user_id"); op != "" {
		operator := map[string]any{"id": op}
		put(operator, "name", str(d, "op_user_name"))
		ev.Data["operator"] = operator
	}
}

func batchConfirm(c *callback, ev *event.Event) {
	d := c.data
	put(ev.Data, "title", str(d, "title"))
	put(ev.Data, "appinfo", str(d, "appinfo"))
	if t, ok := event.Int(d, "sendtime"); ok && t > 0 {
		ev.Data["send_time"] = event.Millis(t)
	}
	// content is a JSON document in a string: the card WeCom shows.
	if content := str(d, "content"); content != "" {
		var card map[string]any
		if err := json.Unmarshal([]byte(content), &card); err == nil {
			ev.Data["card"] = card
		} else {
			ev.Data["content"] = content
		}
	}
}

// file is the attachment of a media message: the path on the Quntool host
// (kept relative, as the vendor gives it), the name and the size.
func (c *callback) file() *event.File {
	d := c.data
	cdn := event.Obj(d, "cdn")
	f := &event.File{URL: str(d, "file_path"), Name: str(cdn, "file_name")}
	if f.Name == "" && f.URL != "" {
		f.Name = path.Base(f.URL)
	}
	if n, ok := event.Int(d, "file_size"); ok && n > 0 {
		f.Size = n
	} else if n, ok := event.Int(cdn, "size"); ok && n > 0 {
		f.Size = n
	}
	if *f == (event.File{}) {
		return nil
	}
	return f
}

func fileName(f *event.File) string {
	if f == nil {
		return ""
	}
	return f.Name
}

func conversation(id string) *event.Conversation {
	id = CanonicalConversationID(id)
	return &event.Conversation{ID: id, Kind: event.ConversationKind(id)}
}

// mentions reads at_list: ids, or objects carrying a user_id.
func mentions(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			e = firstPresent(m, "user_id", "id")
		}
		if s := scalar(e); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parties reads a member_list: [{"name": ..., "user_id": ...}].
func parties(v any) []event.Party {
	list, _ := v.([]any)
	out := make([]event.Party, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if id := str(m, "user_id"); id != "" {
			out = append(out, event.Party{ID: id, Name: str(m, "name")})
		}
	}
	return out
}

// partyMaps renders parties as plain JSON-shaped data for Event.Data.
func partyMaps(ps []event.Party) []any {
	out := make([]any, 0, len(ps))
	for _, p := range ps {
		m := map[string]any{"id": p.ID}
		put(m, "name", p.Name)
		out = append(out, m)
	}
	return out
}

func hasParty(ps []event.Party, id string) bool {
	for _, p := range ps {
		if id != "" && p.ID == id {
			return true
		}
	}
	return false
}

// describe is the short text of a non-text message: a tag and the parts
// that are not blank, trimmed.
func describe(tag string, parts ...string) string {
	out := tag
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out += " " + p
		}
	}
	return out
}

// pick copies the named fields that are present and not null, with numbers
// as int64 or float64 (never json.Number) so that hosts see real numbers.
func pick(m map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		if v := lookup(m, k); v != nil {
			out[k] = plain(v)
		}
	}
	return out
}

// plain converts decoded JSON to host-friendly values: json.Number becomes
// int64 or float64, recursively through objects and arrays.
func plain(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

// lookup reads a field by its exact name, else case-insensitively (the
// vendor's field names are case-insensitive and its payloads mix cases).
func lookup(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// str reads a field as a string whatever its JSON type; "" when missing or null.
func str(m map[string]any, key string) string { return scalar(lookup(m, key)) }

func scalar(v any) string { return event.Str(map[string]any{"v": v}, "v") }

func firstPresent(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v := lookup(m, k); v != nil {
			return v
		}
	}
	return nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// firstCorp reads a corp id, treating 0 as none.
func firstCorp(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s := str(m, k); s != "" && s != "0" {
			return s
		}
	}
	return ""
}

// put sets a string field when it is not empty.
func put(m map[string]any, key, val string) {
	if val != "" {
		m[key] = val
	}
}

// putNum sets a numeric field when present, as int64 or float64; a numeric
// string is converted, anything else kept as it came.
func putNum(m map[string]any, key string, v any) {
	switch x := v.(type) {
	case nil:
		return
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			m[key] = i
			return
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			m[key] = f
			return
		}
	}
	m[key] = plain(v)
}
