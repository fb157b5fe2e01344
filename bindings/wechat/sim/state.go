package sim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Account is a WeChat account: the one logged in to an instance, or the
// one that scans its QR code.
type Account struct {
	// WxID is the account's wxid ("wxid_..."). Required.
	WxID      string
	Nickname  string // the WxID when empty
	Alias     string // the WeChat id people search by
	Mobile    string
	Avatar    string
	Signature string
	Sex       int // 0 unknown, 1 male, 2 female
}

// Person is a WeChat user the account may meet: a contact, a room member,
// or someone /contact/search_contact finds.
type Person struct {
	WxID     string // required
	Nickname string // the WxID when empty
	Alias    string
	Mobile   string
	QQ       string
	Avatar   string
	Sex      int
	Province string
	City     string
}

// Contact is an entry of an instance's contact list.
type Contact struct {
	Person
	// Type is the contact type: ContactFriend (also when zero: a
	// stranger is nobody's contact), ContactMp or ContactSystem. Rooms are
	// listed by Rooms.
	Type   int
	Remark string
	// Labels are ids of the instance's labels.
	Labels []int
	// Top pins the chat.
	Top bool
}

// Room is a room (群聊) the account is a member of.
type Room struct {
	// ID is the room's id, ending in @chatroom (generated when empty).
	ID   string
	Name string
	// Owner is the owner's wxid; the account's own when empty. It is made
	// a member.
	Owner string
	// Members are the other members; the account itself is always one.
	Members      []Person
	Announcement string
}

// Label is a contact label (标签).
type Label struct {
	ID   int
	Name string
}

// Instance is an instance to Seed.
type Instance struct {
	// GUID names it (a random UUID when empty).
	GUID string
	// Account is the account logged in to it; nil leaves it logged out,
	// ready for /login/get_login_qrcode.
	Account *Account
	// Stopped seeds it stopped.
	Stopped bool
	// NotifyURL is where its callbacks go (Options.CallbackURL when empty).
	NotifyURL string
	Contacts  []Contact
	Rooms     []Room
	Labels    []Label
}

// Sent is one accepted send.
type Sent struct {
	GUID string
	// From is the sending account's wxid.
	From string
	// To is the receiver: a wxid or a room id.
	To string
	// Kind names the send by its path: text, room_at, image, video, file,
	// voice, emoji_url, location, card, link_card.
	Kind string
	// Content is the text of text and room_at sends, the url of media and
	// link sends, the card_username of card sends, "lat,lng" of location.
	Content string
	// Args are the request's fields, numbers as int64 or float64.
	Args     map[string]any
	MsgID    int64
	NewMsgID int64
	At       time.Time
}

// String describes the send for errors: kind, recipient and content.
func (s Sent) String() string { return fmt.Sprintf("%s to %s: %q", s.Kind, s.To, s.Content) }

// Request is a request to a path the simulator does not implement.
type Request struct {
	Path string
	GUID string
	Body map[string]any
	At   time.Time
}

// instance is an instance's state.
type instance struct {
	guid      string
	stopped   bool
	syncBroke bool // a 2006 was posted; restore_client clears it
	notifyURL string
	bridge    string
	proxy     string
	version   string

	account *Account // logged in; nil when not
	last    *Account // the last account logged in, for push_login_url
	login   *loginState

	contacts map[string]*Contact
	rooms    map[string]*room
	labels   map[int]string

	// pendingOut are friend requests the account sent, by wxid.
	pendingOut map[string]bool
	// pendingIn are friend requests the account received, by v3 ticket.
	pendingIn map[string]*friendRequest

	calls        []time.Time // accepted calls of the last minute
	blockedUntil time.Time
}

// loginState is a login under way.
type loginState struct {
	uuid    string
	status  int
	expires time.Time
	scanner *Account
	code    string // the verification code while status is QRNeedVerify
}

type friendRequest struct {
	person   Person
	v4       string
	greeting string
}

type room struct {
	id, name, owner, announcement string
	members                       map[string]Person
}

// state is everything the simulator holds. s.mu guards it.
type state struct {
	instances map[string]*instance
	directory map[string]Person // people search_contact finds, by wxid
	unhandled []Request
	seq       int64
}

func newState() *state {
	return &state{instances: map[string]*instance{}, directory: map[string]Person{}, seq: 1040356000}
}

