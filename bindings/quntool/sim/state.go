package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
)

// state is everything the simulator remembers. It is guarded by Sim.mu and
// replaced whole by Reset.
type state struct {
	users      registry[*user]
	containers registry[*container]   // by hostname
	accounts   registry[*account]     // by wxid
	people     map[string]*person     // every known person's profile, by user id
	rooms      registry[*room]        // by conversation id "R:..."
	labels     map[string]*corpLabels // by corp id
	files      map[string]*storedFile // by lower-cased path
	minis      []MiniProgram
	videos     []VideoNum
	violations int
	lastSend   map[string]time.Time   // by account
	corpSends  map[string][]time.Time // accepted sends of the last hour, by corp
	seq        int64
	batches    map[string]int      // unconfirmed batch messages, by account
	lastChat   map[string]chatMark // by account and conversation
}

type user struct {
	id, username, phone string
	created             time.Time
	admin               bool
}

type container struct {
	hostname, userID string
	status           int
	wxid             string // the logged-in account, "" before the first login
	created          time.Time
	pid              int
	qrPath, qrKey    string
	qrIssued         time.Time
	deviceID         string
	// pending is the account waiting for its verification code.
	pending        *Account
	verifyCode     string
	verifyAttempts int
	safeValidate   bool
}

type account struct {
	wxid, corp, userID, nickname     string
	avatar, mobile, acctID, corpName string
	host                             string // current container
	contacts                         map[string]*contact
	contactOrder                     []string
}

type person struct {
	id, name, avatar, corp, unionID, mobile, position, acctID string
	sex                                                       int
}

type contact struct {
	id            string
	inner         bool
	remark, desc  string
	phones        []string
	deleted       bool
	deletedAt     time.Time
	added         time.Time
	labels        []string
	corpRemark    string
	relationSaved bool // the external id is in the vendor's database
}

type room struct {
	id, name, owner string
	created         time.Time
	members         []*member
	admins          map[string]bool
	notice          string
}

type member struct {
	id, inviter string
	joined      time.Time
	scene       int
}

type corpLabels struct {
	groupID string
	list    []*label
}

type label struct {
	id, name, groupID string
	created           time.Time
}

type storedFile struct {
	path, name, contentType string
	data                    []byte
}

type chatMark struct {
	at   time.Time
	text string
}

// MiniProgram is a saved mini program, listed by /miniprogram/list and
// sent by id with /miniProgram/send.
type MiniProgram struct {
	ID        int64  `json:"id"`
	Username  string `json:"username"`
	AppID     string `json:"appid"`
	AppName   string `json:"appname"`
	AppIcon   string `json:"appicon"`
	Title     string `json:"title"`
	PagePath  string `json:"page_path"`
	CoverPath string `json:"cover_path"`
	Type      int    `json:"type"` // 0 for everyone, 1 personal
}

// VideoNum is a saved Channels (视频号) video, listed by /videonum/list and
// sent by id with /videonum/send.
type VideoNum struct {
	ID       int64  `json:"id"`
	CoverURL string `json:"cover_url"`
	Desc     string `json:"desc"`
	FeedType int    `json:"feed_type"`
	Nickname string `json:"nickname"`
	ThumbURL string `json:"thumb_url"`
	URL      string `json:"url"`
	Extras   string `json:"extras"`
	Avatar   string `json:"avatar"`
	Type     int    `json:"type"` // 0 for everyone, 1 personal
}

