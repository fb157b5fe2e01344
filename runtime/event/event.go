// Package event defines Switchboard's one event model: every vendor callback
// is normalized into Events of this shape (SPEC §3), stored in the journal,
// and handed to plugins as JSON.
//
// Events are plain data. They are created by a vendor's normalizer, stamped
// with Received and Seq by the journal, and never mutated after that: any
// number of goroutines may read one Event at the same time.
package event

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// Vendors, as they appear in Event.Vendor and in /callback/{vendor}.
const (
	VendorWework    = "wework"
	VendorWechat    = "wechat"
	VendorQuntool   = "quntool"
	VendorMsgserver = "msgserver"
)

// Event types (SPEC §3). Types outside this list may appear under the
// "system." prefix; anything not mapped is TypeUnknown with Raw kept.
const (
	TypeMessage            = "message"
	TypeLoginQRCode        = "login.qrcode"
	TypeLoginVerify        = "login.verify"
	TypeLogin              = "login"
	TypeLogout             = "logout"
	TypeContactAdded       = "contact.added"
	TypeContactRemoved     = "contact.removed"
	TypeContactChanged     = "contact.changed"
	TypeRoomCreated        = "room.created"
	TypeRoomJoined         = "room.joined"
	TypeRoomLeft           = "room.left"
	TypeRoomRemovedMe      = "room.removed_me"
	TypeRoomDisbanded      = "room.disbanded"
	TypeRoomMemberAdded    = "room.member_added"
	TypeRoomMemberRemoved  = "room.member_removed"
	TypeRoomMemberQuit     = "room.member_quit"
	TypeRoomMemberChanged  = "room.member_changed"
	TypeRoomRenamed        = "room.renamed"
	TypeFriendRequest      = "friend.request"
	TypeBatchConfirm       = "batch.confirm"
	TypeSystemReady        = "system.ready"
	TypeSystemInitFinished = "system.init_finished"
	TypeSystemContactsSync = "system.contacts_synced"
	TypeSystemSyncFailed   = "system.sync_failed"
	TypeUnknown            = "unknown"
)

// Message kinds (SPEC §3, message.kind).
const (
	KindText        = "text"
	KindImage       = "image"
	KindVideo       = "video"
	KindVoice       = "voice"
	KindFile        = "file"
	KindLocation    = "location"
	KindLink        = "link"
	KindEmoticon    = "emoticon"
	KindRedPacket   = "red_packet"
	KindPersonCard  = "person_card"
	KindMiniProgram = "mini_program"
	KindVideoNum    = "video_num"
	KindSystem      = "system"
	KindRevoke      = "revoke"
	KindUnknown     = "unknown"
)

// Conversation kinds.
const (
	ConversationPrivate = "private"
	ConversationGroup   = "group"
)

// Event is one normalized callback. Field names are part of the product
// contract (SPEC §3) and must not change.
type Event struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Vendor       string          `json:"vendor"`
	Account      string          `json:"account"`
	Time         int64           `json:"time"`
	Received     int64           `json:"received"`
	Conversation *Conversation   `json:"conversation,omitempty"`
	Message      *Message        `json:"message,omitempty"`
	Data         map[string]any  `json:"data,omitempty"`
	Raw          json.RawMessage `json:"raw"`

	// Seq is the journal's sequence number, assigned on append. It is not
	// part of the JSON contract.
	Seq uint64 `json:"-"`
}

// Conversation identifies where a message or room event happened.
type Conversation struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
}

// Message is the normalized body of a "message" event.
type Message struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Text     string   `json:"text"`
	From     *Party   `json:"from,omitempty"`
	To       string   `json:"to,omitempty"`
	Self     bool     `json:"self"`
	Mentions []string `json:"mentions,omitempty"`
	File     *File    `json:"file,omitempty"`
}

// Party is a sender: an id and, where the vendor gives it, a display name.
type Party struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// File describes the attachment of an image, video, voice or file message.
type File struct {
	URL  string `json:"url,omitempty"`
	Name string `json:"name,omitempty"`
	Size int64  `json:"size,omitempty"`
}

// Topic is the name patterns are matched against: the type, and for
// messages the type and the message kind ("message.text").
func (e *Event) Topic() string {
	if e.Type == TypeMessage && e.Message != nil && e.Message.Kind != "" {
		return TypeMessage + "." + e.Message.Kind
	}
	return e.Type
}

// OrderKey is the key under which a plugin's events are kept in order: the
// conversation when there is one, else the account. Events with different
// keys may be handled concurrently.
func (e *Event) OrderKey() string {
	if e.Conversation != nil && e.Conversation.ID != "" {
		return e.Vendor + "|" + e.Account + "|" + e.Conversation.ID
	}
	return e.Vendor + "|" + e.Account
}

// Match reports whether pattern selects the event. Patterns are dotted
// names matched segment by segment against the event's Topic: "*" alone
// matches everything, a trailing ".*" matches any rest ("room.*",
// "message.*"), and a pattern that names only a prefix of the topic matches
// it too ("message" selects "message.text"). "system.*" selects every
// system event.
func Match(pattern string, e *Event) bool {
	return MatchTopic(pattern, e.Topic())
}

// MatchTopic is Match on a topic string.
func MatchTopic(pattern, topic string) bool {
	if pattern == "*" || pattern == topic {
		return true
	}
	if rest, ok := strings.CutSuffix(pattern, ".*"); ok {
		return topic == rest || strings.HasPrefix(topic, rest+".")
	}
	return strings.HasPrefix(topic, pattern+".")
}

// ValidPattern reports whether pattern is well formed: non-empty dotted
// segments, "*" only as a whole segment at the end.
func ValidPattern(pattern string) bool {
	if pattern == "" {
		return false
	}
	segs := strings.Split(pattern, ".")
	for i, s := range segs {
		if s == "" {
			return false
		}
		if strings.Contains(s, "*") && (s != "*" || i != len(segs)-1) {
			return false
		}
	}
	return true
}

// StableID builds an event id from the vendor's own identifiers. Empty
// parts are skipped; when every part after vendor is empty the id is
// HashID(body).
func StableID(vendor string, parts ...string) string {
	var b strings.Builder
	b.WriteString(vendor)
	n := 0
	for _, p := range parts {
		if p == "" {
			continue
		}
		b.WriteByte(':')
		b.WriteString(p)
		n++
	}
	if n == 0 {
		return ""
	}
	return b.String()
}

// HashID is the id of a callback that carries no usable vendor ids: the
// vendor and a SHA-256 of its body.
func HashID(vendor string, body []byte) string {
	sum := sha256.Sum256(body)
	return vendor + ":h:" + hex.EncodeToString(sum[:16])
}

// ConversationKind derives the kind from an "S:"/"R:" conversation id.
func ConversationKind(id string) string {
	if strings.HasPrefix(id, "R:") {
		return ConversationGroup
	}
	return ConversationPrivate
}