func (st *state) nextSeq() int64 {
	st.seq++
	return st.seq
}

// newUUID returns a random version-4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// token returns a random token with a prefix ("v3_...").
func token(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (p Person) name() string {
	if p.Nickname != "" {
		return p.Nickname
	}
	return p.WxID
}

func (a *Account) name() string {
	if a.Nickname != "" {
		return a.Nickname
	}
	return a.WxID
}

func (a *Account) person() Person {
	return Person{WxID: a.WxID, Nickname: a.name(), Alias: a.Alias, Mobile: a.Mobile, Avatar: a.Avatar, Sex: a.Sex}
}

// isRoomID reports whether id names a room.
func isRoomID(id string) bool { return strings.HasSuffix(id, "@chatroom") }

// newInstance builds an instance from its seed.
func newInstance(in Instance) (*instance, error) {
	inst := &instance{guid: in.GUID, stopped: in.Stopped, notifyURL: in.NotifyURL, version: DefaultVersion,
		contacts: map[string]*Contact{}, rooms: map[string]*room{}, labels: map[int]string{},
		pendingOut: map[string]bool{}, pendingIn: map[string]*friendRequest{}}
	if inst.guid == "" {
		inst.guid = newUUID()
	}
	if in.Account != nil {
		if strings.TrimSpace(in.Account.WxID) == "" {
			return nil, fmt.Errorf("%w: the account's WxID is required", ErrInvalid)
		}
		a := *in.Account
		inst.account, inst.last = &a, &a
	}
	for _, l := range in.Labels {
		if l.ID <= 0 || strings.TrimSpace(l.Name) == "" {
			return nil, fmt.Errorf("%w: label %+v needs an ID above 0 and a name", ErrInvalid, l)
		}
		inst.labels[l.ID] = l.Name
	}
	for _, c := range in.Contacts {
		if err := inst.addContact(c); err != nil {
			return nil, err
		}
	}
	for _, r := range in.Rooms {
		if _, err := inst.addRoom(r); err != nil {
			return nil, err
		}
	}
	return inst, nil
}

func (inst *instance) addContact(c Contact) error {
	switch {
	case strings.TrimSpace(c.WxID) == "":
		return fmt.Errorf("%w: a contact's WxID is required", ErrInvalid)
	case isRoomID(c.WxID):
		return fmt.Errorf("%w: %s is a room; seed it in Rooms", ErrInvalid, c.WxID)
	case inst.contacts[c.WxID] != nil:
		return fmt.Errorf("%w: contact %s", ErrExists, c.WxID)
	case c.Type != ContactStranger && c.Type != ContactFriend && c.Type != ContactMp && c.Type != ContactSystem:
		return fmt.Errorf("%w: contact %s has type %d", ErrInvalid, c.WxID, c.Type)
	}
	for _, l := range c.Labels {
		if _, ok := inst.labels[l]; !ok {
			return fmt.Errorf("%w: contact %s has label %d, which the instance does not have", ErrInvalid, c.WxID, l)
		}
	}
	cc := c
	if cc.Type == ContactStranger {
		cc.Type = ContactFriend
	}
	cc.Labels = slices.Clone(c.Labels)
	inst.contacts[c.WxID] = &cc
	return nil
}

func (inst *instance) addRoom(r Room) (*room, error) {
	id := r.ID
	if id == "" {
		for n := len(inst.rooms) + 1; id == "" || inst.rooms[id] != nil; n++ {
			id = fmt.Sprintf("%d@chatroom", 20000000000+n)
		}
	}
	if !isRoomID(id) {
		return nil, fmt.Errorf("%w: room id %q must end in @chatroom", ErrInvalid, id)
	}
	if inst.rooms[id] != nil {
		return nil, fmt.Errorf("%w: room %s", ErrExists, id)
	}
	rm := &room{id: id, name: r.Name, owner: r.Owner, announcement: r.Announcement, members: map[string]Person{}}
	if inst.account != nil {
		rm.members[inst.account.WxID] = inst.account.person()
		if rm.owner == "" {
			rm.owner = inst.account.WxID
		}
	}
	for _, m := range r.Members {
		if strings.TrimSpace(m.WxID) == "" {
			return nil, fmt.Errorf("%w: a member of room %s has no WxID", ErrInvalid, id)
		}
		rm.members[m.WxID] = m
	}
	if _, ok := rm.members[rm.owner]; !ok && rm.owner != "" {
		rm.members[rm.owner] = Person{WxID: rm.owner}
	}
	inst.rooms[id] = rm
	return rm, nil
}

// name is what the instance knows of a wxid: remark, nickname, or the id.
func (inst *instance) name(id string) string {
	if c := inst.contacts[id]; c != nil {
		if c.Remark != "" {
			return c.Remark
		}
		return c.name()
	}
	for _, r := range inst.rooms {
		if p, ok := r.members[id]; ok {
			return p.name()
		}
	}
	return id
}

// sortedRooms lists the rooms by id.
func (inst *instance) sortedRooms() []string { return slices.Sorted(maps.Keys(inst.rooms)) }

// Seed adds an instance and answers its guid.
func (s *Sim) Seed(in Instance) (string, error) {
	inst, err := newInstance(in)
	if err != nil {
		return "", fmt.Errorf("seed: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.instances[inst.guid] != nil {
		return "", fmt.Errorf("seed: %w: instance %s", ErrExists, inst.guid)
	}
	s.st.instances[inst.guid] = inst
	return inst.guid, nil
}

// AddPerson makes a WeChat user findable by /contact/search_contact (by
// wxid, alias, mobile or QQ number) and addable by /contact/add_friend.
func (s *Sim) AddPerson(p Person) error {
	if strings.TrimSpace(p.WxID) == "" || isRoomID(p.WxID) {
		return fmt.Errorf("add person: %w: a person's WxID is required and is not a room's", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.directory[p.WxID] = p
	return nil
}

// Instances lists the guids, sorted.
func (s *Sim) Instances() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.st.instances))
}

// Status is an instance's state as Status reports it.
type Status struct {
	GUID      string
	Stopped   bool
	LoggedIn  bool
	WxID      string // the logged-in account
	NotifyURL string
	Bridge    string
	Proxy     string
	Version   string
	// QRStatus is the status of a login under way, -1 without one.
	QRStatus     int
	BlockedUntil time.Time // zero when not blocked
	Contacts     int
	Rooms        int
}

// Status reports an instance's state.
func (s *Sim) Status(guid string) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.st.instances[guid]
	if inst == nil {
		return Status{}, fmt.Errorf("status: %w: %q", ErrUnknownInstance, guid)
	}
	st := Status{GUID: guid, Stopped: inst.stopped, LoggedIn: inst.account != nil, NotifyURL: inst.notifyURL,
		Bridge: inst.bridge, Proxy: inst.proxy, Version: inst.version, QRStatus: -1,
		Contacts: len(inst.contacts), Rooms: len(inst.rooms)}
	if inst.account != nil {
		st.WxID = inst.account.WxID
	}
	if inst.login != nil {
		st.QRStatus = inst.login.status
	}
	if s.now().Before(inst.blockedUntil) {
		st.BlockedUntil = inst.blockedUntil
	}
	return st, nil
}

// Contact returns a copy of an instance's contact.
func (s *Sim) Contact(guid, wxid string) (Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.st.instances[guid]
	if inst == nil {
		return Contact{}, fmt.Errorf("contact: %w: %q", ErrUnknownInstance, guid)
	}
	c := inst.contacts[wxid]
	if c == nil {
		return Contact{}, fmt.Errorf("contact: %w: %s of %s", ErrUnknownContact, wxid, guid)
	}
	out := *c
	out.Labels = slices.Clone(c.Labels)
	return out, nil
}

// RoomMembers lists the wxids of a room's members, sorted.
func (s *Sim) RoomMembers(guid, roomID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.st.instances[guid]
	if inst == nil {
		return nil, fmt.Errorf("room members: %w: %q", ErrUnknownInstance, guid)
	}
	r := inst.rooms[roomID]
	if r == nil {
		return nil, fmt.Errorf("room members: %w: %s of %s", ErrUnknownRoom, roomID, guid)
	}
	return slices.Sorted(maps.Keys(r.members)), nil
}

// Unhandled lists the requests to paths the simulator does not implement
// (up to 1000, oldest first).
func (s *Sim) Unhandled() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.st.unhandled)
}