func newState() *state {
	st := &state{
		users:      newRegistry[*user](),
		containers: newRegistry[*container](),
		accounts:   newRegistry[*account](),
		people:     map[string]*person{},
		rooms:      newRegistry[*room](),
		labels:     map[string]*corpLabels{},
		files:      map[string]*storedFile{},
		lastSend:   map[string]time.Time{},
		corpSends:  map[string][]time.Time{},
		batches:    map[string]int{},
		lastChat:   map[string]chatMark{},
		seq:        1047000,
	}
	st.addUser(DefaultUserID, "admin", time.Date(2020, 12, 21, 8, 18, 16, 0, time.UTC), true)
	st.minis = []MiniProgram{{
		ID: 1, Username: "gh_0a1b2c3d4e5f@app", AppID: "wx0a1b2c3d4e5f6a7b", AppName: "Switchboard Demo",
		AppIcon: "http://mmbiz.qpic.cn/mmbiz_png/switchboard-demo/640", Title: "Try the demo",
		PagePath: "pages/index/index.html", CoverPath: "/gnapi/files/Storage/20240101/demo/cover.png", Type: 0,
	}}
	st.videos = []VideoNum{{
		ID: 1, CoverURL: "/gnapi/files/Storage/20240101/demo/video-cover", Desc: "A short demo video",
		FeedType: 4, Nickname: "Switchboard", ThumbURL: "http://wxapp.tc.qq.com/switchboard/demo-thumb",
		URL: "https://channels.weixin.qq.com/web/pages/feed?eid=switchboard-demo", Extras: "",
		Avatar: "http://wx.qlogo.cn/finderhead/switchboard/0", Type: 0,
	}}
	return st
}

func (st *state) addUser(id, name string, created time.Time, admin bool) *user {
	u := &user{id: id, username: name, created: created, admin: admin}
	st.users.put(id, u)
	return u
}

// registry is a map that remembers the order of its keys, so lists are
// answered in the order things were made.
type registry[V any] struct {
	byKey map[string]V
	order []string
}

func newRegistry[V any]() registry[V] { return registry[V]{byKey: map[string]V{}} }

// get answers the value of key, the zero value when there is none.
func (r *registry[V]) get(key string) V { return r.byKey[key] }

// put sets key's value; a new key goes last.
func (r *registry[V]) put(key string, v V) {
	if _, ok := r.byKey[key]; !ok {
		r.order = append(r.order, key)
	}
	r.byKey[key] = v
}

func (r *registry[V]) drop(key string) {
	if _, ok := r.byKey[key]; ok {
		delete(r.byKey, key)
		r.order = slices.DeleteFunc(r.order, func(k string) bool { return k == key })
	}
}

// all yields the values in order.
func (r *registry[V]) all() iter.Seq[V] {
	return func(yield func(V) bool) {
		for _, k := range r.order {
			if !yield(r.byKey[k]) {
				return
			}
		}
	}
}

func (r *registry[V]) len() int { return len(r.order) }

// nextSeq numbers server ids, local ids and group message ids.
func (st *state) nextSeq() int64 {
	st.seq++
	return st.seq
}

// online reports whether the account's container is online.
func (st *state) online(a *account) bool {
	c := st.containers.get(a.host)
	return c != nil && c.status == StatusOnline && c.wxid == a.wxid
}

// upsertPerson merges p into the known profiles: fields p leaves empty keep
// what was known.
func (st *state) upsertPerson(p person) *person {
	cur := st.people[p.id]
	if cur == nil {
		cur = &person{id: p.id}
		st.people[p.id] = cur
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cur.name, p.name)
	set(&cur.avatar, p.avatar)
	set(&cur.corp, p.corp)
	set(&cur.unionID, p.unionID)
	set(&cur.mobile, p.mobile)
	set(&cur.position, p.position)
	set(&cur.acctID, p.acctID)
	if p.sex != 0 {
		cur.sex = p.sex
	}
	if cur.name == "" {
		cur.name = p.id
	}
	if cur.unionID == "" {
		cur.unionID = derive("ozynq", 23, "union", p.id)
	}
	return cur
}

// profile is what is known of a person, with derived defaults.
func (st *state) profile(id string) *person {
	if p := st.people[id]; p != nil {
		return p
	}
	return &person{id: id, name: id, unionID: derive("ozynq", 23, "union", id)}
}

func (st *state) name(id string) string { return st.profile(id).name }

// addContact makes id a contact of a (again, when it was deleted).
func (st *state) addContact(a *account, c *contact) {
	if old := a.contacts[c.id]; old != nil {
		*old = *c
		return
	}
	a.contacts[c.id] = c
	a.contactOrder = append(a.contactOrder, c.id)
}

// activeContact is a's contact id when it has not been deleted.
func (a *account) activeContact(id string) *contact {
	c := a.contacts[id]
	if c == nil || c.deleted {
		return nil
	}
	return c
}

func (r *room) member(id string) *member {
	for _, m := range r.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

// external reports whether the room has a member from outside corp.
func (st *state) external(r *room, corp string) bool {
	for _, m := range r.members {
		if st.profile(m.id).corp != corp {
			return true
		}
	}
	return false
}

func (r *room) memberIDs() []string {
	ids := make([]string, len(r.members))
	for i, m := range r.members {
		ids[i] = m.id
	}
	return ids
}

// privileged reports whether id owns or administers the room.
func (r *room) privileged(id string) bool { return id == r.owner || r.admins[id] }

// chatKey keys lastChat.
func chatKey(account, conversation string) string { return account + "\x00" + conversation }

// privateConversation is the vendor's id of the private conversation of a
// and b: "S:{smaller}_{larger}".
func privateConversation(a, b string) string {
	if userIDLess(b, a) {
		a, b = b, a
	}
	return "S:" + a + "_" + b
}

// userIDLess orders user ids as numbers when both are digit strings (by
// significant length, then digits), else as strings.
func userIDLess(a, b string) bool {
	if allDigits(a) && allDigits(b) {
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			return len(a) < len(b)
		}
	}
	return a < b
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// Identifier generation. Random ids come from crypto/rand; ids the vendor
// derives from others (external ids, union ids) are derived with SHA-256
// so they are stable across calls and Resets.

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return b
}

// newUUID is a random (version 4) UUID in lower case, like the vendor's
// msgId values.
func newUUID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes((n + 1) / 2))[:n] }

// randomDigits is n random decimal digits after prefix.
func randomDigits(prefix string, n int) string {
	var sb strings.Builder
	sb.WriteString(prefix)
	for _, b := range randomBytes(n) {
		sb.WriteByte('0' + b%10)
	}
	return sb.String()
}

// randomInt is in [lo, hi).
func randomInt(lo, hi int) int {
	return lo + int(binary.BigEndian.Uint32(randomBytes(4))%uint32(hi-lo))
}

// derive is prefix followed by n characters derived from parts.
func derive(prefix string, n int, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	enc := base64.RawURLEncoding.EncodeToString(sum[:])
	for len(enc) < n {
		enc += enc
	}
	return prefix + enc[:n]
}

// derivedNumber is a number in [lo, lo+span) derived from parts.
func derivedNumber(lo, span int, parts ...string) int {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return lo + int(binary.BigEndian.Uint32(sum[:4])%uint32(span))
}

// chinaTime is the vendor's zone for its "2006-01-02 15:04:05" times.
var chinaTime = time.FixedZone("CST", 8*3600)

func vendorTime(t time.Time) string { return t.In(chinaTime).Format(time.DateTime) }

// externalUserID is the company-scoped id of a contact: "wm" for WeChat
// users, "wo" for WeCom users.
func externalUserID(corp, userID string) string {
	prefix := "wo"
	if strings.HasPrefix(userID, "788") {
		prefix = "wm"
	}
	return derive(prefix, 30, "external", corp, userID)
}

func externalRoomID(corp, roomID string) string { return derive("wr", 30, "room", corp, roomID) }

func openCorpID(corp string) string {
	sum := sha256.Sum256([]byte("corp\x00" + corp))
	return "ww" + hex.EncodeToString(sum[:8])
}

func openID(userID string) string { return derive("o", 27, "openid", userID) }
